/* Eva driver over the broker's frame path (`make eva-broker`, `make
 * eva-full`; proofs/README.md, "Eva over the broker").
 *
 * A broker as main.c sets it up (memory budget, broker_init with the
 * internal client .broker, the access control file through
 * broker_load_acl), two socket clients as listener.c accepts them (a UNIX
 * one on descriptor 3 with any peer uid and gid, a TCP one on descriptor 4
 * with any IPv4 peer address), then EVA_TURNS turns of the event loop as
 * broker_run makes them, with the real static steps of loop.c (this file
 * includes it): publish announcements, client_flush_list, broker_reap, wait
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
/* EVA_FRAMES > 0: right after accepting it, the UNIX client completes a
 * valid handshake (greeting, name "a": a fixed prefix, since the
 * handshake's refusals are what the socket model covers), then sends
 * EVA_FRAMES frames through client_feed, whole, as read() would deliver
 * them: any operation (every one of the nine), any QoS, any operation id,
 * and a body shaped as the operation expects, from a name or pattern of
 * one_of_words (EVA_WORDS: by default its sender itself, .broker and a
 * pattern; a mask or another topic can be added),
 * then for the frames that carry one a payload of 0..EVA_BODY bytes of any
 * value (an RPC call to .broker, a publication, ...). Bodies are shaped
 * rather than arbitrary: arbitrary bodies reach the same code through
 * mostly refused frames and made the analysis run past an hour; the
 * parsing of arbitrary bytes is what the socket-model form and the core's
 * analysis (proofs/eva_driver.c) cover. 0: every byte comes from the
 * socket model. */
#ifndef EVA_FRAMES
#define EVA_FRAMES 0
#endif
#ifndef EVA_BODY
#define EVA_BODY 4
#endif
#ifndef EVA_WORDS
#define EVA_WORDS "a", ".broker", "a/#"
#endif

static const uint8_t frame_ops[] = {
    BUSRT_OP_NOP,       BUSRT_OP_PUBLISH,     BUSRT_OP_SUBSCRIBE,
    BUSRT_OP_UNSUBSCRIBE, BUSRT_OP_EXCLUDE,   BUSRT_OP_UNEXCLUDE,
    BUSRT_OP_PUBLISH_FOR, BUSRT_OP_MESSAGE,   BUSRT_OP_BROADCAST,
};
static const char *const one_of_words[] = {EVA_WORDS};
#define WORD_MAX 8u

/* Writes one shaped frame into out; returns its length. */
static size_t shaped_frame(uint8_t *out)
{
    int k = Frama_C_interval(0, (int)(sizeof frame_ops - 1u));
    //@ split k;
    int w = Frama_C_interval(0, (int)(sizeof one_of_words / sizeof *one_of_words) - 1);
    //@ split w;
    size_t len = Frama_C_size_t_interval(0u, (size_t)EVA_BODY);
    //@ split len;
    uint8_t op = frame_ops[k];
    const char *word = one_of_words[w];
    size_t n = BUSRT_CLIENT_HEADER_LEN;
    for (size_t i = 0; word[i] != '\0'; i++) {
        out[n++] = (uint8_t)word[i];
    }
    int lists = op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE;
    if (!lists && op != BUSRT_OP_NOP) {
        out[n++] = 0u;
        if (op == BUSRT_OP_PUBLISH_FOR) { /* topic, receiver mask, payload */
            out[n++] = (uint8_t)'a';
            out[n++] = 0u;
        }
        if (len > 0u) {
            Frama_C_make_unknown((char *)out + n, len);
            n += len;
        }
    }
    if (op == BUSRT_OP_NOP) {
        n = BUSRT_CLIENT_HEADER_LEN; /* a ping, or a NOP frame with a body of 0 */
    }
    Frama_C_make_unknown((char *)out, 4u); /* operation id */
    out[4] = (uint8_t)(op | (uint8_t)(Frama_C_interval(0, 3) << 6));
    size_t body = n - BUSRT_CLIENT_HEADER_LEN;
    out[5] = (uint8_t)body;
    out[6] = out[7] = out[8] = 0u;
    return n;
}
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
    cfg->max_topic_len = 12u; /* the least --max-topic-len: .broker/warn */
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
    if (client_start(b, c) != 0 || EVA_FRAMES == 0 || kind != KIND_UNIX) {
        return;
    }
    /* greeting 0xEB, version 1 (LE16), name length 1 (LE16), "a" */
    static const uint8_t hello[] = {0xEBu, 1u, 0u, 1u, 0u, (uint8_t)'a'};
    client_feed(b, c, hello, sizeof hello);
    for (int f = 0; f < EVA_FRAMES; f++) {
        uint8_t frame[BUSRT_CLIENT_HEADER_LEN + WORD_MAX + 3u + EVA_BODY];
        client_feed(b, c, frame, shaped_frame(frame));
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
    apply_rewatch(b);
    coreapi_flush_events(b);
    client_flush_list(b);
    broker_reap(b);
    b->now = now_ns();
    int n = wait_ready(b, wait_ns(b), NULL);
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
    /* A refused accept (client_new out of memory) leaves a broker with
     * fewer clients; its states are kept apart from the others to the end
     * (split), so that "this client exists" and "its descriptor and timer
     * tables were allocated" are not joined with states where they were not. */
    connect_client(&b, 3, KIND_UNIX);
    int accepted = b.clients != b.internal;
    //@ split accepted;
    if (EVA_CLIENTS > 1) {
        struct client *before = b.clients;
        connect_client(&b, 4, KIND_TCP);
        int second = b.clients != before;
        //@ split second;
    }
    for (int t = 0; t < EVA_TURNS; t++) {
        turn(&b);
    }
    if (Frama_C_interval(0, 1)) {
        coreapi_shutdown(&b); /* broker_drain's announcement */
        coreapi_flush_events(&b);
        client_flush_list(&b);
    }
    broker_teardown(&b);
    mem_shutdown();
    return 0;
}
