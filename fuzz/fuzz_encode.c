/* Every encoder of the core with arbitrary arguments and output capacity.
 * The output buffer is exactly `cap` bytes (heap, so ASan sees any write
 * past it). The oracle is the byte layout written out here from the spec,
 * the documented error codes, and decode(encode(x)) == x.
 *
 * Input: byte 0 selects the encoder, byte 1 the capacity (0..255; for a
 * request, method length + byte 1 - 128 clamped at 0), then the fields. */
#include <string.h>

#include "busrt/frame.h"
#include "busrt/rpcproto.h"
#include "fuzz.h"

struct in {
    const uint8_t *p;
    size_t n, i;
};

static uint8_t u8(struct in *in)
{
    return in->i < in->n ? in->p[in->i++] : 0u;
}

static uint32_t u32(struct in *in)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        v |= (uint32_t)u8(in) << (8 * k);
    }
    return v;
}

static int op_ok(uint8_t op)
{
    return op <= 0x06 || op == 0x12 || op == 0x13;
}

static int kind_ok(uint8_t k)
{
    return k == 0x00 || k == 0x01 || k == 0x12 || k == 0x13;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size, 0};
    const uint8_t sel = u8(&in);
    size_t cap = u8(&in);
    uint8_t *out = NULL;
    int rc = 0;

    switch (sel % 9u) {
    case 0: /* greeting: EB 01 00 */
        out = malloc(cap + 1u);
        rc = busrt_greeting_encode(out, cap);
        CHECK(cap < 3 ? rc == BUSRT_ERR_SPACE
                      : (rc == 3 && out[0] == 0xEB && out[1] == 1 && out[2] == 0 &&
                         busrt_greeting_decode(out, 3) == 3));
        break;
    case 1: { /* name length: u16 LE; limit 65535 */
        size_t nl = u32(&in) % 70000u;
        out = malloc(cap + 1u);
        rc = busrt_name_len_encode(nl, out, cap);
        if (nl > 65535u) {
            CHECK(rc == BUSRT_ERR_LIMIT);
        } else if (cap < 2) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            uint16_t back = 0;
            CHECK(rc == 2 && busrt_get_le16(out) == nl);
            CHECK(busrt_name_len_decode(out, 2, &back) == 2 && back == nl);
        }
        break;
    }
    case 2: { /* client header: op_id LE, op + 64 * qos, body_len LE */
        struct busrt_client_header h = {.op_id = u32(&in)};
        uint8_t f = u8(&in);
        h.op = f & 0x3Fu;
        h.qos = (uint8_t)((f >> 6) | (u8(&in) & 4u)); /* 0..7: 4..7 invalid */
        h.body_len = u32(&in);
        out = malloc(cap + 1u);
        rc = busrt_client_header_encode(&h, out, cap);
        if (!op_ok(h.op)) {
            CHECK(rc == BUSRT_ERR_OP);
        } else if (h.qos > 3) {
            CHECK(rc == BUSRT_ERR_ARG);
        } else if (cap < 9) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            CHECK(rc == 9 && busrt_get_le32(out) == h.op_id && out[4] == h.op + 64u * h.qos &&
                  busrt_get_le32(out + 5) == h.body_len);
            struct busrt_client_header d;
            CHECK(busrt_client_header_decode(out, 9, 0xFFFFFFFFu, &d) == 9);
            CHECK(d.op_id == h.op_id && d.op == h.op && d.qos == h.qos &&
                  d.body_len == h.body_len);
        }
        break;
    }
    case 3: { /* delivered-frame header: kind, body_len LE, realtime */
        struct busrt_frame_header h = {.kind = u8(&in), .body_len = u32(&in)};
        h.realtime = u8(&in) & 3u;
        out = malloc(cap + 1u);
        rc = busrt_frame_header_encode(&h, out, cap);
        if (!kind_ok(h.kind)) {
            CHECK(rc == BUSRT_ERR_KIND);
        } else if (h.realtime > 1) {
            CHECK(rc == BUSRT_ERR_ARG);
        } else if (cap < 6) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            CHECK(rc == 6 && out[0] == h.kind && busrt_get_le32(out + 1) == h.body_len &&
                  out[5] == h.realtime);
            struct busrt_frame_header d;
            CHECK(busrt_frame_header_decode(out, 6, 0xFFFFFFFFu, &d) == 6);
            CHECK(d.kind == h.kind && d.body_len == h.body_len && d.realtime == h.realtime);
        }
        break;
    }
    case 4: { /* ACK: FE, op_id LE, code */
        struct busrt_ack a = {.op_id = u32(&in), .code = u8(&in)};
        out = malloc(cap + 1u);
        rc = busrt_ack_encode(&a, out, cap);
        if (cap < 6) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            struct busrt_ack d;
            CHECK(rc == 6 && out[0] == 0xFE && busrt_get_le32(out + 1) == a.op_id &&
                  out[5] == a.code);
            CHECK(busrt_ack_decode(out, 6, &d) == 6 && d.op_id == a.op_id && d.code == a.code);
        }
        break;
    }
    case 5: { /* RPC notification: 00 */
        out = malloc(cap + 1u);
        rc = busrt_rpc_notification_encode(out, cap);
        CHECK(cap < 1 ? rc == BUSRT_ERR_SPACE : (rc == 1 && out[0] == 0));
        break;
    }
    case 6: { /* RPC reply: 11, call_id LE */
        uint32_t id = u32(&in);
        out = malloc(cap + 1u);
        rc = busrt_rpc_reply_encode(id, out, cap);
        if (cap < 5) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            struct busrt_rpc_header d;
            CHECK(rc == 5 && out[0] == 0x11 && busrt_get_le32(out + 1) == id);
            CHECK(busrt_rpc_decode(out, 5, &d) == 0 && d.kind == 0x11 && d.call_id == id &&
                  d.data.off == 5 && d.data.len == 0);
        }
        break;
    }
    case 7: { /* RPC error: 12, call_id LE, code i16 LE (two's complement) */
        uint32_t id = u32(&in);
        uint16_t raw = (uint16_t)(u8(&in) | u8(&in) << 8);
        int16_t code = (int16_t)(raw >= 32768u ? (int32_t)raw - 65536 : (int32_t)raw);
        out = malloc(cap + 1u);
        rc = busrt_rpc_error_encode(id, code, out, cap);
        if (cap < 7) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            struct busrt_rpc_header d;
            CHECK(rc == 7 && out[0] == 0x12 && busrt_get_le32(out + 1) == id &&
                  busrt_get_le16(out + 5) == raw);
            CHECK(busrt_rpc_decode(out, 7, &d) == 0 && d.kind == 0x12 && d.call_id == id &&
                  d.code == code && d.data.off == 7 && d.data.len == 0);
        }
        break;
    }
    default: { /* RPC request: 01, call_id LE, method, 00 */
        uint32_t id = u32(&in);
        /* The rest is the method; a long one is made by repeating it. */
        const uint8_t *m = in.p + in.i;
        size_t mn = in.n - in.i;
        size_t reps = (sel / 9u) % 16u == 15u ? 70000u / (mn + 1u) + 1u : 1u;
        size_t method_len = mn * reps;
        uint8_t *method = malloc(method_len + 1u);
        CHECK(method != NULL);
        for (size_t r = 0; r < reps; r++) {
            if (mn > 0) {
                memcpy(method + r * mn, m, mn);
            }
        }
        size_t want = method_len + 6u;
        cap = cap >= 128u ? want + (cap - 128u) : (want > 128u - cap ? want - (128u - cap) : 0u);
        out = malloc(cap + 1u);
        rc = busrt_rpc_request_encode(id, method, method_len, out, cap);
        if (method_len > 65535u) {
            CHECK(rc == BUSRT_ERR_LIMIT);
        } else if (memchr(method, 0, method_len) != NULL) {
            CHECK(rc == BUSRT_ERR_NOSEP);
        } else if (cap < want) {
            CHECK(rc == BUSRT_ERR_SPACE);
        } else {
            struct busrt_rpc_header d;
            CHECK(rc == (int)want && out[0] == 0x01 && busrt_get_le32(out + 1) == id &&
                  (method_len == 0 || memcmp(out + 5, method, method_len) == 0) &&
                  out[5 + method_len] == 0);
            CHECK(busrt_rpc_decode(out, want, &d) == 0 && d.kind == 0x01 && d.call_id == id &&
                  d.method.off == 5 && d.method.len == method_len && d.data.off == want &&
                  d.data.len == 0);
        }
        free(method);
        break;
    }
    }
    CHECK(out != NULL);
    free(out);
    return 0;
}
