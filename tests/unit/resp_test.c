/*
 * resp_test — the protocol parser and the reply encoders.
 *
 * The parser is driven the way a socket drives it: every request is fed cut at every
 * byte, a long mixed pipeline is fed whole and in random chunks, and each kind of
 * malformed input must give its exact error text (and nothing worse on any prefix).
 * Each prefix is copied into a buffer of exactly its size, so the sanitizers catch a
 * read past the end. Encoders are checked byte for byte in RESP2 and RESP3.
 */
#include "buf.h"
#include "mem.h"
#include "resp.h"
#include "testing.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static const resp_limits LIM = {
    .max_args = 1024 * 1024,
    .max_bulk = 1024 * 1024,
    .max_inline = 64 * 1024,
};

/* ---- helpers ---- */

/* An expected argv: args are packed back to back in bytes. */
typedef struct expect {
    size_t argc;
    size_t lens[8];
    const char *bytes;
} expect;

/* Parses a heap copy of exactly data[0..len), so any over-read is caught. */
static enum resp_status parse_copy(resp_request *req, const char *data, size_t len,
                                   const resp_limits *lim, size_t *consumed, char **copy)
{
    *copy = mem_alloc(len ? len : 1);
    if (len)
        memcpy(*copy, data, len);
    return resp_parse(req, *copy, len, lim, consumed);
}

static bool argv_equals(const resp_request *req, const expect *e)
{
    if (req->argc != e->argc)
        return false;
    const char *p = e->bytes;
    for (size_t i = 0; i < e->argc; i++) {
        if (req->argv[i].len != e->lens[i] || memcmp(req->argv[i].ptr, p, e->lens[i]) != 0)
            return false;
        p += e->lens[i];
    }
    return true;
}

/* Feeds data cut at every byte: all proper prefixes are INCOMPLETE, the whole is OK
 * with argv e and consumes all of it; with a following request appended it still
 * consumes exactly len. */
static void check_split(const char *data, size_t len, const expect *e)
{
    resp_request req;
    resp_request_init(&req);
    for (size_t k = 0; k < len; k++) {
        size_t used = 99;
        char *copy;
        enum resp_status st = parse_copy(&req, data, k, &LIM, &used, &copy);
        if (st != RESP_INCOMPLETE || used != 0) {
            fprintf(stderr, "  prefix %zu of %zu: status %d\n", k, len, (int)st);
            CHECK(st == RESP_INCOMPLETE);
            CHECK_EQ_INT(used, 0);
        }
        mem_free(copy);
    }
    size_t used = 0;
    char *copy;
    CHECK_EQ_INT(parse_copy(&req, data, len, &LIM, &used, &copy), RESP_OK);
    CHECK_EQ_INT(used, len);
    CHECK(argv_equals(&req, e));
    mem_free(copy);

    /* Followed by more bytes of a next request. */
    char more[512];
    CHECK(len + 6 <= sizeof more);
    memcpy(more, data, len);
    memcpy(more + len, "*1\r\n$3", 6);
    CHECK_EQ_INT(parse_copy(&req, more, len + 6, &LIM, &used, &copy), RESP_OK);
    CHECK_EQ_INT(used, len);
    CHECK(argv_equals(&req, e));
    mem_free(copy);
    resp_request_free(&req);
}

#define SPLIT(lit, ...)                                                                            \
    do {                                                                                           \
        expect e_ = __VA_ARGS__;                                                                   \
        check_split(lit, sizeof(lit) - 1, &e_);                                                    \
    } while (0)

/* ---- request forms, fed at every byte boundary ---- */

static void test_split_multibulk(void)
{
    SPLIT("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", {3, {3, 3, 5}, "SETkeyvalue"});
    SPLIT("*1\r\n$4\r\nPING\r\n", {1, {4}, "PING"});
    SPLIT("*2\r\n$0\r\n\r\n$1\r\nx\r\n", {2, {0, 1}, "x"});
    SPLIT("*0\r\n", {0, {0}, ""});
    SPLIT("*-1\r\n", {0, {0}, ""});
    SPLIT("*1\r\n$13\r\n$3\r\nfoo\r\n*1\r\n\r\n", {1, {13}, "$3\r\nfoo\r\n*1\r\n"});
}

static void test_split_binary(void)
{
    /* NUL, CR, LF and CRLF inside a bulk are data, not delimiters. */
    SPLIT("*2\r\n$3\r\nGET\r\n$7\r\na\0\r\nb\n\r\r\n", {2, {3, 7}, "GETa\0\r\nb\n\r"});
    SPLIT("*1\r\n$2\r\n\r\n\r\n", {1, {2}, "\r\n"});
    SPLIT("*1\r\n$1\r\n\0\r\n", {1, {1}, "\0"});
}

static void test_split_inline(void)
{
    SPLIT("PING\r\n", {1, {4}, "PING"});
    SPLIT("PING\n", {1, {4}, "PING"});
    SPLIT("set  key   value\n", {3, {3, 3, 5}, "setkeyvalue"});
    SPLIT("\tget\tk \r\n", {2, {3, 1}, "getk"});
    SPLIT("\r\n", {0, {0}, ""});
    SPLIT("\n", {0, {0}, ""});
    SPLIT("   \t \r\n", {0, {0}, ""});
    SPLIT("a\rb\n", {2, {1, 1}, "ab"});
}

