/* BUS/RT RPC layer headers, carried in the payload of one-to-one messages.
 * Pure; contracts in ref/src/core/rpcproto.c.
 *
 *   0x00 notification: payload
 *   0x01 request:      call id u32, method, NUL, params
 *   0x11 reply:        call id u32, result
 *   0x12 error:        call id u32, code i16, message
 */
#ifndef BUSRT_RPCPROTO_H
#define BUSRT_RPCPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "busrt/frame.h"

struct busrt_rpc_header {
    uint8_t kind;             /* BUSRT_RPC_* */
    uint32_t call_id;         /* 0 for notifications */
    struct busrt_span method; /* requests only; else empty */
    int16_t code;             /* error replies only; else 0 */
    struct busrt_span data;   /* payload, params, result or message */
};

/* Decodes an RPC header. Returns 0; BUSRT_ERR_SHORT when the payload is
 * empty or shorter than its kind's fixed fields; BUSRT_ERR_RPC_KIND for an
 * unknown kind; BUSRT_ERR_NOSEP when a request has no NUL after the
 * method. *h is written only on success. */
int busrt_rpc_decode(const uint8_t *buf, size_t len,
                     struct busrt_rpc_header *h);

/* Each encoder writes the header part only; the caller appends the data
 * (payload, params, result, message) after it, e.g. with writev.
 * Returns the header length, or BUSRT_ERR_SPACE when cap is too small. */
int busrt_rpc_notification_encode(uint8_t *out, size_t cap); /* 1 */
int busrt_rpc_reply_encode(uint32_t call_id, uint8_t *out, size_t cap); /* 5 */
int busrt_rpc_error_encode(uint32_t call_id, int16_t code, uint8_t *out,
                           size_t cap); /* 7 */
/* 6 + method_len; BUSRT_ERR_NOSEP when the method contains a NUL;
 * BUSRT_ERR_LIMIT when method_len > 65535. */
int busrt_rpc_request_encode(uint32_t call_id, const uint8_t *method,
                             size_t method_len, uint8_t *out, size_t cap);

#endif
