/* libbusrt RPC layer; see busrt/rpc.h. Headers are encoded and decoded
 * with the core (busrt/rpcproto.h). */
#define _DEFAULT_SOURCE
#include "busrt/rpc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/* Requests whose header fits here are encoded on the stack. */
#define RPC_HDR_STACK 256u

/* Encodes a request header (kind, call id, method, NUL) into *out: the
 * stack buffer when it fits, else a malloc'ed one (*heap set). */
static int request_header(uint32_t call_id, const char *method, uint8_t *stack,
                          uint8_t **out, uint8_t **heap, size_t *len)
{
    size_t ml = strlen(method);
    if (ml == 0 || ml > 65535u) {
        return BUSRT_E_INVAL;
    }
    size_t need = ml + 6u;
    *heap = NULL;
    *out = stack;
    if (need > RPC_HDR_STACK) {
        *heap = malloc(need);
        if (*heap == NULL) {
            return BUSRT_E_NOMEM;
        }
        *out = *heap;
    }
    int r = busrt_rpc_request_encode(call_id, (const uint8_t *)method, ml, *out, need);
    if (r < 0) {
        free(*heap);
        *heap = NULL;
        return BUSRT_E_INVAL;
    }
    *len = (size_t)r;
    return 0;
}

/* The call is over: stop taking replies; its ACK is no longer awaited. */
static void call_finish(busrt_client *c, uint32_t op_id, int tracked)
{
    c->call_active = 0;
    c->call_done = 0;
    if (tracked) {
        bc_ack_forget(c, op_id);
    }
}

int busrt_rpc_callv(busrt_client *c, const char *target, const char *method,
                    const struct iovec *params, int iovcnt, unsigned qos, int timeout_ms,
                    struct busrt_rpc_reply *reply)
{
    if (c == NULL || target == NULL || method == NULL || reply == NULL || qos > 3u) {
        return BUSRT_E_INVAL;
    }
    reply->code = 0;
    reply->data = (const uint8_t *)"";
    reply->len = 0;
    if (c->err != 0) {
        return c->err;
    }
    int64_t deadline = bc_deadline(timeout_ms);
    uint32_t call_id = c->next_call_id++;
    if (call_id == 0) {
        call_id = c->next_call_id++;
    }
    uint8_t stack[RPC_HDR_STACK];
    uint8_t *hdr, *heap;
    size_t hlen;
    int r = request_header(call_id, method, stack, &hdr, &heap, &hlen);
    if (r != 0) {
        return r;
    }
    /* Armed before sending: the reply may be read while a write blocks. */
    c->call_active = 1;
    c->call_id = call_id;
    c->call_done = 0;
    c->call_err = 0;
    uint32_t op_id = 0;
    int tracked = (qos & 1u) != 0;
    r = bc_send(c, BUSRT_OP_MESSAGE, qos, target, NULL, hdr, hlen, params, iovcnt, &op_id);
    free(heap);
    if (r != 0) {
        c->call_active = 0;
        return r;
    }
    for (;;) {
        if (c->call_done) {
            int code = c->call_code;
            int err = c->call_err;
            call_finish(c, op_id, tracked);
            if (err != 0) {
                return err;
            }
            reply->code = code;
            reply->data = c->reply_len > 0 ? c->reply : (const uint8_t *)"";
            reply->len = c->reply_len;
            return code == 0 ? 0 : BUSRT_E_RPC;
        }
        if (tracked) {
            struct bc_ack_slot *s = bc_ack_find(c, op_id);
            if (s != NULL && s->done && s->code != BUSRT_RC_OK) {
                /* REQ-RPC-6: fail at once with -32000 - C. */
                uint8_t code = s->code;
                call_finish(c, op_id, tracked);
                reply->code = BUSRT_RPC_E_ACK_BASE - (int)code;
                const char *t = busrt_client_strerror(BUSRT_E_RC(code));
                reply->data = (const uint8_t *)t;
                reply->len = strlen(t);
                return BUSRT_E_RPC;
            }
        }
        if (c->err != 0) {
            call_finish(c, op_id, tracked);
            return c->err;
        }
        r = bc_pump(c, deadline);
        if (r == BUSRT_E_TIMEOUT && !c->call_done) {
            call_finish(c, op_id, tracked);
            return r;
        }
    }
}

