/* Tiny unit-test helpers: print "ok NAME" / "FAIL NAME: why" lines for tests/run.sh. */
#ifndef VIREO_TEST_UNIT_H
#define VIREO_TEST_UNIT_H
#include <stdio.h>
#include <stdlib.h>

static int unit_failures;

#define CHECK(name, cond)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok %s\n", name);                                                               \
        } else {                                                                                   \
            printf("FAIL %s: %s (%s:%d)\n", name, #cond, __FILE__, __LINE__);                      \
            unit_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define UNIT_EXIT() return unit_failures ? 1 : 0
#endif
