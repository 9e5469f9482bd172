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

/* Not proved (see proofs/README.md). */
void outq_free(struct outq *q)
{
    if (q->ring != NULL) {
        for (size_t i = 0; i < q->count; i++) {
            outbuf_unref(q->ring[(q->head + i) % q->rcap]);
        }
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
    /*@ loop invariant 0 <= i <= q->count;
        loop invariant \forall integer k; 0 <= k < i ==> nr[k] == slot(q, k);
        loop assigns i, nr[0 .. ncap - 1];
        loop variant q->count - i;
    */
    for (size_t i = 0; i < q->count; i++) {
        nr[i] = q->ring[(q->head + i) % q->rcap];
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
    q->ring[(q->head + q->count) % q->rcap] = f;
    q->count++;
    q->bytes += f->len;
    outbuf_ref(f);
    return 0;
}

/* Not proved (see proofs/README.md). */
int outq_iov(const struct outq *q, struct iovec *iov, int max)
{
    int n = 0;
    for (size_t i = 0; i < q->count && n < max; i++) {
        struct outbuf *f = q->ring[(q->head + i) % q->rcap];
        size_t off = i == 0 ? q->first_off : 0u;
        iov[n].iov_base = f->data + off;
        iov[n].iov_len = f->len - off;
        n++;
    }
    return n;
}

/* Not proved (see proofs/README.md). */
size_t outq_consume(struct outq *q, size_t n)
{
    size_t done = 0;
    q->bytes -= n;
    while (n > 0) {
        struct outbuf *f = q->ring[q->head];
        size_t left = f->len - q->first_off;
        if (n < left) {
            q->first_off += n;
            break;
        }
        n -= left;
        outbuf_unref(f);
        q->head = (q->head + 1u) % q->rcap;
        q->count--;
        q->first_off = 0;
        done++;
    }
    return done;
}
