/* The internal client ".broker": core RPC methods and announcements, with
 * msgpack bodies built and read by msgpack-c. */
#include "coreapi.h"

#include <msgpack.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "budget.h"
#include "busrt/codes.h"
#include "busrt/frame.h"
#include "busrt/mpack.h"
#include "busrt/rpcproto.h"
#include "clock.h"
#include "conn.h"
#include "log.h"
#include "mpout.h"
#include "outq.h"
#include "router.h"
#include "mem.h"

#define AUTHOR "BUS/RT reference implementation contributors"

/* Pack calls need no checks of their own: every writer here goes through
 * an mpout, which records the first failure (mpout.h). */
static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    (void)msgpack_pack_str(pk, n);
    (void)msgpack_pack_str_body(pk, s, n);
}

/* The four traffic counters of stats and of each client.list entry. */
static void pack_counters(msgpack_packer *pk, uint64_t rf, uint64_t rb, uint64_t wf,
                          uint64_t wb)
{
    const char *const key[4] = {"r_frames", "r_bytes", "w_frames", "w_bytes"};
    const uint64_t val[4] = {rf, rb, wf, wb};
    for (int i = 0; i < 4; i++) {
        pack_cstr(pk, key[i]);
        (void)msgpack_pack_uint64(pk, val[i]);
    }
}

/* The memory figures of stats (mem.c): the budget (0: none), the bytes
 * held now and the most held since start-up. */
static void pack_memory(msgpack_packer *pk)
{
    pack_cstr(pk, "memory_limit");
    (void)msgpack_pack_uint64(pk, mem_limit());
    pack_cstr(pk, "memory_used");
    (void)msgpack_pack_uint64(pk, mem_used());
    pack_cstr(pk, "memory_high_water");
    (void)msgpack_pack_uint64(pk, mem_high_water());
}

/* Sends an RPC frame (header + data) from .broker to c. */
static void send_rpc(struct broker *b, struct client *to, const uint8_t *hdr, size_t hlen,
                     const void *data, size_t dlen)
{
    struct budget_note *note = &b->notes[NOTE_RPC_REPLY];
    uint8_t *payload = budget_alloc(b, hlen + dlen + 1u);
    if (payload == NULL) {
        budget_oom(b, note, "answering an RPC call from %s; no reply", client_label(to));
        return;
    }
    memcpy(payload, hdr, hlen);
    if (dlen > 0) {
        memcpy(payload + hlen, data, dlen);
    }
    struct outbuf *f = router_build(b, BUSRT_KIND_MESSAGE, 0, b->internal, NULL, 0, payload,
                                    hlen + dlen);
    mem_free(payload);
    if (f == NULL || router_deliver(b, to, f) == CLIENT_Q_NOMEM) {
        budget_oom(b, note, "answering an RPC call from %s; no reply", client_label(to));
    }
    outbuf_unref(f);
}

static void reply(struct broker *b, struct client *to, uint32_t id, const void *d, size_t n)
{
    uint8_t hdr[5];
    (void)busrt_rpc_reply_encode(id, hdr, sizeof hdr);
    send_rpc(b, to, hdr, sizeof hdr, d, n);
}

/* Error replies of .broker carry an empty message (spec 13.2); the reason
 * goes to the log instead. */
static void reply_error(struct broker *b, struct client *to, uint32_t id, int16_t code,
                        const char *msg)
{
    uint8_t hdr[7];
    log_debug("client %s: .broker RPC error %d: %s", client_label(to), code, msg);
    (void)busrt_rpc_error_encode(id, code, hdr, sizeof hdr);
    send_rpc(b, to, hdr, sizeof hdr, NULL, 0);
}

/* Params are empty only when they are zero bytes (REQ-CORE-9): msgpack
 * nil or an empty map are params. */
static int params_empty(const uint8_t *p, size_t n)
{
    (void)p;
    return n == 0;
}

static int by_name(const struct client *a, const struct client *c)
{
    size_t n = a->name_len < c->name_len ? a->name_len : c->name_len;
    int r = memcmp(a->name, c->name, n);
    return r != 0 ? r : (a->name_len > c->name_len) - (a->name_len < c->name_len);
}

/* Sorts v by name: a heap sort, in place (the C library's qsort may
 * allocate, which --preallocate rules out). */