static void test_split_quoted(void)
{
    SPLIT("SET \"a b\" 'c d'\r\n", {3, {3, 3, 3}, "SETa bc d"});
    SPLIT("SET \"\\x41\\x7a\\n\\r\\t\\\"\\\\\" x\n", {3, {3, 7, 1}, "SETAz\n\r\t\"\\x"});
    SPLIT("echo 'it\\'s' \"\"\n", {3, {4, 4, 0}, "echoit's"});
    SPLIT("x \"\\xZZ\\q\\b\\a\"\n", {2, {1, 6}, "xxZZq\b\a"});
    SPLIT("a\"b c\" 'd'\n", {2, {4, 1}, "ab cd"});
    SPLIT("'a\\b'\n", {1, {3}, "a\\b"});
    SPLIT("\"\\x00\"\n", {1, {1}, "\0"});
    SPLIT("\"\t\"\r\n", {1, {1}, "\t"});
}

static void test_inline_views(void)
{
    /* Plain words are views into the input; quoted ones live in scratch. */
    resp_request req;
    resp_request_init(&req);
    const char data[] = "w1 \"q1\" w2 'q2' \"q3\\n\"\n";
    size_t used;
    CHECK_EQ_INT(resp_parse(&req, data, sizeof data - 1, &LIM, &used), RESP_OK);
    CHECK_EQ_INT(req.argc, 5);
    CHECK(req.argv[0].ptr == data);
    CHECK(req.argv[2].ptr == data + 8);
    CHECK(req.argv[1].ptr >= req.scratch.data && req.argv[1].ptr < req.scratch.data + 7);
    CHECK(req.argv[3].ptr >= req.scratch.data && req.argv[3].ptr < req.scratch.data + 7);
    CHECK(req.argv[4].ptr >= req.scratch.data && req.argv[4].ptr < req.scratch.data + 7);
    CHECK(memcmp(req.argv[4].ptr, "q3\n", 3) == 0);
    resp_request_free(&req);
}

static void test_inline_scratch_moves(void)
{
    /* Enough quoted text that scratch is reallocated several times while splitting. */
    buf line, want;
    buf_init(&line);
    buf_init(&want);
    for (int i = 0; i < 200; i++) {
        buf_printf(&line, "\"%d-\\x41-%0*d\" ", i, i, 0);
        buf_printf(&want, "%d-A-%0*d", i, i, 0);
    }
    buf_append_str(&line, "\r\n");
    resp_request req;
    resp_request_init(&req);
    size_t used;
    CHECK_EQ_INT(resp_parse(&req, line.data, line.len, &LIM, &used), RESP_OK);
    CHECK_EQ_INT(used, line.len);
    CHECK_EQ_INT(req.argc, 200);
    buf got;
    buf_init(&got);
    for (size_t i = 0; i < req.argc; i++)
        buf_append(&got, req.argv[i].ptr, req.argv[i].len);
    CHECK_EQ_INT(got.len, want.len);
    CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
    buf_free(&got);
    buf_free(&line);
    buf_free(&want);
    resp_request_free(&req);
}

static void test_multibulk_zero_copy(void)
{
    resp_request req;
    resp_request_init(&req);
    const char data[] = "*2\r\n$1\r\na\r\n$2\r\nbc\r\n";
    size_t used;
    CHECK_EQ_INT(resp_parse(&req, data, sizeof data - 1, &LIM, &used), RESP_OK);
    CHECK(req.argv[0].ptr == data + 8);
    CHECK(req.argv[1].ptr == data + 15);
    resp_request_free(&req);
}

static void test_need(void)
{
    resp_request req;
    resp_request_init(&req);
    size_t used;
    const char a[] = "*2\r\n$10\r\nabc";
    CHECK_EQ_INT(resp_parse(&req, a, sizeof a - 1, &LIM, &used), RESP_INCOMPLETE);
    CHECK_EQ_INT(req.need, 21);
    /* Header of the next bulk not complete: nothing is known. */
    const char b[] = "*2\r\n$1\r\na\r\n$1";
    CHECK_EQ_INT(resp_parse(&req, b, sizeof b - 1, &LIM, &used), RESP_INCOMPLETE);
    CHECK_EQ_INT(req.need, 0);
    const char c[] = "*2\r\n$1\r\na\r\n$100000\r\n";
    CHECK_EQ_INT(resp_parse(&req, c, sizeof c - 1, &LIM, &used), RESP_INCOMPLETE);
    CHECK_EQ_INT(req.need, sizeof c - 1 + 100000 + 2);
    const char d[] = "PING";
    CHECK_EQ_INT(resp_parse(&req, d, sizeof d - 1, &LIM, &used), RESP_INCOMPLETE);
    CHECK_EQ_INT(req.need, 0);
    CHECK_EQ_INT(resp_parse(&req, "", 0, &LIM, &used), RESP_INCOMPLETE);
    resp_request_free(&req);
}

/* ---- pipelines ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: reproducible from the seed. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

typedef struct pipeline {
    buf wire;       /* all requests, back to back */
    buf args;       /* expected argument bytes, back to back */
    size_t *lens;   /* expected length of every argument */
    size_t *argcs;  /* expected argc of every request */
    size_t *ends;   /* wire offset just after every request */
    size_t nargs;   /* entries in lens */
    size_t nreq;    /* entries in argcs and ends */
    size_t cap_arg; /* allocated lens */
} pipeline;

static void pipe_arg(pipeline *pl, const char *p, size_t n)
{
    mem_grow((void **)&pl->lens, &pl->cap_arg, pl->nargs + 1, sizeof *pl->lens);
    pl->lens[pl->nargs++] = n;
    buf_append(&pl->args, p, n);
}

