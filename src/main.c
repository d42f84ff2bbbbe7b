/*
 * Entry point: command-line handling, then server_main(). Usage:
 *   rbacd [config-file] [--key value ...]     run the server
 *   rbacd --check-config [config-file] [--key value ...]
 *   rbacd --hash-password                     read a password on stdin, print its argon2id hash
 *   rbacd --version | --help
 */
#include "auth.h"
#include "conf.h"
#include "server.h"
#include "rbacd_git.h" /* RBACD_GIT_DESCRIBE, generated at build time */
#include "tls.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PASSWORD_MAX 4096 /* longest password --hash-password reads */

static void usage(FILE *f)
{
    fprintf(f, "Usage: rbacd [/path/to/rbacd.conf] [--key value ...]\n"
               "       rbacd --check-config [/path/to/rbacd.conf] [--key value ...]\n"
               "       rbacd --hash-password   (reads the password on stdin)\n"
               "       rbacd --version\n"
               "       rbacd --help\n\n"
               "Every configuration key also works as an override, e.g. --port 7000.\n");
}

static int hash_password(void)
{
    char pw[PASSWORD_MAX + 2];
    if (!fgets(pw, sizeof pw, stdin)) {
        fprintf(stderr, "rbacd: no password on stdin\n");
        return 1;
    }
    size_t n = strcspn(pw, "\r\n");
    if (n > PASSWORD_MAX) {
        fprintf(stderr, "rbacd: password longer than %d bytes\n", PASSWORD_MAX);
        return 1;
    }
    pw[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "rbacd: empty password\n");
        return 1;
    }
    char out[crypto_pwhash_STRBYTES];
    bool ok = auth_hash_password(pw, n, out, sizeof out);
    sodium_memzero(pw, sizeof pw);
    if (!ok) {
        fprintf(stderr, "rbacd: hashing failed (out of memory?)\n");
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "rbacd: libsodium failed to initialise\n");
        return 1;
    }
    bool check_only = false;
    int i = 1;
    if (argc > 1) {
        if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
            if (RBACD_GIT_DESCRIBE[0])
                printf("rbacd %s (git %s)\n", RBACD_VERSION, RBACD_GIT_DESCRIBE);
            else
                printf("rbacd %s\n", RBACD_VERSION);
            return 0;
        }
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[1], "--hash-password"))
            return hash_password();
        if (!strcmp(argv[1], "--check-config")) {
            check_only = true;
            i = 2;
        }
    }
    conf_init(&server.conf);
    char err[512];
    int status = 1;
    if (i < argc && strncmp(argv[i], "--", 2) != 0) {
        if (!conf_load_file(&server.conf, argv[i], err, sizeof err)) {
            fprintf(stderr, "rbacd: %s\n", err);
            goto out;
        }
        i++;
    }
    if (!conf_load_args(&server.conf, argc - i, argv + i, err, sizeof err) ||
        !conf_load_env(&server.conf, err, sizeof err)) {
        fprintf(stderr, "rbacd: %s\n", err);
        goto out;
    }
    /* What one key alone does not say: keys that need each other, files that must load. */
    if (!tls_check_conf(&server.conf, err, sizeof err)) {
        fprintf(stderr, "rbacd: %s\n", err);
        goto out;
    }
    if (check_only) {
        for (size_t w = 0; w < server.conf.nwarnings; w++)
            fprintf(stderr, "rbacd: warning: %s\n", server.conf.warnings[w]);
        printf("rbacd: configuration OK\n");
        status = 0;
        goto out;
    }
    status = server_main();
out:
    conf_free(&server.conf);
    return status;
}
