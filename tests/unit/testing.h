/*
 * A minimal test harness: CHECK records a failure and goes on; each test file calls
 * TEST_RUN for its cases and returns TEST_DONE(), which prints "N passed, N failed"
 * and exits non-zero on any failure.
 */
#ifndef RBACD_TESTING_H
#define RBACD_TESTING_H

#include <stdio.h>
#include <string.h>

static int test_checks_failed;
static int test_cases_passed;
static int test_cases_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            test_checks_failed++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, va_, vb_);                                                             \
            test_checks_failed++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                 \
            test_checks_failed++;                                                                  \
        }                                                                                          \
    } while (0)

#define TEST_RUN(fn)                                                                               \
    do {                                                                                           \
        int before_ = test_checks_failed;                                                          \
        fn();                                                                                      \
        if (test_checks_failed == before_) {                                                       \
            test_cases_passed++;                                                                   \
        } else {                                                                                   \
            test_cases_failed++;                                                                   \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        }                                                                                          \
    } while (0)

#define TEST_DONE()                                                                                \
    (printf("%d passed, %d failed\n", test_cases_passed, test_cases_failed),                       \
     test_cases_failed ? 1 : 0)

#endif