/* Appends an argument to an inline line, quoting (and escaping) when it needs to. */
static void inline_word(buf *w, const char *p, size_t n, int style)
{
    if (style == 0) {
        buf_append(w, p, n);
        return;
    }
    if (style == 1) {
        buf_append(w, "'", 1);
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '\'')
                buf_append(w, "\\", 1);
            buf_append(w, &p[i], 1);
        }
        buf_append(w, "'", 1);
        return;
    }
    buf_append(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            buf_printf(w, "\\%c", c);
        else if (c == '\n')
            buf_append(w, "\\n", 2);
        else if (c < 0x20 || c >= 0x7f)
            buf_printf(w, "\\x%02x", c);
        else
            buf_append(w, &p[i], 1);
    }
    buf_append(w, "\"", 1);
}

static void pipe_build(pipeline *pl, size_t nreq)
{
    memset(pl, 0, sizeof *pl);
    pl->argcs = mem_alloc(nreq * sizeof *pl->argcs);
    pl->ends = mem_alloc(nreq * sizeof *pl->ends);
    char word[300];
    for (size_t r = 0; r < nreq; r++) {
        unsigned kind = (unsigned)(rng() % 4);
        size_t argc = kind == 3 ? rng() % 3 : 1 + rng() % 6;
        if (kind == 0 && rng() % 50 == 0)
            argc = 0;
        if (kind == 0)
            buf_printf(&pl->wire, "*%zu\r\n", argc);
        for (size_t a = 0; a < argc; a++) {
            size_t n = kind == 0 ? rng() % 200 : 1 + rng() % 20;
            for (size_t i = 0; i < n; i++) {
                if (kind == 0)
                    word[i] = (char)rng(); /* any byte at all */
                else if (kind == 1 || kind == 3)
                    word[i] = "abcdefghijklmnopqrstuvwxyz0123456789:-_"[rng() % 39];
                else
                    word[i] = "ab \"'\\\n\t\x01\xff"[rng() % 10];
            }
            if (kind == 0) {
                buf_printf(&pl->wire, "$%zu\r\n", n);
                buf_append(&pl->wire, word, n);
                buf_append(&pl->wire, "\r\n", 2);
            } else {
                if (a)
                    buf_append_str(&pl->wire, rng() % 2 ? " " : " \t ");
                /* Single quotes cannot carry a newline, nor end in a backslash. */
                int style = kind == 2 ? 1 + (int)(rng() % 2) : 0;
                if (style == 1 && (memchr(word, '\n', n) || word[n - 1] == '\\'))
                    style = 2;
                inline_word(&pl->wire, word, n, style);
            }
            pipe_arg(pl, word, n);
        }
        if (kind != 0)
            buf_append_str(&pl->wire, rng() % 2 ? "\r\n" : "\n");
        pl->argcs[r] = argc;
        pl->ends[r] = pl->wire.len;
    }
    pl->nreq = nreq;
}

static void pipe_free(pipeline *pl)
{
    buf_free(&pl->wire);
    buf_free(&pl->args);
    mem_free(pl->lens);
    mem_free(pl->argcs);
    mem_free(pl->ends);
}

/* Checks req against request r; *arg and *off walk the expected arguments. */
static bool pipe_match(const pipeline *pl, const resp_request *req, size_t r, size_t *arg,
                       size_t *off)
{
    if (req->argc != pl->argcs[r])
        return false;
    for (size_t i = 0; i < req->argc; i++) {
        size_t n = pl->lens[*arg];
        if (req->argv[i].len != n || memcmp(req->argv[i].ptr, pl->args.data + *off, n) != 0)
            return false;
        (*arg)++;
        *off += n;
    }
    return true;
}

static void test_pipeline_whole(void)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    pipeline pl;
    pipe_build(&pl, 10000);
    resp_request req;
    resp_request_init(&req);
    size_t pos = 0, arg = 0, off = 0, bad = 0;
    for (size_t r = 0; r < pl.nreq; r++) {
        size_t used = 0;
        enum resp_status st = resp_parse(&req, pl.wire.data + pos, pl.wire.len - pos, &LIM, &used);
        if (st != RESP_OK || pos + used != pl.ends[r] || !pipe_match(&pl, &req, r, &arg, &off)) {
            size_t start = r ? pl.ends[r - 1] : 0;
            fprintf(stderr, "  request %zu: status %d (%s), consumed %zu: \"%.*s\"\n", r, (int)st,
                    req.error ? req.error : "", used, (int)(pl.ends[r] - start),
                    pl.wire.data + start);
            bad++;
            break;
        }
        pos += used;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(pos, pl.wire.len);
    CHECK_EQ_INT(arg, pl.nargs);
    size_t used;
    CHECK_EQ_INT(resp_parse(&req, pl.wire.data + pos, 0, &LIM, &used), RESP_INCOMPLETE);
    resp_request_free(&req);
    pipe_free(&pl);
}

/* The same pipeline arriving in random chunks through a client-like input buffer. */
static void test_pipeline_chunks(void)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        rng_state = 0x9E3779B97F4A7C15ULL;
        pipeline pl;
        pipe_build(&pl, 10000);
        rng_state = seed * 0xD1B54A32D192ED03ULL;
        resp_request req;
        resp_request_init(&req);
        buf in;
        buf_init(&in);
        size_t fed = 0, in_pos = 0, base = 0, r = 0, arg = 0, off = 0, bad = 0;
        while (fed < pl.wire.len && !bad) {
            size_t chunk = 1 + rng() % (seed == 1 ? 7 : 600);
            if (chunk > pl.wire.len - fed)
                chunk = pl.wire.len - fed;
            buf_append(&in, pl.wire.data + fed, chunk);
            fed += chunk;
            for (;;) {
                size_t used = 0;
                enum resp_status st =
                    resp_parse(&req, in.data + in_pos, in.len - in_pos, &LIM, &used);
                if (st == RESP_INCOMPLETE) {
                    /* need, when known, lies beyond what we have and within the request. */
                    if (req.need &&
                        (req.need <= in.len - in_pos || base + in_pos + req.need > pl.ends[r]))
                        bad++;
                    break;
                }
                if (st != RESP_OK || base + in_pos + used != pl.ends[r] ||
                    !pipe_match(&pl, &req, r, &arg, &off)) {
                    bad++;
                    break;
                }
                in_pos += used;
                r++;
            }
            if (in_pos > 4096) { /* compact, as the client does */
                buf_consume(&in, in_pos);
                base += in_pos;
                in_pos = 0;
            }
        }
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(r, pl.nreq);
        CHECK_EQ_INT(arg, pl.nargs);
        buf_free(&in);
        resp_request_free(&req);
        pipe_free(&pl);
    }
}

