/* Client registry: names (primaries and their secondaries) and each
 * client's subscriptions and exclusions, kept in step with the indexes. */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "bmap.h"
#include "broker.h"
#include "busrt/codes.h"
#include "busrt/match.h"
#include "conn.h"
#include "coreapi.h"
#include "index.h"
#include "log.h"
#include "mem.h"

struct pat {
    size_t len;
    uint8_t data[]; /* the pattern bytes; the key in the client's map */
};

struct client *registry_get(struct broker *b, const uint8_t *name, size_t len)
{
    return bmap_get(&b->names, name, len);
}

/* Finds the access control entry that governs c (by its primary name);
 * 1 when that entry admits c's connection. */
static int acl_admits(const struct acl *a, struct client *c)
{
    c->acl = acl_find(a, c->name, c->primary_len);
    return c->acl != NULL && acl_peer_ok(c->acl, &c->peer);
}

int registry_add(struct broker *b, struct client *c, uint8_t *code)
{
    struct client *primary = NULL;
    if (b->acl != NULL && c->kind != KIND_INTERNAL && !acl_admits(b->acl, c)) {
        *code = BUSRT_RC_ACCESS;
        return -1;
    }
    if (c->primary_len < c->name_len) {
        primary = registry_get(b, c->name, c->primary_len);
        if (primary == NULL || primary->primary != NULL) {
            *code = BUSRT_RC_NOT_REGISTERED;
            return -1;
        }
    }
    struct client *old = registry_get(b, c->name, c->name_len);
    if (old != NULL) {
        if (!b->cfg.force_register || old->kind == KIND_INTERNAL) {
            *code = BUSRT_RC_BUSY;
            return -1;
        }
        client_kill(b, old, "replaced by a new registration (--force-register)");
    }
    if (bmap_put(&b->names, c->name, c->name_len, c) != 0) {
        *code = BUSRT_RC_OTHER;
        return -1;
    }
    if (name_index_add(&b->bnames, c->name, c->name_len, c) != 0) {
        (void)bmap_del(&b->names, c->name, c->name_len);
        *code = BUSRT_RC_OTHER;
        return -1;
    }
    c->registered = 1;
    if (primary != NULL) {
        c->primary = primary;
        c->next_secondary = primary->secondary;
        primary->secondary = c;
    }
    if (c->kind != KIND_INTERNAL &&
        sub_add(b, c, (const uint8_t *)COREAPI_WARN_TOPIC, COREAPI_WARN_TOPIC_LEN) != 0) {
        registry_remove(b, c);
        *code = BUSRT_RC_OTHER;
        return -1;
    }
    log_info("client %s registered (%s%s%s)", client_label(c),
             c->kind == KIND_TCP ? "tcp " : c->kind == KIND_UNIX ? "unix" : "internal",
             c->source != NULL ? c->source : "", primary != NULL ? ", secondary" : "");
    if (primary == NULL) {
        coreapi_announce(b, c, 1);
    }
    return 0;
}

static void free_patterns(struct bmap *m, struct broker *b, struct client *c, int indexed)
{
    void *v;
    for (size_t i = 0; bmap_next(m, &i, &v);) {
        struct pat *p = v;
        if (indexed) {
            topic_index_remove(&b->topics, p->data, p->len, c->id);
        }
        mem_free(p);
    }
    bmap_free(m);
}

void registry_remove(struct broker *b, struct client *c)
{
    if (!c->registered) {
        return;
    }
    c->registered = 0;
    (void)bmap_del(&b->names, c->name, c->name_len);
    name_index_remove(&b->bnames, c->name, c->name_len);
    free_patterns(&c->subs, b, c, 1);
    free_patterns(&c->excls, b, c, 0);
    if (c->primary != NULL) {
        struct client **pp = &c->primary->secondary;
        while (*pp != NULL && *pp != c) {
            pp = &(*pp)->next_secondary;
        }
        if (*pp == c) {
            *pp = c->next_secondary;
        }
        c->primary = NULL;
        c->next_secondary = NULL;
    } else if (c->kind != KIND_INTERNAL) {
        coreapi_announce(b, c, 0);
    }
}

