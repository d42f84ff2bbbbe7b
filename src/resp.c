/*
 * The Redis protocol on the wire: requests in, replies out.
 *
 * The parser keeps no state between calls. A retry after RESP_INCOMPLETE re-reads the
 * request from its first byte, but it hops from header to header (a bulk's declared
 * length skips its data unread), so a retry costs O(arguments), not O(bytes). Every
 * header line holds at most RESP_LINE_MAX bytes of number, every count and length is
 * checked against resp_limits before it is used, and argv grows only as arguments
 * actually arrive: memory follows what a client sent, never what it declared.
 *
 *   "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"   -> argv views into the caller's bytes (zero copy)
 *   "GET \"a\\x41\" k\r\n"             -> plain words are views too; quoted words are
 *                                         unescaped into req->scratch
 *
 * Encoders append to a buf. Headers are formatted on the stack without printf, then the
 * header and payload go in after a single reserve.
 */
#include "resp.h"
#include "mem.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Longest number text in a "*<n>\r\n" or "$<n>\r\n" header line. 20 digits hold any
 * 64-bit value, so a longer line is never a length we could accept. */
#define RESP_LINE_MAX 32
/* argv slots allocated the first time a request has an argument. */
#define RESP_ARGV_MIN 8
/* argv slots kept between requests: a bigger argv, left by one huge request, is cut
 * back once a request that fits has been parsed. */
#define RESP_ARGV_KEEP 1024
/* Room for a type byte, a sign, 20 digits and CRLF. */
#define RESP_HDR_MAX 24

static const char ERR_MBULK_LEN[] = "Protocol error: invalid multibulk length";
static const char ERR_MBULK_LINE[] = "Protocol error: too big mbulk count string";
static const char ERR_BULK_LEN[] = "Protocol error: invalid bulk length";
static const char ERR_BULK_LINE[] = "Protocol error: too big bulk count string";
static const char ERR_BULK_CRLF[] = "Protocol error: expected CRLF after bulk data";
static const char ERR_INLINE_BIG[] = "Protocol error: too big inline request";
static const char ERR_INLINE_ARGS[] = "Protocol error: too many arguments in inline request";
static const char ERR_QUOTES[] = "Protocol error: unbalanced quotes in request";

/* "Protocol error: expected '$', got 'X'" for every byte X, built at compile time so
 * that req->error stays static text. Bytes outside printable ASCII show as '?': the
 * message goes back to the client on one line. */
#define RESP_SHOWN(c) ((c) >= 0x20 && (c) < 0x7f ? (char)(c) : '?')
#define RESP_EXPECTED_ROW(c)                                                                       \
    {                                                                                              \
        'P', 'r', 'o', 't', 'o', 'c', 'o', 'l', ' ', 'e', 'r', 'r', 'o', 'r', ':', ' ', 'e', 'x',  \
            'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', '$', '\'', ',', ' ', 'g', 'o', 't', ' ',      \
            '\'', RESP_SHOWN(c), '\'', '\0'                                                        \
    }
#define RESP_ROWS4(c)                                                                              \
    RESP_EXPECTED_ROW(c), RESP_EXPECTED_ROW((c) + 1), RESP_EXPECTED_ROW((c) + 2),                  \
        RESP_EXPECTED_ROW((c) + 3)
#define RESP_ROWS16(c) RESP_ROWS4(c), RESP_ROWS4((c) + 4), RESP_ROWS4((c) + 8), RESP_ROWS4((c) + 12)
#define RESP_ROWS64(c)                                                                             \
    RESP_ROWS16(c), RESP_ROWS16((c) + 16), RESP_ROWS16((c) + 32), RESP_ROWS16((c) + 48)

static const char resp_expected_dollar[256][38] = {RESP_ROWS64(0), RESP_ROWS64(64),
                                                   RESP_ROWS64(128), RESP_ROWS64(192)};

void resp_request_init(resp_request *req)
{
    req->argv = NULL;
    req->argc = 0;
    req->cap = 0;
    buf_init(&req->scratch);
    req->need = 0;
    req->error = NULL;
    req->resume_args = 0;
    req->resume_pos = 0;
}

void resp_request_reset(resp_request *req)
{
    req->resume_args = 0;
    req->resume_pos = 0;
}

void resp_request_free(resp_request *req)
{
    mem_free(req->argv);
    buf_free(&req->scratch);
    resp_request_init(req);
}

/* ---- Parsing ---- */

static enum resp_status resp_fail(resp_request *req, const char *error)
{
    req->error = error;
    return RESP_ERROR;
}

/* Appends one argument view. bound (>= argc + 1) is the most slots this request can
 * use, so argv never grows past what the request declared or max_args. */