int busrt_rpc_call(busrt_client *c, const char *target, const char *method,
                   const void *params, size_t params_len, unsigned qos, int timeout_ms,
                   struct busrt_rpc_reply *reply)
{
    if (params_len > 0 && params == NULL) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)params;
    v.iov_len = params_len;
    return busrt_rpc_callv(c, target, method, &v, params_len > 0 ? 1 : 0, qos, timeout_ms,
                           reply);
}

int busrt_rpc_call0v(busrt_client *c, const char *target, const char *method,
                     const struct iovec *params, int iovcnt, unsigned qos, uint32_t *op_id)
{
    if (c == NULL || target == NULL || method == NULL) {
        return BUSRT_E_INVAL;
    }
    uint8_t stack[RPC_HDR_STACK];
    uint8_t *hdr, *heap;
    size_t hlen;
    int r = request_header(0, method, stack, &hdr, &heap, &hlen);
    if (r != 0) {
        return r;
    }
    r = bc_send(c, BUSRT_OP_MESSAGE, qos, target, NULL, hdr, hlen, params, iovcnt, op_id);
    free(heap);
    return r;
}

int busrt_rpc_call0(busrt_client *c, const char *target, const char *method,
                    const void *params, size_t params_len, unsigned qos, uint32_t *op_id)
{
    if (params_len > 0 && params == NULL) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)params;
    v.iov_len = params_len;
    return busrt_rpc_call0v(c, target, method, &v, params_len > 0 ? 1 : 0, qos, op_id);
}

int busrt_rpc_notifyv(busrt_client *c, const char *target, const struct iovec *iov,
                      int iovcnt, unsigned qos, uint32_t *op_id)
{
    if (c == NULL || target == NULL) {
        return BUSRT_E_INVAL;
    }
    uint8_t hdr[1];
    int hl = busrt_rpc_notification_encode(hdr, sizeof hdr);
    if (hl < 0) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, BUSRT_OP_MESSAGE, qos, target, NULL, hdr, (size_t)hl, iov, iovcnt,
                   op_id);
}

int busrt_rpc_notify(busrt_client *c, const char *target, const void *payload, size_t len,
                     unsigned qos, uint32_t *op_id)
{
    if (len > 0 && payload == NULL) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)payload;
    v.iov_len = len;
    return busrt_rpc_notifyv(c, target, &v, len > 0 ? 1 : 0, qos, op_id);
}

int busrt_rpc_replyv(busrt_client *c, const char *target, uint32_t call_id,
                     const struct iovec *iov, int iovcnt, unsigned qos)
{
    if (c == NULL || target == NULL || call_id == 0) {
        return BUSRT_E_INVAL;
    }
    uint8_t hdr[5];
    int hl = busrt_rpc_reply_encode(call_id, hdr, sizeof hdr);
    if (hl < 0) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, BUSRT_OP_MESSAGE, qos, target, NULL, hdr, (size_t)hl, iov, iovcnt,
                   NULL);
}

int busrt_rpc_reply(busrt_client *c, const char *target, uint32_t call_id,
                    const void *result, size_t len, unsigned qos)
{
    if (len > 0 && result == NULL) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)result;
    v.iov_len = len;
    return busrt_rpc_replyv(c, target, call_id, &v, len > 0 ? 1 : 0, qos);
}

int busrt_rpc_error(busrt_client *c, const char *target, uint32_t call_id, int16_t code,
                    const void *message, size_t len, unsigned qos)
{
    if (c == NULL || target == NULL || call_id == 0 || (len > 0 && message == NULL)) {
        return BUSRT_E_INVAL;
    }
    uint8_t hdr[7];
    int hl = busrt_rpc_error_encode(call_id, code, hdr, sizeof hdr);
    if (hl < 0) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)message;
    v.iov_len = len;
    return bc_send(c, BUSRT_OP_MESSAGE, qos, target, NULL, hdr, (size_t)hl, &v,
                   len > 0 ? 1 : 0, NULL);
}

