/* ACSL logic specification of well-formed UTF-8 (RFC 3629, section 4),
 * shared by the contracts of utf8.c and frame.c. Comments only for C. */
#ifndef BUSRT_CORE_UTF8_SPEC_H
#define BUSRT_CORE_UTF8_SPEC_H

#include <stdint.h>

/*@ logic boolean in(integer x, integer lo, integer hi) = lo <= x && x <= hi;

    // Length of the well-formed sequence starting at s[i], or 0 when the
    // bytes at i do not start one (RFC 3629, UTF8-char).
    logic integer seq_len(uint8_t *s, integer i, integer n) =
      in(s[i], 0x00, 0x7F) ? 1 :
      in(s[i], 0xC2, 0xDF) ?
        (n - i >= 2 && in(s[i+1], 0x80, 0xBF) ? 2 : 0) :
      s[i] == 0xE0 ?
        (n - i >= 3 && in(s[i+1], 0xA0, 0xBF) && in(s[i+2], 0x80, 0xBF)
         ? 3 : 0) :
      (in(s[i], 0xE1, 0xEC) || in(s[i], 0xEE, 0xEF)) ?
        (n - i >= 3 && in(s[i+1], 0x80, 0xBF) && in(s[i+2], 0x80, 0xBF)
         ? 3 : 0) :
      s[i] == 0xED ?
        (n - i >= 3 && in(s[i+1], 0x80, 0x9F) && in(s[i+2], 0x80, 0xBF)
         ? 3 : 0) :
      s[i] == 0xF0 ?
        (n - i >= 4 && in(s[i+1], 0x90, 0xBF) && in(s[i+2], 0x80, 0xBF) &&
         in(s[i+3], 0x80, 0xBF) ? 4 : 0) :
      in(s[i], 0xF1, 0xF3) ?
        (n - i >= 4 && in(s[i+1], 0x80, 0xBF) && in(s[i+2], 0x80, 0xBF) &&
         in(s[i+3], 0x80, 0xBF) ? 4 : 0) :
      s[i] == 0xF4 ?
        (n - i >= 4 && in(s[i+1], 0x80, 0x8F) && in(s[i+2], 0x80, 0xBF) &&
         in(s[i+3], 0x80, 0xBF) ? 4 : 0) :
      0;

    // s[i, n) is a sequence of well-formed characters. Decreases on n - i.
    predicate utf8_from{L}(uint8_t *s, integer i, integer n) =
      i >= n ||
      (seq_len(s, i, n) > 0 && utf8_from(s, i + seq_len(s, i, n), n));

    predicate utf8_valid{L}(uint8_t *s, integer n) = utf8_from(s, 0, n);
*/

#endif
