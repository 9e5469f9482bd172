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

/* The 9-byte header of a client frame, written by the core's proved
 * encoder, with an operation id of any value. */
static void frame_header(uint8_t *f, uint8_t op, uint8_t qos, size_t body)
{
    const struct busrt_client_header h = {0u, op, qos, (uint32_t)body};
    int rc = busrt_client_header_encode(&h, f, BUSRT_CLIENT_HEADER_LEN);
    //@ assert header_encoded: rc == BUSRT_CLIENT_HEADER_LEN;
    (void)rc;
    Frama_C_make_unknown((char *)f, 4u); /* operation id */
}

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
    frame_header(out, op, (uint8_t)Frama_C_interval(0, 3), n - BUSRT_CLIENT_HEADER_LEN);
    return n;
}
/* 1: registered clients run a script of frames (scenes() below). */
#ifndef EVA_SCENES
#define EVA_SCENES 0
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
    cfg->queue_bytes = EVA_SCENES ? 2048u : 256u; /* .broker's replies */
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

#if EVA_SCENES
/* ---- EVA_SCENES: a script of frames from registered clients ----------
 * "a" (UNIX, uid 1000), "b.1" (TCP from 127.0.0.1) and later "a%%2" (a
 * second instance of a), all admitted by the model's access control file,
 * send one frame after another through client_feed: every operation,
 * allowed and refused by the policy, deliveries to subscribers,
 * exclusions, one-to-one messages to a client, to no client and to a name
 * with two instances, broadcasts, publish_for, each .broker method with
 * good and bad params, QoS 0 to 3, a body past --buf-size, a queue that
 * overflows. Names and topics are fixed, so the indexes' keys stay exact;
 * operation ids and payloads are bytes of any value. After each frame the
 * queued frames are written out. Then real loop turns (turn()): a socket
 * that takes 5 bytes and blocks, frames arriving 4 bytes per read, a peer
 * that closes, a ping deadline and an idle timeout. The models do not
 * fail while the script runs (eva_script), so the analysis follows one
 * state; proofs/README.md, "The scripted form". */
/* Writes a frame (a body from a string literal, then unknown bytes of any
 * value) into f; returns its length. */
static size_t put_frame(uint8_t *f, size_t cap, uint8_t op, uint8_t qos, const char *body,
                        size_t blen, size_t unknown)
{
    size_t n = BUSRT_CLIENT_HEADER_LEN;
    for (size_t i = 0; i < blen && n < cap; i++) {
        f[n++] = (uint8_t)body[i];
    }
    if (unknown > 0u && n + unknown <= cap) {
        Frama_C_make_unknown((char *)f + n, unknown);
        n += unknown;
    }
    frame_header(f, op, qos, n - BUSRT_CLIENT_HEADER_LEN);
    return n;
}

/* Feeds c one frame, then writes out what is queued. */
static void send_frame(struct broker *b, struct client *c, uint8_t op, uint8_t qos,
                       const char *body, size_t blen, size_t unknown)
{
    uint8_t f[BUSRT_CLIENT_HEADER_LEN + 96u];
    client_feed(b, c, f, put_frame(f, sizeof f, op, qos, body, blen, unknown));
    client_flush_list(b);
}

/* a frame whose body is a string literal (NULs included), then k bytes of any value */
#define SEND(c, op, qos, lit, k) send_frame(b, (c), (op), (qos), (lit), sizeof(lit) - 1u, (k))
#define RPC(c, qos, lit) SEND((c), BUSRT_OP_MESSAGE, (qos), ".broker\0" lit, 0u)

/* A client of the script: accepted, then registered under name. */
static struct client *scene_client(struct broker *b, int fd, enum client_kind kind,
                                   const char *name, size_t nlen)
{
    struct client *c = client_new(b, fd, kind);
    if (c == NULL) {
        return NULL;
    }
    c->peer.is_tcp = kind == KIND_TCP;
    if (kind == KIND_UNIX) {
        c->peer.has_cred = 1;
        c->peer.uid = 1000u;
        c->peer.gid = 1000u;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)&c->peer.addr;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = 0x0100007Fu; /* 127.0.0.1 in network order */
        c->port = 40000;
        if ((c->source = mem_strdup("127.0.0.1")) == NULL) {
            client_kill(b, c, "out of memory");
            return NULL;
        }
    }
    if (client_start(b, c) != 0) {
        return NULL;
    }
    /* greeting 0xEB, version 1 (LE16), name length (LE16), name */
    uint8_t hello[5u + WORD_MAX] = {0xEBu, 1u, 0u, (uint8_t)nlen, 0u};
    for (size_t i = 0; i < nlen && i < WORD_MAX; i++) {
        hello[5u + i] = (uint8_t)name[i];
    }
    client_feed(b, c, hello, 5u + nlen);
    client_flush_list(b);
    return c->dead ? NULL : c;
}

