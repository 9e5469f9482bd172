/* Proof-only contracts of the broker's allocator (ref/src/broker/mem.h),
 * included with -include by proofs/wp.sh for the broker's data structures.
 * These are ASSUMPTIONS: mem.c itself is not proved. A block is NULL, or a
 * new allocation (allocates: apart from every object that existed before)
 * of n bytes that the caller may use as any object type that fits (what
 * malloc promises), proved under -wp-model Typed+cast. Stating freshness
 * as "apart from every pointer valid before" instead would contradict
 * itself (WP's allocation table would call the new block valid before),
 * so the clauses below say only what allocates does not. See
 * proofs/README.md. */
#ifndef BUSRT_PROOFS_MEM_SPEC_H
#define BUSRT_PROOFS_MEM_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "outq.h"
#include "bmap.h"

/*@ terminates \true;
    exits \false;
    assigns \result \from n;
    allocates \result;
    ensures \result == \null || \valid((char *)\result + (0 .. n - 1));
    ensures \result != \null && n >= sizeof(struct outbuf) ==>
              \valid((struct outbuf *)\result);
    ensures \result != \null ==>
              \valid((struct outbuf **)\result + (0 .. n / sizeof(struct outbuf *) - 1));
*/
void *mem_alloc(size_t n);

/*@ terminates \true;
    exits \false;
    assigns \result \from n, size;
    allocates \result;
    ensures \result != \null && size == sizeof(struct bmap_slot) ==>
              \valid((struct bmap_slot *)\result + (0 .. n - 1)) &&
              (\forall integer i; 0 <= i < n ==>
                 ((struct bmap_slot *)\result)[i].key == \null);
    // calloc fails when n * size does not fit.
    ensures \result != \null ==> n * size <= SIZE_MAX;
*/
void *mem_calloc(size_t n, size_t size);

/* The block is released; WP cannot state that it becomes invalid. */
/*@ terminates \true;
    exits \false;
    assigns \nothing;
*/
void mem_free(void *p);

#endif
