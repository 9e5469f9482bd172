#include "timer.h"
#include "mem.h"

#include <stdlib.h>

int timers_reserve(struct timers *h)
{
    if (h->n < h->cap) {
        return 0;
    }
    size_t nc = h->cap == 0u ? 64u : h->cap * 2u;
    struct timer **nv = mem_realloc(h->v, nc * sizeof *nv);
    if (nv == NULL) {
        return -1;
    }
    h->v = nv;
    h->cap = nc;
    return 0;
}

static void place(struct timers *h, size_t i, struct timer *t)
{
    h->v[i] = t;
    t->pos = i + 1u;
}

static void up(struct timers *h, size_t i)
{
    struct timer *t = h->v[i];
    while (i > 0u) {
        size_t parent = (i - 1u) / 2u;
        if (h->v[parent]->at <= t->at) {
            break;
        }
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void down(struct timers *h, size_t i)
{
    struct timer *t = h->v[i];
    for (;;) {
        size_t c = 2u * i + 1u;
        if (c >= h->n) {
            break;
        }
        if (c + 1u < h->n && h->v[c + 1u]->at < h->v[c]->at) {
            c++;
        }
        if (t->at <= h->v[c]->at) {
            break;
        }
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

void timers_set(struct timers *h, struct timer *t, int64_t at)
{
    if (t->pos == 0u) {
        t->at = at;
        place(h, h->n, t); /* room reserved by the caller */
        h->n++;
        up(h, h->n - 1u);
        return;
    }
    int64_t old = t->at;
    t->at = at;
    if (at < old) {
        up(h, t->pos - 1u);
    } else {
        down(h, t->pos - 1u);
    }
}

void timers_lower(struct timers *h, struct timer *t, int64_t at)
{
    if (t->pos == 0u || at < t->at) {
        timers_set(h, t, at);
    }
}

void timers_remove(struct timers *h, struct timer *t)
{
    if (t->pos == 0u) {
        return;
    }
    size_t i = t->pos - 1u;
    t->pos = 0;
    h->n--;
    if (i == h->n) {
        return;
    }
    struct timer *last = h->v[h->n];
    place(h, i, last);
    if (i > 0u && h->v[(i - 1u) / 2u]->at > last->at) {
        up(h, i);
    } else {
        down(h, i);
    }
}

struct timer *timers_first(const struct timers *h)
{
    return h->n > 0u ? h->v[0] : NULL;
}

void timers_free(struct timers *h)
{
    mem_free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
