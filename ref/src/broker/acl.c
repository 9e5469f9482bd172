#include "acl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "busrt/match.h"
#include "busrt/utf8.h"

struct strlist {
    int present; /* the key was in the entry */
    size_t n;
    char **v;
    size_t *len;
};

struct net {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix;
};

struct idlist {
    int present;
    size_t n;
    unsigned long *v;
};

struct acl_entry {
    char *name;
    size_t name_len;
    int is_mask;
    int tcp_present;
    struct net *nets;
    size_t nnets;
    struct idlist uids, gids;
    struct strlist lists[4]; /* indexed by enum acl_op */
};

struct acl {
    struct acl_entry *e;
    size_t n;
};

static const char *const list_keys[4] = {"message", "publish", "subscribe", "broadcast"};

static void free_strlist(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
    free(l->len);
}

void acl_free(struct acl *a)
{
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n; i++) {
        struct acl_entry *e = &a->e[i];
        free(e->name);
        free(e->nets);
        free(e->uids.v);
        free(e->gids.v);
        for (int k = 0; k < 4; k++) {
            free_strlist(&e->lists[k]);
        }
    }
    free(a->e);
    free(a);
}

size_t acl_entries(const struct acl *a)
{
    return a->n;
}

/* "ADDR/PREFIX" or a bare address (a single host). */
static int parse_net(const char *s, struct net *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof buf) {
        return -1;
    }
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    unsigned max;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    out->prefix = max;
    if (slash != NULL) {
        char *end = NULL;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || p > max) {
            return -1;
        }
        out->prefix = (unsigned)p;
    }
    return 0;
}

static int net_contains(const struct net *n, int family, const uint8_t *addr)
{
    if (n->family != family) {
        return 0;
    }
    unsigned full = n->prefix / 8u, rest = n->prefix % 8u;
    if (memcmp(n->addr, addr, full) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    uint8_t mask = (uint8_t)(0xFFu << (8u - rest));
    return (n->addr[full] & mask) == (addr[full] & mask);
}

static int parse_strlist(json_t *arr, struct strlist *l, const char *what, char *err,
                         size_t errlen)
{
    if (!json_is_array(arr)) {
        (void)snprintf(err, errlen, "%s must be an array of strings", what);
        return -1;
    }
    l->present = 1;
    l->n = json_array_size(arr);
    l->v = calloc(l->n + 1u, sizeof *l->v);
    l->len = calloc(l->n + 1u, sizeof *l->len);
    if (l->v == NULL || l->len == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s)) {
            (void)snprintf(err, errlen, "%s[%zu] is not a string", what, i);
            return -1;
        }
        l->len[i] = json_string_length(s);
        l->v[i] = malloc(l->len[i] + 1u);
        if (l->v[i] == NULL) {
            (void)snprintf(err, errlen, "out of memory");
            return -1;
        }
        memcpy(l->v[i], json_string_value(s), l->len[i] + 1u);
        if (busrt_utf8_valid((const uint8_t *)l->v[i], l->len[i]) != 1) {
            (void)snprintf(err, errlen, "%s[%zu] is not UTF-8", what, i);
            return -1;
        }
    }
    return 0;
}

static int parse_ids(json_t *arr, struct idlist *l, const char *what, char *err, size_t errlen)
{
    if (!json_is_array(arr)) {
        (void)snprintf(err, errlen, "%s must be an array of integers", what);
        return -1;
    }
    l->present = 1;
    l->n = json_array_size(arr);
    l->v = calloc(l->n + 1u, sizeof *l->v);
    if (l->v == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0) {
            (void)snprintf(err, errlen, "%s[%zu] is not a non-negative integer", what, i);
            return -1;
        }
        l->v[i] = (unsigned long)json_integer_value(x);
    }
    return 0;
}

