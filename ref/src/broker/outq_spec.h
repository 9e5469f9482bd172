/* ACSL specification of the outgoing queue (outq.c). Comments only for the
 * C compiler. Logical position i of the queue (0 = head) is ring slot
 * (head + i) % rcap; occ counts the slots holding one frame and decreases
 * structurally on c (WP does not check this; see proofs/README.md). */
#ifndef BUSRTD_OUTQ_SPEC_H
#define BUSRTD_OUTQ_SPEC_H

#include "outq.h"

/*@ // An assumption, not proved: the remainder of a non-negative x below
    // 2r wraps once. The provers here need it to tell ring slots apart.
    axiomatic RingWrap {
      axiom mod_wrap: \forall integer x, r;
        0 < r && 0 <= x < 2 * r ==> x % r == (x < r ? x : x - r);
    }

    // The fields of a frame (WP gives no size to a struct with a flexible
    // array member, so \valid(f) cannot be used).
    predicate outbuf_ok{L}(struct outbuf *f) = \valid(&f->refs) && \valid(&f->len);

    logic struct outbuf *slot{L}(struct outq *q, integer i) =
      q->ring[(q->head + i) % q->rcap];

    // The ring slot after h (h < rcap).
    logic integer ring_next(integer h, integer rcap) =
      h + 1 == rcap ? 0 : h + 1;

    // Slots of ring, from h on for c positions, that hold g.
    logic integer occ{L}(struct outbuf **ring, integer rcap, integer h,
                         integer c, struct outbuf *g) =
      c <= 0 ? 0 :
        (ring[h] == g ? 1 : 0) + occ(ring, rcap, ring_next(h, rcap), c - 1, g);

    // The ring invariant: bounds, a valid ring while it has slots, every
    // queued frame valid and apart from the queue and the ring, and the
    // head's written bytes inside the head frame.
    predicate outq_ok{L}(struct outq *q) =
      \valid(q) &&
      q->cap <= SIZE_MAX / sizeof(struct outbuf *) &&
      q->rcap <= q->cap && q->count <= q->rcap &&
      (q->ring == \null <==> q->rcap == 0) &&
      (q->rcap > 0 ==> q->head < q->rcap &&
                       \valid(q->ring + (0 .. q->rcap - 1)) &&
                       \separated(q, q->ring + (0 .. q->rcap - 1))) &&
      (\forall integer i; 0 <= i < q->count ==>
         outbuf_ok(slot(q, i)) &&
         \separated(&slot(q, i)->refs, &slot(q, i)->len, q) &&
         \separated(&slot(q, i)->refs, &slot(q, i)->len,
                     q->ring + (0 .. q->rcap - 1))) &&
      (q->count == 0 ==> q->first_off == 0) &&
      (q->count > 0 ==> q->first_off <= slot(q, 0)->len);

    // Every queued frame holds at least one reference per slot holding it.
    predicate outq_refs{L}(struct outq *q) =
      \forall struct outbuf *g;
        occ(q->ring, q->rcap, q->head, q->count, g) > 0 ==>
          g->refs >= occ(q->ring, q->rcap, q->head, q->count, g);
*/

#endif
