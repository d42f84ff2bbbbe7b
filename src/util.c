/*
 * Shared helpers. Number parsing is strict on purpose: an id that is not exactly a
 * decimal integer is an error reply, never a silently different id.
 */
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

bool util_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool util_parse_ll(const char *s, size_t len, long long *out)
{
    bool neg = false;
    if (len && s[0] == '-') {
        neg = true;
        s++;
        len--;
    }
    uint64_t v;
    if (!util_parse_u64(s, len, &v))
        return false;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(long long)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

bool util_all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int64_t util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t util_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fold(int c, bool nocase)
{
    return nocase ? tolower(c) : c;
}

/* Matches a [...] class at pat (just after '['); advances *pp past the closing ']'. */
static bool glob_class(const char **pp, const char *pend, int c, bool nocase)
{
    const char *p = *pp;
    bool neg = false, hit = false;
    if (p < pend && *p == '^') {
        neg = true;
        p++;
    }
    while (p < pend && *p != ']') {
        if (*p == '\\' && p + 1 < pend) {
            p++;
            if (fold((unsigned char)*p, nocase) == c)
                hit = true;
        } else if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
            int lo = fold((unsigned char)p[0], nocase), hi = fold((unsigned char)p[2], nocase);
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            if (c >= lo && c <= hi)
                hit = true;
            p += 2;
        } else if (fold((unsigned char)*p, nocase) == c) {
            hit = true;
        }
        p++;
    }
    *pp = p < pend ? p + 1 : p;
    return neg ? !hit : hit;
}

/* Matches one pattern element at *pp against character c; advances *pp past it. */
static bool glob_one(const char **pp, const char *pend, int c, bool nocase)
{
    const char *p = *pp;
    if (*p == '?') {
        *pp = p + 1;
        return true;
    }
    if (*p == '[') {
        *pp = p + 1;
        return glob_class(pp, pend, c, nocase);
    }
    if (*p == '\\' && p + 1 < pend)
        p++;
    *pp = p + 1;
    return fold((unsigned char)*p, nocase) == c;
}

/* Iterative matching with one backtrack point (the last '*'): a later '*' makes every
 * earlier choice final, so the work is O(pattern x string), never exponential. */
bool util_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    const char *p = pat, *pend = pat + plen, *s = str, *send = str + slen;
    const char *star_p = NULL, *star_s = NULL;
    while (s < send) {
        if (p < pend && *p == '*') {
            while (p < pend && *p == '*')
                p++;
            if (p == pend)
                return true;
            star_p = p;
            star_s = s;
            continue;
        }
        const char *next = p;
        if (p < pend && glob_one(&next, pend, fold((unsigned char)*s, nocase), nocase)) {
            p = next;
            s++;
            continue;
        }
        if (!star_p)
            return false;
        p = star_p;
        s = ++star_s;
    }
    while (p < pend && *p == '*')
        p++;
    return p == pend;
}

bool util_eq_nocase(const char *s, size_t len, const char *lit)
{
    size_t i = 0;
    for (; i < len; i++) {
        if (!lit[i] || tolower((unsigned char)s[i]) != tolower((unsigned char)lit[i]))
            return false;
    }
    return lit[i] == '\0';
}

char *util_one_line(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
    return s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void util_sort_u64(uint64_t *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_u64);
}

size_t util_sort_unique(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n < 2)
        return n;
    qsort(v, n, size, cmp);
    char *p = v;
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + i * size, p + (w - 1) * size) == 0)
            continue;
        if (w != i)
            memcpy(p + w * size, p + i * size, size);
        w++;
    }
    return w;
}

size_t util_sort_unique_u64(uint64_t *v, size_t n)
{
    return util_sort_unique(v, n, sizeof *v, cmp_u64);
}

size_t util_u64_lower_bound(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool util_u64_contains(const uint64_t *v, size_t n, uint64_t x)
{
    size_t i = util_u64_lower_bound(v, n, x);
    return i < n && v[i] == x;
}
