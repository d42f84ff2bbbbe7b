/*
 * resp_fuzz — libFuzzer target for resp_parse(). Not part of the default build; clang
 * builds it (CMake option RBACD_FUZZ), and scripts/test.sh runs it, with conf_fuzz and
 * command_fuzz, for a short while in CI (RBACD_TEST_ONLY=fuzz for that step alone):
 *
 *   CC=clang cmake -S . -B build-fuzz -DRBACD_FUZZ=ON -DRBACD_BLACKBOX=OFF
 *   cmake --build build-fuzz --target fuzz          (all three; or --target resp_fuzz)
 *   mkdir -p build-fuzz/corpus-resp_fuzz
 *   build-fuzz/resp_fuzz -max_len=2048 -max_total_time=120 build-fuzz/corpus-resp_fuzz \
 *       tests/fuzz/resp_fuzz_seeds
 *
 * New inputs go to the first directory; tests/fuzz/<target>_seeds holds the inputs
 * each target starts from. A crash leaves its input in the current directory
 * (crash-<sha1>): once fixed, it goes into the seeds, so every later run replays it.
 *
 * The first input byte picks the limits (including tiny and zero ones, so that every
 * limit is hit); the rest is a client's byte stream. For each input it checks:
 *   - status is one of the three; consumed is 0 unless RESP_OK, and then 1..len;
 *   - every argv view lies inside the consumed bytes or inside req->scratch, and
 *     multibulk views inside the bytes; argc <= max_args, cap >= argc;
 *   - an error is "Protocol error: ..." on one line; need, if set, is beyond len;
 *   - split feeding: each prefix of a request, copied to a buffer of exactly its size,
 *     is RESP_INCOMPLETE (or, for a request that fails, the same error), and the whole
 *     request parses to the same argv;
 *   - chunked feeding: the stream fed through a growing buffer in pseudo-random
 *     chunks yields the same sequence of requests and the same final status.
 */
#include "mem.h"
#include "resp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "resp_fuzz: invariant failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Prefix checks per request: all of them up to this size, a sample beyond. */
#define FUZZ_ALL_PREFIXES 256
#define FUZZ_SAMPLES      64
/* Requests remembered for the chunked comparison. */
#define FUZZ_MAX_REQS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    size_t consumed;
    size_t argc;
    uint64_t hash;
} outcome;

static uint64_t argv_hash(const resp_request *req)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < req->argc; i++) {
        h = (h ^ req->argv[i].len) * 1099511628211ULL;
        for (size_t k = 0; k < req->argv[i].len; k++)
            h = (h ^ (unsigned char)req->argv[i].ptr[k]) * 1099511628211ULL;
    }
    return h;
}

