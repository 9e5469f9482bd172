/* libbusrt: a small synchronous BUS/RT v1 client (spec/busrt-v1.md).
 *
 * One busrt_client object per connection. The library has no threads and
 * no global state, never prints, and never raises SIGPIPE (it writes with
 * MSG_NOSIGNAL). Several clients may be used from different threads at the
 * same time; one client must be used by one thread at a time (no internal
 * locking).
 *
 * All encoding and decoding goes through the pure core codec
 * (busrt/frame.h, busrt/rpcproto.h). Link with -lbusrt (the static and
 * shared libraries both contain the core).
 *
 * ---- Return values -------------------------------------------------------
 * Functions returning int return 0 (or a documented non-negative value) on
 * success and a negative BUSRT_E_* code on failure. busrt_client_strerror()
 * turns any code into text. A result code C (0x71..0x79) sent by the
 * broker, in a handshake reply or in an ACK, is returned as
 * BUSRT_E_RC(C) = -1000 - C: every code is a distinct error.
 *
 * ---- Blocking and time ---------------------------------------------------
 * Every blocking call takes a timeout in milliseconds: 0 means "do not
 * block", a negative value means "no limit". Sends block only while the
 * socket is full, for at most the configured io_timeout_ms.
 *
 * ---- Keep-alive (REQ-KA-4) ------------------------------------------------
 * There is no background thread: the client pings (nine 00 bytes) only
 * from inside a library call. It pings when it has sent nothing for
 * ping_interval_ms (default 1000 ms), and it answers the broker's
 * keep-alive NOPs (sent every T/2, T = the broker's timeout) with a ping
 * unless it sent something within the last half NOP interval, so it keeps
 * brokers with any T satisfied (the broker drops a client silent for
 * 1.25 x T).
 * THE RULE: while a client is connected, the caller must call busrt_recv(),
 * busrt_poll(), busrt_wait_ack(), busrt_rpc_call() or busrt_rpc_serve() at
 * least every N ms, N = the smaller of ping_interval_ms and T/2 (1000 ms
 * with the default T = 5 s; 250 ms for a broker run with -t 0.5). A
 * blocking call with a longer timeout is fine: it pings by itself while it
 * waits. Being late by less than 1.25 x T - N loses nothing. Callers with
 * their own event loop: wait for POLLIN on busrt_fd() with a timeout of at
 * most busrt_poll_timeout_ms(), then call busrt_poll() (and busrt_recv(c,
 * f, 0) while it reports a frame).
 *
 * ---- Received frames -------------------------------------------------------
 * busrt_recv() returns a view (struct busrt_frame) into the client's read
 * buffer: no copy is made. THE VIEW STAYS VALID UNTIL THE NEXT CALL OF
 * busrt_recv() (or busrt_rpc_serve(), or busrt_client_close()) ON THE SAME
 * CLIENT; every other call (sends, busrt_poll(), busrt_wait_ack(),
 * busrt_rpc_call(), ...) keeps it valid, so a frame may be answered with
 * data that points into it.
 */
#ifndef BUSRT_CLIENT_H
#define BUSRT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "busrt/codes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct busrt_client busrt_client;

/* ---- Error codes ------------------------------------------------------------ */

/* Unread deliveries the client keeps while the caller waits for an ACK or
 * an RPC reply, beyond one max_body frame; more fail the wait with
 * BUSRT_E_TOO_BIG (the caller must then busrt_recv() what is pending). */
#define BUSRT_CLIENT_MAX_UNREAD (64u * 1024u * 1024u)

#define BUSRT_E_SYS (-101)        /* a system call failed; errno holds the cause */
#define BUSRT_E_TIMEOUT (-102)    /* nothing (or not enough) arrived in time */
#define BUSRT_E_CLOSED (-103)     /* the connection is lost (EOF, reset, broken) */
#define BUSRT_E_PROTO (-104)      /* the broker sent bytes that are not valid v1 */
#define BUSRT_E_ADDR (-105)       /* bad address string, or host not resolved */
#define BUSRT_E_INVAL (-106)      /* an argument is invalid (NULL, QoS > 3, ...) */
#define BUSRT_E_NOMEM (-107)      /* out of memory */
#define BUSRT_E_TOO_BIG (-108)    /* a body exceeds u32 or the configured max_body */
#define BUSRT_E_UNKNOWN_OP (-109) /* busrt_wait_ack: op id not awaited (QoS without
                                     ACK, op_id was not requested, already
                                     claimed, or evicted) */
#define BUSRT_E_RPC (-110)        /* an RPC call failed; see busrt_rpc_reply.code */
#define BUSRT_E_HANDSHAKE (-111)  /* the broker closed the connection during the
                                     handshake without sending a result code (the
                                     deployed broker does this for a name that is
                                     not UTF-8) */
