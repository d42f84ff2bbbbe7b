/*
 * conf_fuzz — libFuzzer target for the configuration parser (conf.c): a file's text,
 * command-line overrides and CONFIG SET values, the three ways a key gets a value.
 * Built by CMake with RBACD_FUZZ (see resp_fuzz.c for the commands); seeds in
 * tests/fuzz/conf_fuzz_seeds (conf/rbacd.conf among them).
 *
 * Input: FILE "\0\0" ARG "\0" ARG "\0" ... — the file text (it may hold single NUL
 * bytes, which the loader refuses), then command-line words. For each input:
 *   1. the text is loaded as a file (through a memfd), then the words as overrides;
 *      every refusal is one line of text that names the file and line or the option;
 *   2. the words, taken in pairs, are CONFIG SET on the result: a refused value leaves
 *      the configuration exactly as it was (CONFIG GET * before and after agree);
 *   3. round trip: every value CONFIG GET shows (secrets and users aside) is accepted
 *      back, as an override and, for the keys CONFIG SET may change, by CONFIG SET,
 *      and a configuration rebuilt that way shows the same values;
 *   4. CONFIG GET never shows requirepass or db-password in clear;
 *   5. nothing leaks (LeakSanitizer) and nothing reads out of bounds (ASan).
 */
#define _GNU_SOURCE /* memfd_create */
#include "buf.h"
#include "conf.h"
#include "mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "conf_fuzz: invariant failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define FUZZ_MAX_ARGS 64  /* command-line words used at most */
#define ERR_LEN       512 /* as main.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CONFIG GET * as one buffer: name NUL value NUL, per key (values hold no NUL). */
static void dump_emit(void *ctx, const char *name, const char *value)
{
    buf *b = ctx;
    buf_append(b, name, strlen(name) + 1);
    buf_append(b, value, strlen(value) + 1);
}

static void dump_of(const rbacd_conf *c, buf *out)
{
    buf_init(out);
    conf_get(c, "*", 1, dump_emit, out);
}

