/* Broker state shared by the modules of busrtd.
 *
 * A frame's path: loop.c waits on the multiplexer (ev.c with one backend,
 * ev_select.c, ev_poll.c or ev_epoll.c) and hands a readable connection to
 * conn.c, which reads the bytes and parses them with the proved core
 * (ref/src/core) -> router.c resolves receivers through index.c -> outq.c
 * queues shared frame buffers -> conn.c writes them out (loop.c's flush
 * list). Deadlines live in timer.c's heap; broker.c holds the lifecycle. */
#ifndef BUSRTD_BROKER_H
#define BUSRTD_BROKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "bmap.h"
#include "busrt/frame.h"
#include "config.h"
#include "ev.h"
#include "index.h"
#include "outq.h"
#include "timer.h"

enum client_kind { KIND_UNIX, KIND_TCP, KIND_INTERNAL };

enum conn_state {
    ST_GREETING, /* waiting for the client's EB 01 00 */
    ST_NAMELEN,  /* waiting for the u16 name length */
    ST_NAME,     /* waiting for the name bytes */
    ST_HEADER,   /* registered, waiting for a 9-byte frame header */
    ST_BODY,     /* waiting for the body of the current frame */
};

struct client {
    uint64_t id; /* unique per broker run; also the index key */
    int fd;      /* -1 for internal clients */
    enum client_kind kind;
    enum conn_state st;
    int dead;       /* out of routing; closed at the start of the next turn */
    int linger;     /* dead, but its queue is written out first (bounded by
                       the timeout): refusal codes and earlier replies */
    int64_t linger_until;
    struct client *next_dead; /* broker.dead list */
    int registered; /* in the registry and indexes */
    int in_handshake; /* counted in broker.nhandshakes */
    char *source;    /* peer address text (TCP only; owned), else NULL */
    int port;
    struct acl_peer peer; /* what the access control file checks */
    const struct acl_entry *acl; /* the entry governing this client, or NULL */

    uint8_t *name; /* owned, NUL-terminated */
    char *label;    /* the name shortened for log lines (owned; names
                       longer than 64 bytes only), else NULL */
    size_t name_len;
    size_t primary_len;
    struct client *primary;   /* NULL for a primary */
    struct client *secondary; /* first secondary (primaries only) */
    struct client *next_secondary;

    /* input: the broker's shared read buffer while reading, an own buffer
     * only while a partial item is pending, NULL when idle; bodies larger
     * than buf-size go to a separate buffer */
    uint8_t *in;
    size_t in_cap, in_start, in_end;
    uint8_t *big;   /* body or name being collected, when larger than in */
    size_t big_len, big_have;
    size_t need;    /* bytes the current state waits for */
    struct busrt_client_header hdr;
    int64_t read_deadline; /* monotonic ns */
    int64_t next_ping;     /* keep-alive NOP due (registered clients) */
    struct timer timer;    /* in broker.timers: the earliest of the deadlines
                              (socket clients, from client_new to destroy) */

    /* output */
    struct outq q;
    int64_t write_stalled_since; /* 0 when the last write made progress */
    int want_flush;
    struct client *next_flush;

    /* subscriptions and exclusions: pattern string -> owned copy */
    struct bmap subs;
    struct bmap excls;
    uint64_t mark; /* routing generation that already selected this client */

    uint64_t r_frames, r_bytes, w_frames, w_bytes;
    struct client *prev, *next; /* all clients */
};

struct listener {
    int fd;
    enum client_kind kind; /* KIND_UNIX or KIND_TCP */
    char *path;            /* UNIX socket path to unlink on exit, or NULL */
    const char *addr;
};

struct fifo;
struct event;

/* The most ready descriptors one turn handles; more wait for the next. */
#define BROKER_READY_MAX 256

struct broker {
    struct config cfg;
    struct listener *listeners;
    size_t nlisteners;
    struct fifo *fifo;

    struct client *clients; /* list of all clients, internal ones included */
    size_t nconns;          /* socket clients */
    size_t nhandshakes;     /* socket clients not yet registered */
    struct client *internal; /* ".broker" */
    struct client *flush_list, **flush_tail; /* FIFO: deliveries before ACKs */
    struct client *dead;    /* killed, not yet freed (broker_reap) */
    struct client **byfd;   /* socket clients by descriptor */
    size_t byfd_cap;
    struct ev ev;           /* the multiplexer */
    struct ev_ready ready[BROKER_READY_MAX];
    struct timers timers;    /* client deadlines */
    uint8_t *rbuf;          /* the shared read buffer, buf-size bytes */
    struct outbuf *nop;     /* the keep-alive frame, shared by every queue */
    int spare_fd;           /* kept free for refusing connections at EMFILE */
    int draining;           /* shutting down: no more reading */
    int64_t now;      /* monotonic ns, read once per loop turn */
    uint64_t next_id;
    uint64_t gen; /* routing generation, for de-duplication */

