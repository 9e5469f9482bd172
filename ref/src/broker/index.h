/* Routing indexes: a tree per topic chunk for subscriptions, and a tree
 * per name chunk for broadcast masks. A lookup visits only tree paths the
 * topic or mask can match, so its cost follows the matches, not the table.
 * The results equal what busrt_topic_matches / busrt_mask_matches decide
 * for every stored entry (tests compare them). Walks and frees are
 * iterative: the depth of a tree never reaches the C stack.
 *
 * Clients are opaque here: the index keeps the pointer for its visitor and
 * keys a subscription by the client's id. */
#ifndef BUSRTD_INDEX_H
#define BUSRTD_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct client;

/* Receives each matching client; may be called for the same client more
 * than once (the caller de-duplicates). */
typedef void (*index_visit_fn)(void *ctx, struct client *c);

struct tnode;
struct topic_index {
    struct tnode *root;
};

void topic_index_init(struct topic_index *ix);
void topic_index_free(struct topic_index *ix);
/* Adds one subscription of client c (whose id is id) to pattern.
 * Subscriptions are counted, so two patterns that select the same tree
 * node (`a/#` and `a/#/b`) both need removing. Returns 0, or -1 when
 * memory is exhausted (nothing added). */
int topic_index_add(struct topic_index *ix, const uint8_t *pat, size_t len, uint64_t id,
                    struct client *c);
/* Removes one subscription of the client with this id to pattern (which
 * must have been added). */
void topic_index_remove(struct topic_index *ix, const uint8_t *pat, size_t len, uint64_t id);
/* Visits every client with a subscription matching topic. Returns 0, or -1
 * when the walk could not allocate its stack (nothing reliable visited). */
int topic_index_match(const struct topic_index *ix, const uint8_t *topic, size_t len,
                      index_visit_fn fn, void *ctx);

struct nnode;
struct name_index {
    struct nnode *root;
};

void name_index_init(struct name_index *ix);
void name_index_free(struct name_index *ix);
int name_index_add(struct name_index *ix, const uint8_t *name, size_t len,
                   struct client *c);
void name_index_remove(struct name_index *ix, const uint8_t *name, size_t len);
/* Visits every client whose name the mask matches. Returns 0 or -1. */
int name_index_match(const struct name_index *ix, const uint8_t *mask, size_t len,
                     index_visit_fn fn, void *ctx);

#endif
