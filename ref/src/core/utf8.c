/* UTF-8 validation per RFC 3629 section 4 (spec section 8).
 *
 * The logic specification is the RFC's table of well-formed byte
 * sequences; the code checks one sequence at a time against the same
 * table. */
#include "busrt/utf8.h"

#include "utf8_spec.h"

/*@ requires \valid_read(s + (0 .. n - 1));
    requires i < n;
    terminates \true;
    assigns \nothing;
    ensures \result == seq_len(s, i, n);
    ensures 0 <= \result <= 4;
*/
static size_t utf8_seq_len(const uint8_t *s, size_t n, size_t i)
{
    const uint8_t c = s[i];
    const size_t left = n - i;
    uint8_t lo = 0x80u; /* range of the second byte */
    uint8_t hi = 0xBFu;
    size_t want;

    if (c <= 0x7Fu) {
        return 1u;
    } else if ((c >= 0xC2u) && (c <= 0xDFu)) {
        want = 2u;
    } else if ((c >= 0xE0u) && (c <= 0xEFu)) {
        want = 3u;
        if (c == 0xE0u) {
            lo = 0xA0u;
        } else if (c == 0xEDu) {
            hi = 0x9Fu;
        } else {
            /* E1..EC, EE, EF: the full 80..BF range */
        }
    } else if ((c >= 0xF0u) && (c <= 0xF4u)) {
        want = 4u;
        if (c == 0xF0u) {
            lo = 0x90u;
        } else if (c == 0xF4u) {
            hi = 0x8Fu;
        } else {
            /* F1..F3: the full 80..BF range */
        }
    } else {
        return 0u;
    }
    if (left < want) {
        return 0u;
    }
    if ((s[i + 1u] < lo) || (s[i + 1u] > hi)) {
        return 0u;
    }
    if ((want >= 3u) && ((s[i + 2u] < 0x80u) || (s[i + 2u] > 0xBFu))) {
        return 0u;
    }
    if ((want == 4u) && ((s[i + 3u] < 0x80u) || (s[i + 3u] > 0xBFu))) {
        return 0u;
    }
    return want;
}

/*@ requires \valid_read(s + (0 .. len - 1));
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> utf8_valid(s, len);
    ensures \result == 0 || \result == 1;
*/
int busrt_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= len;
        loop invariant utf8_valid(s, len) <==> utf8_from(s, i, len);
        loop assigns i;
        loop variant len - i;
    */
    while (i < len) {
        size_t k = utf8_seq_len(s, len, i);
        if (k == 0u) {
            return 0;
        }
        i += k;
    }
    return 1;
}