#define BUSRT_E_IDLE (-112)       /* nothing received for idle_timeout_ms: the
                                     connection is treated as lost */
#define BUSRT_E_LIMIT (-113)      /* a configured limit is reached (e.g. the
                                     maximum number of open RPC cursors) */

/* A broker result code C (handshake refusal or ACK result other than 01). */
#define BUSRT_E_RC_BASE (-1000)
#define BUSRT_E_RC(c) (BUSRT_E_RC_BASE - (int)(c))
#define BUSRT_E_IS_RC(e) ((e) < BUSRT_E_RC_BASE && (e) >= BUSRT_E_RC_BASE - 255)
#define BUSRT_E_RC_CODE(e) ((uint8_t)(BUSRT_E_RC_BASE - (e)))

#define BUSRT_E_NOT_REGISTERED BUSRT_E_RC(BUSRT_RC_NOT_REGISTERED) /* -1113 */
#define BUSRT_E_DATA BUSRT_E_RC(BUSRT_RC_DATA)                     /* -1114 */
#define BUSRT_E_IO BUSRT_E_RC(BUSRT_RC_IO)                         /* -1115 */
#define BUSRT_E_OTHER BUSRT_E_RC(BUSRT_RC_OTHER)                   /* -1116 */
#define BUSRT_E_NOT_SUPPORTED BUSRT_E_RC(BUSRT_RC_NOT_SUPPORTED)   /* -1117 */
#define BUSRT_E_BUSY BUSRT_E_RC(BUSRT_RC_BUSY)                     /* -1118 */
#define BUSRT_E_NOT_DELIVERED BUSRT_E_RC(BUSRT_RC_NOT_DELIVERED)   /* -1119 */
#define BUSRT_E_BROKER_TIMEOUT BUSRT_E_RC(BUSRT_RC_TIMEOUT)        /* -1120 */
#define BUSRT_E_ACCESS BUSRT_E_RC(BUSRT_RC_ACCESS)                 /* -1121 */

/* Text for any code this library returns: BUSRT_E_*, BUSRT_E_RC(c) (each
 * result code has its own text, e.g. "busy (name already registered)"),
 * the core's BUSRT_ERR_*, or 0 ("success"). Static storage, never NULL,
 * thread-safe. */
const char *busrt_client_strerror(int err);

/* ---- Configuration and connection ----------------------------------------- */

#define BUSRT_CLIENT_DEFAULT_TIMEOUT_MS 5000
#define BUSRT_CLIENT_DEFAULT_PING_MS 1000
#define BUSRT_CLIENT_DEFAULT_BUF_SIZE 16384u
#define BUSRT_CLIENT_DEFAULT_MAX_BODY (64u * 1024u * 1024u)

struct busrt_client_config {
    const char *name;       /* client name, NUL-terminated (primary, or a
                               secondary "primary%%suffix"); borrowed during
                               connect only (the client keeps a copy) */
    int connect_timeout_ms; /* bound on connect + handshake (default 5000) */
    int io_timeout_ms;      /* bound on one blocked write (default 5000) */
    int ping_interval_ms;   /* ping after this long without sending (1000);
                               for these three, values <= 0 mean the default */
    int idle_timeout_ms;    /* > 0: nothing received (not even a broker NOP)
                               for this long means the connection is lost
                               (BUSRT_E_IDLE); 0 = off (default) */
    uint32_t max_body;      /* largest delivered body accepted; a larger one
                               closes the connection without allocating
                               (REQ-LIM-7); default 64 MiB */
    size_t buf_size;        /* initial read buffer size (default 16384); it
                               grows for large frames (up to max_body + 6)
                               and for frames that arrive while the caller
                               waits for an ACK or a reply: unread
                               deliveries are kept in memory until
                               busrt_recv() takes them, up to max_body +
                               BUSRT_CLIENT_MAX_UNREAD bytes */
    int spin_us;            /* > 0: a call that has to wait for the broker
                               first keeps looking for bytes for up to this
                               many microseconds (at most 10000) before it
                               sleeps: lower latency for a busy exchange, at
                               the cost of that CPU time on every wait;
                               0 = sleep at once (default) */
};

/* Fills *cfg with the defaults above and cfg->name = name. Never fails. */
void busrt_client_config_init(struct busrt_client_config *cfg, const char *name);

