/* The broker's memory: counted allocation against one budget, from the C
 * library or from a preallocated buddy arena (see mem.h). */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "mem.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* Under AddressSanitizer the arena's free blocks and the slack after each
 * allocation are poisoned, so that overflows and uses after release are
 * reported as they are for the C library's blocks. */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MAGIC_USED 0x42755374u /* a block held by the broker */
#define MAGIC_FREE 0x46726565u /* an arena block on a free list */

/* The header in front of every block. */
struct mh {
    size_t size;    /* bytes counted for the block */
    uint32_t magic; /* MAGIC_USED, or MAGIC_FREE (arena) */
    uint32_t order; /* arena: the block is 2^order bytes */
};

_Static_assert(sizeof(struct mh) <= MEM_HDR, "the header fits MEM_HDR");
_Static_assert(alignof(max_align_t) <= MEM_HDR, "payloads stay aligned");

/* ---- accounting -------------------------------------------------------- */

/* The arena: a binary buddy allocator (below). */
#define MAX_ORDERS 64u
#define MAX_ROOTS 64u

struct fb;

struct arena {
    uint8_t *base; /* NULL: the C library's allocator is used */
    size_t size;   /* bytes handed out, a multiple of 2^MIN_ORDER */
    struct fb *free[MAX_ORDERS];
    /* The arena is cut into power-of-two roots, largest first, so that each
     * root's offset is a multiple of its size; blocks never merge across. */
    size_t root_off[MAX_ROOTS];
    unsigned root_order[MAX_ROOTS];
    unsigned nroots;
};

/* One broker's memory: its budget, counts and arena. */
struct mem_ctx {
    size_t limit, used, high;
    unsigned long long refusals;
    struct arena a;
};

/* busrtd's one broker (and the unit tests) use the process's context; an
 * embedded broker selects its own for the thread that runs its code
 * (mem_use), so that two brokers in one process share nothing. */
static struct mem_ctx g_process;
#if defined(__FRAMAC__)
#define MEM_TLS /* the analyses see one thread */
#else
#define MEM_TLS _Thread_local
#endif
static MEM_TLS struct mem_ctx *M = &g_process;

struct mem_ctx *mem_ctx_new(void)
{
    return calloc(1u, sizeof(struct mem_ctx));
}

void mem_ctx_free(struct mem_ctx *m)
{
    free(m);
}

struct mem_ctx *mem_use(struct mem_ctx *m)
{
    struct mem_ctx *old = M;
    M = m != NULL ? m : &g_process;
    return old;
}

static void charge(size_t n)
{
    M->used += n;
    if (M->used > M->high) {
        M->high = M->used;
    }
}

/* 1 when n more bytes keep the count within the budget. */
static int fits(size_t n)
{
    return M->limit == 0u || (n <= M->limit && M->used <= M->limit - n);
}

/* ---- arena: a binary buddy allocator -------------------------------------- */

#define MIN_ORDER 5u /* 32 bytes: a header and two free-list links */
#define SIZE_BITS (sizeof(size_t) * 8u)

struct fb {
    struct mh h;
    struct fb *next, *prev;
};

_Static_assert(sizeof(struct fb) <= (1u << MIN_ORDER), "a free block fits the smallest");


/* A free block's links are poisoned while it rests on its list, so that a
 * use after release of the block's first bytes is reported too. */
static void links_open(struct fb *f)
{
    UNPOISON(&f->next, 2u * sizeof f->next);
}

static void links_close(struct fb *f)
{
    POISON(&f->next, 2u * sizeof f->next);
}

static void fl_push(struct fb *f, unsigned order)
{
    UNPOISON(f, sizeof *f);
    f->h.size = 0;
    f->h.magic = MAGIC_FREE;
    f->h.order = order;
    f->prev = NULL;
    f->next = M->a.free[order];
    if (f->next != NULL) {
        links_open(f->next);
        f->next->prev = f;
        links_close(f->next);
    }
    M->a.free[order] = f;
    links_close(f);
}