/* ---- malformed input ---- */

/* The whole input must fail with exactly msg; every prefix must be INCOMPLETE or that
 * same failure. */
static void check_error(const char *data, size_t len, const resp_limits *lim, const char *msg)
{
    resp_request req;
    resp_request_init(&req);
    size_t used = 7;
    char *copy;
    enum resp_status st = parse_copy(&req, data, len, lim, &used, &copy);
    mem_free(copy);
    if (st != RESP_ERROR)
        fprintf(stderr, "  input \"%.*s\": status %d\n", (int)(len > 60 ? 60 : len), data, st);
    CHECK_EQ_INT(st, RESP_ERROR);
    CHECK_EQ_INT(used, 0);
    CHECK_EQ_INT(req.argc, 0);
    CHECK_EQ_STR(req.error, msg);
    for (size_t k = 0; k < len; k++) {
        st = parse_copy(&req, data, k, lim, &used, &copy);
        mem_free(copy);
        if (st == RESP_OK || (st == RESP_ERROR && strcmp(req.error, msg) != 0)) {
            fprintf(stderr, "  prefix %zu: status %d\n", k, st);
            CHECK(false);
        }
    }
    resp_request_free(&req);
}

#define BAD(lit, msg) check_error(lit, sizeof(lit) - 1, &LIM, msg)

#define E_MBULK   "Protocol error: invalid multibulk length"
#define E_BULK    "Protocol error: invalid bulk length"
#define E_CRLF    "Protocol error: expected CRLF after bulk data"
#define E_QUOTES  "Protocol error: unbalanced quotes in request"
#define E_MBULK_L "Protocol error: too big mbulk count string"
#define E_BULK_L  "Protocol error: too big bulk count string"
#define E_INLINE  "Protocol error: too big inline request"

static void test_bad_counts(void)
{
    BAD("*-2\r\n", E_MBULK);
    BAD("*-100\r\n", E_MBULK);
    BAD("*-0\r\n", E_MBULK);
    BAD("*abc\r\n", E_MBULK);
    BAD("*1x\r\n", E_MBULK);
    BAD("* 1\r\n", E_MBULK);
    BAD("*+1\r\n", E_MBULK);
    BAD("*\r\n", E_MBULK);
    BAD("*-\r\n", E_MBULK);
    BAD("*01\r\n", E_MBULK);
    BAD("*1\n", E_MBULK);
    BAD("*1\rx", E_MBULK);
    BAD("*1\r\r\n", E_MBULK);
    BAD("*2147483648\r\n", E_MBULK);
    BAD("*1048577\r\n", E_MBULK); /* max_args + 1 */
    BAD("*18446744073709551615\r\n", E_MBULK);
    BAD("*18446744073709551616\r\n", E_MBULK);
    BAD("*99999999999999999999999999999999\r\n", E_MBULK); /* 32 digits: overflow */
    BAD("*-9223372036854775808\r\n", E_MBULK);
}

static void test_bad_lengths(void)
{
    BAD("*1\r\n$-1\r\n", E_BULK);
    BAD("*1\r\n$-5\r\n", E_BULK);
    BAD("*1\r\n$abc\r\n", E_BULK);
    BAD("*1\r\n$\r\n", E_BULK);
    BAD("*1\r\n$3x\r\n", E_BULK);
    BAD("*1\r\n$03\r\nabc\r\n", E_BULK);
    BAD("*1\r\n$3\n", E_BULK);
    BAD("*1\r\n$1048577\r\n", E_BULK); /* max_bulk + 1, rejected before any data */
    BAD("*1\r\n$2147483648\r\n", E_BULK);
    BAD("*1\r\n$18446744073709551616\r\n", E_BULK);
    BAD("*2\r\n$1\r\na\r\n$99999999999999999999\r\n", E_BULK);
}

static void test_bad_types(void)
{
    BAD("*3\r\n$1\r\na\r\n:5\r\n", "Protocol error: expected '$', got ':'");
    BAD("*1\r\n+OK\r\n", "Protocol error: expected '$', got '+'");
    BAD("*2\r\n$1\r\na\r\n*1\r\n", "Protocol error: expected '$', got '*'");
    BAD("*1\r\nPING\r\n", "Protocol error: expected '$', got 'P'");
    /* A byte that cannot be shown stays off the reply line. */
    BAD("*1\r\n\r\n", "Protocol error: expected '$', got '?'");
    BAD("*1\r\n\n", "Protocol error: expected '$', got '?'");
    BAD("*1\r\n\0", "Protocol error: expected '$', got '?'");
    BAD("*1\r\n\xff", "Protocol error: expected '$', got '?'");
}

static void test_bad_bulk_end(void)
{
    BAD("*1\r\n$3\r\nabcXY", E_CRLF);
    BAD("*1\r\n$3\r\nabc\rX", E_CRLF);
    BAD("*1\r\n$3\r\nabcd\r\n", E_CRLF);
    BAD("*1\r\n$3\r\nab\r\n", E_CRLF);
    BAD("*2\r\n$1\r\na\r\n$0\r\nxx", E_CRLF);
    BAD("*1\r\n$0\r\n\n\r", E_CRLF);
}