static void turn(struct broker *b);

static void scenes(struct broker *b, struct client *a, struct client *b1)
{
    SEND(a, BUSRT_OP_NOP, 0, "", 0u);                   /* ping */
    SEND(a, BUSRT_OP_NOP, 1, "\0", 1u);                /* a NOP with a body: no effect */
    SEND(a, BUSRT_OP_SUBSCRIBE, 1, "t/+", 0u);
    SEND(a, BUSRT_OP_SUBSCRIBE, 1, "u\0t/+", 0u);       /* two, one already held */
    SEND(a, BUSRT_OP_SUBSCRIBE, 1, "v", 0u);            /* refused by the policy */
    SEND(a, BUSRT_OP_SUBSCRIBE, 1, "t/#", 0u);          /* beyond the policy's t/+ */
    SEND(b1, BUSRT_OP_SUBSCRIBE, 1, "t/x", 0u);         /* b.*: subscribe [] */
    SEND(b1, BUSRT_OP_PUBLISH, 1, "t/x\0", 2u);         /* to a */
    SEND(b1, BUSRT_OP_PUBLISH, 0, "u\0", 1u);           /* to a, no ACK */
    SEND(a, BUSRT_OP_PUBLISH, 2, "t/y\0", 2u);          /* to itself, realtime */
    SEND(a, BUSRT_OP_PUBLISH, 1, "x\0", 2u);            /* refused by the policy */
    SEND(a, BUSRT_OP_EXCLUDE, 1, "t/y", 0u);
    SEND(a, BUSRT_OP_PUBLISH, 3, "t/y\0", 1u);          /* excluded */
    SEND(a, BUSRT_OP_UNEXCLUDE, 1, "t/y\0t/z", 0u);
    SEND(b1, BUSRT_OP_MESSAGE, 1, "a\0", 3u);           /* to a */
    SEND(b1, BUSRT_OP_MESSAGE, 1, "zz\0", 1u);          /* to no client */
    SEND(a, BUSRT_OP_MESSAGE, 1, "b.1\0", 1u);          /* refused: a may message b only */
    SEND(a, BUSRT_OP_BROADCAST, 1, "b.*\0", 2u);        /* to b.1 */
    SEND(b1, BUSRT_OP_BROADCAST, 0, "*\0", 1u);         /* to a and b1 */
    SEND(b1, BUSRT_OP_PUBLISH_FOR, 1, "t/x\0a\0", 2u);  /* to a */
    SEND(b1, BUSRT_OP_PUBLISH_FOR, 1, "t/x\0q.*\0", 1u); /* to no client */
    RPC(a, 1, "\x01\x07\0\0\0test\0");
    RPC(a, 1, "\x01\x08\0\0\0info\0\xc0");
    RPC(a, 0, "\x01\x09\0\0\0stats\0");
    RPC(a, 1, "\x01\x0a\0\0\0client.list\0");
    RPC(a, 1, "\x01\x0b\0\0\0client.list\0\x81\xa6" "filter\xa1" "b");
    RPC(a, 1, "\x01\x0c\0\0\0client.list\0\x81\xa6" "filter\x01");
    RPC(a, 1, "\x01\x0d\0\0\0client.list\0\x92\x01");
    RPC(a, 1, "\x01\x0e\0\0\0test\0\x01");
    RPC(a, 1, "\x01\x0f\0\0\0nope\0");
    SEND(a, BUSRT_OP_MESSAGE, 1, ".broker\0\x01\x10\0\0\0benchmark.test\0", 3u);
    RPC(a, 1, "\x00" "abc");                            /* a notification: ignored */
    RPC(a, 1, "\x01\x11\0\0");                          /* a short request */
    SEND(b1, BUSRT_OP_MESSAGE, 1, "a\0", 80u);          /* a body past --buf-size */
    /* a second instance of a: admitted by a's entry, a secondary of a */
    struct client *a2 = scene_client(b, 5, KIND_UNIX, "a%%2", 4u);
    if (a2 != NULL) {
        SEND(b1, BUSRT_OP_MESSAGE, 1, "a\0", 1u);      /* to one instance of a */
        SEND(b1, BUSRT_OP_BROADCAST, 1, "a%%2\0", 1u);
        /* a2's socket blocks: its queue of 4 frames overflows, and a2 is dropped */
        eva_wr_budget = 0u;
        for (int i = 0; i < 5; i++) {
            SEND(b1, BUSRT_OP_MESSAGE, 0, "a%%2\0", 1u);
        }
        eva_wr_budget = SIZE_MAX;
    }
    SEND(a, BUSRT_OP_UNSUBSCRIBE, 1, "t/+\0w", 0u);
    SEND(a, BUSRT_OP_UNSUBSCRIBE, 1, "t/+", 0u);        /* no longer held */
    SEND(a, BUSRT_OP_SUBSCRIBE, 1, "t/+", 0u);
    if (EVA_ACL) {
        (void)broker_load_acl(b, 0); /* SIGHUP with clients connected */
    }
    /* a's socket takes 5 bytes, then blocks: two deliveries stay queued,
     * one of them partly written, until a loop turn finds it writable */
    eva_wr_budget = 5u;
    SEND(b1, BUSRT_OP_PUBLISH, 1, "t/x\0", 2u);
    SEND(b1, BUSRT_OP_MESSAGE, 2, "a\0", 3u);
    eva_wr_budget = SIZE_MAX;
    turn(b);
    /* the socket path: a publication, a subscription and a ping arrive
     * 4 bytes per read, so every item crosses reads */
    static uint8_t in[3u * (BUSRT_CLIENT_HEADER_LEN + 8u)];
    size_t n = put_frame(in, sizeof in, BUSRT_OP_PUBLISH, 1u, "t/y\0", 4u, 2u);
    n += put_frame(in + n, sizeof in - n, BUSRT_OP_SUBSCRIBE, 1u, "u", 1u, 0u);
    n += put_frame(in + n, sizeof in - n, BUSRT_OP_NOP, 0u, "", 0u, 0u);
    eva_rd_fd = a->fd;
    eva_rd_src = in;
    eva_rd_left = n;
    eva_rd_chunk = 4u;
    while (eva_rd_left > 0u && !a->dead) {
        turn(b);
    }
    turn(b);
    /* b1's peer closes its end; the next turn reaps b1 */
    eva_rd_fd = b1->fd;
    eva_rd_eof = 1;
    turn(b);
    turn(b);
    /* deadlines: a's ping is due, then a times out (no frame for 2.5 s) */
    eva_mono += 1500000000LL;
    turn(b);
    eva_mono += 3000000000LL;
    turn(b);
    turn(b);
}
#endif

