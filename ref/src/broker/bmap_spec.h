/* ACSL specification of the broker's hash map (bmap.c). Comments only for
 * the C compiler. */
#ifndef BUSRTD_BMAP_SPEC_H
#define BUSRTD_BMAP_SPEC_H

#include "bmap.h"

/*@ // Slot i holds a live entry.
    predicate live{L}(struct bmap *m, integer i) =
      m->slots[i].key != \null && m->slots[i].val != \null;

    // The key of slot s is the n bytes at k.
    predicate key_is{L}(struct bmap_slot *s, uint8_t *k, integer n) =
      s->klen == n && (\forall integer j; 0 <= j < n ==> s->key[j] == k[j]);

    // The table invariant: a valid table apart from the map header while it
    // has slots, live entries at most the used slots, an empty slot always
    // left (used < cap, which ends every probe), never one slot (cap is 0
    // or a power of two), the load bound of bmap_put,
    // and every key readable.
    predicate bmap_ok{L}(struct bmap *m) =
      \valid(m) &&
      m->cap <= SIZE_MAX / sizeof(struct bmap_slot) && m->cap != 1 &&
      (m->cap == 0 ==> m->used == 0 && m->count == 0) &&
      (m->cap > 0 ==> \valid(m->slots + (0 .. m->cap - 1)) &&
                      \separated(m, m->slots + (0 .. m->cap - 1)) &&
                      m->used < m->cap && m->used * 4 <= m->cap * 3) &&
      m->count <= m->used &&
      (\forall integer i; 0 <= i < m->cap ==> m->slots[i].key != \null ==>
         \valid_read(m->slots[i].key + (0 .. m->slots[i].klen - 1)));
*/

#endif