/* Connects to addr and registers cfg->name.
 *   addr: a UNIX socket path when it ends in .sock, .socket or .ipc, or
 *         starts with '/'; else HOST:PORT (TCP, TCP_NODELAY set; HOST may be
 *         a name, an IPv4 address or [IPv6]). Name resolution
 *         (getaddrinfo) may block beyond connect_timeout_ms.
 * Blocks for at most cfg->connect_timeout_ms (connect + greeting + name).
 * On success stores a new client in *out (owned by the caller: release it
 * with busrt_client_close) and returns 0. On failure *out is NULL and the
 * result is: BUSRT_E_ADDR (bad address / unknown host), BUSRT_E_SYS (errno:
 * ENOENT, ECONNREFUSED, ...), BUSRT_E_TIMEOUT, BUSRT_E_PROTO (the broker's
 * greeting is not EB 01 00), BUSRT_E_HANDSHAKE, BUSRT_E_INVAL (NULL
 * arguments, name longer than 65535 bytes), BUSRT_E_NOMEM, or the broker's
 * refusal BUSRT_E_RC(c): BUSRT_E_DATA (empty name, leading '.', too long),
 * BUSRT_E_BUSY (name taken), BUSRT_E_NOT_REGISTERED (secondary without its
 * primary), BUSRT_E_ACCESS, BUSRT_E_OTHER (too many clients),
 * BUSRT_E_NOT_SUPPORTED (protocol version). */
int busrt_client_connect(busrt_client **out, const char *addr,
                         const struct busrt_client_config *cfg);

/* Closes the connection and frees the client and every view it returned
 * (frames, RPC replies). Unsent data does not exist (every send completes
 * or fails before returning). NULL is allowed. Never blocks, never fails. */
void busrt_client_close(busrt_client *c);

/* The registered name (owned by the client, NUL-terminated, valid until
 * busrt_client_close). NULL for c == NULL. Never blocks. */
const char *busrt_client_name(const busrt_client *c);

/* 1 while the connection is usable, 0 once it was lost (the operation
 * that noticed returned the reason). Never blocks. */
int busrt_client_connected(const busrt_client *c);

/* Delivered frames discarded because their body lacked a required NUL
 * (REQ-DLV-7). Never blocks. */
uint64_t busrt_client_discarded(const busrt_client *c);

/* ---- Sending ------------------------------------------------------------- */
/* Common rules for every send function:
 *   qos: BUSRT_QOS_NO (0), _PROCESSED (1), _REALTIME (2),
 *        _REALTIME_PROCESSED (3); bit 0 asks the broker for an ACK.
 *   op_id: may be NULL. When not NULL it receives the frame's op id, and
 *        when the QoS asks for an ACK the client remembers the op so that
 *        busrt_wait_ack(op_id) can return its result later (or never: an
 *        ACK nobody waits for is kept in a bounded table and evicted when
 *        space is needed). With op_id NULL the ACK, if any, is ignored.
 *   Strings (targets, topics, names) are NUL-terminated and not copied.
 *   Payload bytes are borrowed for the duration of the call only; the
 *   *v variants take the payload as iovec pieces, written with the header
 *   in one sendmsg() without being joined into one buffer.
 *   Frames are written at once (there is no client-side buffering; every
 *   frame is flushed as a realtime frame would be).
 * Blocks while the socket is full, at most io_timeout_ms; meanwhile it
 * keeps reading what the broker sends (so that neither side can deadlock).
 * Returns 0; BUSRT_E_INVAL (NULL, qos > 3, iovcnt out of range);
 * BUSRT_E_TOO_BIG (body longer than 4294967295 bytes); BUSRT_E_TIMEOUT
 * (nothing of the frame could be written; the connection stays usable);
 * BUSRT_E_CLOSED (lost, or a frame was written only in part);
 * BUSRT_E_NOMEM. */

/* One-to-one message to the client named target (exact name). */
int busrt_send(busrt_client *c, const char *target, const void *payload,
               size_t len, unsigned qos, uint32_t *op_id);
int busrt_sendv(busrt_client *c, const char *target, const struct iovec *iov,
                int iovcnt, unsigned qos, uint32_t *op_id);

/* One-to-many message to every client whose name matches mask. */
int busrt_broadcast(busrt_client *c, const char *mask, const void *payload,
                    size_t len, unsigned qos, uint32_t *op_id);
int busrt_broadcastv(busrt_client *c, const char *mask, const struct iovec *iov,
                     int iovcnt, unsigned qos, uint32_t *op_id);

/* Publication on topic. */
int busrt_publish(busrt_client *c, const char *topic, const void *payload,
                  size_t len, unsigned qos, uint32_t *op_id);
int busrt_publishv(busrt_client *c, const char *topic, const struct iovec *iov,
                   int iovcnt, unsigned qos, uint32_t *op_id);

/* Publication delivered only to subscribers whose primary name is
 * receiver. */
int busrt_publish_for(busrt_client *c, const char *topic, const char *receiver,
                      const void *payload, size_t len, unsigned qos,
                      uint32_t *op_id);
