/* libbusrt RPC cursors, server side: a table of open cursors that answers
 * the N and NB methods; see busrt/cursor.h. */
#define _DEFAULT_SOURCE
#include "busrt/cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "busrt/mpack.h"
#include "client_int.h"
#include "cursor_int.h"

struct cursor_slot {
    int used;
    uint8_t id[BUSRT_CURSOR_ID_LEN];
    busrt_cursor_next_fn next;
    busrt_cursor_free_fn free_fn;
    void *ctx;
    int64_t ttl_ms;
    int64_t last_used;
};

struct busrt_cursor_table {
    struct cursor_slot *slots;
    unsigned max_open;
    unsigned open;
    uint32_t max_bulk;
    uint8_t *out; /* the NB reply: 5 bytes kept for the array header */
    size_t out_cap;
};

/* Header room in front of an NB reply's items. */
#define ARRAY_HDR_MAX 5u
/* produce(): the producer's item is not one MessagePack object. */
#define BAD_ITEM 2

static const char MSG_NOT_FOUND[] = "cursor not found (unknown id, finished or expired)";
static const char MSG_PARAMS[] =
    "cursor params: expected a MessagePack map {\"u\": bin 16[, \"n\": count]}";
static const char MSG_BULK[] = "cursor params: \"n\" must be an integer from 1 to the "
                               "server's maximum block size";
static const char MSG_METHOD[] = "not a cursor method (N, NB)";
static const char MSG_ITEM[] = "cursor producer gave an item that is not one MessagePack object";
static const char MSG_NOMEM[] = "out of memory while building a cursor block";

int busrt_cursor_table_new(unsigned max_open, uint32_t max_bulk, busrt_cursor_table **out)
{
    if (out == NULL) {
        return BUSRT_E_INVAL;
    }
    *out = NULL;
    busrt_cursor_table *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return BUSRT_E_NOMEM;
    }
    t->max_open = max_open == 0u ? BUSRT_CURSOR_DEFAULT_MAX_OPEN : max_open;
    t->max_bulk = max_bulk == 0u ? BUSRT_CURSOR_DEFAULT_MAX_BULK : max_bulk;
    t->slots = calloc(t->max_open, sizeof *t->slots);
    if (t->slots == NULL) {
        free(t);
        return BUSRT_E_NOMEM;
    }
    *out = t;
    return 0;
}

static void drop(busrt_cursor_table *t, struct cursor_slot *s)
{
    busrt_cursor_free_fn f = s->free_fn;
    void *ctx = s->ctx;
    memset(s, 0, sizeof *s);
    t->open--;
    if (f != NULL) {
        f(ctx);
    }
}

void busrt_cursor_table_free(busrt_cursor_table *t)
{
    if (t == NULL) {
        return;
    }
    for (unsigned i = 0; i < t->max_open; i++) {
        if (t->slots[i].used) {
            drop(t, &t->slots[i]);
        }
    }
    free(t->slots);
    free(t->out);
    free(t);
}

unsigned busrt_cursor_count(const busrt_cursor_table *t)
{
    return t == NULL ? 0u : t->open;
}

static int expired(const struct cursor_slot *s, int64_t now)
{
    return (now - s->last_used) >= s->ttl_ms;
}

unsigned busrt_cursor_sweep(busrt_cursor_table *t)
{
    unsigned n = 0;
    if (t == NULL) {
        return 0;
    }
    int64_t now = bc_now_ms();
    for (unsigned i = 0; i < t->max_open; i++) {
        if (t->slots[i].used && expired(&t->slots[i], now)) {
            drop(t, &t->slots[i]);
            n++;
        }
    }
    return n;
}

static int urandom(uint8_t *buf, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return BUSRT_E_SYS;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            int e = r == 0 ? EIO : errno;
            (void)close(fd);
            errno = e;
            return BUSRT_E_SYS;
        }
        got += (size_t)r;
    }
    (void)close(fd);
    return 0;
}

static int random_bytes(uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* Kernels before 3.17 have no getrandom. */
            return errno == ENOSYS ? urandom(buf + got, n - got) : BUSRT_E_SYS;
        }
        got += (size_t)r;
    }
    return 0;
}

