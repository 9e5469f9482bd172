/* Included (-include) in every file of the broker Eva analyses except
 * mem.c (proofs/eva-broker.sh defines EVA_MEM_SELF there): each call of
 * mem.c's allocator becomes a call of the libc allocator at the same
 * place, so that Eva gives each allocation site (call stack) its own base
 * and does not merge every object of the broker into the blocks of
 * mem_alloc's one malloc call (proofs/README.md says why this is sound). */
#ifndef EVA_ALLOC_H
#define EVA_ALLOC_H
#ifndef EVA_MEM_SELF
#include <stdlib.h>
#include <string.h>
#define mem_alloc(n) malloc(n)
#define mem_calloc(n, size) calloc((n), (size))
#define mem_realloc(p, n) realloc((p), (n))
#define mem_free(p) free(p)
#define mem_strdup(s) strdup(s)
#define mem_strndup(s, n) strndup((s), (n))
#endif
#endif
