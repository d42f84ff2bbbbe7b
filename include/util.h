/*
 * util.c — small pure helpers shared by every module: number parsing with the exact
 * rules of the wire protocol, clocks, string matching.
 */
#ifndef RBACD_UTIL_H
#define RBACD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MUST_CHECK   __attribute__((warn_unused_result))

/* Parses a decimal unsigned id: digits only (leading zeros allowed), 1..20 digits, value
 * <= 2^64-1. Returns false (and leaves *out alone) for anything else, including "", "+1",
 * " 1" and overflow. */
bool util_parse_u64(const char *s, size_t len, uint64_t *out) MUST_CHECK;
/* Parses a signed decimal integer that fits in long long ("-12", "0"); no spaces. */
bool util_parse_ll(const char *s, size_t len, long long *out) MUST_CHECK;
/* True when s[0..len) is non-empty and all ASCII digits. */
bool util_all_digits(const char *s, size_t len);

/* Wall clock in unix milliseconds / microseconds; monotonic clock in microseconds. */
int64_t util_now_ms(void);
int64_t util_now_us(void);
int64_t util_mono_us(void);

/* Redis-style glob match (*, ?, [abc], [^a-z], \x), optionally case-insensitive. */
bool util_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

/* Replaces control characters (CR, LF, ...) in s by spaces, so that a message from
 * elsewhere (a database error) stays one line in INFO and logs. Returns s. */
char *util_one_line(char *s);

/* Sorts the n elements of size bytes at v with cmp and drops the ones equal to their
 * predecessor; returns the new count. */
size_t util_sort_unique(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *));
/* Sorts v[0..n) ascending. */
void util_sort_u64(uint64_t *v, size_t n);
/* Sorts v[0..n) ascending and drops duplicates; returns the new count. */
size_t util_sort_unique_u64(uint64_t *v, size_t n);

/* The first index of the ascending array v[0..n) whose value is >= x (n if none). */
size_t util_u64_lower_bound(const uint64_t *v, size_t n, uint64_t x);
/* Whether the ascending array v[0..n) holds x (binary search). */
bool util_u64_contains(const uint64_t *v, size_t n, uint64_t x);

/* Case-insensitive compare of a counted string with a C string. */
bool util_eq_nocase(const char *s, size_t len, const char *lit);

#endif
