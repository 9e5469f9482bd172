/* The broker's memory (mem.c): every allocation of busrtd goes through
 * these functions, which count what is held in bytes against one budget
 * (--memory-limit) and keep its high-water mark.
 *
 * Two backends:
 *   - the C library's allocator (the default): each block carries a
 *     MEM_HDR-byte header that records its size; a block of n bytes counts
 *     n + MEM_HDR. With a limit, an allocation that would take the count
 *     past it fails (NULL) without asking the C library;
 *   - an arena (--preallocate): the whole budget is reserved and touched
 *     at start-up, then handed out by a binary buddy allocator (blocks of
 *     2^k bytes, k >= 5, the header included; allocation and release in
 *     O(log(limit)), neighbouring free blocks coalesce). A block counts its
 *     power-of-two size, so internal fragmentation (at most half of a
 *     block) is charged to the budget too. After mem_init nothing here
 *     calls the C library's allocator.
 *
 * The functions behave as malloc, calloc, realloc and free do (a failed
 * realloc leaves the block as it was); mem_free(NULL) does nothing.
 *
 * Contexts: the budget, its counts and the arena belong to a context, and
 * every function works on the context the calling thread selected with
 * mem_use (the process's own context until then). busrtd has one broker
 * and uses the process's context; an embedded broker (lib.c) has its own
 * and selects it whenever a thread enters its code. A context is used by
 * one thread at a time (the broker's lock). */
#ifndef BUSRTD_MEM_H
#define BUSRTD_MEM_H

#include <stddef.h>

struct mem_ctx;

/* A new context (no budget, no arena; from the C library), or NULL. */
struct mem_ctx *mem_ctx_new(void);
/* Frees a context (after mem_shutdown with it selected). */
void mem_ctx_free(struct mem_ctx *m);
/* Selects m (NULL: the process's context) for the calling thread; returns
 * the context selected before. */
struct mem_ctx *mem_use(struct mem_ctx *m);

/* Bytes of bookkeeping in front of every block. */
#define MEM_HDR 16u

/* Sets the budget (0: none) and, with arena, reserves and touches it.
 * Returns 0, or -1 when the arena cannot be reserved (errno set). May be
 * called once more after mem_shutdown (tests). */
int mem_init(size_t limit, int arena);
/* Releases the arena (blocks still held become invalid). */
void mem_shutdown(void);

void *mem_alloc(size_t n);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
/* Copies of a string, and of at most n bytes of one, NUL-terminated. */
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);

/* The budget (0: none), the bytes counted now, the most ever counted. */
size_t mem_limit(void);
size_t mem_used(void);
size_t mem_high_water(void);
/* Allocations refused so far because of the budget. */
unsigned long long mem_refusals(void);
/* What an allocation of n bytes counts (SIZE_MAX when it cannot be). */
size_t mem_charge(size_t n);
/* 1 with the arena backend. */
int mem_is_arena(void);

#endif
