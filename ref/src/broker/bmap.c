#include "bmap.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211u;
    }
    return h;
}

void bmap_init(struct bmap *m)
{
    memset(m, 0, sizeof *m);
}

void bmap_free(struct bmap *m)
{
    mem_free(m->slots);
    bmap_init(m);
}

static struct bmap_slot *find(const struct bmap *m, const uint8_t *key, size_t klen,
                              uint64_t h)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t mask = m->cap - 1u;
    for (size_t i = (size_t)h & mask;; i = (i + 1u) & mask) {
        struct bmap_slot *s = &m->slots[i];
        if (s->key == NULL) {
            return NULL;
        }
        if (s->val != NULL && s->hash == h && s->klen == klen &&
            (klen == 0 || memcmp(s->key, key, klen) == 0)) {
            return s;
        }
    }
}

static int grow(struct bmap *m)
{
    size_t ncap = m->cap == 0 ? 2u : m->cap * 2u; /* most maps hold one or two */
    /* Rehash in place when deleted slots, not live ones, fill the table. */
    if (m->cap != 0 && m->count * 2u < m->cap) {
        ncap = m->cap;
    }
    struct bmap_slot *ns = mem_calloc(ncap, sizeof *ns);
    if (ns == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        struct bmap_slot *s = &m->slots[i];
        if (s->key != NULL && s->val != NULL) {
            size_t j = (size_t)s->hash & (ncap - 1u);
            while (ns[j].key != NULL) {
                j = (j + 1u) & (ncap - 1u);
            }
            ns[j] = *s;
        }
    }
    mem_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->count;
    return 0;
}

int bmap_put(struct bmap *m, const void *key, size_t klen, void *val)
{
    uint64_t h = hash_bytes(key, klen);
    struct bmap_slot *s = find(m, key, klen, h);
    if (s != NULL) {
        s->key = key;
        s->val = val;
        return 0;
    }
    if ((m->used + 1u) * 4u > m->cap * 3u && grow(m) != 0) {
        return -1;
    }
    size_t mask = m->cap - 1u;
    size_t i = (size_t)h & mask;
    while (m->slots[i].key != NULL) {
        i = (i + 1u) & mask;
    }
    m->slots[i] = (struct bmap_slot){key, klen, h, val};
    m->used++;
    m->count++;
    return 0;
}

void *bmap_get(const struct bmap *m, const void *key, size_t klen)
{
    struct bmap_slot *s = find(m, key, klen, hash_bytes(key, klen));
    return s != NULL ? s->val : NULL;
}

void *bmap_del(struct bmap *m, const void *key, size_t klen)
{
    struct bmap_slot *s = find(m, key, klen, hash_bytes(key, klen));
    if (s == NULL) {
        return NULL;
    }
    void *v = s->val;
    s->val = NULL; /* tombstone: keeps probe chains intact */
    m->count--;
    if (m->count == 0) {
        bmap_free(m);
    }
    return v;
}

int bmap_next(const struct bmap *m, size_t *pos, void **val)
{
    while (*pos < m->cap) {
        struct bmap_slot *s = &m->slots[(*pos)++];
        if (s->key != NULL && s->val != NULL) {
            *val = s->val;
            return 1;
        }
    }
    return 0;
}