static void resp_push(resp_request *req, size_t bound, const char *ptr, size_t len)
{
    if (req->argc == req->cap) {
        size_t ncap = req->cap ? req->cap * 2 : RESP_ARGV_MIN;
        if (ncap > bound)
            ncap = bound;
        if (ncap <= req->argc)
            ncap = req->argc + 1;
        req->argv = mem_realloc(req->argv, ncap * sizeof *req->argv);
        req->cap = ncap;
    }
    req->argv[req->argc].ptr = ptr;
    req->argv[req->argc].len = len;
    req->argc++;
}

enum num_status {
    NUM_OK,
    NUM_INCOMPLETE,
    NUM_TOO_LONG, /* no CR within RESP_LINE_MAX bytes */
    NUM_BAD,      /* not a decimal number, or no LF after the CR */
};

/* A header number: "0", "[-]<1-9><digits>"; no '+', spaces or leading zeros. */
typedef struct resp_num {
    bool neg;     /* a leading '-' */
    uint64_t mag; /* the value without its sign */
} resp_num;

/* Reads the number of a header line whose text starts at data[at], just after the
 * type byte, through its CRLF. A byte that can never be part of a number fails at
 * once, before the line is complete. On NUM_OK *next is the offset after the CRLF. */
static enum num_status resp_read_num(const char *data, size_t len, size_t at, resp_num *out,
                                     size_t *next)
{
    size_t end = len - at > RESP_LINE_MAX ? at + RESP_LINE_MAX + 1 : len;
    size_t i = at;
    for (; i < end && data[i] != '\r'; i++) {
        char c = data[i];
        if (!((c >= '0' && c <= '9') || (c == '-' && i == at)))
            return NUM_BAD;
    }
    if (i == end)
        return len - at > RESP_LINE_MAX ? NUM_TOO_LONG : NUM_INCOMPLETE;
    if (i + 1 == len)
        return NUM_INCOMPLETE;
    if (data[i + 1] != '\n')
        return NUM_BAD;

    const char *s = data + at;
    size_t n = i - at;
    out->neg = n > 0 && s[0] == '-';
    if (out->neg) {
        s++;
        n--;
    }
    if (n == 0 || (s[0] == '0' && (n > 1 || out->neg)))
        return NUM_BAD;
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned d = (unsigned)(s[k] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return NUM_BAD;
        v = v * 10 + d;
    }
    out->mag = v;
    *next = i + 2;
    return NUM_OK;
}

/* Reads one "$<len>\r\n<bytes>\r\n" at data[*pos] and appends it to argv. */
static enum resp_status resp_parse_bulk(resp_request *req, const char *data, size_t len,
                                        const resp_limits *lim, size_t count, size_t *pos)
{
    size_t at = *pos;
    if (at == len)
        return RESP_INCOMPLETE;
    if (data[at] != '$')
        return resp_fail(req, resp_expected_dollar[(unsigned char)data[at]]);
    resp_num num;
    size_t start = 0;
    switch (resp_read_num(data, len, at + 1, &num, &start)) {
    case NUM_OK:
        break;
    case NUM_INCOMPLETE:
        return RESP_INCOMPLETE;
    case NUM_TOO_LONG:
        return resp_fail(req, ERR_BULK_LINE);
    case NUM_BAD:
        return resp_fail(req, ERR_BULK_LEN);
    }
    /* Rejected here, before any of the data is waited for. */
    if (num.neg || num.mag > lim->max_bulk)
        return resp_fail(req, ERR_BULK_LEN);
    size_t blen = (size_t)num.mag;
    size_t avail = len - start;
    if (avail < 2 || avail - 2 < blen) {
        if (avail > blen && data[start + blen] != '\r')
            return resp_fail(req, ERR_BULK_CRLF);
        req->need = blen > SIZE_MAX - 2 - start ? SIZE_MAX : start + blen + 2;
        return RESP_INCOMPLETE;
    }
    if (data[start + blen] != '\r' || data[start + blen + 1] != '\n')
        return resp_fail(req, ERR_BULK_CRLF);
    resp_push(req, count, data + start, blen);
    *pos = start + blen + 2;
    return RESP_OK;
}

