/* Minimal C test harness: CHECK records a failure and continues; main returns
 * the failure count so ctest reports it. */
#ifndef DFP_TEST_H
#define DFP_TEST_H

#include <stdio.h>

static int dfp_test_failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            dfp_test_failures++;                                                 \
        }                                                                        \
    } while (0)

#define TEST_RESULT() (printf("%s\n", dfp_test_failures ? "FAILED" : "ok"), dfp_test_failures != 0)

#endif