/* Takes f off its list; its links stay open for the caller. */
static void fl_remove(struct fb *f)
{
    links_open(f);
    if (f->prev != NULL) {
        links_open(f->prev);
        f->prev->next = f->next;
        links_close(f->prev);
    } else {
        M->a.free[f->h.order] = f->next;
    }
    if (f->next != NULL) {
        links_open(f->next);
        f->next->prev = f->prev;
        links_close(f->next);
    }
    f->h.magic = 0;
}

/* The order of the root holding offset off. */
static unsigned root_order_of(size_t off)
{
    for (unsigned i = 0; i < M->a.nroots; i++) {
        if (off >= M->a.root_off[i] && off - M->a.root_off[i] < ((size_t)1 << M->a.root_order[i])) {
            return M->a.root_order[i];
        }
    }
    return 0u;
}

/* The smallest order whose blocks hold need bytes, or MAX_ORDERS. */
static unsigned order_for(size_t need)
{
    unsigned k = MIN_ORDER;
    while (k < SIZE_BITS - 1u && ((size_t)1 << k) < need) {
        k++;
    }
    return ((size_t)1 << k) >= need ? k : MAX_ORDERS;
}

static void *arena_alloc(size_t n)
{
    if (n > SIZE_MAX / 2u - MEM_HDR) {
        return NULL;
    }
    unsigned want = order_for(n + MEM_HDR);
    unsigned k = want;
    while (k < MAX_ORDERS && M->a.free[k] == NULL) {
        k++;
    }
    if (k >= MAX_ORDERS) {
        return NULL;
    }
    struct fb *f = M->a.free[k];
    fl_remove(f);
    while (k > want) { /* split: the upper half goes back on a free list */
        k--;
        fl_push((struct fb *)(void *)((uint8_t *)f + ((size_t)1 << k)), k);
    }
    size_t bsize = (size_t)1 << want;
    UNPOISON(f, MEM_HDR + n);
    POISON((uint8_t *)f + MEM_HDR + n, bsize - MEM_HDR - n);
    f->h.size = bsize;
    f->h.magic = MAGIC_USED;
    f->h.order = want;
    charge(bsize);
    return (uint8_t *)f + MEM_HDR;
}

static void arena_free(struct mh *h)
{
    unsigned order = h->order;
    size_t off = (size_t)((uint8_t *)h - M->a.base);
    unsigned top = root_order_of(off);
    M->used -= (size_t)1 << order;
    h->magic = 0;
    while (order < top) {
        size_t bud = off ^ ((size_t)1 << order);
        struct fb *bf = (struct fb *)(void *)(M->a.base + bud);
        if (bf->h.magic != MAGIC_FREE || bf->h.order != order) {
            break;
        }
        fl_remove(bf);
        off &= ~((size_t)1 << order);
        order++;
    }
    struct fb *f = (struct fb *)(void *)(M->a.base + off);
    fl_push(f, order);
    POISON((uint8_t *)f + sizeof *f, ((size_t)1 << order) - sizeof *f);
}

static int arena_init(size_t limit)
{
    size_t size = limit & ~(((size_t)1 << MIN_ORDER) - 1u);
    if (size == 0u) {
        errno = EINVAL;
        return -1;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return -1;
    }
    memset(p, 0, size); /* resident from the start */
    memset(&M->a, 0, sizeof M->a);
    M->a.base = p;
    M->a.size = size;
    size_t off = 0;
    for (unsigned k = MAX_ORDERS; k-- > MIN_ORDER;) {
        if (k < SIZE_BITS && (size & ((size_t)1 << k)) != 0u) {
            M->a.root_off[M->a.nroots] = off;
            M->a.root_order[M->a.nroots] = k;
            M->a.nroots++;
            off += (size_t)1 << k;
        }
    }
    for (unsigned i = 0; i < M->a.nroots; i++) {
        struct fb *f = (struct fb *)(void *)(M->a.base + M->a.root_off[i]);
        fl_push(f, M->a.root_order[i]);
        POISON((uint8_t *)f + sizeof *f, ((size_t)1 << M->a.root_order[i]) - sizeof *f);
    }
    return 0;
}

