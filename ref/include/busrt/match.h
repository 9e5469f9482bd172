/* BUS/RT v1 matchers: topic subscriptions (`/`, `+`, `#`) and broadcast
 * masks (`.`, `?`, `*`). Pure; contracts in ref/src/core/match.c.
 *
 * Both split pattern and subject into chunks at the separator; empty chunks
 * are ordinary chunks. A pattern chunk that is exactly the one-chunk
 * wildcard matches any single chunk; a chunk that is exactly the many-chunk
 * wildcard matches one or more remaining chunks and ends the pattern
 * (whatever follows it is ignored). Every other chunk matches only an equal
 * chunk. Note: `a/#` does not match `a`. */
#ifndef BUSRT_MATCH_H
#define BUSRT_MATCH_H

#include <stddef.h>
#include <stdint.h>

/* 1 when subscription pattern pat matches publication topic, else 0. */
int busrt_topic_matches(const uint8_t *pat, size_t pat_len,
                        const uint8_t *topic, size_t topic_len);

/* 1 when broadcast mask matches client name, else 0. */
int busrt_mask_matches(const uint8_t *mask, size_t mask_len,
                       const uint8_t *name, size_t name_len);

/* 1 when a broadcast target is a mask (contains a `*` or `?` chunk or
 * character, as the FIFO command rule of the deployed server says: any
 * byte `*` or `?`), else 0. */
int busrt_mask_has_wildcard(const uint8_t *s, size_t len);

/* The chunk walk the matchers use, for code that walks patterns itself
 * (the broker's routing indexes and access control). */

/* End of the chunk of b[0, n) that starts at from (from <= n): the first
 * sep at or after from, or n. */
size_t busrt_chunk_end(const uint8_t *b, size_t n, size_t from, uint8_t sep);

/* 1 when the chunk b[i, e) is exactly the one byte w (a wildcard chunk),
 * else 0. */
int busrt_chunk_is(const uint8_t *b, size_t i, size_t e, uint8_t w);

#endif
