/* Topic and broadcast-mask matching (spec sections 10 and 11).
 *
 * Both matchers are one chunk matcher with different separator and wildcard
 * bytes. The logic specification (match_spec.h) is the matching rule of the
 * spec stated over chunk boundaries; the C code walks the same chunks. */
#include "busrt/match.h"

#include "match_spec.h"

/*@ requires \valid_read(b + (0 .. n - 1));
    requires from <= n;
    terminates \true;
    assigns \nothing;
    ensures \result == chunk_end(b, from, n, sep);
    ensures from <= \result <= n;
*/
size_t busrt_chunk_end(const uint8_t *b, size_t n, size_t from, uint8_t sep)
{
    size_t i = from;
    /*@ loop invariant from <= i <= n;
        loop invariant chunk_end(b, i, n, sep) == chunk_end(b, from, n, sep);
        loop assigns i;
        loop variant n - i;
    */
    while ((i < n) && (b[i] != sep)) {
        i++;
    }
    return i;
}

/*@ requires \valid_read(b + (i .. e - 1));
    requires i <= e;
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> is_wild(b, i, e, w);
    ensures \result == 0 || \result == 1;
*/
int busrt_chunk_is(const uint8_t *b, size_t i, size_t e, uint8_t w)
{
    return (((e - i) == 1u) && (b[i] == w)) ? 1 : 0;
}

/*@ requires \valid_read(a + (ai .. ae - 1));
    requires \valid_read(b + (bi .. be - 1));
    requires ai <= ae && bi <= be;
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> range_eq(a, ai, ae, b, bi, be);
    ensures \result == 0 || \result == 1;
*/
static int range_equal(const uint8_t *a, size_t ai, size_t ae,
                       const uint8_t *b, size_t bi, size_t be)
{
    if ((ae - ai) != (be - bi)) {
        return 0;
    }
    size_t m = ai;
    /*@ loop invariant ai <= m <= ae;
        loop invariant \forall integer k; ai <= k < m ==>
                         a[k] == b[bi + (k - ai)];
        loop assigns m;
        loop variant ae - m;
    */
    while (m < ae) {
        if (a[m] != b[bi + (m - ai)]) {
            return 0;
        }
        m++;
    }
    return 1;
}

/*@ requires \valid_read(p + (0 .. pn - 1));
    requires \valid_read(t + (0 .. tn - 1));
    requires pn < SIZE_MAX && tn < SIZE_MAX;
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> chunks_match(p, 0, pn, t, 0, tn, sep, one, many);
    ensures \result == 0 || \result == 1;
*/
static int chunk_match(const uint8_t *p, size_t pn, const uint8_t *t,
                       size_t tn, uint8_t sep, uint8_t one, uint8_t many)
{
    size_t pi = 0;
    size_t ti = 0;
    /*@ loop invariant 0 <= pi <= pn && 0 <= ti <= tn;
        loop invariant chunks_match(p, 0, pn, t, 0, tn, sep, one, many) <==>
                       chunks_match(p, pi, pn, t, ti, tn, sep, one, many);
        loop assigns pi, ti;
        loop variant pn - pi;
    */
    for (;;) {
        size_t pe = busrt_chunk_end(p, pn, pi, sep);
        size_t te = busrt_chunk_end(t, tn, ti, sep);
        if (busrt_chunk_is(p, pi, pe, many) == 1) {
            return 1;
        }
        /* The chunk must be the one-chunk wildcard or equal the subject's. */
        if ((busrt_chunk_is(p, pi, pe, one) != 1) &&
            (range_equal(p, pi, pe, t, ti, te) != 1)) {
            return 0;
        }
        if (pe == pn) {
            return (te == tn) ? 1 : 0;
        }
        if (te == tn) {
            return 0;
        }
        pi = pe + 1u;
        ti = te + 1u;
    }
}

/*@ requires \valid_read(pat + (0 .. pat_len - 1));
    requires \valid_read(topic + (0 .. topic_len - 1));
    requires pat_len < SIZE_MAX && topic_len < SIZE_MAX;
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> topic_match(pat, pat_len, topic, topic_len);
    ensures \result == 0 || \result == 1;
*/
int busrt_topic_matches(const uint8_t *pat, size_t pat_len,
                        const uint8_t *topic, size_t topic_len)
{
    return chunk_match(pat, pat_len, topic, topic_len, (uint8_t)'/',
                       (uint8_t)'+', (uint8_t)'#');
}

/*@ requires \valid_read(mask + (0 .. mask_len - 1));
    requires \valid_read(name + (0 .. name_len - 1));
    requires mask_len < SIZE_MAX && name_len < SIZE_MAX;
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> mask_match(mask, mask_len, name, name_len);
    ensures \result == 0 || \result == 1;
*/
int busrt_mask_matches(const uint8_t *mask, size_t mask_len,
                       const uint8_t *name, size_t name_len)
{
    return chunk_match(mask, mask_len, name, name_len, (uint8_t)'.',
                       (uint8_t)'?', (uint8_t)'*');
}

/*@ requires \valid_read(s + (0 .. len - 1));
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==>
      (\exists integer k; 0 <= k < len && (s[k] == '*' || s[k] == '?'));
    ensures \result == 0 || \result == 1;
*/
int busrt_mask_has_wildcard(const uint8_t *s, size_t len)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= len;
        loop invariant \forall integer k; 0 <= k < i ==>
                         s[k] != '*' && s[k] != '?';
        loop assigns i;
        loop variant len - i;
    */
    while (i < len) {
        if ((s[i] == (uint8_t)'*') || (s[i] == (uint8_t)'?')) {
            return 1;
        }
        i++;
    }
    return 0;
}