static void test_bad_lines(void)
{
    /* 33 digits and still no CRLF. */
    BAD("*111111111111111111111111111111111", E_MBULK_L);
    BAD("*1\r\n$111111111111111111111111111111111", E_BULK_L);
    /* 32 bytes of number text may still end in CRLF. */
    resp_request req;
    resp_request_init(&req);
    size_t used;
    const char a[] = "*11111111111111111111111111111111";
    CHECK_EQ_INT(resp_parse(&req, a, sizeof a - 1, &LIM, &used), RESP_INCOMPLETE);
    const char b[] = "*1\r\n$11111111111111111111111111111111\r";
    CHECK_EQ_INT(resp_parse(&req, b, sizeof b - 1, &LIM, &used), RESP_INCOMPLETE);
    resp_request_free(&req);
}

static void test_bad_inline(void)
{
    BAD("SET \"abc\r\n", E_QUOTES);
    BAD("SET 'abc\n", E_QUOTES);
    BAD("\"a\"b\n", E_QUOTES);
    BAD("'a'b\n", E_QUOTES);
    BAD("\"a\"\"b\"\n", E_QUOTES);
    BAD("\"abc\\\"\n", E_QUOTES);
    BAD("\"abc\\\n", E_QUOTES);
    BAD("'abc\\'\n", E_QUOTES);
    BAD("x\"\n", E_QUOTES);
    BAD("\"\\x4\"a\n", E_QUOTES);

    resp_limits small = LIM;
    small.max_inline = 16;
    char line[32];
    memset(line, 'a', sizeof line);
    check_error(line, 17, &small, E_INLINE); /* 17 bytes, no newline yet */
    line[17] = '\n';
    check_error(line, 18, &small, E_INLINE);
    line[16] = '\r'; /* the CR counts: 17 bytes before the LF */
    line[17] = '\n';
    check_error(line, 18, &small, E_INLINE);
    /* Exactly max_inline bytes before the '\n' is fine, CR included. */
    resp_request req;
    resp_request_init(&req);
    size_t used;
    line[16] = '\n';
    CHECK_EQ_INT(resp_parse(&req, line, 17, &small, &used), RESP_OK);
    CHECK_EQ_INT(used, 17);
    CHECK_EQ_INT(req.argc, 1);
    CHECK_EQ_INT(req.argv[0].len, 16);
    line[15] = '\r';
    CHECK_EQ_INT(resp_parse(&req, line, 17, &small, &used), RESP_OK);
    CHECK_EQ_INT(req.argv[0].len, 15);
    CHECK_EQ_INT(resp_parse(&req, line, 16, &small, &used), RESP_INCOMPLETE);

    /* A big line arriving with no newline fails as soon as it is too long. */
    buf big;
    buf_init(&big);
    for (size_t i = 0; i <= LIM.max_inline; i++)
        buf_append(&big, "x", 1);
    CHECK_EQ_INT(resp_parse(&req, big.data, big.len - 1, &LIM, &used), RESP_INCOMPLETE);
    CHECK_EQ_INT(resp_parse(&req, big.data, big.len, &LIM, &used), RESP_ERROR);
    CHECK_EQ_STR(req.error, E_INLINE);
    buf_free(&big);

    small.max_args = 3;
    check_error("a b c d\n", 8, &small, "Protocol error: too many arguments in inline request");
    resp_request_free(&req);
    resp_request_init(&req);
    CHECK_EQ_INT(resp_parse(&req, "a b c\n", 6, &small, &used), RESP_OK);
    CHECK_EQ_INT(req.argc, 3);
    CHECK(req.cap <= 3);
    resp_request_free(&req);
}

static void test_limits_small(void)
{
    resp_limits small = {.max_args = 2, .max_bulk = 4, .max_inline = 64};
    check_error("*3\r\n", 4, &small, E_MBULK);
    check_error("*1\r\n$5\r\n", 8, &small, E_BULK);
    resp_request req;
    resp_request_init(&req);
    size_t used;
    const char ok[] = "*2\r\n$4\r\nabcd\r\n$0\r\n\r\n";
    CHECK_EQ_INT(resp_parse(&req, ok, sizeof ok - 1, &small, &used), RESP_OK);
    CHECK_EQ_INT(req.argc, 2);
    CHECK(req.cap <= 2);
    resp_limits none = {.max_args = 0, .max_bulk = 0, .max_inline = 0};
    CHECK_EQ_INT(resp_parse(&req, "*0\r\n", 4, &none, &used), RESP_OK);
    CHECK_EQ_INT(resp_parse(&req, "*-1\r\n", 5, &none, &used), RESP_OK);
    CHECK_EQ_INT(resp_parse(&req, "\n", 1, &none, &used), RESP_OK);
    CHECK_EQ_INT(resp_parse(&req, "x", 1, &none, &used), RESP_ERROR);
    CHECK_EQ_STR(req.error, E_INLINE);
    resp_request_free(&req);
}

/* ---- memory follows what arrived ---- */

