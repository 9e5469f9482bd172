/* libbusrt RPC layer (spec section 12) on top of busrt/client.h.
 *
 * RPC frames travel in the payload of one-to-one messages:
 *   00 notification: payload
 *   01 request:      call id u32, method, NUL, params   (call id 0 = call0)
 *   11 reply:        call id u32, result
 *   12 error:        call id u32, code i16, message
 * Params, results and messages are opaque bytes (MessagePack by
 * convention). Headers are encoded and decoded by the core
 * (busrt/rpcproto.h).
 *
 * Same conventions as busrt/client.h: 0 or a negative BUSRT_E_* code;
 * timeouts in ms (0 = do not block, negative = no limit); strings are
 * NUL-terminated and borrowed for the call only; no threads, no global
 * state, one thread per client at a time.
 *
 * Calls are synchronous: busrt_rpc_call() sends the request and waits for
 * its answer; other frames that arrive meanwhile stay queued for
 * busrt_recv() / busrt_rpc_serve(). A client therefore cannot answer its
 * own calls (call a second client instead).
 */
#ifndef BUSRT_RPC_H
#define BUSRT_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "busrt/client.h"
#include "busrt/rpcproto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Caller side ------------------------------------------------------------- */

/* The answer of busrt_rpc_call(). */
struct busrt_rpc_reply {
    int code;            /* 0 for a reply; else the RPC error code: the i16
                            of an error reply, or -32000 - C when the broker
                            ACKed the call frame with result code C
                            (REQ-RPC-6: -32113 unknown target, -32119 target
                            queue full, -32121 access denied) */
    const uint8_t *data; /* the result, or the error message (may be
                            empty; for ACK errors: the text of the code).
                            Owned by the client; valid until the next
                            busrt_rpc_call*() on the same client or
                            busrt_client_close() */
    size_t len;
};

/* Calls method on target with params and waits up to timeout_ms for the
 * answer. qos should ask for an ACK (BUSRT_QOS_PROCESSED or
 * BUSRT_QOS_REALTIME_PROCESSED) so that an unknown target fails at once.
 * Pings while waiting. Keeps the current busrt_recv() frame view valid.
 * Returns 0 with the result in *reply; BUSRT_E_RPC with reply->code and
 * reply->data set (error reply, or broker ACK error); BUSRT_E_TIMEOUT (a
 * reply arriving later is ignored); BUSRT_E_INVAL (NULL, empty method,
 * qos > 3); any send error of busrt_send(); a connection-loss code. */
int busrt_rpc_call(busrt_client *c, const char *target, const char *method,
                   const void *params, size_t params_len, unsigned qos,
                   int timeout_ms, struct busrt_rpc_reply *reply);
int busrt_rpc_callv(busrt_client *c, const char *target, const char *method,
                    const struct iovec *params, int iovcnt, unsigned qos,
                    int timeout_ms, struct busrt_rpc_reply *reply);

/* A request with call id 0: no answer will come. Does not wait (use
 * busrt_wait_ack(*op_id) to learn whether the broker delivered it). Same
 * arguments and results as busrt_send(). */
int busrt_rpc_call0(busrt_client *c, const char *target, const char *method,
                    const void *params, size_t params_len, unsigned qos,
                    uint32_t *op_id);
int busrt_rpc_call0v(busrt_client *c, const char *target, const char *method,
                     const struct iovec *params, int iovcnt, unsigned qos,
                     uint32_t *op_id);

/* A notification (kind 00 + payload). Same as busrt_send(). */
int busrt_rpc_notify(busrt_client *c, const char *target, const void *payload,
                     size_t len, unsigned qos, uint32_t *op_id);
int busrt_rpc_notifyv(busrt_client *c, const char *target, const struct iovec *iov,
                      int iovcnt, unsigned qos, uint32_t *op_id);

/* ---- Server side ----------------------------------------------------------------- */

/* An incoming RPC request or notification: a view into a received frame,
 * valid as long as that frame view. */
