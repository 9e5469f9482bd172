/* ACSL logic specification of a MessagePack object's extent (the
 * MessagePack format specification, "Formats"), for the contract of
 * mpack.c. Comments only for C. */
#ifndef BUSRT_CORE_MPACK_SPEC_H
#define BUSRT_CORE_MPACK_SPEC_H

#include <stdint.h>

/*@ // Big-endian unsigned value of the k bytes at s[i].
    logic integer be(uint8_t *s, integer i, integer k) =
      k <= 0 ? 0 : be(s, i, k - 1) * 256 + s[i + k - 1];

    // Axiomatized rather than defined so that WP's simplifier keeps them
    // as symbols (the code computes each with one helper function).
    axiomatic MpType {
    // Bytes of the length or count field after the type byte b.
    logic integer mp_lf(integer b) reads \nothing;
    axiom mp_lf_def: \forall integer b; mp_lf(b) ==
      ((b == 0xC4 || b == 0xC7 || b == 0xD9) ? 1 :
      (b == 0xC5 || b == 0xC8 || b == 0xDA || b == 0xDC || b == 0xDE) ? 2 :
      (b == 0xC6 || b == 0xC9 || b == 0xDB || b == 0xDD || b == 0xDF) ? 4 :
      0);

    // Bytes of fixed size after the type byte and the length field: the
    // value of fixstr, float, uint, int; type and data of fixext; the
    // type byte of ext 8/16/32.
    logic integer mp_fixed(integer b) reads \nothing;
    axiom mp_fixed_def: \forall integer b; mp_fixed(b) ==
      ((0xA0 <= b && b <= 0xBF) ? b - 0xA0 :
      (b == 0xCC || b == 0xD0) ? 1 :
      (b == 0xCD || b == 0xD1) ? 2 :
      (b == 0xCA || b == 0xCE || b == 0xD2) ? 4 :
      (b == 0xCB || b == 0xCF || b == 0xD3) ? 8 :
      (b == 0xC7 || b == 0xC8 || b == 0xC9) ? 1 :
      b == 0xD4 ? 2 : b == 0xD5 ? 3 : b == 0xD6 ? 5 : b == 0xD7 ? 9 :
      b == 0xD8 ? 17 :
      0);
    }

    // The length field counts data bytes (bin, str, ext).
    logic boolean mp_has_data(integer b) =
      (0xC4 <= b && b <= 0xC9) || (0xD9 <= b && b <= 0xDB);

    // Position after the object whose type byte is s[i], not counting
    // the objects it contains.
    logic integer mp_next(uint8_t *s, integer i) =
      i + 1 + mp_lf(s[i]) + mp_fixed(s[i]) +
      (mp_has_data(s[i]) ? be(s, i + 1, mp_lf(s[i])) : 0);

    // Number of objects an array or map with type byte b and count field
    // f contains directly: its elements, or its keys and values.
    logic integer mp_count(integer b, integer f) =
      (0x80 <= b && b <= 0x8F) ? 2 * (b - 0x80) :
      (0x90 <= b && b <= 0x9F) ? b - 0x90 :
      (b == 0xDC || b == 0xDD) ? f :
      (b == 0xDE || b == 0xDF) ? 2 * f :
      0;

    logic integer mp_children(uint8_t *s, integer i) =
      mp_count(s[i], be(s, i + 1, mp_lf(s[i])));

    // p consecutive well-formed objects start at s[i] and end at s[e],
    // all inside s[0, n). 0xC1 is never used.
    inductive mp_seq{L}(uint8_t *s, integer n, integer i, integer p, integer e) {
      case mp_done{L}:
        \forall uint8_t *s, integer n, i;
          0 <= i <= n ==> mp_seq(s, n, i, 0, i);
      case mp_step{L}:
        \forall uint8_t *s, integer n, i, p, e;
          p > 0 && 0 <= i < n && s[i] != 0xC1 &&
          i + 1 + mp_lf(s[i]) <= n && mp_next(s, i) <= n &&
          mp_seq(s, n, mp_next(s, i), p - 1 + mp_children(s, i), e) ==>
          mp_seq(s, n, i, p, e);
    }

    // buf[0, e) is exactly one well-formed object.
    predicate mp_object{L}(uint8_t *s, integer n, integer e) = mp_seq(s, n, 0, 1, e);
*/

#endif
