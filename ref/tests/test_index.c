/* The broker's routing indexes must select exactly the receivers that the
 * proved matchers define: checked on the spec vectors and on random tables
 * of clients, subscriptions, names and masks, with adds and removes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/broker/broker.h"
#include "../src/broker/index.h"
#include "busrt/match.h"

#define MAXC 64

struct hits {
    int n[MAXC + 1];
};

static void count_hit(void *ctx, struct client *c)
{
    struct hits *h = ctx;
    assert_true(c->id <= MAXC);
    h->n[c->id]++;
}

static struct client *clients_new(size_t n)
{
    struct client *v = calloc(n + 1u, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i <= n; i++) {
        v[i].id = i;
    }
    return v;
}

static const char *vectors_dir(void)
{
    const char *d = getenv("BUSRT_VECTORS_DIR");
    return d != NULL ? d : "spec/vectors";
}

static json_t *load(const char *file)
{
    char path[1024];
    (void)snprintf(path, sizeof path, "%s/%s", vectors_dir(), file);
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    if (root == NULL) {
        fail_msg("%s: %s", path, e.text);
    }
    return root;
}

#define U8(s) ((const uint8_t *)(s))

/* Every topic_match vector: one subscription, one publication. */
static void t_topic_vectors(void **state)
{
    (void)state;
    struct client *c = clients_new(1);
    json_t *root = load("topic_match.json");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(root, "vectors"), i, v) {
        const char *p = json_string_value(json_object_get(v, "pattern"));
        const char *t = json_string_value(json_object_get(v, "topic"));
        int want = json_is_true(json_object_get(json_object_get(v, "expect"), "match"));
        struct topic_index ix;
        topic_index_init(&ix);
        assert_int_equal(topic_index_add(&ix, U8(p), strlen(p), c[1].id, &c[1]), 0);
        struct hits h = {{0}};
        assert_int_equal(topic_index_match(&ix, U8(t), strlen(t), count_hit, &h), 0);
        if ((h.n[1] > 0) != want) {
            fail_msg("%s: index gave %d for '%s' vs '%s'",
                     json_string_value(json_object_get(v, "id")), h.n[1], p, t);
        }
        topic_index_remove(&ix, U8(p), strlen(p), c[1].id);
        assert_null(ix.root); /* fully pruned */
    }
    json_decref(root);
    free(c);
}

static void t_mask_vectors(void **state)
{
    (void)state;
    struct client *c = clients_new(1);
    json_t *root = load("mask_match.json");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(root, "vectors"), i, v) {
        const char *m = json_string_value(json_object_get(v, "mask"));
        const char *n = json_string_value(json_object_get(v, "name"));
        int want = json_is_true(json_object_get(json_object_get(v, "expect"), "match"));
        struct name_index ix;
        name_index_init(&ix);
        assert_int_equal(name_index_add(&ix, U8(n), strlen(n), &c[1]), 0);
        struct hits h = {{0}};
        assert_int_equal(name_index_match(&ix, U8(m), strlen(m), count_hit, &h), 0);
        if ((h.n[1] > 0) != want || h.n[1] > 1) {
            fail_msg("%s: index gave %d for mask '%s' vs '%s'",
                     json_string_value(json_object_get(v, "id")), h.n[1], m, n);
        }
        name_index_remove(&ix, U8(n), strlen(n));
        assert_null(ix.root);
    }
    json_decref(root);
    free(c);
}

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7FFFu;
}

static void rand_str(unsigned *s, const char *alpha, size_t maxlen, char *out, size_t *len)
{
    size_t na = strlen(alpha);
    *len = rnd(s) % (maxlen + 1u);
    for (size_t i = 0; i < *len; i++) {
        out[i] = alpha[rnd(s) % na];
    }
    out[*len] = '\0';
}

#define NSUB 8

/* Random subscription tables: the index's hit set equals the set of
 * clients with at least one matching pattern; removals keep it exact. */