static enum resp_status resp_parse_multibulk(resp_request *req, const char *data, size_t len,
                                             const resp_limits *lim, size_t *consumed)
{
    resp_num num;
    size_t pos = 0;
    switch (resp_read_num(data, len, 1, &num, &pos)) {
    case NUM_OK:
        break;
    case NUM_INCOMPLETE:
        return RESP_INCOMPLETE;
    case NUM_TOO_LONG:
        return resp_fail(req, ERR_MBULK_LINE);
    case NUM_BAD:
        return resp_fail(req, ERR_MBULK_LEN);
    }
    /* "*0" and "*-1" are empty requests; any other negative count is an error. */
    if (num.neg && num.mag != 1)
        return resp_fail(req, ERR_MBULK_LEN);
    if (!num.neg && num.mag > lim->max_args)
        return resp_fail(req, ERR_MBULK_LEN);
    size_t count = num.neg ? 0 : (size_t)num.mag;
    size_t i = 0;
    if (req->resume_args > 0 && req->resume_args < count && req->resume_pos <= len &&
        req->resume_args <= req->cap) {
        /* Saved progress: views [0, resume_args) are kept as offsets from data. */
        req->argc = req->resume_args;
        i = req->resume_args;
        pos = req->resume_pos;
    }
    size_t saved = i; /* views below this index are offsets until the request is whole */
    req->resume_args = 0;
    for (; i < count; i++) {
        enum resp_status st = resp_parse_bulk(req, data, len, lim, count, &pos);
        if (st == RESP_INCOMPLETE && req->argc > 0) {
            /* Keep the progress as offsets, valid wherever the bytes move; only the
             * views parsed by this call need converting. */
            for (size_t k = saved; k < req->argc; k++)
                req->argv[k].ptr = (const char *)(uintptr_t)(req->argv[k].ptr - data);
            req->resume_args = req->argc;
            req->resume_pos = pos;
        }
        if (st != RESP_OK)
            return st;
    }
    for (size_t k = 0; k < saved; k++)
        req->argv[k].ptr = data + (uintptr_t)req->argv[k].ptr;
    *consumed = pos;
    return RESP_OK;
}

static bool resp_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int resp_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char resp_escape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/* A closing quote ends the word: it must be followed by a blank or the end of line. */
static bool resp_word_ends(const char *p, size_t n, size_t i)
{
    return i + 1 == n || resp_is_blank(p[i + 1]);
}

/* Unescapes the "double quoted" section at p[*i] into out; *i moves past the closing
 * quote. Escapes: \n \r \t \b \a \xHH, and \<c> for any other c. */
static bool resp_unquote_double(buf *out, const char *p, size_t n, size_t *i)
{
    size_t k = *i + 1;
    for (;;) {
        if (k == n)
            return false;
        char c = p[k];
        if (c == '"') {
            if (!resp_word_ends(p, n, k))
                return false;
            *i = k + 1;
            return true;
        }
        if (c == '\\' && k + 3 < n && p[k + 1] == 'x' && resp_hex(p[k + 2]) >= 0 &&
            resp_hex(p[k + 3]) >= 0) {
            c = (char)(resp_hex(p[k + 2]) * 16 + resp_hex(p[k + 3]));
            k += 4;
        } else if (c == '\\' && k + 1 < n) {
            c = resp_escape(p[k + 1]);
            k += 2;
        } else {
            k++;
        }
        buf_append(out, &c, 1);
    }
}

/* Copies the 'single quoted' section at p[*i] into out; only \' is an escape. */
static bool resp_unquote_single(buf *out, const char *p, size_t n, size_t *i)
{
    size_t k = *i + 1;
    for (;;) {
        if (k == n)
            return false;
        char c = p[k];
        if (c == '\'') {
            if (!resp_word_ends(p, n, k))
                return false;
            *i = k + 1;
            return true;
        }
        if (c == '\\' && k + 1 < n && p[k + 1] == '\'')
            k++;
        k++;
        buf_append(out, &p[k - 1], 1);
    }
}

/* Splits one inline line (without its line end) into words. Words without quotes are
 * views into p; quoted words are unescaped into req->scratch. Their views are left NULL
 * while scratch may still move, and are pointed into it at the end: scratch holds them
 * back to back, in order. */
static enum resp_status resp_split_inline(resp_request *req, const char *p, size_t n,
                                          const resp_limits *lim)
{
    buf_clear(&req->scratch);
    size_t i = 0;
    for (;;) {
        while (i < n && resp_is_blank(p[i]))
            i++;
        if (i == n)
            break;
        if (req->argc == lim->max_args)
            return resp_fail(req, ERR_INLINE_ARGS);
        size_t start = i;
        while (i < n && !resp_is_blank(p[i]) && p[i] != '"' && p[i] != '\'')
            i++;
        if (i == n || resp_is_blank(p[i])) {
            resp_push(req, lim->max_args, p + start, i - start);
            continue;
        }
        size_t off = req->scratch.len;
        buf_append(&req->scratch, p + start, i - start);
        bool ok = p[i] == '"' ? resp_unquote_double(&req->scratch, p, n, &i)
                              : resp_unquote_single(&req->scratch, p, n, &i);
        if (!ok)
            return resp_fail(req, ERR_QUOTES);
        resp_push(req, lim->max_args, NULL, req->scratch.len - off);
    }
    size_t off = 0;
    for (size_t k = 0; k < req->argc; k++) {
        if (req->argv[k].ptr == NULL) {
            req->argv[k].ptr = req->scratch.data + off;
            off += req->argv[k].len;
        }
    }
    return RESP_OK;
}

