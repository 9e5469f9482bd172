/* Proof-only contracts of the broker's allocator (ref/src/broker/mem.h),
 * included with -include by proofs/wp.sh for the broker's data structures.
 * These are ASSUMPTIONS: mem.c itself is not proved. WP (Frama-C 25) does
 * not model \fresh, allocates or frees, so a block is described by what
 * its users need: NULL, or valid memory of n bytes that the caller may use
 * as any object type that fits (what malloc promises), proved under
 * -wp-model Typed+cast. See proofs/README.md. */
#ifndef BUSRT_PROOFS_MEM_SPEC_H
#define BUSRT_PROOFS_MEM_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "outq.h"
#include "bmap.h"

/*@ terminates \true;
    assigns \result \from n;
    ensures \result == \null || \valid((char *)\result + (0 .. n - 1));
    ensures \result != \null && n >= sizeof(struct outbuf) ==>
              \valid((struct outbuf *)\result);
    ensures \result != \null ==>
              \valid((struct outbuf **)\result + (0 .. n / sizeof(struct outbuf *) - 1));
    // Fresh: apart from every object the caller could reach before.
    ensures \result != \null ==> \forall struct outq *p; \at(\valid(p), Pre) ==>
              \separated(p, (struct outbuf **)\result + (0 .. n / sizeof(struct outbuf *) - 1));
    ensures \result != \null ==> \forall struct outbuf **p; \at(\valid(p), Pre) ==>
              \separated(p, (struct outbuf **)\result + (0 .. n / sizeof(struct outbuf *) - 1));
    ensures \result != \null ==> \forall size_t *p; \at(\valid(p), Pre) ==>
              \separated(p, (struct outbuf **)\result + (0 .. n / sizeof(struct outbuf *) - 1));
*/
void *mem_alloc(size_t n);

/*@ terminates \true;
    assigns \result \from n, size;
    ensures \result != \null && size == sizeof(struct bmap_slot) ==>
              \valid((struct bmap_slot *)\result + (0 .. n - 1)) &&
              (\forall integer i; 0 <= i < n ==>
                 ((struct bmap_slot *)\result)[i].key == \null);
    // calloc fails when n * size does not fit.
    ensures \result != \null ==> n * size <= SIZE_MAX;
    // Fresh: apart from every object the caller could reach before.
    ensures \result != \null && size == sizeof(struct bmap_slot) ==>
              \forall struct bmap *p; \at(\valid(p), Pre) ==>
                \separated(p, (struct bmap_slot *)\result + (0 .. n - 1));
    ensures \result != \null && size == sizeof(struct bmap_slot) ==>
              \forall struct bmap_slot *p; \at(\valid(p), Pre) ==>
                \separated(p, (struct bmap_slot *)\result + (0 .. n - 1));
*/
void *mem_calloc(size_t n, size_t size);

/* The block is released; WP cannot state that it becomes invalid. */
/*@ terminates \true;
    assigns \nothing;
*/
void mem_free(void *p);

#endif
