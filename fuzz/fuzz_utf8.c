/* Differential: the proved UTF-8 validator against a table-driven automaton
 * and a decoding model. */
#include "../ref/tests/model/model.h"
#include "busrt/utf8.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int core = busrt_utf8_valid(data, size);
    CHECK(core == model_utf8_dfa(data, size));
    CHECK(core == model_utf8_decode(data, size));
    return 0;
}
