/* Contracts: the ring invariant outq_ok and the reference count predicate
 * outq_refs are in outq_spec.h; what is proved is in proofs/README.md. */
#include "outq.h"
#include "mem.h"

#include "outq_spec.h"

/*@ requires len <= SIZE_MAX - sizeof(struct outbuf);
    terminates \true;
    ensures \result == \null ||
              (outbuf_ok(\result) && \result->refs == 1 && \result->len == len);
*/
struct outbuf *outbuf_new(size_t len)
{
    struct outbuf *f = mem_alloc(sizeof *f + len);
    if (f != NULL) {
        f->refs = 1;
        f->len = len;
    }
    return f;
}

/*@ requires outbuf_ok(f);
    requires f->refs < SIZE_MAX;
    terminates \true;
    assigns f->refs;
    ensures f->refs == \old(f->refs) + 1;
*/
void outbuf_ref(struct outbuf *f)
{
    f->refs++;
}

/*@ requires f == \null || (outbuf_ok(f) && f->refs >= 1);
    terminates \true;
    assigns f->refs;
    behavior none:
      assumes f == \null;
      assigns \nothing;
    behavior kept:
      assumes f != \null && f->refs > 1;
      assigns f->refs;
      ensures f->refs == \old(f->refs) - 1;
    behavior freed:
      assumes f != \null && f->refs == 1;
      assigns f->refs;
      ensures f->refs == 0;
    complete behaviors;
    disjoint behaviors;
*/
void outbuf_unref(struct outbuf *f)
{
    if (f != NULL && --f->refs == 0) {
        mem_free(f);
    }
}

/*@ requires \valid(q);
    requires cap <= SIZE_MAX / sizeof(struct outbuf *);
    terminates \true;
    assigns *q;
    ensures outq_ok(q);
    ensures q->cap == cap && q->rcap == 0 && q->count == 0 && q->bytes == 0;
*/
void outq_init(struct outq *q, size_t cap)
{
    q->ring = NULL;
    q->cap = cap;
    q->rcap = 0;
    q->head = 0;
    q->count = 0;
    q->bytes = 0;
    q->first_off = 0;
}

/* Ring slot of logical position i: head + i wrapped once, without a
 * division (the proof tells slots apart by plain arithmetic). */
/*@ requires \valid_read(q) && q->head < q->rcap && i < q->rcap;
    terminates \true;
    exits \false;
    assigns \nothing;
    ensures \result == ridx(q->head, i, q->rcap) && \result < q->rcap;
*/
static size_t ring_idx(const struct outq *q, size_t i)
{
    return (i < (q->rcap - q->head)) ? (q->head + i) : (i - (q->rcap - q->head));
}

/* Releases the head frame's reference and moves the head on. */
/*@ requires outq_ok(q) && outq_refs(q) && q->count > 0;
    terminates \true;
    assigns q->head, q->count, q->first_off, q->ring[q->head]->refs;
    ensures outq_ok(q) && outq_refs(q);
    ensures q->count == \old(q->count) - 1 && q->first_off == 0;
    ensures q->head == ridx(\old(q->head), 1, q->rcap);
    ensures q->ring == \old(q->ring) && q->rcap == \old(q->rcap) &&
            q->cap == \old(q->cap) && q->bytes == \old(q->bytes);
*/
static void drop_head(struct outq *q)
{
    struct outbuf *f = q->ring[q->head];
    outbuf_unref(f);
    q->head = ((q->head + 1u) == q->rcap) ? 0u : (q->head + 1u);
    q->count--;
    q->first_off = 0;
    /* Steps for the provers: every position moves down by one, and with it
     * its count of earlier slots and its frame's references. */
    /*@ assert shifted: \forall integer i; 0 <= i < q->count ==> slot(q, i) == \at(slot(q, i + 1), Pre); */
    /*@ assert occ_shifted: \forall integer i; 0 <= i < q->count ==>
          occ(q->ring, q->rcap, q->head, i, slot(q, i)) + (f == slot(q, i) ? 1 : 0) ==
          \at(occ(q->ring, q->rcap, q->head, i + 1, slot(q, i + 1)), Pre); */
    /*@ assert refs_shifted: \forall integer i; 0 <= i < q->count ==>
          slot(q, i)->refs + (f == slot(q, i) ? 1 : 0) == \at(slot(q, i + 1)->refs, Pre); */
    /*@ assert ring_ok: outq_ok(q); */
}

