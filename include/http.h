/*
 * http.c — the HTTP endpoint (libevent's evhttp on the loop thread), off unless
 * http-port is set:
 *
 *   GET /metrics   200, every module's metric families (module.h metrics hook) in the
 *                  Prometheus text format
 *   GET /healthz   200 "ok" while the server is serving
 *   GET /readyz    200 "ready" once the first model load has finished, 503 before it,
 *                  and 503 while the change log has not reached the database for
 *                  readyz-db-grace-ms or longer
 *   HEAD           the same status and headers, no body
 *   other paths    404; other methods on these paths 405 (Allow: GET, HEAD)
 *
 * Requests are bounded (HTTP_MAX_HEADERS_BYTES of request line and headers,
 * HTTP_MAX_BODY_BYTES of body, HTTP_TIMEOUT_S idle): evhttp closes a connection past a
 * bound without running anything.
 */
#ifndef RBACD_HTTP_H
#define RBACD_HTTP_H

#include "module.h"

/* Hooks: init binds http-bind:http-port (false, logged, when it cannot: the server
 * does not start), shutdown closes the listener and every HTTP connection. */
extern const module http_module;

#endif