static struct pat *pat_new(const uint8_t *p, size_t len)
{
    struct pat *x = mem_alloc(sizeof *x + len + 1u);
    if (x != NULL) {
        x->len = len;
        if (len > 0) {
            memcpy(x->data, p, len);
        }
        x->data[len] = 0;
    }
    return x;
}

/* Stores a copy of pattern p in m (c's subs or excls) when c's limits
 * allow: at most max entries (the option max_opt) and --max-topic-len
 * bytes. Returns the copy, or NULL when refused (logged, naming the limit)
 * or out of memory. */
static struct pat *pat_put(struct broker *b, struct client *c, struct bmap *m,
                           const char *what, size_t max, const char *max_opt,
                           const uint8_t *p, size_t len)
{
    if (m->count >= max) {
        log_warn("client %s: %s refused: %s %zu reached", client_label(c), what, max_opt,
                 max);
        return NULL;
    }
    if (len > b->cfg.max_topic_len) {
        log_warn("client %s: %s of %zu bytes refused: --max-topic-len %zu",
                 client_label(c), what, len, b->cfg.max_topic_len);
        return NULL;
    }
    struct pat *x = pat_new(p, len);
    if (x == NULL || bmap_put(m, x->data, len, x) != 0) {
        mem_free(x);
        return NULL;
    }
    return x;
}

int sub_add(struct broker *b, struct client *c, const uint8_t *p, size_t len)
{
    if (bmap_get(&c->subs, p, len) != NULL) {
        return 0; /* idempotent */
    }
    struct pat *x = pat_put(b, c, &c->subs, "subscription", b->cfg.max_subscriptions,
                            "--max-subscriptions", p, len);
    if (x == NULL) {
        return -1;
    }
    if (topic_index_add(&b->topics, x->data, len, c->id, c) != 0) {
        (void)bmap_del(&c->subs, x->data, len);
        mem_free(x);
        return -1;
    }
    return 0;
}

void sub_del(struct broker *b, struct client *c, const uint8_t *p, size_t len)
{
    struct pat *x = bmap_del(&c->subs, p, len);
    if (x != NULL) {
        topic_index_remove(&b->topics, x->data, x->len, c->id);
        mem_free(x);
    }
}

int excl_add(struct broker *b, struct client *c, const uint8_t *p, size_t len)
{
    if (bmap_get(&c->excls, p, len) != NULL) {
        return 0;
    }
    return pat_put(b, c, &c->excls, "exclusion", b->cfg.max_exclusions, "--max-exclusions",
                   p, len) != NULL ? 0 : -1;
}

void excl_del(struct broker *b, struct client *c, const uint8_t *p, size_t len)
{
    (void)b;
    mem_free(bmap_del(&c->excls, p, len));
}

int registry_matches(const struct bmap *set, const uint8_t *topic, size_t len)
{
    void *v;
    for (size_t i = 0; bmap_next(set, &i, &v);) {
        const struct pat *x = v;
        if (busrt_topic_matches(x->data, x->len, topic, len) == 1) {
            return 1;
        }
    }
    return 0;
}

int registry_recheck_acl(struct broker *b, struct client *c)
{
    if (!acl_admits(b->acl, c)) {
        return -1;
    }
    void *v;
    for (size_t i = 0; bmap_next(&c->subs, &i, &v);) {
        const struct pat *x = v;
        int automatic = x->len == COREAPI_WARN_TOPIC_LEN &&
                        memcmp(x->data, COREAPI_WARN_TOPIC, x->len) == 0;
        if (!automatic && !acl_allows(c->acl, ACL_SUBSCRIBE, x->data, x->len)) {
            log_warn("client %s: subscription '%.*s' no longer allowed; removed",
                     client_label(c), x->len > 128u ? 128 : (int)x->len,
                     (const char *)x->data);
            sub_del(b, c, x->data, x->len); /* tombstones keep the iteration valid */
        }
    }
    return 0;
}
