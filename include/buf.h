/*
 * buf.c — a growable byte buffer: client input, client output, reply building.
 * Invariant: data[len] is always a valid byte ('\0') once anything was appended, so a
 * buffer holding text can be handed to C string functions.
 */
#ifndef RBACD_BUF_H
#define RBACD_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data; /* owned storage, NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated (one more than usable, for the '\0') */
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
/* Makes room for extra more bytes beyond len. */
void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *p, size_t n);
void buf_append_str(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Appends s[0..len) in single quotes, whole, escaped as Redis escapes strings: \\ \'
 * \n \r \t \a \b, and every other byte that is not printable ASCII as \xHH. */
void buf_append_quoted(buf *b, const char *s, size_t len);
/* The same in double quotes, \" escaped instead of \' (MONITOR's lines, as Redis's). */
void buf_append_dquoted(buf *b, const char *s, size_t len);
/* Drops the first n bytes (moves the rest to the front). */
void buf_consume(buf *b, size_t n);
void buf_clear(buf *b);
/* Releases storage above keep bytes when the buffer is empty (idle clients). */
void buf_shrink_idle(buf *b, size_t keep);

#endif