static enum resp_status resp_parse_inline(resp_request *req, const char *data, size_t len,
                                          const resp_limits *lim, size_t *consumed)
{
    /* A line may hold max_inline bytes before its '\n'; look no further than that. */
    size_t window = len > lim->max_inline ? lim->max_inline + 1 : len;
    const char *nl = memchr(data, '\n', window);
    if (!nl)
        return len > lim->max_inline ? resp_fail(req, ERR_INLINE_BIG) : RESP_INCOMPLETE;
    size_t n = (size_t)(nl - data);
    if (n > 0 && data[n - 1] == '\r')
        n--;
    enum resp_status st = resp_split_inline(req, data, n, lim);
    if (st == RESP_OK)
        *consumed = (size_t)(nl - data) + 1;
    return st;
}

enum resp_status resp_parse(resp_request *req, const char *data, size_t len, const resp_limits *lim,
                            size_t *consumed)
{
    req->argc = 0;
    req->need = 0;
    req->error = NULL;
    *consumed = 0;
    if (len == 0)
        return RESP_INCOMPLETE;
    size_t used = 0;
    if (data[0] != '*')
        req->resume_args = 0;
    enum resp_status st = data[0] == '*' ? resp_parse_multibulk(req, data, len, lim, &used)
                                         : resp_parse_inline(req, data, len, lim, &used);
    if (st != RESP_INCOMPLETE)
        req->resume_args = 0;
    if (st == RESP_OK)
        *consumed = used;
    else
        req->argc = 0;
    if (st == RESP_OK && req->cap > RESP_ARGV_KEEP && req->argc <= RESP_ARGV_KEEP) {
        req->argv = mem_realloc(req->argv, RESP_ARGV_KEEP * sizeof *req->argv);
        req->cap = RESP_ARGV_KEEP;
    }
    if (st != RESP_INCOMPLETE)
        req->need = 0;
    return st;
}

/* ---- Encoding ---- */

static const char resp_digit_pairs[] = "00010203040506070809"
                                       "10111213141516171819"
                                       "20212223242526272829"
                                       "30313233343536373839"
                                       "40414243444546474849"
                                       "50515253545556575859"
                                       "60616263646566676869"
                                       "70717273747576777879"
                                       "80818283848586878889"
                                       "90919293949596979899";

