/* ACSL specification of the outgoing queue (outq.c). Comments only for the
 * C compiler. Logical position i of the queue (0 = head) is ring slot
 * ridx(head, i, rcap): head + i, wrapped once (head < rcap, i <= rcap). */
#ifndef BUSRTD_OUTQ_SPEC_H
#define BUSRTD_OUTQ_SPEC_H

#include "outq.h"

/*@ logic integer ridx(integer h, integer i, integer r) =
      h + i < r ? h + i : h + i - r;

    // The fields of a frame (WP gives no size to a struct with a flexible
    // array member, so \valid(f) cannot be used).
    predicate outbuf_ok{L}(struct outbuf *f) = \valid(&f->refs) && \valid(&f->len);

    logic struct outbuf *slot{L}(struct outq *q, integer i) =
      q->ring[ridx(q->head, i, q->rcap)];

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

    // Slots among the first i positions from ring slot h that hold g
    // (recursive, decreasing on i; WP does not check this).
    logic integer occ{L}(struct outbuf **ring, integer r, integer h, integer i,
                         struct outbuf *g) =
      i <= 0 ? 0 :
        (ring[h] == g ? 1 : 0) + occ(ring, r, h + 1 == r ? 0 : h + 1, i - 1, g);

    // Reference counts: the frame at position i holds more references than
    // the positions before i that hold it, so each slot owns one reference
    // and releasing them from the head never takes a count below one
    // before the release.
    predicate outq_refs{L}(struct outq *q) =
      \forall integer i; 0 <= i < q->count ==>
        slot(q, i)->refs > occ(q->ring, q->rcap, q->head, i, slot(q, i));
*/

#endif
