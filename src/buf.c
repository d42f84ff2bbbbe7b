/*
 * Growable byte buffers. Growth doubles, so appending n bytes costs O(n) amortised.
 */
#include "buf.h"
#include "mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void buf_init(buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(buf *b)
{
    mem_free(b->data);
    buf_init(b);
}

void buf_reserve(buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    b->data = mem_realloc(b->data, ncap);
    b->cap = ncap;
}

void buf_append(buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_append_str(buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_consume(buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data)
        b->data[b->len] = '\0';
}

void buf_clear(buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_shrink_idle(buf *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) {
        buf_free(b);
    }
}

/* s[0..len) between quote characters, escaped as Redis's sdscatrepr escapes. */
static void append_escaped(buf *b, const char *s, size_t len, char quote)
{
    const char from[] = {'\\', quote, '\n', '\r', '\t', '\a', '\b', '\0'};
    static const char to[] = "\\?nrtab";
    buf_append(b, &quote, 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *e = ch ? strchr(from, ch) : NULL;
        if (e == from + 1)
            buf_printf(b, "\\%c", quote);
        else if (e)
            buf_printf(b, "\\%c", to[e - from]);
        else if (isprint(ch))
            buf_append(b, &s[i], 1);
        else
            buf_printf(b, "\\x%02x", ch);
    }
    buf_append(b, &quote, 1);
}

void buf_append_quoted(buf *b, const char *s, size_t len)
{
    append_escaped(b, s, len, '\'');
}

void buf_append_dquoted(buf *b, const char *s, size_t len)
{
    append_escaped(b, s, len, '"');
}
