/* Outgoing frames: reference-counted buffers shared by every receiver of a
 * frame, and a bounded per-client ring of them. */
#ifndef BUSRTD_OUTQ_H
#define BUSRTD_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct outbuf {
    size_t refs;
    size_t len;
    uint8_t data[];
};

/* A new buffer of len bytes with one reference, or NULL. */
struct outbuf *outbuf_new(size_t len);
void outbuf_ref(struct outbuf *f);
void outbuf_unref(struct outbuf *f);

struct outq {
    struct outbuf **ring;
    size_t cap;  /* limit in frames */
    size_t rcap; /* allocated ring slots; grows up to cap */
    size_t head, count;
    size_t bytes;     /* unsent bytes in the queue */
    size_t first_off; /* bytes of the head frame already written */
};

/* cap: frames; memory for the ring is allocated on first use. */
void outq_init(struct outq *q, size_t cap);
void outq_free(struct outq *q);
/* Takes a new reference. Returns 0; -1 when the queue holds cap frames or
 * adding f would exceed max_bytes; -2 when the ring cannot grow (out of
 * memory, or the memory limit). The queue is unchanged on failure. */
int outq_push(struct outq *q, struct outbuf *f, size_t max_bytes);
/* Fills up to max iovecs from the head; returns how many. */
int outq_iov(const struct outq *q, struct iovec *iov, int max);
/* Drops n written bytes from the head; returns the frames completed. */
size_t outq_consume(struct outq *q, size_t n);

#endif
