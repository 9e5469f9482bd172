/* Shared by the in-process harnesses: the libFuzzer entry point (AFL++
 * drives the same function through its libFuzzer-compatible driver) and
 * the oracle check, which aborts so every fuzzer records the input. */
#ifndef BUSRT_FUZZ_H
#define BUSRT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "oracle violation: %s (%s:%d)\n", #cond, __FILE__,   \
                    __LINE__);                                                   \
            abort();                                                             \
        }                                                                        \
    } while (0)

static inline uint32_t fuzz_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
