/* Hash of a byte string (64-bit FNV-1a), for the broker's maps (bmap.c). */
#ifndef BUSRTD_BHASH_H
#define BUSRTD_BHASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a multiplies modulo 2^64 on purpose: the WP proof of bmap.c, which
 * flags every unsigned wrap-around, assumes this contract instead of
 * proving bhash.c (see proofs/README.md). */
/*@ requires \valid_read(p + (0 .. n - 1));
    terminates \true;
    assigns \result \from p[0 .. n - 1], n;
*/
uint64_t bhash_bytes(const uint8_t *p, size_t n);

#endif