int busrt_publish_forv(busrt_client *c, const char *topic, const char *receiver,
                       const struct iovec *iov, int iovcnt, unsigned qos,
                       uint32_t *op_id);

/* Subscription management: one pattern, or n >= 1 patterns in one frame
 * (n == 0 is BUSRT_E_INVAL: an empty body would subscribe to the empty
 * topic ""; subscribe to "" explicitly if that is meant). */
int busrt_subscribe(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id);
int busrt_subscribe_many(busrt_client *c, const char *const *topics, size_t n,
                         unsigned qos, uint32_t *op_id);
int busrt_unsubscribe(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id);
int busrt_unsubscribe_many(busrt_client *c, const char *const *topics, size_t n,
                           unsigned qos, uint32_t *op_id);
int busrt_exclude(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id);
int busrt_exclude_many(busrt_client *c, const char *const *topics, size_t n,
                       unsigned qos, uint32_t *op_id);
int busrt_unexclude(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id);
int busrt_unexclude_many(busrt_client *c, const char *const *topics, size_t n,
                         unsigned qos, uint32_t *op_id);

/* Sends a ping now (normally not needed: the client pings by itself).
 * Blocks like a send; same results. */
int busrt_ping(busrt_client *c);

/* Waits up to timeout_ms for the ACK of op_id (an op sent with an ACK QoS
 * and a non-NULL op_id). Deliveries that arrive meanwhile are kept for
 * busrt_recv. Returns 0 for ACK 01; BUSRT_E_RC(c) for any other result
 * code (e.g. BUSRT_E_NOT_REGISTERED for a message to an unknown client);
 * BUSRT_E_TIMEOUT (the op stays awaited: wait again later);
 * BUSRT_E_UNKNOWN_OP; BUSRT_E_CLOSED / BUSRT_E_PROTO / BUSRT_E_IDLE when
 * the connection was lost before the ACK arrived (REQ-ERR-6). After a
 * result other than BUSRT_E_TIMEOUT the op is no longer awaited. */
int busrt_wait_ack(busrt_client *c, uint32_t op_id, int timeout_ms);

/* ---- Receiving ------------------------------------------------------------- */

/* A delivered frame. Every pointer points into the client's buffer and is
 * valid until the next busrt_recv() on the same client (see the top). */
struct busrt_frame {
    uint8_t kind;               /* BUSRT_KIND_MESSAGE, _BROADCAST or _PUBLISH */
    uint8_t realtime;           /* 1 when the broker flagged it realtime */
    const char *sender;         /* NUL-terminated */
    size_t sender_len;
    const char *primary_sender; /* == sender; its first primary_sender_len
                                   bytes are the primary name (the part
                                   before "%%"): NOT NUL-terminated when the
                                   sender is a secondary */
    size_t primary_sender_len;
    const char *topic;          /* publications: NUL-terminated topic; else "" */
    size_t topic_len;
    const uint8_t *payload;     /* not NUL-terminated; may contain NULs */
    size_t payload_len;
};

/* Returns the next delivered frame in *f (ACKs and broker NOPs are
 * consumed silently), waiting up to timeout_ms for one. Pings the broker
 * while waiting. Invalidates the previous frame view of this client.
 * Returns 0; BUSRT_E_TIMEOUT (nothing arrived; with timeout 0: nothing is
 * ready); BUSRT_E_CLOSED / BUSRT_E_PROTO / BUSRT_E_TOO_BIG / BUSRT_E_IDLE /
 * BUSRT_E_SYS when the connection is lost (frames that arrived complete
 * before the loss are still returned first); BUSRT_E_INVAL. */
int busrt_recv(busrt_client *c, struct busrt_frame *f, int timeout_ms);

/* Non-blocking housekeeping for callers with their own event loop: sends a
 * ping when one is due, reads what the socket has, processes ACKs. Returns
 * 1 when a frame is ready for busrt_recv(c, f, 0), 0 when not, or a
 * negative code when the connection is lost (and no frame is left).
 * Keeps the current frame view valid. */
int busrt_poll(busrt_client *c);

/* The socket descriptor, to watch for POLLIN (the library uses poll(), so
 * descriptors above FD_SETSIZE are fine). Owned by the client: do not read,
 * write or close it. -1 for c == NULL. Never blocks. */
int busrt_fd(const busrt_client *c);

/* Milliseconds (>= 0) until the client next needs busrt_poll() for its
 * keep-alive (or its idle check): the longest an external loop may sleep
 * without the fd becoming readable (broker NOPs make it readable, and
 * busrt_poll() answers them). 0 when the connection is lost. Never
 * blocks. */
int busrt_poll_timeout_ms(const busrt_client *c);

#ifdef __cplusplus
}
#endif

#endif
