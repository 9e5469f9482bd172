/* ACSL logic specification of little-endian fields: the value of the u16 /
 * u32 whose first byte is b[i]. Comments only for the C compiler. */
#ifndef BUSRT_CORE_LE_SPEC_H
#define BUSRT_CORE_LE_SPEC_H

#include <stdint.h>

/*@ logic integer le16(uint8_t *b, integer i) = b[i] + 256 * b[i + 1];
    logic integer le32(uint8_t *b, integer i) =
      b[i] + 256 * b[i + 1] + 65536 * b[i + 2] + 16777216 * b[i + 3];
*/

#endif
