/* Client registry (registry.c): registered names (primaries and their
 * secondaries, kept in step with the name index) and each client's
 * subscriptions and exclusions (kept in step with the topic index). Each
 * add enforces the configured limits and logs a refusal naming the client
 * and the limit. */
#ifndef BUSRTD_REGISTRY_H
#define BUSRTD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct bmap;
struct broker;
struct client;

/* Registers c under its name: access control, the primary of a secondary,
 * a name in use (--force-register replaces its holder), the automatic
 * subscription to .broker/warn. Returns 0, or -1 with the refusal's
 * result code in *code. */
int registry_add(struct broker *b, struct client *c, uint8_t *code);
/* Unregisters c (when registered) and drops its subscriptions and
 * exclusions; a primary's unregistration is announced. */
void registry_remove(struct broker *b, struct client *c);
/* The registered client with this name, or NULL. */
struct client *registry_get(struct broker *b, const uint8_t *name, size_t len);
/* Re-checks registered client c against access control rules just loaded.
 * Returns -1 when no entry admits it any more (the caller drops it); else
 * 0, after removing (and logging) each subscription its entry no longer
 * allows. */
int registry_recheck_acl(struct broker *b, struct client *c);

/* Returns 0 (also when already present), or -1 when refused by a limit or
 * out of memory. */
int sub_add(struct broker *b, struct client *c, const uint8_t *p, size_t len);
void sub_del(struct broker *b, struct client *c, const uint8_t *p, size_t len);
int excl_add(struct broker *b, struct client *c, const uint8_t *p, size_t len);
void excl_del(struct broker *b, struct client *c, const uint8_t *p, size_t len);
/* 1 when one of the patterns of set (a client's subs or excls) matches
 * topic. */
int registry_matches(const struct bmap *set, const uint8_t *topic, size_t len);

#endif