static void sort_by_name(const struct client **v, size_t n)
{
    for (size_t end = n, start = n / 2u;;) {
        if (start > 0u) {
            start--; /* building the heap */
        } else if (end > 1u) {
            end--; /* moving the largest to the end */
            const struct client *t = v[end];
            v[end] = v[0];
            v[0] = t;
        } else {
            return;
        }
        size_t i = start;
        for (size_t k; (k = 2u * i + 1u) < end; i = k) {
            if (k + 1u < end && by_name(v[k], v[k + 1u]) < 0) {
                k++;
            }
            if (by_name(v[i], v[k]) >= 0) {
                break;
            }
            const struct client *t = v[i];
            v[i] = v[k];
            v[k] = t;
        }
    }
}

/* A MessagePack string at p (an object of obj_len bytes, its extent
 * already checked): 1 with its bytes in *s, *len; 0 for other types. */
static int mp_str(const uint8_t *p, size_t obj_len, const uint8_t **s, size_t *len)
{
    size_t h;
    if (p[0] >= 0xA0u && p[0] <= 0xBFu) {
        h = 1u;
    } else if (p[0] == 0xD9u) {
        h = 2u;
    } else if (p[0] == 0xDAu) {
        h = 3u;
    } else if (p[0] == 0xDBu) {
        h = 5u;
    } else {
        return 0;
    }
    *s = p + h;
    *len = obj_len - h;
    return 1;
}

/* Reads the optional {"filter": REGEX} of client.list into a compiled
 * regex. Returns 0 (with *has set when present), or -1 on bad params. The
 * map is walked in place with the proved extent check (busrt_mp_check), so
 * reading it allocates nothing; only regcomp does, inside the C library. */
static int list_filter(const uint8_t *p, size_t n, regex_t *re, int *has)
{
    *has = 0;
    if (params_empty(p, n)) {
        return 0;
    }
    size_t obj_len = 0, count = 0, off = 0;
    if (busrt_mp_check(p, n, &obj_len) != 0 || obj_len != n) {
        return -1;
    }
    if (p[0] >= 0x80u && p[0] <= 0x8Fu) {
        count = p[0] & 0x0Fu;
        off = 1u;
    } else if (p[0] == 0xDEu && n >= 3u) {
        count = (size_t)p[1] << 8 | p[2];
        off = 3u;
    } else if (p[0] == 0xDFu && n >= 5u) {
        count = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        off = 5u;
    } else {
        return -1; /* not a map */
    }
    for (size_t i = 0; i < count; i++) {
        size_t klen = 0, vlen = 0, kl = 0, vl = 0;
        const uint8_t *k = NULL, *v = NULL;
        if (busrt_mp_check(p + off, n - off, &klen) != 0 ||
            busrt_mp_check(p + off + klen, n - off - klen, &vlen) != 0) {
            break; /* cannot happen: the whole map was checked */
        }
        int is_filter = mp_str(p + off, klen, &k, &kl) && kl == 6u &&
                        memcmp(k, "filter", 6) == 0 && !*has;
        off += klen;
        if (is_filter) { /* unknown keys are ignored (REQ-CORE-9) */
            char *pat = mp_str(p + off, vlen, &v, &vl) ? mem_strndup((const char *)v, vl) : NULL;
            if (pat == NULL || regcomp(re, pat, REG_EXTENDED | REG_NOSUB) != 0) {
                mem_free(pat);
                return -1; /* not a string, or not a valid expression */
            }
            mem_free(pat);
            *has = 1;
        }
        off += vlen;
    }
    return 0;
}

/* The port as a decimal string, as the deployed broker lists it. Written
 * digit by digit: its length is then exact for the Eva analysis, which
 * knows nothing of what snprintf writes. */
static void pack_port(msgpack_packer *pk, int port)
{
    static const char digits[] = "0123456789";
    char d[8];
    size_t n = sizeof(d);
    unsigned v = (port < 0) ? 0u : (unsigned)port;
    do {
        n--;
        d[n] = digits[v % 10u];
        v /= 10u;
    } while ((v != 0u) && (n > 0u));
    const size_t len = sizeof(d) - n;
    (void)msgpack_pack_str(pk, len);
    (void)msgpack_pack_str_body(pk, &d[n], len);
}

