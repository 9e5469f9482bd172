/* Routing indexes (index.h). Chunks are split with the proved core's
 * busrt_chunk_end and busrt_chunk_is, the walk the matchers use. */
#include "index.h"

#include <stdlib.h>
#include <string.h>

#include "bmap.h"
#include "busrt/match.h"
#include "mem.h"

/* ---- shared: an explicit stack ------------------------------------------ */

struct frame {
    void *node;
    size_t pos; /* next chunk offset; len + 1: no chunk left; SIZE_MAX: collect */
};

struct stack {
    struct frame *v;
    size_t n, cap;
};

static int push(struct stack *st, void *node, size_t pos)
{
    if (st->n == st->cap) {
        size_t ncap = st->cap == 0 ? 32u : st->cap * 2u;
        struct frame *nv = mem_realloc(st->v, ncap * sizeof *nv);
        if (nv == NULL) {
            return -1;
        }
        st->v = nv;
        st->cap = ncap;
    }
    st->v[st->n++] = (struct frame){node, pos};
    return 0;
}

/* ---- topic index ------------------------------------------------------------ */

struct cref {
    uint64_t key; /* client id: the set's key bytes */
    struct client *c;
    size_t n;
};

struct tnode {
    struct tnode *parent;
    uint8_t *chunk; /* key in parent->children; NULL for root and '+' nodes */
    size_t clen;
    struct bmap children;
    struct tnode *plus;
    struct bmap exact; /* subscriptions ending here */
    struct bmap hash;  /* subscriptions with '#' at this level */
    size_t weight;     /* subscriptions at or below this node */
};

static struct tnode *tnode_new(struct tnode *parent, const uint8_t *chunk, size_t clen,
                               int literal)
{
    struct tnode *n = mem_calloc(1, sizeof *n);
    if (n == NULL) {
        return NULL;
    }
    n->parent = parent;
    if (literal) {
        n->chunk = mem_alloc(clen + 1u);
        if (n->chunk == NULL) {
            mem_free(n);
            return NULL;
        }
        if (clen > 0) {
            memcpy(n->chunk, chunk, clen);
        }
        n->clen = clen;
    }
    return n;
}

static void cset_free(struct bmap *m)
{
    void *v;
    for (size_t i = 0; bmap_next(m, &i, &v);) {
        mem_free(v);
    }
    bmap_free(m);
}

/* Frees n and every node below it. Iterative, as the walks are: a tree is
 * as deep as a pattern has chunks (--max-topic-len allows 16 MiB). The
 * nodes still to free are chained through their parent links, which
 * nothing reads any more. */
static void tnode_free(struct tnode *n)
{
    n->parent = NULL;
    while (n != NULL) {
        struct tnode *todo = n->parent;
        void *v;
        for (size_t i = 0; bmap_next(&n->children, &i, &v);) {
            struct tnode *child = v;
            child->parent = todo;
            todo = child;
        }
        if (n->plus != NULL) {
            n->plus->parent = todo;
            todo = n->plus;
        }
        bmap_free(&n->children);
        cset_free(&n->exact);
        cset_free(&n->hash);
        mem_free(n->chunk);
        mem_free(n);
        n = todo;
    }
}

void topic_index_init(struct topic_index *ix)
{
    ix->root = NULL;
}

void topic_index_free(struct topic_index *ix)
{
    if (ix->root != NULL) {
        tnode_free(ix->root);
    }
    ix->root = NULL;
}

/* Unlinks and frees empty nodes from n upwards. */
static void prune(struct topic_index *ix, struct tnode *n)
{
    while (n != NULL && n->weight == 0) {
        struct tnode *p = n->parent;
        if (p == NULL) {
            ix->root = NULL;
        } else if (p->plus == n) {
            p->plus = NULL;
        } else {
            (void)bmap_del(&p->children, n->chunk, n->clen);
        }
        tnode_free(n);
        n = p;
    }
}

