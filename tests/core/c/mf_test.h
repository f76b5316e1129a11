/* mf_test.h - a minimal assertion harness for the core's C tests.
 * Each test_*.c is its own program: main() calls its cases and returns
 * mf_test_report(). */
#ifndef MF_TEST_H
#define MF_TEST_H

#include <math.h>
#include <stdio.h>

static int mf_test_failures = 0;
static int mf_test_checks = 0;

#define MF_CHECK(cond)                                                              \
    do {                                                                            \
        mf_test_checks++;                                                           \
        if (!(cond)) {                                                              \
            mf_test_failures++;                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define MF_CHECK_NEAR(a, b, tol)                                                         \
    do {                                                                                 \
        double mf_a_ = (double)(a), mf_b_ = (double)(b);                                 \
        mf_test_checks++;                                                                \
        if (!(fabs(mf_a_ - mf_b_) <= (double)(tol))) {                                   \
            mf_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, tolerance %.3g\n", __FILE__,   \
                    __LINE__, #a, mf_a_, #b, mf_b_, (double)(tol));                      \
        }                                                                                \
    } while (0)

static int mf_test_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, mf_test_checks, mf_test_failures);
    return mf_test_failures == 0 ? 0 : 1;
}

#endif /* MF_TEST_H */
