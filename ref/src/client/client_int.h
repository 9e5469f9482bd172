/* libbusrt internals shared by its files (error.c, ack.c, receive.c,
 * transmit.c, connect.c, send_api.c, net.c, rpc.c). Not installed. */
#ifndef BUSRT_CLIENT_INT_H
#define BUSRT_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "busrt/client.h"

/* An op sent with an ACK QoS whose op id the caller asked for. */
struct bc_ack_slot {
    uint32_t op_id;
    uint8_t code; /* valid when done */
    uint8_t done; /* the ACK arrived */
    uint8_t want; /* somebody may still wait for it */
};

struct busrt_transport;

struct busrt_client {
    int fd; /* the socket, or the transport's wait descriptor */
    const struct busrt_transport *tp; /* NULL: fd is a socket */
    void *tp_ctx;
    int err; /* 0 while usable; else why the connection was lost */
    char *name;

    int io_timeout_ms;
    int ping_ms;
    int idle_ms;
    int64_t spin_ns; /* busrt_client_config.spin_us */
    uint32_t max_body;
    size_t buf_size;

    /* Read buffer: [rpos, spos) scanned complete frames (deliveries not yet
     * returned, ACKs/NOPs/tombstones to skip), [spos, wpos) not yet
     * complete. */
    uint8_t *rbuf;
    size_t rcap, rpos, spos, wpos;
    uint8_t *held; /* an older buffer that still holds the pinned frame */
    int pinned;    /* a frame view handed out by busrt_recv is live */
    uint64_t discarded;

    int64_t last_send_ms;
    int64_t last_recv_ms;
    int64_t prev_nop_ms; /* arrival of the previous broker NOP, or the
                            registration time before the first NOP */
    int nop_known;       /* prev_nop_ms is a NOP's arrival */
    int ping_now;        /* answer a broker NOP with a ping (keepalive) */

    uint32_t next_op_id;
    uint32_t next_call_id;

    /* ACKs awaited, in send order (a ring). */
    struct bc_ack_slot *acks;
    size_t ack_head, ack_count, ack_cap;

    /* The outstanding synchronous RPC call, if any. */
    int call_active;
    uint32_t call_id;
    int call_done;
    int call_code; /* 0 reply, else the error reply's code */
    int call_err;  /* a local failure while taking the reply (NOMEM) */
    uint8_t *reply;
    size_t reply_len, reply_cap;
};

/* ---- error.c ---------------------------------------------------------------- */

/* Marks the connection lost with code err (first loss wins). */
void bc_fail(busrt_client *c, int err);

/* ---- ack.c: the ACK table ---------------------------------------------------- */

/* Tracks op_id as awaited (before its frame is written). 0 or
 * BUSRT_E_NOMEM. */
int bc_ack_track(busrt_client *c, uint32_t op_id);
/* The awaited slot for op_id, or NULL. */
struct bc_ack_slot *bc_ack_find(busrt_client *c, uint32_t op_id);
/* Nobody will wait for op_id any more. */
void bc_ack_forget(busrt_client *c, uint32_t op_id);
/* An ACK arrived for op_id with result code. */
void bc_ack_record(busrt_client *c, uint32_t op_id, uint8_t code);

/* ---- receive.c ------------------------------------------------------------------ */

/* One read of what the socket has. Returns > 0 bytes read, 0 when nothing
 * is available, or a negative code (the connection is then lost). */
int bc_fill(busrt_client *c);

/* ---- transmit.c: writing, keep-alive, waiting --------------------------------- */

/* A NUL byte for iovecs to point at. */
extern const uint8_t bc_nul;

/* Sends one client frame: header, then [t1 NUL] [t2 NUL] [pre] [iov...].
 * op_id/tracking as documented for busrt_send. */
int bc_send(busrt_client *c, uint8_t op, unsigned qos, const char *t1, const char *t2,
            const void *pre, size_t prelen, const struct iovec *iov, int iovcnt,
            uint32_t *op_id);
/* Writes a ping (an empty frame with op 0). */
int bc_ping(busrt_client *c);
/* Pings when due and checks the idle limit. */
int bc_keepalive(busrt_client *c, int64_t now);
/* Reads/pings until some bytes arrived (0), the deadline passed
 * (BUSRT_E_TIMEOUT) or the connection is lost (its code). deadline < 0:
 * none; deadline <= now: one non-blocking attempt. */
int bc_pump(busrt_client *c, int64_t deadline);

/* ---- connect.c ------------------------------------------------------------------ */

/* Where the handshake and a client's bytes go: a socket (tp NULL) or a
 * caller's transport (busrt/transport.h). */
struct bc_io {
    int fd;
    const struct busrt_transport *tp;
    void *ctx;
};

/* ---- net.c ------------------------------------------------------------------------ */

/* Monotonic clock, nanoseconds and milliseconds. */
int64_t bc_now_ns(void);
int64_t bc_now_ms(void);

/* Deadline helpers: timeout < 0 -> -1 (none). */
int64_t bc_deadline(int timeout_ms);

/* Network part (net.c). Connects to addr before deadline; returns a
 * non-blocking close-on-exec fd or a negative BUSRT_E_* code (errno kept
 * for BUSRT_E_SYS). */
int bc_net_connect(const char *addr, int64_t deadline);
/* Waits for events on fd until deadline (< 0: none). Returns 1 ready, 0
 * timeout, BUSRT_E_SYS. */
int bc_net_wait(int fd, short events, int64_t deadline);

#endif