static void test_declared_count_not_allocated(void)
{
    resp_limits lim = LIM;
    lim.max_args = 2000000;
    resp_request req;
    resp_request_init(&req);
    buf w;
    buf_init(&w);
    buf_append_str(&w, "*1000000\r\n");
    size_t used;
    CHECK_EQ_INT(resp_parse(&req, w.data, w.len, &lim, &used), RESP_INCOMPLETE);
    CHECK(req.cap == 0);
    for (int i = 0; i < 3; i++)
        buf_append_str(&w, "$3\r\nabc\r\n");
    CHECK_EQ_INT(resp_parse(&req, w.data, w.len, &lim, &used), RESP_INCOMPLETE);
    CHECK(req.cap <= 8);
    for (int i = 0; i < 997; i++)
        buf_append_str(&w, "$1\r\nx\r\n");
    CHECK_EQ_INT(resp_parse(&req, w.data, w.len, &lim, &used), RESP_INCOMPLETE);
    CHECK(req.cap >= 1000 && req.cap <= 2048);

    /* Once a huge request is done, a small one gives the slots back. */
    buf_clear(&w);
    resp_request_reset(&req); /* other bytes from here on */
    buf_append_str(&w, "*5000\r\n");
    for (int i = 0; i < 5000; i++)
        buf_append_str(&w, "$0\r\n\r\n");
    CHECK_EQ_INT(resp_parse(&req, w.data, w.len, &lim, &used), RESP_OK);
    CHECK_EQ_INT(req.argc, 5000);
    CHECK(req.cap >= 5000 && req.cap <= 8192);
    CHECK_EQ_INT(resp_parse(&req, "*1\r\n$1\r\nx\r\n", 11, &lim, &used), RESP_OK);
    CHECK_EQ_INT(req.argc, 1);
    CHECK(req.cap <= 1024);
    CHECK(req.argv[0].len == 1 && req.argv[0].ptr[0] == 'x');
    buf_free(&w);
    resp_request_free(&req);
}

/* A request arriving one argument per read was re-parsed from its start on every read:
 * quadratic in its argument count. The saved progress makes the total linear, and the
 * result is the same wherever the bytes moved in between. */
static void test_trickled_request_resumes(void)
{
    enum { N = 50000 };
    resp_limits lim = LIM;
    lim.max_args = N + 1;
    resp_request req;
    resp_request_init(&req);
    buf w;
    buf_init(&w);
    buf_printf(&w, "*%d\r\n", N);
    size_t used = 0;
    clock_t t0 = clock();
    enum resp_status st = RESP_INCOMPLETE;
    for (int i = 0; i < N && st == RESP_INCOMPLETE; i++) {
        char arg[16];
        int n = snprintf(arg, sizeof arg, "%d", i);
        buf_printf(&w, "$%d\r\n%s\r\n", n, arg);
        /* now and then a fresh copy: the bytes move, as a client buffer moves them */
        bool moved = i % 997 == 0;
        char *data = moved ? mem_alloc(w.len) : w.data;
        if (moved)
            memcpy(data, w.data, w.len);
        st = resp_parse(&req, data, w.len, &lim, &used);
        if (st == RESP_OK) {
            CHECK_EQ_INT(i, N - 1);
            CHECK_EQ_INT(req.argc, N);
            CHECK(req.argv[12345].len == 5 && memcmp(req.argv[12345].ptr, "12345", 5) == 0);
            CHECK(req.argv[0].len == 1 && req.argv[0].ptr[0] == '0');
        }
        if (moved)
            mem_free(data);
    }
    CHECK_EQ_INT(st, RESP_OK);
    CHECK_EQ_INT(used, w.len);
    /* Linear: a fraction of a second even under sanitizers; re-parsing from the start
     * on every piece took minutes. */
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 10.0);
    buf_free(&w);
    resp_request_free(&req);
}

static void test_request_reuse(void)
{
    resp_request req;
    resp_request_init(&req);
    size_t used;
    CHECK_EQ_INT(resp_parse(&req, "a \"b\"\n", 6, &LIM, &used), RESP_OK);
    CHECK_EQ_INT(req.argc, 2);
    CHECK_EQ_INT(resp_parse(&req, "*1\r\n$", 5, &LIM, &used), RESP_INCOMPLETE);
    CHECK_EQ_INT(req.argc, 0);
    CHECK_EQ_INT(resp_parse(&req, "*1\r\n$x", 6, &LIM, &used), RESP_ERROR);
    CHECK_EQ_INT(req.argc, 0);
    CHECK_EQ_INT(resp_parse(&req, "*1\r\n$1\r\nz\r\n", 11, &LIM, &used), RESP_OK);
    CHECK(req.error == NULL);
    CHECK_EQ_INT(req.argc, 1);
    resp_request_free(&req);
    CHECK(req.argv == NULL && req.cap == 0 && req.scratch.data == NULL);
    resp_request_free(&req); /* twice is harmless */
}

/* ---- encoders ---- */

static bool buf_is(buf *b, const char *lit, size_t n)
{
    bool ok = b->data && b->len == n && memcmp(b->data, lit, n) == 0 && b->data[b->len] == '\0';
    if (!ok)
        fprintf(stderr, "  got \"%.*s\" (%zu bytes)\n", (int)b->len, b->data ? b->data : "",
                b->len);
    buf_clear(b);
    return ok;
}

#define EXPECT_OUT(b, lit) CHECK(buf_is(b, lit, sizeof(lit) - 1))