static void t_topic_random(void **state)
{
    (void)state;
    unsigned seed = 12345u;
    struct client *c = clients_new(MAXC);
    static char pats[MAXC + 1][NSUB][16];
    static size_t plen[MAXC + 1][NSUB];
    static int live[MAXC + 1][NSUB];
    for (int round = 0; round < 40; round++) {
        struct topic_index ix;
        topic_index_init(&ix);
        memset(live, 0, sizeof live);
        for (size_t k = 1; k <= MAXC; k++) {
            for (size_t j = 0; j < NSUB; j++) {
                rand_str(&seed, "ab/+#", 7, pats[k][j], &plen[k][j]);
                assert_int_equal(
                    topic_index_add(&ix, U8(pats[k][j]), plen[k][j], c[k].id, &c[k]), 0);
                live[k][j] = 1;
            }
        }
        for (int q = 0; q < 400; q++) {
            if (q % 4 == 3) { /* remove a random live subscription */
                size_t k = 1u + rnd(&seed) % MAXC, j = rnd(&seed) % NSUB;
                if (live[k][j]) {
                    topic_index_remove(&ix, U8(pats[k][j]), plen[k][j], c[k].id);
                    live[k][j] = 0;
                }
            }
            char t[16];
            size_t tl;
            rand_str(&seed, "ab/", 7, t, &tl);
            struct hits h = {{0}};
            assert_int_equal(topic_index_match(&ix, U8(t), tl, count_hit, &h), 0);
            for (size_t k = 1; k <= MAXC; k++) {
                int want = 0;
                for (size_t j = 0; j < NSUB; j++) {
                    want |= live[k][j] &&
                            busrt_topic_matches(U8(pats[k][j]), plen[k][j], U8(t), tl);
                }
                if ((h.n[k] > 0) != want) {
                    fail_msg("round %d topic '%s' client %zu: index %d, matcher %d", round, t,
                             k, h.n[k], want);
                }
            }
        }
        for (size_t k = 1; k <= MAXC; k++) {
            for (size_t j = 0; j < NSUB; j++) {
                if (live[k][j]) {
                    topic_index_remove(&ix, U8(pats[k][j]), plen[k][j], c[k].id);
                }
            }
        }
        assert_null(ix.root);
    }
    free(c);
}

/* Random unique names: the hit set equals busrt_mask_matches over all. */
static void t_mask_random(void **state)
{
    (void)state;
    unsigned seed = 777u;
    struct client *c = clients_new(MAXC);
    static char names[MAXC + 1][16];
    static size_t nlen[MAXC + 1];
    for (int round = 0; round < 40; round++) {
        struct name_index ix;
        name_index_init(&ix);
        for (size_t k = 1; k <= MAXC; k++) {
            int unique;
            do { /* names are unique in a registry */
                rand_str(&seed, "ab.", 7, names[k], &nlen[k]);
                unique = nlen[k] > 0;
                for (size_t j = 1; j < k && unique; j++) {
                    unique = !(nlen[j] == nlen[k] && memcmp(names[j], names[k], nlen[k]) == 0);
                }
            } while (!unique);
            assert_int_equal(name_index_add(&ix, U8(names[k]), nlen[k], &c[k]), 0);
        }
        for (int q = 0; q < 400; q++) {
            char m[16];
            size_t ml;
            rand_str(&seed, "ab.?*", 7, m, &ml);
            struct hits h = {{0}};
            assert_int_equal(name_index_match(&ix, U8(m), ml, count_hit, &h), 0);
            for (size_t k = 1; k <= MAXC; k++) {
                int want = busrt_mask_matches(U8(m), ml, U8(names[k]), nlen[k]);
                if (h.n[k] != want) {
                    fail_msg("round %d mask '%s' name '%s': index %d, matcher %d", round, m,
                             names[k], h.n[k], want);
                }
            }
        }
        for (size_t k = 1; k <= MAXC; k++) {
            name_index_remove(&ix, U8(names[k]), nlen[k]);
        }
        assert_null(ix.root);
    }
    free(c);
}

