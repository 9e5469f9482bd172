/* Contracts: the table invariant bmap_ok is in bmap_spec.h; what is proved
 * is in proofs/README.md. */
#include "bmap.h"
#include "bhash.h"
#include "mem.h"

#include "bmap_spec.h"

/*@ requires bmap_ok(m) || \valid(m);
    terminates \true;
    assigns *m;
    ensures bmap_ok(m) && m->cap == 0 && m->count == 0 && m->slots == \null;
*/
void bmap_init(struct bmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->used = 0;
    m->count = 0;
}

/*@ requires bmap_ok(m);
    terminates \true;
    assigns *m;
    ensures bmap_ok(m) && m->cap == 0 && m->count == 0;
*/
void bmap_free(struct bmap *m)
{
    mem_free(m->slots);
    bmap_init(m);
}

/*@ requires \valid_read(a + (0 .. n - 1)) && \valid_read(b + (0 .. n - 1));
    terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> (\forall integer j; 0 <= j < n ==> a[j] == b[j]);
    ensures \result == 0 || \result == 1;
*/
static int key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t k = 0;
    /*@ loop invariant 0 <= k <= n;
        loop invariant \forall integer j; 0 <= j < k ==> a[j] == b[j];
        loop assigns k;
        loop variant n - k;
    */
    while ((k < n) && (a[k] == b[k])) {
        k++;
    }
    return (k == n) ? 1 : 0;
}

/* Linear probing from the hash's slot; the probe ends at an empty slot,
 * which bmap_put always leaves (used < cap), so it visits at most cap. */
/*@ requires bmap_ok(m);
    requires \valid_read(key + (0 .. klen - 1));
    terminates \true;
    assigns \nothing;
    ensures \result == \null ||
              (\exists integer i; 0 <= i < m->cap && \result == m->slots + i &&
                 live(m, i) && m->slots[i].hash == h && key_is(m->slots + i, key, klen));
*/
static struct bmap_slot *find(const struct bmap *m, const uint8_t *key, size_t klen,
                              uint64_t h)
{
    if (m->cap == 0) {
        return NULL;
    }
    size_t i = (size_t)(h % m->cap);
    /*@ loop invariant 0 <= n <= m->cap && 0 <= i < m->cap;
        loop assigns n, i;
        loop variant m->cap - n;
    */
    for (size_t n = 0; n < m->cap; n++) {
        struct bmap_slot *s = &m->slots[i];
        if (s->key == NULL) {
            return NULL;
        }
        if (s->val != NULL && s->hash == h && s->klen == klen &&
            key_eq(s->key, key, klen) != 0) {
            return s;
        }
        i = ((i + 1u) == m->cap) ? 0u : (i + 1u);
    }
    return NULL; /* not reached: an empty slot ends every probe */
}