static void test_enc_simple_error(void)
{
    buf b;
    buf_init(&b);
    resp_simple(&b, "OK");
    EXPECT_OUT(&b, "+OK\r\n");
    resp_simple(&b, "");
    EXPECT_OUT(&b, "+\r\n");
    resp_simple(&b, "a\r\nb\nc\rd");
    EXPECT_OUT(&b, "+a  b c d\r\n");
    resp_error(&b, "ERR unknown command '%s'", "x\r\n+OK");
    EXPECT_OUT(&b, "-ERR unknown command 'x  +OK'\r\n");
    resp_error(&b, "WRONGPASS invalid username-password pair");
    EXPECT_OUT(&b, "-WRONGPASS invalid username-password pair\r\n");
    resp_error(&b, "ERR %d", 42);
    EXPECT_OUT(&b, "-ERR 42\r\n");

    /* Longer than any stack buffer on the way, with a newline far inside. */
    char long_text[1000];
    memset(long_text, 'x', sizeof long_text);
    long_text[700] = '\n';
    long_text[sizeof long_text - 1] = '\0';
    buf_append_str(&b, "prefix\n");
    resp_error(&b, "ERR %s", long_text);
    CHECK_EQ_INT(b.len, 7 + 1 + 4 + 999 + 2);
    CHECK(memcmp(b.data, "prefix\n-ERR xxx", 15) == 0);
    CHECK(b.data[7 + 5 + 700] == ' ');
    CHECK(memcmp(b.data + b.len - 3, "x\r\n", 3) == 0);
    CHECK(memchr(b.data + 7, '\n', b.len - 8) == NULL);
    buf_free(&b);
}

static void test_enc_int(void)
{
    buf b;
    buf_init(&b);
    resp_int(&b, 0);
    EXPECT_OUT(&b, ":0\r\n");
    resp_int(&b, 7);
    EXPECT_OUT(&b, ":7\r\n");
    resp_int(&b, 10);
    EXPECT_OUT(&b, ":10\r\n");
    resp_int(&b, 99);
    EXPECT_OUT(&b, ":99\r\n");
    resp_int(&b, 100);
    EXPECT_OUT(&b, ":100\r\n");
    resp_int(&b, 1234567);
    EXPECT_OUT(&b, ":1234567\r\n");
    resp_int(&b, -1);
    EXPECT_OUT(&b, ":-1\r\n");
    resp_int(&b, -90);
    EXPECT_OUT(&b, ":-90\r\n");
    resp_int(&b, LLONG_MAX);
    EXPECT_OUT(&b, ":9223372036854775807\r\n");
    resp_int(&b, LLONG_MIN);
    EXPECT_OUT(&b, ":-9223372036854775808\r\n");
    /* Against printf for a spread of values. */
    for (long long v = -100000; v <= 100000; v += 7) {
        char want[32];
        int n = snprintf(want, sizeof want, ":%lld\r\n", v);
        resp_int(&b, v);
        if (!buf_is(&b, want, (size_t)n)) {
            CHECK(false);
            break;
        }
    }
    buf_free(&b);
}

static void test_enc_bulk(void)
{
    buf b;
    buf_init(&b);
    resp_bulk(&b, "abc", 3);
    EXPECT_OUT(&b, "$3\r\nabc\r\n");
    resp_bulk(&b, NULL, 0);
    EXPECT_OUT(&b, "$0\r\n\r\n");
    resp_bulk(&b, "a\0\r\nb", 5);
    EXPECT_OUT(&b, "$5\r\na\0\r\nb\r\n");
    resp_bulk_str(&b, "hello world");
    EXPECT_OUT(&b, "$11\r\nhello world\r\n");
    resp_bulk_str(&b, "");
    EXPECT_OUT(&b, "$0\r\n\r\n");
    resp_bulk_u64(&b, 0);
    EXPECT_OUT(&b, "$1\r\n0\r\n");
    resp_bulk_u64(&b, 42);
    EXPECT_OUT(&b, "$2\r\n42\r\n");
    resp_bulk_u64(&b, UINT64_MAX);
    EXPECT_OUT(&b, "$20\r\n18446744073709551615\r\n");

    char big[5000];
    memset(big, 'z', sizeof big);
    resp_bulk(&b, big, sizeof big);
    CHECK_EQ_INT(b.len, 7 + 5000 + 2);
    CHECK(memcmp(b.data, "$5000\r\nzz", 9) == 0);
    CHECK(memcmp(b.data + b.len - 3, "z\r\n", 3) == 0);
    buf_free(&b);
}

static void test_enc_null_aggregates(void)
{
    buf b;
    buf_init(&b);
    resp_null(&b, 2);
    EXPECT_OUT(&b, "$-1\r\n");
    resp_null(&b, 3);
    EXPECT_OUT(&b, "_\r\n");
    resp_null_array(&b, 2);
    EXPECT_OUT(&b, "*-1\r\n");
    resp_null_array(&b, 3);
    EXPECT_OUT(&b, "_\r\n");
    resp_array(&b, 0);
    EXPECT_OUT(&b, "*0\r\n");
    resp_array(&b, 12);
    EXPECT_OUT(&b, "*12\r\n");
    resp_map(&b, 2, 3);
    EXPECT_OUT(&b, "*6\r\n");
    resp_map(&b, 3, 3);
    EXPECT_OUT(&b, "%3\r\n");
    resp_map(&b, 2, 0);
    EXPECT_OUT(&b, "*0\r\n");
    resp_set(&b, 2, 5);
    EXPECT_OUT(&b, "*5\r\n");
    resp_set(&b, 3, 5);
    EXPECT_OUT(&b, "~5\r\n");
    resp_bool(&b, 2, true);
    EXPECT_OUT(&b, ":1\r\n");
    resp_bool(&b, 2, false);
    EXPECT_OUT(&b, ":0\r\n");
    resp_bool(&b, 3, true);
    EXPECT_OUT(&b, "#t\r\n");
    resp_bool(&b, 3, false);
    EXPECT_OUT(&b, "#f\r\n");
    buf_free(&b);
}