/*@ requires outq_ok(q) && outq_refs(q);
    terminates \true;
    assigns *q, q->ring[0 .. q->rcap - 1]->refs;
    ensures outq_ok(q) && q->count == 0 && q->rcap == 0 && q->bytes == 0 &&
            q->cap == \old(q->cap);
*/
void outq_free(struct outq *q)
{
    /*@ loop invariant outq_ok(q) && outq_refs(q);
        loop invariant q->ring == \at(q->ring, Pre) && q->rcap == \at(q->rcap, Pre);
        loop invariant q->cap == \at(q->cap, Pre);
        loop assigns q->head, q->count, q->first_off,
                     \at(q->ring, Pre)[0 .. \at(q->rcap, Pre) - 1]->refs;
        loop variant q->count;
    */
    while (q->count > 0u) {
        drop_head(q);
    }
    mem_free(q->ring);
    size_t cap = q->cap;
    outq_init(q, cap);
}

/* Doubles the ring (up to cap), moving the live frames to its start. */
/*@ requires outq_ok(q);
    requires q->count == q->rcap && q->count < q->cap;
    terminates \true;
    assigns q->ring, q->rcap, q->head, \at(q->ring, Post)[0 .. \at(q->rcap, Post) - 1];
    ensures outq_ok(q);
    ensures \result == 0 || \result == -1;
    ensures q->count == \old(q->count) && q->cap == \old(q->cap) &&
            q->bytes == \old(q->bytes) && q->first_off == \old(q->first_off);
    ensures \result == 0 ==> q->rcap > q->count;
    ensures \forall integer i; 0 <= i < q->count ==>
              slot(q, i) == \old(slot(q, i)) &&
              slot(q, i)->refs == \old(slot(q, i)->refs) &&
              slot(q, i)->len == \old(slot(q, i)->len);
*/
static int grow(struct outq *q)
{
    size_t ncap = q->rcap == 0 ? 4u : q->rcap * 2u; /* idle clients: a NOP at a time */
    if (ncap > q->cap) {
        ncap = q->cap;
    }
    struct outbuf **nr = mem_alloc(ncap * sizeof *nr);
    if (nr == NULL) {
        return -1;
    }
    /* A new block (mem_spec.h): WP (Frama-C 25) does not derive this
     * separation from allocates, so it is admitted here. */
    /*@ admit new_ring_apart: \separated(nr + (0 .. ncap - 1), q) &&
          (q->rcap > 0 ==> \separated(nr + (0 .. ncap - 1), q->ring + (0 .. q->rcap - 1))) &&
          (\forall integer i; 0 <= i < q->count ==>
             \separated(nr + (0 .. ncap - 1), &slot(q, i)->refs, &slot(q, i)->len));
    */
    /*@ loop invariant 0 <= i <= q->count;
        loop invariant \forall integer k; 0 <= k < i ==> nr[k] == slot(q, k);
        loop assigns i, nr[0 .. ncap - 1];
        loop variant q->count - i;
    */
    for (size_t i = 0; i < q->count; i++) {
        nr[i] = q->ring[ring_idx(q, i)];
    }
    mem_free(q->ring);
    q->ring = nr;
    q->rcap = ncap;
    q->head = 0;
    return 0;
}

/*@ requires outq_ok(q) && outbuf_ok(f) && f->refs < SIZE_MAX;
    requires \separated(&f->refs, &f->len, q);
    requires q->rcap > 0 ==> \separated(&f->refs, &f->len, q->ring + (0 .. q->rcap - 1));
    requires q->bytes <= max_bytes;
    terminates \true;
    assigns q->ring, q->rcap, q->head, q->count, q->bytes, f->refs,
            \at(q->ring, Post)[0 .. \at(q->rcap, Post) - 1];
    ensures \result == 0 || \result == -1 || \result == -2;
    ensures q->bytes <= max_bytes;
    ensures \result == 0 ==>
              q->count == \old(q->count) + 1 && slot(q, \old(q->count)) == f &&
              q->bytes == \old(q->bytes) + f->len &&
              f->refs == \old(f->refs) + 1 &&
              q->first_off == \old(q->first_off);
    ensures \result != 0 ==>
              q->count == \old(q->count) && q->bytes == \old(q->bytes) &&
              f->refs == \old(f->refs) &&
              (\forall integer i; 0 <= i < q->count ==>
                 slot(q, i) == \old(slot(q, i)));
*/
int outq_push(struct outq *q, struct outbuf *f, size_t max_bytes)
{
    if (q->count == q->cap || f->len > max_bytes - q->bytes) {
        return -1;
    }
    if (q->count == q->rcap && grow(q) != 0) {
        return -2;
    }
    q->ring[ring_idx(q, q->count)] = f;
    q->count++;
    q->bytes += f->len;
    outbuf_ref(f);
    return 0;
}

