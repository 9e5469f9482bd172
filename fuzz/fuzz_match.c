/* Differential: the proved topic and mask matchers against the independent
 * chunk-list model. Input: a selector byte, then pattern NUL subject. */
#include <string.h>

#include "../ref/tests/model/model.h"
#include "busrt/match.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    const uint8_t *nul = memchr(p, 0, n);
    size_t pl = nul != NULL ? (size_t)(nul - p) : n;
    const uint8_t *s = nul != NULL ? nul + 1 : p + n;
    size_t sl = n - pl - (nul != NULL ? 1u : 0u);
    if (data[0] % 2u == 0u) {
        CHECK(busrt_topic_matches(p, pl, s, sl) == model_topic(p, pl, s, sl));
    } else {
        CHECK(busrt_mask_matches(p, pl, s, sl) == model_mask(p, pl, s, sl));
    }
    CHECK(busrt_mask_has_wildcard(p, pl) ==
          (memchr(p, '*', pl) != NULL || memchr(p, '?', pl) != NULL));
    return 0;
}
