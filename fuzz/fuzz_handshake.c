/* Handshake: greeting, name length, name validation and primary part,
 * against the independent UTF-8 model and a naive "%%" search. */
#include <string.h>

#include "../ref/tests/model/model.h"
#include "busrt/frame.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int rc = busrt_greeting_decode(data, size);
    CHECK(rc == 3 ? (data[0] == 0xEB && data[1] == 1 && data[2] == 0)
                  : (rc == BUSRT_ERR_SHORT ? size < 3
                                           : (rc == BUSRT_ERR_GREETING ? data[0] != 0xEB
                                                                       : rc == BUSRT_ERR_VERSION)));
    uint16_t nl = 0;
    rc = busrt_name_len_decode(data, size, &nl);
    if (rc == 2) {
        CHECK(nl == busrt_get_le16(data));
        uint8_t out[2];
        CHECK(busrt_name_len_encode(nl, out, 2) == 2 && memcmp(out, data, 2) == 0);
    } else {
        CHECK(rc == BUSRT_ERR_SHORT && size < 2);
    }
    rc = busrt_name_check(data, size);
    int want = (size == 0 || data[0] == '.')     ? BUSRT_ERR_NAME
               : model_utf8_dfa(data, size) == 0 ? BUSRT_ERR_UTF8
                                                 : 0;
    CHECK(rc == want);
    size_t pl = size;
    for (size_t i = 0; i + 1 < size; i++) {
        if (data[i] == '%' && data[i + 1] == '%') {
            pl = i;
            break;
        }
    }
    CHECK(busrt_name_primary_len(data, size) == pl);
    return 0;
}