static void pack_client(msgpack_packer *pk, const struct client *c)
{
    size_t inst = 1;
    for (const struct client *s = c->secondary; s != NULL; s = s->next_secondary) {
        inst++;
    }
    (void)msgpack_pack_map(pk, 10);
    pack_cstr(pk, "name");
    (void)msgpack_pack_str(pk, c->name_len);
    (void)msgpack_pack_str_body(pk, c->name, c->name_len);
    pack_cstr(pk, "kind");
    pack_cstr(pk, c->kind == KIND_TCP ? "tcp" : c->kind == KIND_UNIX ? "local_ipc" : "internal");
    pack_cstr(pk, "source");
    if (c->kind == KIND_TCP && c->source != NULL) {
        pack_cstr(pk, c->source);
    } else {
        (void)msgpack_pack_nil(pk);
    }
    pack_cstr(pk, "port");
    if (c->kind == KIND_TCP) {
        pack_port(pk, c->port);
    } else {
        (void)msgpack_pack_nil(pk);
    }
    pack_counters(pk, c->r_frames, c->r_bytes, c->w_frames, c->w_bytes);
    pack_cstr(pk, "queue");
    (void)msgpack_pack_uint64(pk, c->q.count);
    pack_cstr(pk, "instances");
    (void)msgpack_pack_uint64(pk, inst);
}

static int client_list(struct broker *b, const uint8_t *params, size_t plen,
                       msgpack_packer *pk)
{
    regex_t re;
    int has = 0;
    if (list_filter(params, plen, &re, &has) != 0) {
        return -1;
    }
    size_t n = 0, cap = 64;
    const struct client **v = mem_alloc(cap * sizeof *v);
    for (const struct client *c = b->clients; v != NULL && c != NULL; c = c->next) {
        if (!c->registered || c->primary != NULL ||
            (has && regexec(&re, (const char *)c->name, 0, NULL, 0) != 0)) {
            continue;
        }
        if (n == cap) {
            const struct client **nv = mem_realloc(v, 2u * cap * sizeof *nv);
            if (nv == NULL) {
                mem_free(v);
                v = NULL;
                break;
            }
            v = nv;
            cap *= 2u;
        }
        v[n++] = c;
    }
    if (has) {
        regfree(&re);
    }
    if (v == NULL) {
        return -2;
    }
    sort_by_name(v, n);
    (void)msgpack_pack_map(pk, 1);
    pack_cstr(pk, "clients");
    (void)msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        pack_client(pk, v[i]);
    }
    mem_free(v);
    return 0;
}

void coreapi_handle(struct broker *b, struct client *from, const uint8_t *payload,
                    size_t len)
{
    struct busrt_rpc_header h;
    if (busrt_rpc_decode(payload, len, &h) != 0 || h.kind != BUSRT_RPC_REQUEST) {
        return; /* notifications, replies and non-RPC payloads are ignored */
    }
    const uint8_t *m = payload + h.method.off;
    const uint8_t *params = payload + h.data.off;
    const size_t mlen = h.method.len, plen = h.data.len;
    struct mpout out;
    mpout_init(&out);
    msgpack_packer *const pk = &out.pk;
    int16_t err = 0;
    const char *errmsg = NULL;
#define IS(s) (mlen == sizeof(s) - 1u && memcmp(m, s, mlen) == 0)
    if (IS("benchmark.test")) {
        mpout_raw(&out, params, plen);
    } else if (IS("test") || IS("info") || IS("stats")) {
        if (!params_empty(params, plen)) {
            err = BUSRT_RPC_E_INVALID_PARAMS;
            errmsg = "this method takes no params";
        } else if (IS("test")) {
            (void)msgpack_pack_map(pk, 1);
            pack_cstr(pk, "ok");
            (void)msgpack_pack_true(pk);
        } else if (IS("info")) {
            (void)msgpack_pack_map(pk, 2);
            pack_cstr(pk, "author");
            pack_cstr(pk, AUTHOR);
            pack_cstr(pk, "version");
            pack_cstr(pk, BUSRT_VERSION_STRING);
        } else {
            (void)msgpack_pack_map(pk, 11);
            pack_cstr(pk, "uptime");
            (void)msgpack_pack_uint64(pk, (uint64_t)((now_ns() - b->started_ns) / 1000000000LL));
            pack_counters(pk, b->r_frames, b->r_bytes, b->w_frames, b->w_bytes);
            /* keys of this implementation (spec 13.2 allows more keys) */
            pack_cstr(pk, "acl_reloads");
            (void)msgpack_pack_uint64(pk, b->acl_reloads);
            pack_cstr(pk, "acl_reload_failures");
            (void)msgpack_pack_uint64(pk, b->acl_reload_failures);
            pack_cstr(pk, "acl_last_error");
            pack_cstr(pk, b->acl_last_error);
            pack_memory(pk);
        }
    } else if (IS("client.list")) {
        int rc = client_list(b, params, plen, pk);
        if (rc == -1) {
            err = BUSRT_RPC_E_INVALID_PARAMS;
            errmsg = "params must be empty or {\"filter\": REGEX}";
        } else if (rc != 0) {
            err = BUSRT_RPC_E_INTERNAL;
            errmsg = "out of memory";
        }
    } else {
        err = BUSRT_RPC_E_METHOD_NOT_FOUND;
        errmsg = "method not found";
    }
#undef IS
    if (err == 0 && out.failed) {
        struct budget_note *note = &b->notes[NOTE_BROKER_REPLY];
        budget_oom(b, note, "building the .broker %.*s reply for %s; answering -32603",
                   (int)mlen, (const char *)m, client_label(from));
        err = BUSRT_RPC_E_INTERNAL;
        errmsg = "out of memory";
    }
    if (h.call_id != 0u) { /* call id 0: the caller wants no reply */
        if (err != 0) {
            reply_error(b, from, h.call_id, err, errmsg);
        } else {
            reply(b, from, h.call_id, out.sb.data, out.sb.size);
        }
    }
    mpout_destroy(&out);
}