static int parse_entry(json_t *o, struct acl_entry *e, size_t idx, char *err, size_t errlen)
{
    char what[96];
    if (!json_is_object(o)) {
        (void)snprintf(err, errlen, "clients[%zu] is not an object", idx);
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        int known = strcmp(key, "name") == 0 || strcmp(key, "tcp") == 0 ||
                    strcmp(key, "unix_uids") == 0 || strcmp(key, "unix_gids") == 0;
        for (int k = 0; k < 4; k++) {
            known |= strcmp(key, list_keys[k]) == 0;
        }
        if (!known) {
            (void)snprintf(err, errlen, "clients[%zu]: unknown key \"%s\"", idx, key);
            return -1;
        }
    }
    json_t *name = json_object_get(o, "name");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        (void)snprintf(err, errlen, "clients[%zu]: \"name\" must be a non-empty string", idx);
        return -1;
    }
    e->name_len = json_string_length(name);
    e->name = strdup(json_string_value(name));
    if (e->name == NULL ||
        busrt_utf8_valid((const uint8_t *)e->name, e->name_len) != 1) {
        (void)snprintf(err, errlen, "clients[%zu]: \"name\" is not UTF-8", idx);
        return -1;
    }
    e->is_mask = busrt_mask_has_wildcard((const uint8_t *)e->name, e->name_len);
    json_t *tcp = json_object_get(o, "tcp");
    if (tcp != NULL) {
        if (!json_is_array(tcp)) {
            (void)snprintf(err, errlen, "clients[%zu] (%s): \"tcp\" must be an array of CIDR "
                           "strings", idx, e->name);
            return -1;
        }
        e->tcp_present = 1;
        e->nnets = json_array_size(tcp);
        e->nets = calloc(e->nnets + 1u, sizeof *e->nets);
        if (e->nets == NULL) {
            (void)snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < e->nnets; i++) {
            json_t *s = json_array_get(tcp, i);
            if (!json_is_string(s) || parse_net(json_string_value(s), &e->nets[i]) != 0) {
                (void)snprintf(err, errlen, "clients[%zu] (%s): tcp[%zu] is not an IPv4 or "
                               "IPv6 network like 127.0.0.0/8", idx, e->name, i);
                return -1;
            }
        }
    }
    json_t *x;
    if ((x = json_object_get(o, "unix_uids")) != NULL) {
        (void)snprintf(what, sizeof what, "clients[%zu] (%s): unix_uids", idx, e->name);
        if (parse_ids(x, &e->uids, what, err, errlen) != 0) return -1;
    }
    if ((x = json_object_get(o, "unix_gids")) != NULL) {
        (void)snprintf(what, sizeof what, "clients[%zu] (%s): unix_gids", idx, e->name);
        if (parse_ids(x, &e->gids, what, err, errlen) != 0) return -1;
    }
    for (int k = 0; k < 4; k++) {
        if ((x = json_object_get(o, list_keys[k])) != NULL) {
            (void)snprintf(what, sizeof what, "clients[%zu] (%s): %s", idx, e->name,
                           list_keys[k]);
            if (parse_strlist(x, &e->lists[k], what, err, errlen) != 0) return -1;
        }
    }
    return 0;
}

/* Opens path for reading and parses it as JSON. Returns the document, or
 * NULL with the reason in msg: the file cannot be opened, is not a regular
 * file, is empty, or is not JSON (with the line and column jansson gives). */
static json_t *read_json(const char *path, char *msg, size_t msglen)
{
    /* O_NONBLOCK: opening a FIFO named by mistake does not wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        (void)snprintf(msg, msglen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        (void)snprintf(msg, msglen, "cannot read its status: %s", strerror(errno));
        (void)close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        (void)snprintf(msg, msglen, "is a directory, expected a JSON file");
        (void)close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        (void)snprintf(msg, msglen, "is not a regular file, expected a JSON file");
        (void)close(fd);
        return NULL;
    }
    if (st.st_size == 0) {
        (void)snprintf(msg, msglen, "is empty, expected a JSON object "
                                    "{\"busrt_acl\": 1, \"clients\": [...]}");
        (void)close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        (void)snprintf(msg, msglen, "cannot read: %s", strerror(errno));
        (void)close(fd);
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    int read_failed = ferror(f);
    int read_errno = errno;
    if (fclose(f) != 0 && root != NULL) {
        (void)snprintf(msg, msglen, "cannot read: %s", strerror(errno));
        json_decref(root);
        return NULL;
    }
    if (root == NULL) {
        if (read_failed) {
            (void)snprintf(msg, msglen, "cannot read: %s", strerror(read_errno));
        } else {
            (void)snprintf(msg, msglen, "not valid JSON: line %d, column %d: %s", je.line,
                           je.column, je.text);
        }
    }
    return root;
}

struct acl *acl_load(const char *path, char *err, size_t errlen)
{
    char msg[256] = "";
    struct acl *a = NULL;
    json_t *root = read_json(path, msg, sizeof msg);
    if (root == NULL) {
        goto out;
    }
    if (!json_is_object(root)) {
        (void)snprintf(msg, sizeof msg, "the top level must be a JSON object "
                                        "{\"busrt_acl\": 1, \"clients\": [...]}");
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "busrt_acl") != 0 && strcmp(key, "clients") != 0) {
            (void)snprintf(msg, sizeof msg, "unknown top-level key \"%s\"", key);
            goto out;
        }
    }
    json_t *ver = json_object_get(root, "busrt_acl");
    json_t *clients = json_object_get(root, "clients");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        (void)snprintf(msg, sizeof msg, "\"busrt_acl\" must be 1 (the format version)");
        goto out;
    }
    if (!json_is_array(clients)) {
        (void)snprintf(msg, sizeof msg, "\"clients\" must be an array");
        goto out;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL || (a->e = calloc(json_array_size(clients) + 1u, sizeof *a->e)) == NULL) {
        (void)snprintf(msg, sizeof msg, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(clients); i++) {
        a->n = i + 1u; /* so acl_free releases a partly parsed entry */
        if (parse_entry(json_array_get(clients, i), &a->e[i], i, msg, sizeof msg) != 0) {
            goto out;
        }
    }
    json_decref(root);
    return a;