/* Counted subscriptions: `a/#` and `a/#/b` share a node; removing one
 * keeps the other. */
static void t_shared_node(void **state)
{
    (void)state;
    struct client *c = clients_new(1);
    struct topic_index ix;
    topic_index_init(&ix);
    assert_int_equal(topic_index_add(&ix, U8("a/#"), 3, c[1].id, &c[1]), 0);
    assert_int_equal(topic_index_add(&ix, U8("a/#/b"), 5, c[1].id, &c[1]), 0);
    topic_index_remove(&ix, U8("a/#/b"), 5, c[1].id);
    struct hits h = {{0}};
    assert_int_equal(topic_index_match(&ix, U8("a/x"), 3, count_hit, &h), 0);
    assert_int_equal(h.n[1], 1);
    topic_index_remove(&ix, U8("a/#"), 3, c[1].id);
    assert_null(ix.root);
    free(c);
}

/* "+/+/.../+": n bytes, (n + 1) / 2 chunks (n odd). */
static char *deep_pattern(size_t n)
{
    char *deep = malloc(n + 1u);
    assert_non_null(deep);
    for (size_t i = 0; i < n; i++) {
        deep[i] = (i % 2u == 0u) ? '+' : '/';
    }
    deep[n] = '\0';
    return deep;
}

/* A deep pattern and topic do not recurse on the C stack. */
static void t_deep(void **state)
{
    (void)state;
    struct client *c = clients_new(1);
    size_t n = 200001u;
    char *deep = deep_pattern(n);
    struct topic_index ix;
    topic_index_init(&ix);
    assert_int_equal(topic_index_add(&ix, U8(deep), n, c[1].id, &c[1]), 0);
    for (size_t i = 0; i < n; i++) {
        if (deep[i] == '+') deep[i] = 'x';
    }
    struct hits h = {{0}};
    assert_int_equal(topic_index_match(&ix, U8(deep), n, count_hit, &h), 0);
    assert_int_equal(h.n[1], 1);
    for (size_t i = 0; i < n; i++) {
        if (deep[i] == 'x') deep[i] = '+';
    }
    topic_index_remove(&ix, U8(deep), n, c[1].id);
    assert_null(ix.root);
    free(deep);
    free(c);
}

/* Freeing a whole index does not recurse on the C stack either: a deep
 * topic tree and a name tree of the longest name, freed without removing
 * anything (the sanitized build also checks that every node is freed). */
static void t_deep_free(void **state)
{
    (void)state;
    struct client *c = clients_new(1);
    size_t n = 200001u;
    char *deep = deep_pattern(n);
    struct topic_index tx;
    topic_index_init(&tx);
    assert_int_equal(topic_index_add(&tx, U8(deep), n, c[1].id, &c[1]), 0);
    assert_int_equal(topic_index_add(&tx, U8("+/x/#"), 5, c[1].id, &c[1]), 0);
    topic_index_free(&tx);
    assert_null(tx.root);
    size_t nn = 65535u;
    for (size_t i = 0; i < nn; i++) {
        deep[i] = (i % 2u == 0u) ? 'a' : '.';
    }
    struct name_index nx;
    name_index_init(&nx);
    assert_int_equal(name_index_add(&nx, U8(deep), nn, &c[1]), 0);
    assert_int_equal(name_index_add(&nx, U8("a.b"), 3, &c[1]), 0);
    name_index_free(&nx);
    assert_null(nx.root);
    free(deep);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_topic_vectors), cmocka_unit_test(t_mask_vectors),
        cmocka_unit_test(t_topic_random),  cmocka_unit_test(t_mask_random),
        cmocka_unit_test(t_shared_node),   cmocka_unit_test(t_deep),
        cmocka_unit_test(t_deep_free),
    };
    return cmocka_run_group_tests_name("routing index", tests, NULL, NULL);
}