/*@ requires bmap_ok(m);
    requires m->count * 2 >= m->cap || (m->used + 1) * 4 > m->cap * 3;
    terminates \true;
    assigns m->slots, m->cap, m->used,
            \at(m->slots, Post)[0 .. \at(m->cap, Post) - 1];
    ensures bmap_ok(m) && m->count == \old(m->count);
    ensures \result == 0 || \result == -1;
    ensures \result == 0 ==> (m->count + 1) * 4 <= m->cap * 3 && m->used == m->count;
    ensures \result != 0 ==> m->slots == \old(m->slots) &&
              m->cap == \old(m->cap) && m->used == \old(m->used);
*/
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
    /* A new block (mem_spec.h): WP (Frama-C 25) does not derive this
     * separation from allocates, so it is admitted here. */
    /*@ admit new_table_apart: \separated(ns + (0 .. ncap - 1), m) &&
          (m->cap > 0 ==> \separated(ns + (0 .. ncap - 1), m->slots + (0 .. m->cap - 1)));
    */
    /*@ loop invariant 0 <= i <= m->cap;
        loop invariant \forall integer k; 0 <= k < ncap ==> ns[k].key != \null ==>
                         \valid_read(ns[k].key + (0 .. ns[k].klen - 1));
        loop assigns i, ns[0 .. ncap - 1];
        loop variant m->cap - i;
    */
    for (size_t i = 0; i < m->cap; i++) {
        struct bmap_slot *s = &m->slots[i];
        if (s->key != NULL && s->val != NULL) {
            size_t j = (size_t)(s->hash % ncap);
            /*@ loop invariant 0 <= n <= ncap && 0 <= j < ncap;
                loop assigns n, j;
                loop variant ncap - n;
            */
            for (size_t n = 0; (n < ncap) && (ns[j].key != NULL); n++) {
                j = ((j + 1u) == ncap) ? 0u : (j + 1u);
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

/*@ requires bmap_ok(m);
    requires \valid_read((uint8_t *)key + (0 .. klen - 1));
    requires val != \null;
    terminates \true;
    assigns m->slots, m->cap, m->used, m->count,
            \at(m->slots, Post)[0 .. \at(m->cap, Post) - 1];
    ensures bmap_ok(m);
    ensures \result == 0 || \result == -1;
    ensures \result == 0 ==> m->count == \old(m->count) || m->count == \old(m->count) + 1;
    ensures \result != 0 ==> m->count == \old(m->count);
*/
int bmap_put(struct bmap *m, const void *key, size_t klen, void *val)
{
    uint64_t h = bhash_bytes(key, klen);
    struct bmap_slot *s = find(m, key, klen, h);
    if (s != NULL) {
        s->key = key;
        s->val = val;
        /* Steps for the provers: the table invariant on each return path. */
        /*@ assert keys_readable: \forall integer k; 0 <= k < m->cap ==> m->slots[k].key != \null ==>
              \valid_read(m->slots[k].key + (0 .. m->slots[k].klen - 1)); */
        /*@ assert replaced: bmap_ok(m) && m->count == \at(m->count, Pre); */
        return 0;
    }
    if ((m->used + 1u) * 4u > m->cap * 3u && grow(m) != 0) {
        return -1;
    }
    size_t i = (size_t)(h % m->cap);
    /*@ loop invariant 0 <= n <= m->cap && 0 <= i < m->cap;
        loop assigns n, i;
        loop variant m->cap - n;
    */
    for (size_t n = 0; (n < m->cap) && (m->slots[i].key != NULL); n++) {
        i = ((i + 1u) == m->cap) ? 0u : (i + 1u);
    }
    m->slots[i] = (struct bmap_slot){key, klen, h, val};
    m->used++;
    m->count++;
    /* Steps for the provers: the table invariant on each return path. */
    /*@ assert load_ok: m->used * 4 <= m->cap * 3 && m->used < m->cap && m->count <= m->used; */
    /*@ assert keys_readable_2: \forall integer k; 0 <= k < m->cap ==> m->slots[k].key != \null ==>
          \valid_read(m->slots[k].key + (0 .. m->slots[k].klen - 1)); */
    /*@ assert added: bmap_ok(m) && m->count == \at(m->count, Pre) + 1; */
    return 0;
}

/*@ requires bmap_ok(m);
    requires \valid_read((uint8_t *)key + (0 .. klen - 1));
    terminates \true;
    assigns \nothing;
    ensures \result == \null ||
              (\exists integer i; 0 <= i < m->cap && live(m, i) &&
                 \result == m->slots[i].val && key_is(m->slots + i, (uint8_t *)key, klen));
*/
void *bmap_get(const struct bmap *m, const void *key, size_t klen)
{
    struct bmap_slot *s = find(m, key, klen, bhash_bytes(key, klen));
    return s != NULL ? s->val : NULL;
}

/*@ requires bmap_ok(m);
    requires \valid_read((uint8_t *)key + (0 .. klen - 1));
    terminates \true;
    assigns *m, m->slots[0 .. m->cap - 1];
    ensures bmap_ok(m);
    ensures \result == \null ==> m->count == \old(m->count);
    ensures \result != \null ==> m->count == \old(m->count) - 1 || m->count == 0;
    ensures \result == \null ||
              (\exists integer i; 0 <= i < \old(m->cap) && \old(live(m, i)) &&
                 \result == \old(m->slots[i].val) &&
                 \old(key_is(m->slots + i, (uint8_t *)key, klen)));
*/
void *bmap_del(struct bmap *m, const void *key, size_t klen)
{
    static const uint8_t tombstone_key[1]; /* any address other than NULL */
    struct bmap_slot *s = find(m, key, klen, bhash_bytes(key, klen));
    if (s == NULL) {
        return NULL;
    }
    void *v = s->val;
    //@ assert v != \null;
    /* A tombstone keeps probe chains intact. It must not keep the key: its
     * owner frees those bytes once the entry is gone, and a pointer to
     * freed memory may not even be read. */
    s->val = NULL;
    s->key = tombstone_key;
    s->klen = 0;
    /* The last entry frees the table (count >= 1 here, as an entry was
     * found; the test spares the proof counting live slots). */
    if (m->count <= 1u) {
        bmap_free(m);
    } else {
        m->count--;
    }
    return v;
}

/*@ requires bmap_ok(m) && \valid(pos) && \valid(val);
    requires \separated(pos, val, m);
    requires m->cap > 0 ==> \separated(pos, val, m->slots + (0 .. m->cap - 1));
    terminates \true;
    assigns *pos, *val;
    ensures \result == 0 || \result == 1;
    ensures \result == 1 ==> 1 <= *pos <= m->cap && live(m, *pos - 1) &&
                             *val == m->slots[*pos - 1].val;
*/
int bmap_next(const struct bmap *m, size_t *pos, void **val)
{
    /*@ loop invariant \at(*pos, Pre) <= m->cap ==> *pos <= m->cap;
        loop invariant *pos >= \at(*pos, Pre);
        loop assigns *pos;
        loop variant m->cap - *pos;
    */
    while (*pos < m->cap) {
        struct bmap_slot *s = &m->slots[(*pos)++];
        if (s->key != NULL && s->val != NULL) {
            *val = s->val;
            return 1;
        }
    }
    return 0;
}