/* Writes v in decimal so that it ends just before end; returns its first byte. */
static char *resp_fmt_u64(char *end, uint64_t v)
{
    while (v >= 100) {
        size_t d = (size_t)(v % 100) * 2;
        v /= 100;
        *--end = resp_digit_pairs[d + 1];
        *--end = resp_digit_pairs[d];
    }
    if (v >= 10) {
        size_t d = (size_t)v * 2;
        *--end = resp_digit_pairs[d + 1];
        *--end = resp_digit_pairs[d];
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

/* Formats "<type>[-]<mag>\r\n" at the end of tmp[RESP_HDR_MAX]; returns its start. */
static char *resp_fmt_header(char *tmp, char type, bool neg, uint64_t mag)
{
    char *end = tmp + RESP_HDR_MAX;
    *--end = '\n';
    *--end = '\r';
    char *p = resp_fmt_u64(end, mag);
    if (neg)
        *--p = '-';
    *--p = type;
    return p;
}

static void resp_header(buf *b, char type, uint64_t n)
{
    char tmp[RESP_HDR_MAX];
    char *p = resp_fmt_header(tmp, type, false, n);
    buf_append(b, p, (size_t)(tmp + RESP_HDR_MAX - p));
}

/* Raw copy into room the caller reserved; the caller ends with resp_put_end(). */
static void resp_put(buf *b, const void *p, size_t n)
{
    if (n) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

static void resp_put_end(buf *b)
{
    b->data[b->len] = '\0';
}

/* Replaces CR and LF in data[from, len) by spaces: a status line must stay one line. */
static void resp_one_line(buf *b, size_t from)
{
    for (size_t i = from; i < b->len; i++)
        if (b->data[i] == '\r' || b->data[i] == '\n')
            b->data[i] = ' ';
}

void resp_simple(buf *b, const char *s)
{
    size_t n = strlen(s);
    buf_reserve(b, n + 3);
    resp_put(b, "+", 1);
    size_t from = b->len;
    resp_put(b, s, n);
    resp_one_line(b, from);
    resp_put(b, "\r\n", 2);
    resp_put_end(b);
}

void resp_error(buf *b, const char *fmt, ...)
{
    buf_append(b, "-", 1);
    size_t from = b->len;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
    resp_one_line(b, from);
    buf_append(b, "\r\n", 2);
}

void resp_int(buf *b, long long v)
{
    char tmp[RESP_HDR_MAX];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = resp_fmt_header(tmp, ':', v < 0, mag);
    buf_append(b, p, (size_t)(tmp + RESP_HDR_MAX - p));
}

void resp_bulk(buf *b, const void *p, size_t n)
{
    char tmp[RESP_HDR_MAX];
    char *h = resp_fmt_header(tmp, '$', false, n);
    size_t hn = (size_t)(tmp + RESP_HDR_MAX - h);
    buf_reserve(b, hn + n + 2);
    resp_put(b, h, hn);
    resp_put(b, p, n);
    resp_put(b, "\r\n", 2);
    resp_put_end(b);
}

void resp_bulk_str(buf *b, const char *s)
{
    resp_bulk(b, s, strlen(s));
}

void resp_bulk_u64(buf *b, uint64_t v)
{
    char tmp[RESP_HDR_MAX];
    char *end = tmp + RESP_HDR_MAX;
    char *p = resp_fmt_u64(end, v);
    resp_bulk(b, p, (size_t)(end - p));
}

void resp_null(buf *b, int proto)
{
    if (proto >= 3)
        buf_append(b, "_\r\n", 3);
    else
        buf_append(b, "$-1\r\n", 5);
}

void resp_null_array(buf *b, int proto)
{
    if (proto >= 3)
        buf_append(b, "_\r\n", 3);
    else
        buf_append(b, "*-1\r\n", 5);
}

void resp_array(buf *b, size_t n)
{
    resp_header(b, '*', n);
}

void resp_map(buf *b, int proto, size_t n)
{
    if (proto >= 3)
        resp_header(b, '%', n);
    else
        resp_header(b, '*', (uint64_t)n * 2);
}

void resp_set(buf *b, int proto, size_t n)
{
    resp_header(b, proto >= 3 ? '~' : '*', n);
}

void resp_bool(buf *b, int proto, bool v)
{
    if (proto >= 3)
        buf_append(b, v ? "#t\r\n" : "#f\r\n", 4);
    else
        buf_append(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_double(buf *b, int proto, double v)
{
    char tmp[64];
    const char *s = tmp;
    if (isnan(v))
        s = "nan";
    else if (isinf(v))
        s = v > 0 ? "inf" : "-inf";
    else
        snprintf(tmp, sizeof tmp, "%.17g", v);
    size_t n = strlen(s);
    if (proto < 3) {
        resp_bulk(b, s, n);
        return;
    }
    buf_reserve(b, n + 3);
    resp_put(b, ",", 1);
    resp_put(b, s, n);
    resp_put(b, "\r\n", 2);
    resp_put_end(b);
}

void resp_verbatim(buf *b, int proto, const char *p, size_t n)
{
    if (proto < 3) {
        resp_bulk(b, p, n);
        return;
    }
    char tmp[RESP_HDR_MAX];
    char *h = resp_fmt_header(tmp, '=', false, (uint64_t)n + 4);
    size_t hn = (size_t)(tmp + RESP_HDR_MAX - h);
    buf_reserve(b, hn + 4 + n + 2);
    resp_put(b, h, hn);
    resp_put(b, "txt:", 4);
    resp_put(b, p, n);
    resp_put(b, "\r\n", 2);
    resp_put_end(b);
}

size_t resp_defer(buf *b)
{
    return b->len;
}

/* Inserts the header at pos, moving what followed it. Nested deferred headers must be
 * set innermost first: setting one moves every position after it. */
void resp_defer_set(buf *b, size_t pos, char type, size_t n)
{
    assert(pos <= b->len);
    char tmp[RESP_HDR_MAX];
    char *h = resp_fmt_header(tmp, type, false, n);
    size_t hn = (size_t)(tmp + RESP_HDR_MAX - h);
    buf_reserve(b, hn);
    memmove(b->data + pos + hn, b->data + pos, b->len - pos);
    memcpy(b->data + pos, h, hn);
    b->len += hn;
    resp_put_end(b);
}