static int inside(const char *p, size_t n, const char *base, size_t len)
{
    return base && p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static void check_result(const resp_request *req, enum resp_status st, const char *p, size_t len,
                         const resp_limits *lim, size_t used)
{
    FUZZ_CHECK(st == RESP_OK || st == RESP_INCOMPLETE || st == RESP_ERROR);
    if (st != RESP_OK) {
        FUZZ_CHECK(used == 0);
        FUZZ_CHECK(req->argc == 0);
    }
    if (st == RESP_ERROR) {
        FUZZ_CHECK(req->error != NULL);
        FUZZ_CHECK(strncmp(req->error, "Protocol error: ", 16) == 0);
        FUZZ_CHECK(strpbrk(req->error, "\r\n") == NULL);
        FUZZ_CHECK(req->need == 0);
        return;
    }
    FUZZ_CHECK(req->error == NULL);
    if (st == RESP_INCOMPLETE) {
        FUZZ_CHECK(req->need == 0 || req->need > len);
        return;
    }
    FUZZ_CHECK(used >= 1 && used <= len);
    FUZZ_CHECK(req->argc <= lim->max_args && req->argc <= req->cap);
    for (size_t i = 0; i < req->argc; i++) {
        const resp_arg *a = &req->argv[i];
        FUZZ_CHECK(a->ptr != NULL);
        if (p[0] == '*') {
            FUZZ_CHECK(inside(a->ptr, a->len, p, used));
            FUZZ_CHECK(a->len <= lim->max_bulk);
        } else {
            FUZZ_CHECK(inside(a->ptr, a->len, p, used) ||
                       inside(a->ptr, a->len, req->scratch.data, req->scratch.len));
            FUZZ_CHECK(a->len <= used);
        }
    }
}

/* Parses p[0..k) from a buffer that ends exactly at its last byte. */
static enum resp_status parse_exact(resp_request *req, char *room, size_t room_len, const char *p,
                                    size_t k, const resp_limits *lim, size_t *used)
{
    char *at = room + room_len - k;
    memmove(at, p, k);
    enum resp_status st = resp_parse(req, at, k, lim, used);
    check_result(req, st, at, k, lim, *used);
    return st;
}

/* The request at p (avail bytes) gave full/used/err/hash; its prefixes must agree. */
static void check_prefixes(const char *p, size_t avail, const resp_limits *lim,
                           enum resp_status full, size_t used, const char *err, uint64_t hash,
                           size_t need)
{
    size_t span = full == RESP_OK ? used : avail;
    char *room = mem_alloc(span ? span : 1);
    resp_request req;
    resp_request_init(&req);
    size_t nk = span <= FUZZ_ALL_PREFIXES ? span : FUZZ_SAMPLES + 8;
    for (size_t j = 0; j < nk; j++) {
        size_t k = j;
        if (span > FUZZ_ALL_PREFIXES)
            k = j < FUZZ_SAMPLES ? j * span / FUZZ_SAMPLES : span - (j - FUZZ_SAMPLES) - 1;
        size_t u;
        enum resp_status st = parse_exact(&req, room, span, p, k, lim, &u);
        if (full == RESP_ERROR && st == RESP_ERROR) {
            FUZZ_CHECK(strcmp(req.error, err) == 0);
            continue;
        }
        FUZZ_CHECK(st == RESP_INCOMPLETE);
        if (req.need && full == RESP_OK)
            FUZZ_CHECK(req.need <= used);
        if (req.need && full == RESP_INCOMPLETE)
            FUZZ_CHECK(req.need <= (need ? need : avail));
    }
    if (full == RESP_OK) {
        size_t u;
        FUZZ_CHECK(parse_exact(&req, room, span, p, used, lim, &u) == RESP_OK);
        FUZZ_CHECK(u == used && argv_hash(&req) == hash);
    }
    resp_request_free(&req);
    mem_free(room);
}

static void pick_limits(uint8_t sel, resp_limits *lim)
{
    static const size_t args[] = {0, 2, 16, 1024 * 1024};
    static const size_t bulk[] = {0, 8, 300, 1024 * 1024};
    static const size_t line[] = {0, 16, 200, 64 * 1024};
    lim->max_args = args[sel & 3];
    lim->max_bulk = bulk[(sel >> 2) & 3];
    lim->max_inline = line[(sel >> 4) & 3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    resp_limits lim;
    pick_limits(data[0], &lim);
    uint8_t chunk_seed = data[0];
    data++;
    size--;
    char *bytes = mem_alloc(size ? size : 1);
    memcpy(bytes, data, size);

    static outcome seen[FUZZ_MAX_REQS];
    size_t nseen = 0;
    resp_request req;
    resp_request_init(&req);
    size_t off = 0;
    enum resp_status last;
    const char *last_err = NULL;
    for (;;) {
        size_t used = 99;
        last = resp_parse(&req, bytes + off, size - off, &lim, &used);
        check_result(&req, last, bytes + off, size - off, &lim, used);
        uint64_t hash = last == RESP_OK ? argv_hash(&req) : 0;
        check_prefixes(bytes + off, size - off, &lim, last, used, req.error, hash, req.need);
        if (last != RESP_OK) {
            last_err = req.error;
            break;
        }
        if (nseen < FUZZ_MAX_REQS)
            seen[nseen++] = (outcome){used, req.argc, hash};
        off += used;
    }
    resp_request_free(&req);

    /* The same stream through a client-like buffer, in chunks of 1..64 bytes. */
    buf in;
    buf_init(&in);
    resp_request_init(&req);
    size_t fed = 0, pos = 0, r = 0;
    uint32_t x = 2166136261u ^ chunk_seed;
    enum resp_status st = RESP_INCOMPLETE;
    while (fed < size && st != RESP_ERROR) {
        x = x * 1103515245u + 12345u;
        size_t chunk = 1 + (x >> 16) % 64;
        if (chunk > size - fed)
            chunk = size - fed;
        buf_append(&in, bytes + fed, chunk);
        fed += chunk;
        for (;;) {
            size_t used;
            st = resp_parse(&req, in.data + pos, in.len - pos, &lim, &used);
            if (st != RESP_OK)
                break;
            if (r < nseen) {
                FUZZ_CHECK(seen[r].consumed == used && seen[r].argc == req.argc);
                FUZZ_CHECK(seen[r].hash == argv_hash(&req));
            }
            r++;
            pos += used;
        }
    }
    FUZZ_CHECK(st == last);
    FUZZ_CHECK(pos == off);
    if (st == RESP_ERROR)
        FUZZ_CHECK(strcmp(req.error, last_err) == 0);
    resp_request_free(&req);
    buf_free(&in);
    mem_free(bytes);
    return 0;
}