static void publish_event(struct broker *b, const char *topic, const char *s,
                          const uint8_t *name, size_t name_len)
{
    struct mpout out;
    mpout_init(&out);
    msgpack_packer *const pk = &out.pk;
    (void)msgpack_pack_map(pk, name != NULL ? 3 : 2);
    pack_cstr(pk, "s");
    pack_cstr(pk, s);
    if (name != NULL) {
        pack_cstr(pk, "d");
        (void)msgpack_pack_str(pk, name_len);
        (void)msgpack_pack_str_body(pk, name, name_len);
    }
    pack_cstr(pk, "t");
    (void)msgpack_pack_uint64(pk, wall_ns());
    if (out.failed) {
        struct budget_note *note = &b->notes[NOTE_EVENT_BUILD];
        budget_oom(b, note, "building the %s announcement on %s; not published", s, topic);
    } else {
        router_publish_internal(b, (const uint8_t *)topic, strlen(topic),
                                (const uint8_t *)out.sb.data, out.sb.size);
    }
    mpout_destroy(&out);
}

/* Announcements are queued and published between frames: a client can be
 * dropped in the middle of routing, and publishing then would re-enter the
 * router. */
struct event {
    struct event *next;
    int registered;
    size_t len;
    uint8_t name[];
};

void coreapi_announce(struct broker *b, const struct client *c, int registered)
{
    if (b->internal == NULL || c == b->internal) {
        return;
    }
    struct budget_note *note = &b->notes[NOTE_EVENT_QUEUE];
    struct event *e = mem_alloc(sizeof *e + c->name_len);
    if (e == NULL) {
        budget_oom(b, note, "queueing the %s announcement of %s; it is lost",
                   registered ? "reg" : "unreg", client_label(c));
        return;
    }
    e->next = NULL;
    e->registered = registered;
    e->len = c->name_len;
    memcpy(e->name, c->name, c->name_len);
    *b->events_tail = e;
    b->events_tail = &e->next;
}

void coreapi_flush_events(struct broker *b)
{
    struct event *e;
    while ((e = b->events) != NULL) {
        b->events = e->next;
        if (b->events == NULL) {
            b->events_tail = &b->events;
        }
        if (b->internal != NULL) { /* NULL at teardown: discard */
            publish_event(b, ".broker/info", e->registered ? "reg" : "unreg", e->name,
                          e->len);
        }
        mem_free(e);
    }
}

void coreapi_shutdown(struct broker *b)
{
    coreapi_flush_events(b);
    publish_event(b, COREAPI_WARN_TOPIC, "shutdown", NULL, 0);
}
