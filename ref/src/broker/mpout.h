/* A growing MessagePack output buffer that remembers a failed write.
 *
 * msgpack-c's packers return -1 when the buffer cannot grow; checking each
 * of the dozens of calls that build one reply would bury the reply's shape.
 * Instead every write goes through mpout_write, which fails from the first
 * failure on, and the builder checks `failed` once before using the bytes.
 * The bytes live in a buffer from mem.c (counted against --memory-limit,
 * from the arena with --preallocate); msgpack-c itself allocates nothing. */
#ifndef BUSRT_BROKER_MPOUT_H
#define BUSRT_BROKER_MPOUT_H

#include <msgpack.h>

struct mpout {
    struct {
        char *data;   /* the bytes written so far (mem.c), or NULL */
        size_t size;  /* bytes written */
        size_t alloc; /* bytes allocated */
    } sb;
    msgpack_packer pk;
    int failed; /* set by the first write that could not be stored */
};

/* Starts an empty buffer with its packer (o->pk). */
void mpout_init(struct mpout *o);
/* Appends raw bytes (a packed value, or anything else). */
void mpout_raw(struct mpout *o, const void *p, size_t n);
void mpout_destroy(struct mpout *o);

#endif
