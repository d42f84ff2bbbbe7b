/*
 * resp.c — the Redis protocol: parsing requests (multibulk and inline) and encoding
 * replies in RESP2 or RESP3.
 *
 * Parsing is in place and resumable: resp_parse() looks at the unread bytes of a
 * client's input buffer and either finds one whole request (argv points into those
 * bytes, or into req->scratch for unescaped inline arguments) or says it needs more.
 * The only state kept between calls is the progress through an incomplete multibulk
 * request (resume_args arguments parsed, ending at offset resume_pos), so the next call
 * with more bytes resumes there instead of parsing the request again from the start.
 * Nothing is trusted: every count and length is checked against resp_limits before it
 * is used, so a client can make us hold at most max_bulk bytes per argument and
 * max_args arguments per request, whatever it declares.
 *
 *   socket -> client input buf -> resp_parse() -> resp_request (argv views) -> command
 *   command -> resp_* encoders -> client output buf -> socket
 */
#ifndef RBACD_RESP_H
#define RBACD_RESP_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum resp_status {
    RESP_OK = 0,         /* one request parsed; *consumed bytes belong to it */
    RESP_INCOMPLETE = 1, /* the bytes are a valid prefix: read more and call again */
    RESP_ERROR = 2,      /* protocol error: reply req->error and close the connection */
};

typedef struct resp_limits {
    size_t max_args;   /* most arguments in one request (multibulk count) */
    size_t max_bulk;   /* longest single argument in bytes */
    size_t max_inline; /* longest inline request line in bytes */
} resp_limits;

typedef struct resp_arg {
    const char *ptr; /* points into the parsed bytes or req->scratch; not '\0'-terminated */
    size_t len;
} resp_arg;

typedef struct resp_request {
    resp_arg *argv; /* argc views, valid until the next resp_parse() or buffer change */
    size_t argc;    /* 0 after an empty inline line: nothing to run */
    size_t cap;     /* allocated argv slots (grown by the parser, bounded by max_args) */
    buf scratch;    /* storage for inline arguments that needed unescaping */
    size_t need;    /* on RESP_INCOMPLETE: total bytes the request needs, if known, else 0 */
    const char
        *error; /* on RESP_ERROR: static text such as "Protocol error: invalid bulk length" */
    size_t resume_args; /* after RESP_INCOMPLETE: multibulk arguments already parsed */
    size_t resume_pos;  /* ... and the offset just past the last of them */
} resp_request;

void resp_request_init(resp_request *req);
void resp_request_free(resp_request *req);

/* Between a RESP_INCOMPLETE and the next call, the caller passes the same bytes (they
 * may have moved) followed by more: the parser then resumes after the arguments it had
 * already parsed, so a request arriving in many pieces costs O(its size) in all, not
 * O(size x pieces). resp_request_reset() forgets that progress when the caller starts
 * on other bytes. */
void resp_request_reset(resp_request *req);

/* Parses one request from data[0..len). RESP_OK: req->argv/argc describe it and
 * *consumed is its size. RESP_INCOMPLETE: *consumed is 0, req->need may say how many
 * bytes to wait for. RESP_ERROR: req->error is set; the caller sends
 * "-ERR <error>" and closes. Never reads past data+len. */
enum resp_status resp_parse(resp_request *req, const char *data, size_t len, const resp_limits *lim,
                            size_t *consumed);

/* ---- Reply encoding. proto is 2 or 3; the RESP2 fallback is noted per function. ---- */
void resp_simple(buf *b, const char *s); /* +s  (CR/LF in s become spaces) */
/* -<text>; text starts with the error code ("ERR ...", "WRONGPASS ..."). CR/LF become spaces. */
void resp_error(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_int(buf *b, long long v);              /* :v */
void resp_bulk(buf *b, const void *p, size_t n); /* $n p */
void resp_bulk_str(buf *b, const char *s);       /* $strlen(s) s */
void resp_bulk_u64(buf *b, uint64_t v);          /* the decimal digits as a bulk */
void resp_null(buf *b, int proto);               /* RESP3 _ ; RESP2 $-1 */
void resp_null_array(buf *b, int proto);         /* RESP3 _ ; RESP2 *-1 */
void resp_array(buf *b, size_t n);               /* *n */
void resp_map(buf *b, int proto, size_t n);      /* RESP3 %n ; RESP2 *(2n) */
void resp_set(buf *b, int proto, size_t n);      /* RESP3 ~n ; RESP2 *n */
void resp_bool(buf *b, int proto, bool v);       /* RESP3 #t/#f ; RESP2 :1/:0 */
void resp_double(buf *b, int proto, double v);   /* RESP3 ,v ; RESP2 bulk */
/* RESP3 =len txt:... (verbatim, as INFO uses) ; RESP2 plain bulk. */
void resp_verbatim(buf *b, int proto, const char *p, size_t n);

/* Deferred aggregate length: resp_defer() reserves the place of a header whose count is
 * not known yet and returns its position; resp_defer_set() writes it there (type is
 * '*', '%' or '~'; for '%' under RESP2 pass type '*' and 2n). Each insert moves what
 * follows, so nested deferred headers are set innermost first. */
size_t resp_defer(buf *b);
void resp_defer_set(buf *b, size_t pos, char type, size_t n);

#endif