/* The set a pattern's subscriptions live in; creates nodes when create. */
static struct bmap *pattern_set(struct topic_index *ix, const uint8_t *pat, size_t len,
                                int create, struct tnode **last)
{
    if (ix->root == NULL) {
        if (!create || (ix->root = tnode_new(NULL, NULL, 0, 0)) == NULL) {
            return NULL;
        }
    }
    struct tnode *n = ix->root;
    size_t pos = 0;
    for (;;) {
        *last = n;
        size_t e = busrt_chunk_end(pat, len, pos, '/');
        if (busrt_chunk_is(pat, pos, e, '#')) {
            return &n->hash;
        }
        struct tnode *child;
        if (busrt_chunk_is(pat, pos, e, '+')) {
            child = n->plus;
        } else {
            child = bmap_get(&n->children, pat + pos, e - pos);
        }
        if (child == NULL) {
            if (!create) {
                return NULL;
            }
            int literal = !busrt_chunk_is(pat, pos, e, '+');
            child = tnode_new(n, pat + pos, e - pos, literal);
            if (child == NULL) {
                return NULL;
            }
            if (!literal) {
                n->plus = child;
            } else if (bmap_put(&n->children, child->chunk, child->clen, child) != 0) {
                tnode_free(child);
                return NULL;
            }
        }
        n = child;
        if (e == len) {
            *last = n;
            return &n->exact;
        }
        pos = e + 1u;
    }
}

int topic_index_add(struct topic_index *ix, const uint8_t *pat, size_t len, uint64_t id,
                    struct client *c)
{
    struct tnode *last = NULL;
    struct bmap *set = pattern_set(ix, pat, len, 1, &last);
    struct cref *r = set != NULL ? bmap_get(set, &id, sizeof id) : NULL;
    if (set != NULL && r == NULL) {
        r = mem_calloc(1, sizeof *r);
        if (r != NULL) {
            r->key = id;
            r->c = c;
            if (bmap_put(set, &r->key, sizeof r->key, r) != 0) {
                mem_free(r);
                r = NULL;
            }
        }
    }
    if (r == NULL) {
        if (last != NULL) {
            prune(ix, last); /* drop nodes created for nothing */
        }
        return -1;
    }
    r->n++;
    for (struct tnode *n = last; n != NULL; n = n->parent) {
        n->weight++;
    }
    return 0;
}

void topic_index_remove(struct topic_index *ix, const uint8_t *pat, size_t len, uint64_t id)
{
    struct tnode *last = NULL;
    struct bmap *set = pattern_set(ix, pat, len, 0, &last);
    struct cref *r = set != NULL ? bmap_get(set, &id, sizeof id) : NULL;
    if (r == NULL) {
        return;
    }
    if (--r->n == 0) {
        (void)bmap_del(set, &r->key, sizeof r->key);
        mem_free(r);
    }
    for (struct tnode *n = last; n != NULL; n = n->parent) {
        n->weight--;
    }
    prune(ix, last);
}

static void visit_set(const struct bmap *m, index_visit_fn fn, void *ctx)
{
    void *v;
    for (size_t i = 0; bmap_next(m, &i, &v);) {
        fn(ctx, ((struct cref *)v)->c);
    }
}

int topic_index_match(const struct topic_index *ix, const uint8_t *topic, size_t len,
                      index_visit_fn fn, void *ctx)
{
    struct stack st = {NULL, 0, 0};
    int rc = 0;
    if (ix->root == NULL) {
        return 0;
    }
    if (push(&st, ix->root, 0) != 0) {
        return -1;
    }
    while (st.n > 0) {
        struct frame f = st.v[--st.n];
        struct tnode *n = f.node;
        if (f.pos > len) {
            visit_set(&n->exact, fn, ctx);
            continue;
        }
        visit_set(&n->hash, fn, ctx); /* '#' needs one or more chunks: here */
        size_t e = busrt_chunk_end(topic, len, f.pos, '/');
        size_t next = e + 1u; /* len + 1 after the last chunk */
        struct tnode *child = bmap_get(&n->children, topic + f.pos, e - f.pos);
        if ((child != NULL && push(&st, child, next) != 0) ||
            (n->plus != NULL && push(&st, n->plus, next) != 0)) {
            rc = -1;
            break;
        }
    }
    mem_free(st.v);
    return rc;
}

/* ---- name index --------------------------------------------------------------- */

struct nnode {
    struct nnode *parent;
    uint8_t *chunk;
    size_t clen;
    struct bmap children;
    struct client *c; /* the client with exactly this name, if any */
    size_t weight;
};

/* Frees n and every node below it, iteratively as tnode_free does (a name
 * of 65535 bytes can have 32768 chunks). */
static void nnode_free(struct nnode *n)
{
    n->parent = NULL;
    while (n != NULL) {
        struct nnode *todo = n->parent;
        void *v;
        for (size_t i = 0; bmap_next(&n->children, &i, &v);) {
            struct nnode *child = v;
            child->parent = todo;
            todo = child;
        }
        bmap_free(&n->children);
        mem_free(n->chunk);
        mem_free(n);
        n = todo;
    }
}

