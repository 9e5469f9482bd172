/* libbusrt internals shared by the cursor table (cursor.c) and the cursor
 * iterator (cursor_iter.c): the few MessagePack forms cursors use, read and
 * written by hand because the library links no MessagePack library (the
 * bounds of every object are checked with the core's busrt_mp_check). */
#ifndef BUSRT_CURSOR_INT_H
#define BUSRT_CURSOR_INT_H

#include <stddef.h>
#include <stdint.h>

/* What bc_cm_scan found in a map. */
struct cm_map {
    uint32_t nkeys;   /* keys in the map */
    const uint8_t *u; /* the whole object of key "u", or NULL */
    size_t u_len;
    int has_n;        /* key "n" is present */
    int n_ok;         /* ... and is an integer >= 0 (value in n) */
    uint64_t n;
};

/* 0 when p[0..len) is exactly one MessagePack map whose keys are all
 * strings, each of "u" and "n" at most once; *m filled. -1 otherwise. */
int bc_cm_scan(const uint8_t *p, size_t len, struct cm_map *m);

/* 0 with *count when p[0..len) is exactly one MessagePack array; else -1. */
int bc_cm_array_count(const uint8_t *p, size_t len, uint32_t *count);

/* Writes the array header for count items to out (at most 5 bytes) and
 * returns its length. */
size_t bc_cm_put_array(uint32_t count, uint8_t *out);

/* Writes v as the shortest MessagePack unsigned integer (at most 9 bytes,
 * the form rmp-serde writes) and returns its length. */
size_t bc_cm_put_uint(uint64_t v, uint8_t *out);

#endif
