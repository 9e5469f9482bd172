/* Per-client subscriptions and exclusions (registry.c). Each add enforces
 * the configured limits and logs a refusal naming the client and limit. */
#ifndef BUSRTD_REGISTRY_H
#define BUSRTD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct client;

/* Returns 0 (also when already present), or -1 when refused by a limit or
 * out of memory. */
int sub_add(struct broker *b, struct client *c, const uint8_t *p, size_t len);
void sub_del(struct broker *b, struct client *c, const uint8_t *p, size_t len);
int excl_add(struct broker *b, struct client *c, const uint8_t *p, size_t len);
void excl_del(struct broker *b, struct client *c, const uint8_t *p, size_t len);
/* 1 when one of c's exclusions matches topic. */
int excluded(const struct client *c, const uint8_t *topic, size_t len);
/* The pattern of an entry of a client's subs or excls map. */
const uint8_t *sub_pattern(const void *entry);
size_t sub_pattern_len(const void *entry);
/* 1 when one of c's subscriptions matches topic. */
int subscribed(const struct client *c, const uint8_t *topic, size_t len);

#endif