/*@ requires outq_ok(q) && max >= 0 && \valid(iov + (0 .. max - 1));
    requires \separated(iov + (0 .. max - 1), q);
    requires q->rcap > 0 ==> \separated(iov + (0 .. max - 1), q->ring + (0 .. q->rcap - 1));
    requires \forall integer i; 0 <= i < q->count ==>
               \separated(iov + (0 .. max - 1), &slot(q, i)->len);
    terminates \true;
    assigns iov[0 .. max - 1];
    ensures \result == (q->count < max ? q->count : max);
    ensures \forall integer k; 0 <= k < \result ==>
              iov[k].iov_len == slot(q, k)->len - (k == 0 ? q->first_off : 0);
*/
int outq_iov(const struct outq *q, struct iovec *iov, int max)
{
    int n = 0;
    /*@ loop invariant 0 <= n <= max && n <= q->count;
        loop invariant \forall integer k; 0 <= k < n ==>
          iov[k].iov_len == slot(q, k)->len - (k == 0 ? q->first_off : 0);
        loop assigns n, iov[0 .. max - 1];
        loop variant max - n;
    */
    while (((size_t)n < q->count) && (n < max)) {
        struct outbuf *f = q->ring[ring_idx(q, (size_t)n)];
        size_t off = (n == 0) ? q->first_off : 0u;
        iov[n].iov_base = f->data + off;
        iov[n].iov_len = f->len - off;
        /* Steps for the provers: the new iovec, and the earlier ones kept. */
        //@ assert iov[n].iov_len == slot(q, n)->len - (n == 0 ? q->first_off : 0);
        /*@ assert \forall integer k; 0 <= k < n ==>
              slot(q, k) == \at(slot(q, k), LoopCurrent) &&
              slot(q, k)->len == \at(slot(q, k)->len, LoopCurrent) &&
              iov[k].iov_len == \at(iov[k].iov_len, LoopCurrent); */
        n++;
    }
    return n;
}

/* The loop also stops at an empty queue: n above the queued bytes is a
 * caller's error, and the queue does not track its bytes per frame. */
/*@ requires outq_ok(q) && outq_refs(q) && n <= q->bytes;
    terminates \true;
    assigns q->head, q->count, q->first_off, q->bytes,
            q->ring[0 .. q->rcap - 1]->refs;
    ensures outq_ok(q) && outq_refs(q);
    ensures q->bytes == \old(q->bytes) - n;
    ensures \result <= \old(q->count) && q->count == \old(q->count) - \result;
    ensures \forall integer i; 0 <= i < q->count ==> slot(q, i) == \old(slot(q, i + \result));
*/
size_t outq_consume(struct outq *q, size_t n)
{
    size_t done = 0;
    q->bytes -= n;
    /*@ loop invariant outq_ok(q) && outq_refs(q);
        loop invariant q->ring == \at(q->ring, Pre) && q->rcap == \at(q->rcap, Pre);
        loop invariant q->bytes == \at(q->bytes, Pre) - \at(n, Pre);
        loop invariant done <= \at(q->count, Pre) && q->count == \at(q->count, Pre) - done;
        loop invariant q->rcap > 0 ==> q->head == ridx(\at(q->head, Pre), done, q->rcap);
        loop assigns n, done, q->head, q->count, q->first_off,
                     \at(q->ring, Pre)[0 .. \at(q->rcap, Pre) - 1]->refs;
        loop variant q->count;
    */
    while ((n > 0u) && (q->count > 0u)) {
        size_t left = q->ring[q->head]->len - q->first_off;
        if (n < left) {
            q->first_off += n;
            break;
        }
        n -= left;
        drop_head(q);
        done++;
    }
    return done;
}