/* ---- the interface ------------------------------------------------------------ */

int mem_init(size_t limit, int arena)
{
    M->limit = limit;
    M->used = M->high = 0;
    M->refusals = 0;
    if (arena) {
        if (limit == 0u) {
            errno = EINVAL;
            return -1;
        }
        return arena_init(limit);
    }
    return 0;
}

void mem_shutdown(void)
{
    if (M->a.base != NULL) {
        UNPOISON(M->a.base, M->a.size);
        (void)munmap(M->a.base, M->a.size);
        memset(&M->a, 0, sizeof M->a);
    }
}

static struct mh *hdr(void *p)
{
    struct mh *h = (struct mh *)(void *)((uint8_t *)p - MEM_HDR);
    if (h->magic != MAGIC_USED) {
        abort(); /* not a block of ours, or released twice */
    }
    return h;
}

void *mem_alloc(size_t n)
{
    size_t c = mem_charge(n);
    if (c == SIZE_MAX || !fits(c)) {
        M->refusals++;
        return NULL;
    }
    if (M->a.base != NULL) {
        void *p = arena_alloc(n);
        if (p == NULL) {
            M->refusals++; /* no free block large enough (fragmentation) */
        }
        return p;
    }
    struct mh *h = malloc(c);
    if (h == NULL) {
        return NULL;
    }
    h->size = c;
    h->magic = MAGIC_USED;
    h->order = 0;
    charge(c);
    return (uint8_t *)h + MEM_HDR;
}

void *mem_calloc(size_t n, size_t size)
{
    if (size != 0u && n > SIZE_MAX / size) {
        return NULL;
    }
    void *p = mem_alloc(n * size);
    if (p != NULL) {
        memset(p, 0, n * size);
    }
    return p;
}

void mem_free(void *p)
{
    if (p == NULL) {
        return;
    }
    struct mh *h = hdr(p);
    if (M->a.base != NULL) {
        arena_free(h);
        return;
    }
    M->used -= h->size;
    h->magic = 0;
    free(h);
}

void *mem_realloc(void *p, size_t n)
{
    if (p == NULL) {
        return mem_alloc(n);
    }
    struct mh *h = hdr(p);
    size_t c = mem_charge(n);
    if (c == SIZE_MAX) {
        M->refusals++;
        return NULL;
    }
    if (M->a.base != NULL) {
        size_t cap = h->size - MEM_HDR;
        if (c <= h->size) { /* the block still holds n bytes */
            UNPOISON(p, n);
            POISON((uint8_t *)p + n, cap - n);
            return p;
        }
        void *q = mem_alloc(n);
        if (q == NULL) {
            return NULL;
        }
        UNPOISON(p, cap);
        memcpy(q, p, cap < n ? cap : n);
        mem_free(p);
        return q;
    }
    if (c > h->size && !fits(c - h->size)) {
        M->refusals++;
        return NULL;
    }
    size_t old = h->size;
    struct mh *nh = realloc(h, c);
    if (nh == NULL) {
        return NULL;
    }
    nh->size = c;
    M->used -= old;
    charge(c);
    return (uint8_t *)nh + MEM_HDR;
}

char *mem_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = mem_alloc(len + 1u);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

char *mem_strdup(const char *s)
{
    return mem_strndup(s, SIZE_MAX);
}

size_t mem_limit(void)
{
    return M->limit;
}

size_t mem_used(void)
{
    return M->used;
}

size_t mem_high_water(void)
{
    return M->high;
}

unsigned long long mem_refusals(void)
{
    return M->refusals;
}

size_t mem_charge(size_t n)
{
    if (n > SIZE_MAX / 2u - MEM_HDR) {
        return SIZE_MAX;
    }
    if (M->a.base != NULL) {
        unsigned k = order_for(n + MEM_HDR);
        return k < MAX_ORDERS ? (size_t)1 << k : SIZE_MAX;
    }
    return n + MEM_HDR;
}

int mem_is_arena(void)
{
    return M->a.base != NULL;
}