static struct cursor_slot *find(busrt_cursor_table *t, const uint8_t *id)
{
    for (unsigned i = 0; i < t->max_open; i++) {
        if (t->slots[i].used && memcmp(t->slots[i].id, id, BUSRT_CURSOR_ID_LEN) == 0) {
            return &t->slots[i];
        }
    }
    return NULL;
}

int busrt_cursor_create(busrt_cursor_table *t, busrt_cursor_next_fn next,
                        busrt_cursor_free_fn free_fn, void *ctx, int ttl_ms,
                        uint8_t id_map[BUSRT_CURSOR_ID_MAP_LEN])
{
    if (t == NULL || next == NULL || id_map == NULL || ttl_ms <= 0) {
        return BUSRT_E_INVAL;
    }
    if (t->open >= t->max_open) {
        (void)busrt_cursor_sweep(t);
    }
    struct cursor_slot *s = NULL;
    for (unsigned i = 0; i < t->max_open && s == NULL; i++) {
        if (!t->slots[i].used) {
            s = &t->slots[i];
        }
    }
    if (s == NULL) {
        return BUSRT_E_LIMIT;
    }
    uint8_t id[BUSRT_CURSOR_ID_LEN];
    do {
        int r = random_bytes(id, sizeof id);
        if (r != 0) {
            return r;
        }
        /* A version 4, variant 1 uuid, like the deployed library's ids. */
        id[6] = (uint8_t)(0x40u + (id[6] % 16u));
        id[8] = (uint8_t)(0x80u + (id[8] % 64u));
    } while (find(t, id) != NULL);
    s->used = 1;
    memcpy(s->id, id, sizeof id);
    s->next = next;
    s->free_fn = free_fn;
    s->ctx = ctx;
    s->ttl_ms = ttl_ms;
    s->last_used = bc_now_ms();
    t->open++;
    /* {"u": bin 16}, as rmp-serde writes a uuid (not human-readable). */
    static const uint8_t head[4] = {0x81u, 0xA1u, (uint8_t)'u', 0xC4u};
    memcpy(id_map, head, sizeof head);
    id_map[4] = (uint8_t)BUSRT_CURSOR_ID_LEN;
    memcpy(id_map + 5, id, sizeof id);
    return 0;
}

int busrt_cursor_is_call(const struct busrt_rpc_event *ev)
{
    if (ev == NULL || ev->method == NULL) {
        return 0;
    }
    return (ev->method_len == 1u && ev->method[0] == 'N') ||
           (ev->method_len == 2u && ev->method[0] == 'N' && ev->method[1] == 'B');
}

static int fail(struct busrt_rpc_result *res, int code, const char *msg)
{
    res->data = msg;
    res->len = strlen(msg);
    return code;
}

/* A producer's error code as an RPC error code (int16, non-zero). */
static int producer_error(int r)
{
    return (r < 0 && r >= INT16_MIN) ? r : BUSRT_RPC_E_INTERNAL;
}

static int valid_item(const void *data, size_t len)
{
    size_t ol = 0;
    return data != NULL && len > 0u && busrt_mp_check(data, len, &ol) == 0 && ol == len;
}

/* Calls the producer once: BUSRT_CURSOR_ITEM with a checked item,
 * BUSRT_CURSOR_END, BAD_ITEM, or the producer's RPC error code (the caller
 * then drops the cursor). */
static int produce(struct cursor_slot *s, const void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int r = s->next(s->ctx, data, len);
    if (r == BUSRT_CURSOR_END) {
        return r;
    }
    if (r != BUSRT_CURSOR_ITEM) {
        return producer_error(r);
    }
    return valid_item(*data, *len) ? BUSRT_CURSOR_ITEM : BAD_ITEM;
}

static int produce_failed(struct busrt_rpc_result *res, int r)
{
    return r == BAD_ITEM ? fail(res, BUSRT_RPC_E_INTERNAL, MSG_ITEM) : fail(res, r, "");
}