    struct acl *acl;   /* NULL: everything allowed */
    struct bmap names; /* registered name -> client */
    struct topic_index topics;
    struct name_index bnames;

    struct event *events, **events_tail; /* pending announcements */
    struct client **rcpt; /* receivers of the frame being routed */
    size_t nrcpt, rcpt_cap;
    int rcpt_short;       /* memory ran out while collecting them */

    int64_t started_ns;     /* monotonic */
    int64_t started_wall_s; /* for uptime */
    uint64_t r_frames, r_bytes, w_frames, w_bytes;
};

/* broker.c: lifecycle */
int broker_init(struct broker *b, const struct config *cfg);
/* Opens (binds) every -B listener; returns 0, or -1 after logging why. */
int broker_listen(struct broker *b);
/* Starts accepting connections on every listener; 0 or -1. */
int broker_activate(struct broker *b);
/* Loads cfg.acl_file; at start-up (initial) a bad file is fatal, on reload
 * the old rules stay. Connected clients are re-checked. Returns 0 or -1. */
int broker_load_acl(struct broker *b, int initial);
/* Frees the clients killed so far, except those still writing out their
 * queue (lingering, bounded by the timeout). */
void broker_reap(struct broker *b);
/* Closes every client and listener, removes socket, FIFO and pid files. */
void broker_teardown(struct broker *b);

/* loop.c: the event loop */
/* Runs until *stop becomes non-zero; signals are delivered only while
 * waiting, with waitmask. */
void broker_run(struct broker *b, const sigset_t *waitmask, volatile sig_atomic_t *stop,
                volatile sig_atomic_t *reload);
/* Announces shutdown and gives queued output up to one timeout to leave. */
void broker_drain(struct broker *b);

int64_t now_ns(void);
uint64_t wall_ns(void);

/* conn.c */
/* A new client on fd (-1: internal or socket-less), or NULL when out of
 * memory. A socket client is watched for reading and has a deadline. */
struct client *client_new(struct broker *b, int fd, enum client_kind kind);
void client_kill(struct broker *b, struct client *c, const char *why);
/* client_kill, but what is already queued for c (a refusal code, replies
 * to earlier frames) is still written, for at most one timeout. */
void client_close(struct broker *b, struct client *c, const char *why);
/* Queues the broker's greeting; the handshake then runs in the loop. */
int client_start(struct broker *b, struct client *c);
void client_destroy(struct broker *b, struct client *c);
int client_on_readable(struct broker *b, struct client *c);
/* Processes bytes as if read from c's socket (fuzzing, tests). */
void client_feed(struct broker *b, struct client *c, const uint8_t *p, size_t n);
void client_flush(struct broker *b, struct client *c);
/* Tells the multiplexer what c waits for: reading while alive, writing
 * while its queue waits for the socket (a write returned EAGAIN); a queue
 * is otherwise written from the loop's flush list without asking. */
void client_watch(struct broker *b, struct client *c);
/* c's deadline (timer) came: drops it on a read, write or linger timeout,
 * sends the keep-alive NOP when due, and sets the timer to the next one. */
void client_on_timer(struct broker *b, struct client *c);
void client_mark_flush(struct broker *b, struct client *c);
const char *client_label(const struct client *c);

/* Queues a shared frame on c. Returns 0, or -1 when c's queue is full: the
 * caller decides (the router drops c). */
int client_enqueue(struct broker *b, struct client *c, struct outbuf *f, int realtime);

/* registry.c */
int registry_add(struct broker *b, struct client *c, uint8_t *code);
void registry_remove(struct broker *b, struct client *c);
struct client *registry_get(struct broker *b, const uint8_t *name, size_t len);

/* router.c */
void router_dispatch(struct broker *b, struct client *c, const uint8_t *body, size_t len);
/* Frames from the internal client (announcements, FIFO, shutdown). */
void router_publish_internal(struct broker *b, const uint8_t *topic, size_t tlen,
                             const uint8_t *payload, size_t len);
void router_broadcast_internal(struct broker *b, const uint8_t *mask, size_t mlen,
                               const uint8_t *payload, size_t len);
void router_message_internal(struct broker *b, const uint8_t *target, size_t tlen,
                             const uint8_t *payload, size_t len);
/* Queues a frame from `from` to c; drops c when its queue is full. Returns
 * 0 when queued. */
int router_deliver(struct broker *b, struct client *c, struct outbuf *f, int realtime);
struct outbuf *router_build(uint8_t kind, int realtime, const struct client *from,
                            const uint8_t *topic, size_t topic_len,
                            const uint8_t *payload, size_t payload_len);

/* coreapi.c: the internal client's RPC methods and announcements */
void coreapi_handle(struct broker *b, struct client *from, const uint8_t *payload,
                    size_t len);
void coreapi_announce(struct broker *b, const struct client *c, int registered);
/* Publishes queued reg/unreg announcements; called between frames. */
void coreapi_flush_events(struct broker *b);
void coreapi_shutdown(struct broker *b);

#endif
