/* Shared by the in-process harnesses: the libFuzzer entry point (AFL++
 * drives the same function through its libFuzzer-compatible driver), the
 * oracle check, which aborts so every fuzzer records the input, and the
 * little-endian field helpers (busrt/le.h). */
#ifndef BUSRT_FUZZ_H
#define BUSRT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "busrt/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "oracle violation: %s (%s:%d)\n", #cond, __FILE__,   \
                    __LINE__);                                                   \
            abort();                                                             \
        }                                                                        \
    } while (0)

#endif
