/* Hash map from byte strings to pointers (open addressing, linear probing).
 * Keys are borrowed: the caller keeps each key's bytes alive and unchanged
 * while its entry exists. */
#ifndef BUSRTD_BMAP_H
#define BUSRTD_BMAP_H

#include <stddef.h>
#include <stdint.h>

struct bmap_slot {
    const uint8_t *key; /* NULL: empty */
    size_t klen;
    uint64_t hash;
    void *val; /* NULL with key != NULL: deleted */
};

struct bmap {
    struct bmap_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t used; /* live + deleted slots */
    size_t count; /* live entries */
};

void bmap_init(struct bmap *m);
void bmap_free(struct bmap *m);
/* Inserts or replaces; val must not be NULL. Returns 0, or -1 when memory
 * is exhausted (the map is unchanged). */
int bmap_put(struct bmap *m, const void *key, size_t klen, void *val);
void *bmap_get(const struct bmap *m, const void *key, size_t klen);
/* Removes the entry; returns its value, or NULL when absent. */
void *bmap_del(struct bmap *m, const void *key, size_t klen);

/* Iteration: for (size_t i = 0; bmap_next(m, &i, &val);) ... */
int bmap_next(const struct bmap *m, size_t *pos, void **val);

#endif
