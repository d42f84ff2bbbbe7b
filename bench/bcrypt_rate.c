/*
 * bcrypt_rate.c — the machine's raw password-check rate: how many verifies of one
 * stored hash every core together does per second, with the library and the call
 * rbacd's SESSION LOGIN uses (libxcrypt's crypt_rn). bench/run compiles it at run time
 * and sets SESSION LOGIN per second against it.
 *
 *   bcrypt_rate THREADS SECONDS HASH PASSWORD
 *
 * Prints "verifies_per_s=N" and "verifies=N" (key=value, for the caller), after each
 * thread has checked that PASSWORD matches HASH.
 *
 *   cc -O2 -o bcrypt_rate bench/bcrypt_rate.c -lcrypt -pthread
 */
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct worker {
    pthread_t tid;
    const char *hash;
    const char *password;
    double until;  /* CLOCK_MONOTONIC seconds */
    long verifies; /* done */
    int mismatch;  /* 1: the password did not match the hash */
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    worker *w = arg;
    /* struct crypt_data is 32 KiB: on the heap, not on the thread's stack. */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd) {
        w->mismatch = 1;
        return NULL;
    }
    do {
        const char *out = crypt_rn(w->password, w->hash, cd, (int)sizeof *cd);
        if (!out || strcmp(out, w->hash) != 0) {
            w->mismatch = 1;
            break;
        }
        w->verifies++;
    } while (now_s() < w->until);
    free(cd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s THREADS SECONDS HASH PASSWORD\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    double secs = atof(argv[2]);
    if (n < 1 || n > 256 || secs <= 0) {
        fprintf(stderr, "bcrypt_rate: bad THREADS or SECONDS\n");
        return 2;
    }
    if (crypt_checksalt(argv[3]) != CRYPT_SALT_OK) {
        fprintf(stderr, "bcrypt_rate: the hash's method is not usable here\n");
        return 2;
    }
    worker *ws = calloc((size_t)n, sizeof *ws);
    if (!ws)
        return 1;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        ws[i] = (worker){.hash = argv[3], .password = argv[4], .until = t0 + secs};
        if (pthread_create(&ws[i].tid, NULL, run, &ws[i]) != 0) {
            fprintf(stderr, "bcrypt_rate: cannot start a thread\n");
            return 1;
        }
    }
    long total = 0;
    int bad = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(ws[i].tid, NULL);
        total += ws[i].verifies;
        bad |= ws[i].mismatch;
    }
    double dt = now_s() - t0;
    free(ws);
    if (bad) {
        fprintf(stderr, "bcrypt_rate: the password does not match the hash\n");
        return 1;
    }
    printf("verifies=%ld\nverifies_per_s=%.1f\nseconds=%.3f\n", total, (double)total / dt, dt);
    return 0;
}
