/* ACSL logic specification of topic and broadcast-mask matching (spec
 * sections 10 and 11), stated over chunk boundaries. Comments only for the
 * C compiler. Every recursive definition decreases structurally: chunk_end
 * on n - i, chunks_match on pn - pi (WP does not check this; see
 * proofs/README.md). */
#ifndef BUSRT_CORE_MATCH_SPEC_H
#define BUSRT_CORE_MATCH_SPEC_H

#include <stdint.h>

/*@ // End of the chunk that starts at i: the first separator at or after
    // i, or n.
    logic integer chunk_end(uint8_t *b, integer i, integer n, integer sep) =
      i >= n ? n : (b[i] == sep ? i : chunk_end(b, i + 1, n, sep));

    // a[ai, ae) and b[bi, be) hold the same bytes.
    predicate range_eq(uint8_t *a, integer ai, integer ae,
                       uint8_t *b, integer bi, integer be) =
      ae - ai == be - bi &&
      (\forall integer m; ai <= m < ae ==> a[m] == b[bi + (m - ai)]);

    // The chunk [i, e) is exactly the single wildcard byte w.
    predicate is_wild(uint8_t *b, integer i, integer e, integer w) =
      e - i == 1 && b[i] == w;

    // Pattern chunks from pi against subject chunks from ti. "many" ends
    // the pattern and needs one or more subject chunks, which always holds
    // here since ti starts a chunk. "one" or an equal chunk consumes one
    // chunk each; both must end together.
    predicate chunks_match{L}(uint8_t *p, integer pi, integer pn,
                              uint8_t *t, integer ti, integer tn,
                              integer sep, integer one, integer many) =
      is_wild(p, pi, chunk_end(p, pi, pn, sep), many) ||
      ((is_wild(p, pi, chunk_end(p, pi, pn, sep), one) ||
        range_eq(p, pi, chunk_end(p, pi, pn, sep),
                 t, ti, chunk_end(t, ti, tn, sep))) &&
       (chunk_end(p, pi, pn, sep) == pn ?
          chunk_end(t, ti, tn, sep) == tn :
          (chunk_end(t, ti, tn, sep) < tn &&
           chunks_match(p, chunk_end(p, pi, pn, sep) + 1, pn,
                        t, chunk_end(t, ti, tn, sep) + 1, tn,
                        sep, one, many))));

    // The deployed rules, instantiated (spec 10 and 11).
    predicate topic_match(uint8_t *pat, integer pn, uint8_t *topic,
                          integer tn) =
      chunks_match(pat, 0, pn, topic, 0, tn, '/', '+', '#');
    predicate mask_match(uint8_t *mask, integer mn, uint8_t *name,
                         integer nn) =
      chunks_match(mask, 0, mn, name, 0, nn, '.', '?', '*');
*/

#endif