/* ---- Server side ------------------------------------------------------------------- */

int busrt_rpc_parse(const struct busrt_frame *f, struct busrt_rpc_event *ev)
{
    if (f == NULL || ev == NULL) {
        return BUSRT_ERR_ARG;
    }
    if (f->kind != BUSRT_KIND_MESSAGE) {
        return BUSRT_ERR_KIND;
    }
    struct busrt_rpc_header h;
    int r = busrt_rpc_decode(f->payload, f->payload_len, &h);
    if (r != 0) {
        return r;
    }
    if (h.kind != BUSRT_RPC_REQUEST && h.kind != BUSRT_RPC_NOTIFICATION) {
        return BUSRT_ERR_OP;
    }
    ev->kind = h.kind;
    ev->call_id = h.call_id;
    if (h.kind == BUSRT_RPC_REQUEST) {
        /* The method is followed by its NUL separator. */
        ev->method = (const char *)f->payload + h.method.off;
        ev->method_len = h.method.len;
    } else {
        ev->method = "";
        ev->method_len = 0;
    }
    ev->data = f->payload + h.data.off;
    ev->data_len = h.data.len;
    ev->frame = f;
    return 0;
}

int busrt_rpc_dispatch(busrt_client *c, struct busrt_rpc_server *s,
                       const struct busrt_frame *f)
{
    if (c == NULL || s == NULL || f == NULL) {
        return BUSRT_E_INVAL;
    }
    struct busrt_rpc_event ev;
    int r = busrt_rpc_parse(f, &ev);
    if (r == BUSRT_ERR_OP) {
        return 0; /* a reply no call awaits (REQ-RPC-8) */
    }
    if (r != 0) {
        /* Not RPC (broadcast, publication), or a malformed RPC payload,
         * which is never answered (REQ-RPC-9). */
        if (s->on_frame != NULL) {
            s->on_frame(s->ctx, c, f);
        }
        return 0;
    }
    struct busrt_rpc_result res;
    res.data = NULL;
    res.len = 0;
    if (ev.kind == BUSRT_RPC_NOTIFICATION) {
        if (s->on_notification != NULL) {
            (void)s->on_notification(s->ctx, c, &ev, &res);
        }
        return 0;
    }
    int code = BUSRT_RPC_E_METHOD_NOT_FOUND;
    if (s->on_call != NULL) {
        code = s->on_call(s->ctx, c, &ev, &res);
    }
    if (ev.call_id == 0) {
        return 0; /* call0: no answer (REQ-RPC-5) */
    }
    /* The sender view may be gone if the handler called busrt_recv; it
     * must not (documented), and the frame view stays valid otherwise. */
    if (code == 0) {
        return busrt_rpc_reply(c, f->sender, ev.call_id, res.data, res.len, s->reply_qos);
    }
    if (code < INT16_MIN || code > INT16_MAX) {
        code = BUSRT_RPC_E_INTERNAL;
    }
    return busrt_rpc_error(c, f->sender, ev.call_id, (int16_t)code, res.data, res.len,
                           s->reply_qos);
}

int busrt_rpc_serve(busrt_client *c, struct busrt_rpc_server *s, int timeout_ms)
{
    if (c == NULL || s == NULL) {
        return BUSRT_E_INVAL;
    }
    int64_t deadline = bc_deadline(timeout_ms);
    while (!s->stop) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - bc_now_ms();
            wait = left <= 0 ? 0 : (left > INT_MAX ? INT_MAX : (int)left);
        }
        struct busrt_frame f;
        int r = busrt_recv(c, &f, wait);
        if (r != 0) {
            return r;
        }
        r = busrt_rpc_dispatch(c, s, &f);
        if (r != 0 && !busrt_client_connected(c)) {
            return r;
        }
    }
    return 0;
}