static int append(busrt_cursor_table *t, size_t *used, const void *data, size_t len)
{
    if (len > SIZE_MAX - *used) {
        return -1;
    }
    size_t need = *used + len;
    if (need > t->out_cap) {
        size_t cap = t->out_cap < 256u ? 256u : t->out_cap;
        while (cap < need) {
            cap = cap > SIZE_MAX / 2u ? need : cap * 2u;
        }
        uint8_t *p = realloc(t->out, cap);
        if (p == NULL) {
            return -1;
        }
        t->out = p;
        t->out_cap = cap;
    }
    memcpy(t->out + *used, data, len);
    *used = need;
    return 0;
}

static int serve_one(busrt_cursor_table *t, struct cursor_slot *s, struct busrt_rpc_result *res)
{
    const void *d;
    size_t l;
    int r = produce(s, &d, &l);
    if (r == BUSRT_CURSOR_END) {
        drop(t, s);
        return 0; /* an empty result: no more items */
    }
    if (r != BUSRT_CURSOR_ITEM) {
        drop(t, s);
        return produce_failed(res, r);
    }
    res->data = d;
    res->len = l;
    return 0;
}

static int serve_bulk(busrt_cursor_table *t, struct cursor_slot *s, uint32_t n,
                      struct busrt_rpc_result *res)
{
    static const uint8_t room[ARRAY_HDR_MAX] = {0};
    size_t used = 0;
    if (append(t, &used, room, sizeof room) != 0) {
        drop(t, s);
        return fail(res, BUSRT_RPC_E_INTERNAL, MSG_NOMEM);
    }
    uint32_t k = 0;
    int finished = 0;
    while (k < n && !finished) {
        const void *d;
        size_t l;
        int r = produce(s, &d, &l);
        if (r == BUSRT_CURSOR_END) {
            finished = 1;
        } else if (r != BUSRT_CURSOR_ITEM) {
            drop(t, s);
            return produce_failed(res, r);
        } else if (append(t, &used, d, l) != 0) {
            drop(t, s);
            return fail(res, BUSRT_RPC_E_INTERNAL, MSG_NOMEM);
        } else {
            k++;
        }
    }
    uint8_t hdr[ARRAY_HDR_MAX];
    size_t hl = bc_cm_put_array(k, hdr);
    uint8_t *start = t->out + (ARRAY_HDR_MAX - hl);
    memcpy(start, hdr, hl);
    res->data = start;
    res->len = used - (ARRAY_HDR_MAX - hl);
    if (finished) {
        drop(t, s);
    }
    return 0;
}

int busrt_cursor_serve(busrt_cursor_table *t, const struct busrt_rpc_event *ev,
                       struct busrt_rpc_result *res)
{
    if (t == NULL || ev == NULL || res == NULL) {
        return BUSRT_RPC_E_INTERNAL;
    }
    res->data = NULL;
    res->len = 0;
    if (!busrt_cursor_is_call(ev)) {
        return fail(res, BUSRT_RPC_E_METHOD_NOT_FOUND, MSG_METHOD);
    }
    int bulk = ev->method_len == 2u;
    struct cm_map m;
    if (bc_cm_scan(ev->data, ev->data_len, &m) != 0 || m.u == NULL || m.u_len != 18u ||
        m.u[0] != 0xC4u || m.u[1] != BUSRT_CURSOR_ID_LEN) {
        return fail(res, BUSRT_RPC_E_INVALID_PARAMS, MSG_PARAMS);
    }
    uint64_t n = 1;
    if (bulk && m.has_n) {
        if (!m.n_ok || m.n == 0u || m.n > t->max_bulk) {
            return fail(res, BUSRT_RPC_E_INVALID_PARAMS, MSG_BULK);
        }
        n = m.n;
    }
    struct cursor_slot *s = find(t, m.u + 2);
    if (s == NULL) {
        return fail(res, BUSRT_RPC_E_NOT_FOUND, MSG_NOT_FOUND);
    }
    int64_t now = bc_now_ms();
    if (expired(s, now)) {
        drop(t, s);
        return fail(res, BUSRT_RPC_E_NOT_FOUND, MSG_NOT_FOUND);
    }
    s->last_used = now;
    return bulk ? serve_bulk(t, s, (uint32_t)n, res) : serve_one(t, s, res);
}
