/*
 * mem.c — the one allocation wrapper. Out of memory is not a condition rbacd can
 * serve through: every wrapper logs and aborts, so callers never check for NULL.
 * Bounds on what a client may make us allocate are enforced before these calls
 * (see resp.h limits and the config keys), never by allocation failure.
 */
#ifndef RBACD_MEM_H
#define RBACD_MEM_H

#include <stddef.h>

/* Each returns memory the caller owns and releases with mem_free(); never NULL. */
void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *ptr, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *ptr);

/* The process's memory as INFO memory and GET /metrics report it: bytes the allocator
 * has handed out (heap and mmapped blocks), and the resident set size (0 when
 * /proc/self/statm cannot be read). */
size_t mem_used_bytes(void);
size_t mem_rss_bytes(void);

/* Grows *arr (element size elem) so that it holds at least need elements. */
void mem_grow(void **arr, size_t *cap, size_t need, size_t elem);

#endif