struct busrt_rpc_event {
    uint8_t kind;                    /* BUSRT_RPC_REQUEST or BUSRT_RPC_NOTIFICATION */
    uint32_t call_id;                /* 0 for notifications and call0 requests */
    const char *method;              /* requests: NUL-terminated; else "" */
    size_t method_len;
    const uint8_t *data;             /* params or notification payload */
    size_t data_len;
    const struct busrt_frame *frame; /* sender, primary sender, ... */
};

/* Parses a received frame as an RPC request or notification (ev points
 * into f; nothing is copied or allocated; never blocks). Returns 0 and
 * fills *ev; BUSRT_ERR_KIND when the frame is not a message (broadcasts and
 * publications are never RPC, REQ-RPC-7); BUSRT_ERR_SHORT,
 * BUSRT_ERR_RPC_KIND or BUSRT_ERR_NOSEP (core codes) when the payload is
 * not a well-formed request or notification; BUSRT_ERR_OP for a reply or
 * error reply (0x11 / 0x12), which only busrt_rpc_call() consumes. Pure. */
int busrt_rpc_parse(const struct busrt_frame *f, struct busrt_rpc_event *ev);

/* Sends a reply / an error reply for call_id to target (the request's
 * sender). Same results as busrt_send(); call_id 0 is BUSRT_E_INVAL. */
int busrt_rpc_reply(busrt_client *c, const char *target, uint32_t call_id,
                    const void *result, size_t len, unsigned qos);
int busrt_rpc_replyv(busrt_client *c, const char *target, uint32_t call_id,
                     const struct iovec *iov, int iovcnt, unsigned qos);
int busrt_rpc_error(busrt_client *c, const char *target, uint32_t call_id,
                    int16_t code, const void *message, size_t len, unsigned qos);

/* What a handler answers: data/len point to memory the handler owns, which
 * must stay valid until the handler is called again (the reply is sent
 * right after the handler returns). Initialised to empty before each
 * call. */
struct busrt_rpc_result {
    const void *data;
    size_t len;
};

/* Handles a request (call_id != 0, or 0 for call0) or a notification.
 * Return 0 to reply with *res; return an RPC error code (non-zero, within
 * int16, e.g. BUSRT_RPC_E_METHOD_NOT_FOUND) to answer an error reply whose
 * message is *res. Nothing is sent for call0 and notifications. The
 * handler may use the client c (send, call other services); it must not
 * call busrt_recv()/busrt_rpc_serve() on c. */
typedef int (*busrt_rpc_handler_fn)(void *ctx, busrt_client *c,
                                    const struct busrt_rpc_event *ev,
                                    struct busrt_rpc_result *res);
/* Receives frames that are not RPC requests or notifications (broadcasts,
 * publications, messages that are not RPC). */
typedef void (*busrt_rpc_frame_fn)(void *ctx, busrt_client *c,
                                   const struct busrt_frame *f);

struct busrt_rpc_server {
    busrt_rpc_handler_fn on_call;         /* NULL: every call gets -32601 */
    busrt_rpc_handler_fn on_notification; /* NULL: ignored */
    busrt_rpc_frame_fn on_frame;          /* NULL: ignored */
    void *ctx;                            /* passed to the callbacks */
    unsigned reply_qos;                   /* QoS of replies (default 0) */
    int stop;                             /* set non-zero (e.g. from a handler)
                                             to make busrt_rpc_serve return */
};

/* Dispatches one received frame (from busrt_recv on c): calls the
 * matching callback and sends the reply or error reply with s->reply_qos
 * (blocking like busrt_send). A request whose method has no NUL and a non-zero
 * call id is answered -32600; other malformed RPC payloads, and replies
 * that no call awaits, are ignored (REQ-RPC-8, REQ-RPC-9). Returns 0, or
 * the send error of the reply. */
int busrt_rpc_dispatch(busrt_client *c, struct busrt_rpc_server *s,
                       const struct busrt_frame *f);

/* Receives and dispatches frames until s->stop becomes non-zero (returns
 * 0; at once when it is already set: the caller resets it), timeout_ms
 * elapses (BUSRT_E_TIMEOUT; negative = no limit), or the connection fails
 * (its code). Blocks; keeps the connection alive. Invalidates the frame
 * view of the last busrt_recv() like busrt_recv() itself. */
int busrt_rpc_serve(busrt_client *c, struct busrt_rpc_server *s, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