static bool same(const buf *a, const buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* A refusal: one line, not empty. */
static void check_err(const char *err, const char *where)
{
    FUZZ_CHECK(err[0] != '\0');
    FUZZ_CHECK(strpbrk(err, "\r\n") == NULL);
    if (where)
        FUZZ_CHECK(strncmp(err, where, strlen(where)) == 0);
}

/* Loads text as a configuration file through a memfd. */
static bool load_text(rbacd_conf *c, const char *text, size_t len, char *err, size_t errlen,
                      char *path, size_t pathlen)
{
    int fd = memfd_create("conf_fuzz", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        FUZZ_CHECK(w > 0);
        off += (size_t)w;
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    bool ok = conf_load_file(c, path, err, errlen);
    close(fd);
    return ok;
}

static void value_emit(void *ctx, const char *name, const char *value)
{
    buf_append_str(ctx, value);
}

/* Secrets never show in CONFIG GET: requirepass and db-password are "" or "********",
 * and user shows each user's name and role, never its password hash. */
static void check_masked(const rbacd_conf *c)
{
    static const char *const keys[] = {"requirepass", "db-password"};
    for (size_t i = 0; i < 2; i++) {
        buf v;
        buf_init(&v);
        conf_get(c, keys[i], strlen(keys[i]), value_emit, &v);
        FUZZ_CHECK(v.data == NULL || v.len == 0 || strcmp(v.data, "********") == 0);
        buf_free(&v);
    }
    buf want, got;
    buf_init(&want);
    buf_init(&got);
    for (size_t i = 0; i < c->nusers; i++)
        buf_printf(&want, "%s%s %s", i ? " " : "", c->users[i].name,
                   conf_role_name(c->users[i].role));
    conf_get(c, "user", 4, value_emit, &got);
    FUZZ_CHECK(want.len == got.len && (want.len == 0 || strcmp(want.data, got.data) == 0));
    buf_free(&want);
    buf_free(&got);
}

/* Keys whose CONFIG GET value is not the value itself. */
static bool not_round_trip(const char *name)
{
    return !strcmp(name, "user") || !strcmp(name, "requirepass") || !strcmp(name, "db-password") ||
           !strcmp(name, "save") || !strcmp(name, "appendonly") || !strcmp(name, "databases");
}

/* Whether a command line can give name this value: every word starting with "--" would
 * be read as the next option (bind's value is several words). */
static bool cmdline_expressible(const char *name, const char *value)
{
    if (strncmp(value, "--", 2) == 0)
        return false;
    return strcmp(name, "bind") != 0 || strstr(value, " --") == NULL;
}

typedef struct rebuild {
    rbacd_conf *c; /* being rebuilt */
    rbacd_conf *r; /* ... and through CONFIG SET */
} rebuild;

/* Gives name = value to the rebuilt configurations: as an override, and by CONFIG SET
 * where the key may change at run time (which must then show the same value). */
static void rebuild_emit(void *ctx, const char *name, const char *value)
{
    rebuild *rb = ctx;
    char err[ERR_LEN];
    if (not_round_trip(name) || !cmdline_expressible(name, value))
        return;
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", name);
    char *argv[1 + 16 + 1];
    int argc = 0;
    argv[argc++] = opt;
    char *copy = mem_strdup(value);
    if (!strcmp(name, "bind")) { /* the addresses, one word each */
        for (char *save = NULL, *t = strtok_r(copy, " ", &save); t && argc < 17;
             t = strtok_r(NULL, " ", &save))
            argv[argc++] = t;
    } else {
        argv[argc++] = copy;
    }
    bool ok = conf_load_args(rb->c, argc, argv, err, sizeof err);
    if (!ok)
        fprintf(stderr, "conf_fuzz: %s = '%s' not accepted back: %s\n", name, value, err);
    FUZZ_CHECK(ok);
    if (conf_set_runtime(rb->r, name, value, err, sizeof err)) {
        buf got;
        buf_init(&got);
        conf_get(rb->r, name, strlen(name), value_emit, &got);
        FUZZ_CHECK(got.data && strcmp(got.data, value) == 0);
        buf_free(&got);
    } else {
        FUZZ_CHECK(strstr(err, "can not be changed at run time") != NULL);
    }
    mem_free(copy);
}

static void check_round_trip(const rbacd_conf *c, const buf *d)
{
    rbacd_conf back, set;
    conf_init(&back);
    conf_init(&set);
    rebuild rb = {&back, &set};
    conf_get(c, "*", 1, rebuild_emit, &rb);
    buf bd;
    dump_of(&back, &bd);
    const char *p = d->data, *pend = d->data + d->len;
    const char *q = bd.data, *qend = bd.data + bd.len;
    while (p < pend && q < qend) {
        const char *pv = p + strlen(p) + 1, *qv = q + strlen(q) + 1;
        FUZZ_CHECK(strcmp(p, q) == 0); /* the same keys, in the same order */
        bool skip = not_round_trip(p) || !cmdline_expressible(p, pv);
        if (!skip && strcmp(pv, qv) != 0) {
            fprintf(stderr, "conf_fuzz: round trip changed %s '%s' into '%s'\n", p, pv, qv);
            FUZZ_CHECK(0);
        }
        p = pv + strlen(pv) + 1;
        q = qv + strlen(qv) + 1;
    }
    FUZZ_CHECK(p == pend && q == qend);
    buf_free(&bd);
    conf_free(&back);
    conf_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t flen = size;
    for (size_t i = 0; i + 1 < size; i++) {
        if (in[i] == '\0' && in[i + 1] == '\0') {
            flen = i;
            break;
        }
    }
    /* Command-line words: NUL-separated after the file's "\0\0". */
    char *words = NULL;
    char *argv[FUZZ_MAX_ARGS];
    int argc = 0;
    if (flen + 2 <= size) {
        size_t wlen = size - flen - 2;
        words = mem_alloc(wlen + 1);
        memcpy(words, in + flen + 2, wlen);
        words[wlen] = '\0';
        for (char *w = words; argc < FUZZ_MAX_ARGS;) {
            argv[argc++] = w;
            char *end = memchr(w, '\0', (size_t)(words + wlen - w) + 1);
            if (!end || end >= words + wlen)
                break;
            w = end + 1;
        }
    }

    rbacd_conf c;
    conf_init(&c);
    char err[ERR_LEN] = "", path[64];
    bool ok = load_text(&c, in, flen, err, sizeof err, path, sizeof path);
    if (!ok)
        check_err(err, path);
    if (ok && argc > 0) {
        ok = conf_load_args(&c, argc, argv, err, sizeof err);
        if (!ok)
            check_err(err, "command line: ");
    }

    buf before;
    dump_of(&c, &before);
    check_masked(&c);
    /* CONFIG SET of each pair: all or nothing per key. */
    for (int i = 0; i + 1 < argc; i += 2) {
        const char *name = argv[i][0] == '-' && argv[i][1] == '-' ? argv[i] + 2 : argv[i];
        char serr[ERR_LEN] = "";
        if (conf_set_runtime(&c, name, argv[i + 1], serr, sizeof serr)) {
            buf_free(&before);
            dump_of(&c, &before);
            check_masked(&c);
        } else {
            check_err(serr, NULL);
            buf after;
            dump_of(&c, &after);
            FUZZ_CHECK(same(&before, &after));
            buf_free(&after);
        }
    }
    check_round_trip(&c, &before);
    buf_free(&before);
    conf_free(&c);
    mem_free(words);
    return 0;
}
