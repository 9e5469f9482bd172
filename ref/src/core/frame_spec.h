/* ACSL logic specification of the frame layer (spec sections 4 to 7) and of
 * the NUL-separated fields shared with the RPC layer. Only logic
 * definitions live here: the contracts of frame.c, rpcproto.c and
 * proofs/roundtrip.c state their results in these terms. Comments only for
 * the C compiler. Every recursive definition decreases structurally on
 * n - i (WP does not check this; see proofs/README.md). */
#ifndef BUSRT_CORE_FRAME_SPEC_H
#define BUSRT_CORE_FRAME_SPEC_H

#include <stdint.h>

/*@ // The nine client operation codes (spec 5.2).
    predicate valid_op(integer op) =
      op == 0x00 || op == 0x01 || op == 0x02 || op == 0x03 || op == 0x04 ||
      op == 0x05 || op == 0x06 || op == 0x12 || op == 0x13;

    // The four delivered-frame kinds (spec 6.2).
    predicate valid_kind(integer k) =
      k == 0x00 || k == 0x01 || k == 0x12 || k == 0x13;

    // A ping: operation 0 with QoS 0, i.e. a flags byte of 0 (no body).
    predicate is_ping(integer op, integer qos) = op == 0 && qos == 0;

    // Client operations whose body is "target NUL payload", and those whose
    // body is a NUL-joined topic list (spec 5.4).
    predicate two_fields(integer op) =
      op == 0x00 || op == 0x01 || op == 0x12 || op == 0x13;
    predicate list_body(integer op) =
      op == 0x02 || op == 0x03 || op == 0x04 || op == 0x05;

    // Offset of the first NUL in b[i, n), or n when there is none.
    // For 0 <= i <= n the value lies in [i, n]: the C functions that compute
    // it state that bound in their own contracts, so no unproved lemma is
    // needed. Decreases on n - i.
    logic integer nul_at(uint8_t *b, integer i, integer n) =
      i >= n ? n : (b[i] == 0 ? i : nul_at(b, i + 1, n));

    // Offset of the first "%%" in b[i, n), or n. Decreases on n - i.
    logic integer pct2_at(uint8_t *b, integer i, integer n) =
      n - i < 2 ? n :
      (b[i] == 0x25 && b[i + 1] == 0x25 ? i : pct2_at(b, i + 1, n));
*/

#endif