void name_index_init(struct name_index *ix)
{
    ix->root = NULL;
}

void name_index_free(struct name_index *ix)
{
    if (ix->root != NULL) {
        nnode_free(ix->root);
    }
    ix->root = NULL;
}

static void nprune(struct name_index *ix, struct nnode *n)
{
    while (n != NULL && n->weight == 0) {
        struct nnode *p = n->parent;
        if (p == NULL) {
            ix->root = NULL;
        } else {
            (void)bmap_del(&p->children, n->chunk, n->clen);
        }
        nnode_free(n);
        n = p;
    }
}

int name_index_add(struct name_index *ix, const uint8_t *name, size_t len,
                   struct client *c)
{
    if (ix->root == NULL && (ix->root = mem_calloc(1, sizeof *ix->root)) == NULL) {
        return -1;
    }
    struct nnode *n = ix->root;
    size_t pos = 0;
    for (;;) {
        size_t e = busrt_chunk_end(name, len, pos, '.');
        struct nnode *child = bmap_get(&n->children, name + pos, e - pos);
        if (child == NULL) {
            child = mem_calloc(1, sizeof *child);
            uint8_t *chunk = mem_alloc(e - pos + 1u);
            if (child == NULL || chunk == NULL) {
                mem_free(child);
                mem_free(chunk);
                nprune(ix, n);
                return -1;
            }
            if (e > pos) {
                memcpy(chunk, name + pos, e - pos);
            }
            child->chunk = chunk;
            child->clen = e - pos;
            child->parent = n;
            if (bmap_put(&n->children, child->chunk, child->clen, child) != 0) {
                nnode_free(child);
                nprune(ix, n);
                return -1;
            }
        }
        n = child;
        if (e == len) {
            break;
        }
        pos = e + 1u;
    }
    n->c = c;
    for (; n != NULL; n = n->parent) {
        n->weight++;
    }
    return 0;
}

static struct nnode *name_node(const struct name_index *ix, const uint8_t *name, size_t len)
{
    struct nnode *n = ix->root;
    size_t pos = 0;
    while (n != NULL) {
        size_t e = busrt_chunk_end(name, len, pos, '.');
        n = bmap_get(&n->children, name + pos, e - pos);
        if (e == len) {
            break;
        }
        pos = e + 1u;
    }
    return n;
}

void name_index_remove(struct name_index *ix, const uint8_t *name, size_t len)
{
    struct nnode *n = name_node(ix, name, len);
    if (n == NULL || n->c == NULL) {
        return;
    }
    n->c = NULL;
    for (struct nnode *p = n; p != NULL; p = p->parent) {
        p->weight--;
    }
    nprune(ix, n);
}

int name_index_match(const struct name_index *ix, const uint8_t *mask, size_t len,
                     index_visit_fn fn, void *ctx)
{
    struct stack st = {NULL, 0, 0};
    int rc = 0;
    if (ix->root == NULL) {
        return 0;
    }
    if (push(&st, ix->root, 0) != 0) {
        return -1;
    }
    while (st.n > 0 && rc == 0) {
        struct frame f = st.v[--st.n];
        struct nnode *n = f.node;
        void *v;
        if (f.pos == SIZE_MAX) { /* below a '*': every client counts */
            if (n->c != NULL) {
                fn(ctx, n->c);
            }
            for (size_t i = 0; rc == 0 && bmap_next(&n->children, &i, &v);) {
                rc = push(&st, v, SIZE_MAX);
            }
            continue;
        }
        if (f.pos > len) {
            if (n->c != NULL) {
                fn(ctx, n->c);
            }
            continue;
        }
        size_t e = busrt_chunk_end(mask, len, f.pos, '.');
        if (busrt_chunk_is(mask, f.pos, e, '*')) {
            for (size_t i = 0; rc == 0 && bmap_next(&n->children, &i, &v);) {
                rc = push(&st, v, SIZE_MAX); /* one or more chunks */
            }
        } else if (busrt_chunk_is(mask, f.pos, e, '?')) {
            for (size_t i = 0; rc == 0 && bmap_next(&n->children, &i, &v);) {
                rc = push(&st, v, e + 1u);
            }
        } else {
            struct nnode *child = bmap_get(&n->children, mask + f.pos, e - f.pos);
            if (child != NULL) {
                rc = push(&st, child, e + 1u);
            }
        }
    }
    mem_free(st.v);
    return rc;
}
