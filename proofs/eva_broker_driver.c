/* Eva driver over the broker's frame path (`make eva-broker`, `make
 * eva-full`; proofs/README.md, "Eva over the broker").
 *
 * A broker as main.c sets it up (memory budget, broker_init with the
 * internal client .broker, the access control file through
 * broker_load_acl), two socket clients as listener.c accepts them (a UNIX
 * one on descriptor 3 with any peer uid and gid, a TCP one on descriptor 4
 * with any IPv4 peer address), then EVA_TURNS turns of the event loop as
 * broker_run makes them, with the real static steps of loop.c (this file
 * includes it): publish announcements, flush_all, broker_reap, wait
 * (the multiplexer model of eva_stubs.c reports any subset of the watched
 * descriptors as readable, writable or both), on_ready for each (which
 * calls client_flush and client_on_readable: the socket model delivers
 * 1..EVA_READ_MAX bytes of any value, end of file or an error, and takes
 * any prefix of what is written), then the expired deadlines
 * (client_on_timer: the clock advances by any amount each reading). In any
 * turn the access control file may be reloaded (SIGHUP), and the broker
 * may start draining (broker_drain's first steps). At the end everything
 * is torn down (broker_teardown), so every client's destruction is
 * analysed from whatever state the turns left it in.
 *
 * Bytes are arbitrary, so the handshake, the greeting refusals, frame
 * headers, bodies of every kind, subscriptions, RPC calls to .broker,
 * ACKs and the access checks are all reached along some path, as far as
 * EVA_TURNS * EVA_READ_MAX bytes per client allow. */
#include "../ref/src/broker/loop.c"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "__fc_builtin.h"

#include "../ref/src/broker/acl.h"
#include "../ref/src/broker/budget.h"
#include "eva_stubs.h"

#ifndef EVA_TURNS
#define EVA_TURNS 3
#endif
/* 1: the access control file is loaded (and may be reloaded each turn). */
#ifndef EVA_ACL
#define EVA_ACL 1
#endif
/* EVA_FEED > 0: right after accepting it, the UNIX client sends a valid
 * greeting and the name "a" (a fixed prefix), then 1..EVA_FEED bytes of
 * any value (client_feed, as read() would deliver them), so that the
 * analysis spends its budget on frames rather than on the handshake's
 * refusals. 0: every byte comes from the socket model. */
#ifndef EVA_FEED
#define EVA_FEED 0
#endif
/* Socket clients: 1 (UNIX) or 2 (UNIX and TCP). */
#ifndef EVA_CLIENTS
#define EVA_CLIENTS 2
#endif

static void set_config(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->timeout_ns = 2000000000LL;
    cfg->buf_size = 64u; /* the smallest --buf-size: items cross reads */
    cfg->buf_ttl_ns = 10000LL;
    cfg->queue_size = 4u;
    cfg->queue_bytes = 256u;
    cfg->payload_limit = 96u;
    cfg->max_clients = 4u;
    cfg->max_name_len = 8u;
    cfg->max_topic_len = 8u;
    cfg->max_subscriptions = 2u;
    cfg->max_exclusions = 2u;
    cfg->max_handshakes = 4u;
    cfg->acl_file = EVA_ACL ? "/eva/acl.json" : NULL;
    cfg->socket_mode = -1;
    cfg->io = &ev_epoll_ops;
    cfg->memory_limit = 8192u;
}

/* listener_accept after accept(): a UNIX client (fd 3) or a TCP one (4). */
static void connect_client(struct broker *b, int fd, enum client_kind kind)
{
    struct client *c = client_new(b, fd, kind);
    if (c == NULL) {
        return;
    }
    c->peer.is_tcp = kind == KIND_TCP;
    if (kind == KIND_UNIX) {
        c->peer.has_cred = Frama_C_interval(0, 1);
        c->peer.uid = (uid_t)Frama_C_unsigned_int_interval(0u, 2000u);
        c->peer.gid = (gid_t)Frama_C_unsigned_int_interval(0u, 2000u);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&c->peer.addr;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = Frama_C_unsigned_int_interval(0u, 0xFFFFFFFFu);
        c->port = Frama_C_interval(1, 65535);
        if ((c->source = mem_strdup("127.0.0.1")) == NULL) {
            client_kill(b, c, "out of memory");
            return;
        }
    }
    if (client_start(b, c) != 0 || EVA_FEED == 0 || kind != KIND_UNIX) {
        return;
    }
    /* greeting 0xEB, version 1 (LE16), name length 1 (LE16), "a" */
    static const uint8_t hello[] = {0xEBu, 1u, 0u, 1u, 0u, (uint8_t)'a'};
    client_feed(b, c, hello, sizeof hello);
    if (EVA_FEED > 0) {
        uint8_t bytes[EVA_FEED + 1];
        size_t n = Frama_C_size_t_interval(1u, (size_t)EVA_FEED);
        Frama_C_make_unknown((char *)bytes, n);
        client_feed(b, c, bytes, n);
    }
}

/* One turn of broker_run (loop.c), with a bounded wait. */
static void turn(struct broker *b)
{
    eva_eintr_left = 1;
    eva_socket_full = 0;
    if (EVA_ACL && Frama_C_interval(0, 1)) {
        (void)broker_load_acl(b, 0); /* SIGHUP */
    }
    coreapi_flush_events(b);
    flush_all(b);
    broker_reap(b);
    b->now = now_ns();
    int n = ev_wait(&b->ev, wait_ns(b), NULL, b->ready, BROKER_READY_MAX);
    b->now = now_ns();
    for (int i = 0; i < n; i++) {
        on_ready(b, &b->ready[i]);
    }
    b->now = now_ns();
    expire(b);
}

int main(void)
{
    static struct broker b;
    struct config cfg;
    set_config(&cfg);
    log_setup(-1, 0); /* see proofs/README.md: log.c is not analysed */
    if (mem_init(cfg.memory_limit, 0) != 0) {
        return 1;
    }
    if (broker_init(&b, &cfg) != 0 || (EVA_ACL && broker_load_acl(&b, 1) != 0)) {
        broker_teardown(&b);
        return 1;
    }
    b.now = now_ns();
    connect_client(&b, 3, KIND_UNIX);
    if (EVA_CLIENTS > 1) {
        connect_client(&b, 4, KIND_TCP);
    }
    for (int t = 0; t < EVA_TURNS; t++) {
        turn(&b);
    }
    if (Frama_C_interval(0, 1)) {
        coreapi_shutdown(&b); /* broker_drain's announcement */
        coreapi_flush_events(&b);
        flush_all(&b);
    }
    broker_teardown(&b);
    mem_shutdown();
    return 0;
}