/* One turn of broker_run (loop.c), with a bounded wait. */
static void turn(struct broker *b)
{
    eva_eintr_left = 1;
    eva_socket_full = 0;
    if (EVA_ACL && !eva_script && Frama_C_interval(0, 1)) {
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
    eva_script = EVA_SCENES;
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
#if EVA_SCENES
    struct client *a = scene_client(&b, 3, KIND_UNIX, "a", 1u);
    struct client *b1 = a != NULL ? scene_client(&b, 4, KIND_TCP, "b.1", 3u) : NULL;
    int registered = b1 != NULL;
    //@ split registered;
    if (registered) {
        scenes(&b, a, b1);
    }
#else
    connect_client(&b, 3, KIND_UNIX);
    int accepted = b.clients != b.internal;
    //@ split accepted;
#endif
    if (!EVA_SCENES && EVA_CLIENTS > 1) {
        struct client *before = b.clients;
        connect_client(&b, 4, KIND_TCP);
        int second = b.clients != before;
        //@ split second;
    }
    for (int t = 0; t < EVA_TURNS; t++) {
        turn(&b);
    }
    if (EVA_SCENES || Frama_C_interval(0, 1)) {
        coreapi_shutdown(&b); /* broker_drain's announcement */
        coreapi_flush_events(&b);
        client_flush_list(&b);
    }
    broker_teardown(&b);
    mem_shutdown();
    return 0;
}