static void test_enc_double(void)
{
    buf b;
    buf_init(&b);
    resp_double(&b, 3, 1.5);
    EXPECT_OUT(&b, ",1.5\r\n");
    resp_double(&b, 3, 0);
    EXPECT_OUT(&b, ",0\r\n");
    resp_double(&b, 3, -2);
    EXPECT_OUT(&b, ",-2\r\n");
    resp_double(&b, 3, 0.1);
    EXPECT_OUT(&b, ",0.10000000000000001\r\n");
    resp_double(&b, 3, 1e300);
    EXPECT_OUT(&b, ",1.0000000000000001e+300\r\n");
    resp_double(&b, 3, -1.7976931348623157e308);
    EXPECT_OUT(&b, ",-1.7976931348623157e+308\r\n");
    resp_double(&b, 3, INFINITY);
    EXPECT_OUT(&b, ",inf\r\n");
    resp_double(&b, 3, -INFINITY);
    EXPECT_OUT(&b, ",-inf\r\n");
    resp_double(&b, 3, NAN);
    EXPECT_OUT(&b, ",nan\r\n");
    resp_double(&b, 2, 1.5);
    EXPECT_OUT(&b, "$3\r\n1.5\r\n");
    resp_double(&b, 2, 0.1);
    EXPECT_OUT(&b, "$19\r\n0.10000000000000001\r\n");
    resp_double(&b, 2, INFINITY);
    EXPECT_OUT(&b, "$3\r\ninf\r\n");
    resp_double(&b, 2, -INFINITY);
    EXPECT_OUT(&b, "$4\r\n-inf\r\n");
    resp_double(&b, 2, NAN);
    EXPECT_OUT(&b, "$3\r\nnan\r\n");
    buf_free(&b);
}

static void test_enc_verbatim(void)
{
    buf b;
    buf_init(&b);
    resp_verbatim(&b, 3, "hello", 5);
    EXPECT_OUT(&b, "=9\r\ntxt:hello\r\n");
    resp_verbatim(&b, 3, "", 0);
    EXPECT_OUT(&b, "=4\r\ntxt:\r\n");
    resp_verbatim(&b, 3, "# Server\r\nx:1\r\n", 15);
    EXPECT_OUT(&b, "=19\r\ntxt:# Server\r\nx:1\r\n\r\n");
    resp_verbatim(&b, 2, "hello", 5);
    EXPECT_OUT(&b, "$5\r\nhello\r\n");
    resp_verbatim(&b, 2, "", 0);
    EXPECT_OUT(&b, "$0\r\n\r\n");
    buf_free(&b);
}

static void test_enc_defer(void)
{
    buf b;
    buf_init(&b);
    /* Into an empty buffer. */
    size_t pos = resp_defer(&b);
    CHECK_EQ_INT(pos, 0);
    resp_defer_set(&b, pos, '*', 0);
    EXPECT_OUT(&b, "*0\r\n");

    /* After earlier replies, with the items already written. */
    resp_simple(&b, "OK");
    pos = resp_defer(&b);
    CHECK_EQ_INT(pos, 5);
    resp_int(&b, 1);
    resp_bulk_str(&b, "a");
    resp_defer_set(&b, pos, '*', 2);
    EXPECT_OUT(&b, "+OK\r\n*2\r\n:1\r\n$1\r\na\r\n");

    /* Nested: the inner one set first. */
    size_t outer = resp_defer(&b);
    resp_bulk_str(&b, "k");
    size_t inner = resp_defer(&b);
    for (int i = 0; i < 12; i++)
        resp_int(&b, i);
    resp_defer_set(&b, inner, '~', 12);
    resp_defer_set(&b, outer, '%', 1);
    EXPECT_OUT(&b, "%1\r\n$1\r\nk\r\n~12\r\n:0\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n"
                   ":8\r\n:9\r\n:10\r\n:11\r\n");

    /* A RESP2 map passes '*' and twice the count; the header lands at the end too. */
    pos = resp_defer(&b);
    resp_defer_set(&b, pos, '*', (size_t)2 * 3000000000ULL);
    EXPECT_OUT(&b, "*6000000000\r\n");

    /* Large payload after the position, forcing the buffer to grow on insert. */
    resp_simple(&b, "x");
    pos = resp_defer(&b);
    while (b.cap - b.len > 2)
        buf_append(&b, "y", 1);
    size_t before = b.len;
    resp_defer_set(&b, pos, '*', 1);
    CHECK_EQ_INT(b.len, before + 4);
    CHECK(memcmp(b.data, "+x\r\n*1\r\nyy", 10) == 0);
    CHECK(b.data[b.len] == '\0');
    buf_free(&b);
}

int main(void)
{
    TEST_RUN(test_split_multibulk);
    TEST_RUN(test_split_binary);
    TEST_RUN(test_split_inline);
    TEST_RUN(test_split_quoted);
    TEST_RUN(test_inline_views);
    TEST_RUN(test_inline_scratch_moves);
    TEST_RUN(test_multibulk_zero_copy);
    TEST_RUN(test_need);
    TEST_RUN(test_pipeline_whole);
    TEST_RUN(test_pipeline_chunks);
    TEST_RUN(test_bad_counts);
    TEST_RUN(test_bad_lengths);
    TEST_RUN(test_bad_types);
    TEST_RUN(test_bad_bulk_end);
    TEST_RUN(test_bad_lines);
    TEST_RUN(test_bad_inline);
    TEST_RUN(test_limits_small);
    TEST_RUN(test_declared_count_not_allocated);
    TEST_RUN(test_trickled_request_resumes);
    TEST_RUN(test_request_reuse);
    TEST_RUN(test_enc_simple_error);
    TEST_RUN(test_enc_int);
    TEST_RUN(test_enc_bulk);
    TEST_RUN(test_enc_null_aggregates);
    TEST_RUN(test_enc_double);
    TEST_RUN(test_enc_verbatim);
    TEST_RUN(test_enc_defer);
    return TEST_DONE();
}