out:
    (void)snprintf(err, errlen, "%s", msg);
    acl_free(a);
    json_decref(root);
    return NULL;
}

const struct acl_entry *acl_find(const struct acl *a, const uint8_t *primary, size_t len)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct acl_entry *e = &a->e[i];
        if (!e->is_mask && e->name_len == len && memcmp(e->name, primary, len) == 0) {
            return e;
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct acl_entry *e = &a->e[i];
        if (e->is_mask &&
            busrt_mask_matches((const uint8_t *)e->name, e->name_len, primary, len) == 1) {
            return e;
        }
    }
    return NULL;
}

static int in_ids(const struct idlist *l, unsigned long id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] == id) {
            return 1;
        }
    }
    return 0;
}

int acl_peer_ok(const struct acl_entry *e, const struct acl_peer *p)
{
    if (p->is_tcp) {
        if (!e->tcp_present) {
            return 1;
        }
        const uint8_t *addr;
        int family = p->addr.ss_family;
        uint8_t v4[16];
        if (family == AF_INET) {
            addr = (const uint8_t *)&((const struct sockaddr_in *)&p->addr)->sin_addr;
        } else if (family == AF_INET6) {
            addr = (const uint8_t *)&((const struct sockaddr_in6 *)&p->addr)->sin6_addr;
            static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
            if (memcmp(addr, mapped, 12) == 0) { /* ::ffff:a.b.c.d is IPv4 */
                memcpy(v4, addr + 12, 4);
                addr = v4;
                family = AF_INET;
            }
        } else {
            return 0;
        }
        for (size_t i = 0; i < e->nnets; i++) {
            if (net_contains(&e->nets[i], family, addr)) {
                return 1;
            }
        }
        return 0;
    }
    if (!e->uids.present && !e->gids.present) {
        return 1;
    }
    return p->has_cred && (in_ids(&e->uids, p->uid) || in_ids(&e->gids, p->gid));
}

int acl_pattern_within(const uint8_t *sub, size_t slen, const uint8_t *allow, size_t alen,
                       uint8_t sep, uint8_t one, uint8_t many)
{
    size_t si = 0, ai = 0;
    for (;;) {
        size_t se = busrt_chunk_end(sub, slen, si, sep);
        size_t ae = busrt_chunk_end(allow, alen, ai, sep);
        int a_many = busrt_chunk_is(allow, ai, ae, many);
        int s_many = busrt_chunk_is(sub, si, se, many);
        int a_one = busrt_chunk_is(allow, ai, ae, one);
        int s_one = busrt_chunk_is(sub, si, se, one);
        if (a_many) {
            return 1; /* both need one or more chunks from here */
        }
        if (s_many || (s_one && !a_one)) {
            return 0; /* sub reaches topics that allow's chunk cannot */
        }
        if (!a_one && !(se - si == ae - ai && memcmp(sub + si, allow + ai, se - si) == 0)) {
            return 0;
        }
        if (se == slen || ae == alen) {
            return se == slen && ae == alen;
        }
        si = se + 1u;
        ai = ae + 1u;
    }
}

int acl_allows(const struct acl_entry *e, enum acl_op op, const uint8_t *s, size_t len)
{
    const struct strlist *l = &e->lists[op];
    if (!l->present) {
        return 1;
    }
    for (size_t i = 0; i < l->n; i++) {
        const uint8_t *p = (const uint8_t *)l->v[i];
        int ok = 0;
        switch (op) {
        case ACL_MESSAGE: ok = busrt_mask_matches(p, l->len[i], s, len) == 1; break;
        case ACL_PUBLISH: ok = busrt_topic_matches(p, l->len[i], s, len) == 1; break;
        case ACL_SUBSCRIBE: ok = acl_pattern_within(s, len, p, l->len[i], '/', '+', '#'); break;
        case ACL_BROADCAST: ok = acl_pattern_within(s, len, p, l->len[i], '.', '?', '*'); break;
        }
        if (ok) {
            return 1;
        }
    }
    return 0;
}
