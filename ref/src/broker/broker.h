/* Broker state shared by the modules of busrtd (struct broker, struct
 * client, struct listener) and the broker's lifecycle (broker.c).
 *
 * A frame's path: loop.c waits on the multiplexer (ev.c with one backend,
 * ev_select.c, ev_poll.c or ev_epoll.c) and hands a readable connection to
 * conn.c, which reads the bytes and parses them with the proved core
 * (ref/src/core) -> router.c checks access (acl.c), resolves receivers
 * through index.c and registry.c, or hands calls to the internal client
 * (coreapi.c) -> outq.c queues shared frame buffers -> conn.c writes them
 * out (loop.c's flush list).
 *
 * The other modules: main.c (the process: options from config.c, signals,
 * the pid file), listener.c (accepting), fifo.c (the line-command FIFO),
 * notify.c (service manager notifications), rt.c (realtime scheduling,
 * CPU affinity, memory locking),
 * registry.c (names, subscriptions, exclusions), timer.c (the deadline
 * heap), clock.c, bmap.c (the hash map under the registry and indexes),
 * mpout.c (MessagePack output), log.c, mem.c (every allocation, counted
 * against --memory-limit, from the --preallocate arena if asked) and
 * budget.c (what happens when that limit is reached). Each module but
 * main.c has a header of its own (the ev_*.c backends share ev.h). */
#ifndef BUSRTD_BROKER_H
#define BUSRTD_BROKER_H

#include <netinet/in.h> /* INET6_ADDRSTRLEN */
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "bmap.h"
#include "budget.h"
#include "busrt/frame.h"
#include "config.h"
#include "ev.h"
#include "index.h"
#include "notify.h"
#include "outq.h"
#include "timer.h"

/* KIND_INPROC: a client of an embedded broker in the same process
 * (inproc.c), with no descriptor; its frames are read from the client's
 * thread and its queue is taken by that thread (busrt/busrtd.h). */
enum client_kind { KIND_UNIX, KIND_TCP, KIND_INTERNAL, KIND_INPROC };

struct inproc_link;
struct inproc_hub;

enum conn_state {
    ST_GREETING, /* waiting for the client's EB 01 00 */
    ST_NAMELEN,  /* waiting for the u16 name length */
    ST_NAME,     /* waiting for the name bytes */
    ST_HEADER,   /* registered, waiting for a 9-byte frame header */
    ST_BODY,     /* waiting for the body of the current frame */
    ST_SKIP,     /* reading and discarding a body the memory limit cannot
                    hold (answered 74 when its QoS asks for an ACK) */
};

/* Room in struct client for the bytes of a partial header (or greeting,
 * name length) when no input buffer of its own can be had. */
#define CLIENT_STASH 16u

struct client {
    uint64_t id; /* unique per broker run; also the index key */
    int fd;      /* -1 for internal and in-process clients */
    struct inproc_link *link; /* in-process clients only, else NULL */
    struct client *next_rewatch; /* broker.rewatch list */
    int rewatch;    /* on it: its descriptor's interest is to be updated */
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
    uint8_t stash[CLIENT_STASH]; /* `in` when an own buffer could not be had */
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
    const char *addr;      /* the socket path, or bound: for log lines */
    const char *arg;       /* the -B text as given */
    char bound[INET6_ADDRSTRLEN + 16]; /* TCP: HOST:PORT actually bound */
};

struct fifo;
struct event;

/* The memory-limit conditions logged at most once a second each
 * (budget_warn, budget_oom), one rate-limiting note per kind. */
enum broker_note {
    NOTE_SKIP_BODY,    /* conn.c: a body discarded */
    NOTE_RPC_REPLY,    /* coreapi.c: an RPC reply not built */
    NOTE_BROKER_REPLY, /* coreapi.c: a .broker reply not built */
    NOTE_EVENT_BUILD,  /* coreapi.c: an announcement not built */
    NOTE_EVENT_QUEUE,  /* coreapi.c: an announcement not queued */
    NOTE_ACCEPT,       /* listener.c: no room for a connection */
    NOTE_ACCEPT_CLIENT,
    NOTE_RCPT_SHORT,   /* router.c: receivers not all collected */
    NOTE_FRAME_BUILD,
    NOTE_FRAME_QUEUE,
    NOTE_LIST_STORE,   /* router.c: a pattern not stored */
    NOTE_COUNT
};

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

    struct notify notify; /* the service manager (notify.c); fd -1: none */
    int64_t started_ns; /* monotonic, for uptime */
    uint64_t r_frames, r_bytes, w_frames, w_bytes;
    /* ACL reloads (SIGHUP), in .broker stats */
    uint64_t acl_reloads;         /* successful */
    uint64_t acl_reload_failures; /* the previous policy was kept */
    char acl_last_error[600];     /* why the last reload failed; "" when it
                                     succeeded or none was attempted */
    struct budget_note notes[NOTE_COUNT];
    int64_t reclaim_fruitless_at; /* the turn of budget.c's last walk that
                                     found no client to drop; -1: none */
    int64_t fd_limit_logged; /* last "no descriptor left" line */

    /* Embedded (lib.c): the lock that threads of in-process clients take
     * to run broker code (inproc.c), the descriptor that wakes the loop,
     * and what such a thread leaves for the loop; NULL/-1 in busrtd. */
    struct inproc_hub *hub;
    int wake_fd;
    int foreign;   /* broker code runs on a thread other than the loop's */
    int64_t wake_at; /* when the loop's current wait ends (INT64_MAX: no
                        deadline), for deciding whether to wake it */
    struct client *rewatch; /* interest changes the loop applies */
};

/* A client with a peer: a socket or in-process connection (it has
 * deadlines and a queue that is written out), unlike ".broker". */
#define CLIENT_HAS_PEER(c) ((c)->fd >= 0 || (c)->link != NULL)

/* Set-up: the internal client ".broker" and the multiplexer; 0 or -1. */
int broker_init(struct broker *b, const struct config *cfg);
/* Opens (binds) every -B listener; returns 0, or -1 after logging why. */
int broker_listen(struct broker *b);
/* Starts accepting connections on every listener; 0 or -1. */
int broker_activate(struct broker *b);
/* Loads cfg.acl_file. A file that cannot be used is reported as "--acl
 * PATH: REASON" followed, at start-up (initial), by "; not starting" (on
 * standard error, as "busrtd: ..."; the caller exits), and on reload by
 * "; keeping the previous policy" (the rules in force stay). Connected
 * clients are re-checked against new rules. A reload counts in
 * acl_reloads or acl_reload_failures and sets acl_last_error. Returns 0
 * or -1. */
int broker_load_acl(struct broker *b, int initial);
/* Frees the clients killed so far, except those still writing out their
 * queue (lingering, bounded by the timeout). */
void broker_reap(struct broker *b);
/* Closes every client and listener, removes socket, FIFO and pid files. */
void broker_teardown(struct broker *b);

#endif
