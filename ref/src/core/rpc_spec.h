/* ACSL logic specification of the RPC layer header (spec section 12).
 * Comments only for the C compiler. */
#ifndef BUSRT_CORE_RPC_SPEC_H
#define BUSRT_CORE_RPC_SPEC_H

#include <stdint.h>

#include "le_spec.h"

/*@ // The four RPC layer kinds.
    predicate valid_rpc_kind(integer k) =
      k == 0x00 || k == 0x01 || k == 0x11 || k == 0x12;

    // Signed value of the little-endian two's complement i16 at b[i].
    logic integer les16(uint8_t *b, integer i) =
      le16(b, i) >= 32768 ? le16(b, i) - 65536 : le16(b, i);
*/

#endif
