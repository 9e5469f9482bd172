/* Extent of one MessagePack object, found without building it. Pure;
 * contract in ref/src/core/mpack.c.
 *
 * Callers run it on untrusted bytes before handing them to a MessagePack
 * library: a library allocates room for an array or map from the count in
 * its header, before it has seen the elements, so 5 bytes (DD FF FF FF FF)
 * can make it ask for gigabytes. An accepted object declares at most one
 * element per byte it has, so what the library allocates is bounded by a
 * constant times its length. */
#ifndef BUSRT_MPACK_H
#define BUSRT_MPACK_H

#include <stddef.h>
#include <stdint.h>

/* Walks the MessagePack object that starts at buf[0]. Returns 0 and sets
 * *obj_len (1..len) to its length in bytes; BUSRT_ERR_SHORT when buf ends
 * inside it, or when an array or map declares more elements than bytes
 * remain (the object cannot be complete then); BUSRT_ERR_MSGPACK for the
 * type byte 0xC1, which the format never uses. Nesting depth is not
 * limited here. *obj_len is written only on success. */
int busrt_mp_check(const uint8_t *buf, size_t len, size_t *obj_len);

#endif
