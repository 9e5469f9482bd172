#include "outq.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

struct outbuf *outbuf_new(size_t len)
{
    struct outbuf *f = mem_alloc(sizeof *f + len);
    if (f != NULL) {
        f->refs = 1;
        f->len = len;
    }
    return f;
}

void outbuf_ref(struct outbuf *f)
{
    f->refs++;
}

void outbuf_unref(struct outbuf *f)
{
    if (f != NULL && --f->refs == 0) {
        mem_free(f);
    }
}

void outq_init(struct outq *q, size_t cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap;
}

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
    for (size_t i = 0; i < q->count; i++) {
        nr[i] = q->ring[(q->head + i) % q->rcap];
    }
    mem_free(q->ring);
    q->ring = nr;
    q->rcap = ncap;
    q->head = 0;
    return 0;
}

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
