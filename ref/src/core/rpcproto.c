/* RPC layer header codec (spec section 12). The data after the header is
 * opaque here: msgpack by convention, handled outside the core. */
#include "busrt/rpcproto.h"

#include "frame_spec.h"
#include "le.h"
#include "rpc_spec.h"

/*@ terminates \true;
    assigns \nothing;
    ensures \result == (raw >= 32768 ? raw - 65536 : raw);
*/
static int16_t rpc_i16(uint16_t raw)
{
    /* Two's complement by arithmetic: defined for every raw value. */
    return (raw >= 32768u) ? (int16_t)((int32_t)raw - 65536) : (int16_t)raw;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(h);
    requires \separated(h, buf + (0 .. len - 1));
    terminates \true;
    assigns *h \from buf[0 .. len - 1];
    behavior empty:
      assumes len == 0;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior kind:
      assumes len > 0 && !valid_rpc_kind(buf[0]);
      assigns \nothing;
      ensures \result == BUSRT_ERR_RPC_KIND;
    behavior notification:
      assumes len > 0 && buf[0] == 0x00;
      ensures \result == 0 && h->kind == 0 && h->call_id == 0 && h->code == 0;
      ensures h->method.off == 1 && h->method.len == 0;
      ensures h->data.off == 1 && h->data.len == len - 1;
    behavior short:
      assumes (len > 0 && (buf[0] == 0x01 || buf[0] == 0x11) && len < 5) ||
              (len > 0 && buf[0] == 0x12 && len < 7);
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior request_nosep:
      assumes len >= 5 && buf[0] == 0x01 && nul_at(buf, 5, len) == len;
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior request:
      assumes len >= 5 && buf[0] == 0x01 && nul_at(buf, 5, len) != len;
      ensures \result == 0 && h->kind == 0x01 && h->code == 0;
      ensures h->call_id == \old(le32(buf, 1));
      ensures h->method.off == 5;
      ensures h->method.off + h->method.len == \old(nul_at(buf, 5, len));
      ensures h->data.off == \old(nul_at(buf, 5, len)) + 1;
      ensures h->data.off + h->data.len == len;
    behavior reply:
      assumes len >= 5 && buf[0] == 0x11;
      ensures \result == 0 && h->kind == 0x11 && h->code == 0;
      ensures h->call_id == \old(le32(buf, 1));
      ensures h->method.off == 5 && h->method.len == 0;
      ensures h->data.off == 5 && h->data.len == len - 5;
    behavior error:
      assumes len >= 7 && buf[0] == 0x12;
      ensures \result == 0 && h->kind == 0x12;
      ensures h->call_id == \old(le32(buf, 1));
      ensures h->code == \old(les16(buf, 5));
      ensures h->method.off == 7 && h->method.len == 0;
      ensures h->data.off == 7 && h->data.len == len - 7;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_rpc_decode(const uint8_t *buf, size_t len,
                     struct busrt_rpc_header *h)
{
    if (len == 0u) {
        return BUSRT_ERR_SHORT;
    }
    const uint8_t kind = buf[0];
    if (kind == BUSRT_RPC_NOTIFICATION) {
        const struct busrt_rpc_header r = {
            .kind = kind,
            .call_id = 0u,
            .method = {.off = 1u, .len = 0u},
            .code = 0,
            .data = {.off = 1u, .len = len - 1u},
        };
        *h = r;
        return 0;
    }
    if ((kind != BUSRT_RPC_REQUEST) && (kind != BUSRT_RPC_REPLY) &&
        (kind != BUSRT_RPC_ERROR)) {
        return BUSRT_ERR_RPC_KIND;
    }
    if ((len < 5u) || ((kind == BUSRT_RPC_ERROR) && (len < 7u))) {
        return BUSRT_ERR_SHORT;
    }
    const uint32_t call_id = busrt_le32_get(&buf[1]);
    if (kind == BUSRT_RPC_REQUEST) {
        const size_t nul = busrt_nul_find(buf, len, 5u);
        if (nul == len) {
            return BUSRT_ERR_NOSEP;
        }
        const struct busrt_rpc_header r = {
            .kind = kind,
            .call_id = call_id,
            .method = {.off = 5u, .len = nul - 5u},
            .code = 0,
            .data = {.off = nul + 1u, .len = len - (nul + 1u)},
        };
        *h = r;
        return 0;
    }
    if (kind == BUSRT_RPC_REPLY) {
        const struct busrt_rpc_header r = {
            .kind = kind,
            .call_id = call_id,
            .method = {.off = 5u, .len = 0u},
            .code = 0,
            .data = {.off = 5u, .len = len - 5u},
        };
        *h = r;
        return 0;
    }
    const struct busrt_rpc_header r = {
        .kind = kind,
        .call_id = call_id,
        .method = {.off = 7u, .len = 0u},
        .code = rpc_i16(busrt_le16_get(&buf[5])),
        .data = {.off = 7u, .len = len - 7u},
    };
    *h = r;
    return 0;
}

/*@ requires \valid(out + (0 .. cap - 1));
    terminates \true;
    assigns out[0];
    behavior space:
      assumes cap < 1;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes cap >= 1;
      ensures \result == 1 && out[0] == 0x00;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_rpc_notification_encode(uint8_t *out, size_t cap)
{
    if (cap < 1u) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_RPC_NOTIFICATION;
    return 1;
}

/*@ requires \valid(out + (0 .. cap - 1));
    terminates \true;
    assigns out[0 .. 4];
    behavior space:
      assumes cap < 5;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes cap >= 5;
      ensures \result == 5 && out[0] == 0x11 && le32(out, 1) == call_id;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_rpc_reply_encode(uint32_t call_id, uint8_t *out, size_t cap)
{
    if (cap < 5u) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_RPC_REPLY;
    busrt_le32_put(&out[1], call_id);
    return 5;
}

/*@ requires \valid(out + (0 .. cap - 1));
    terminates \true;
    assigns out[0 .. 6];
    behavior space:
      assumes cap < 7;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes cap >= 7;
      ensures \result == 7 && out[0] == 0x12 && le32(out, 1) == call_id;
      ensures les16(out, 5) == code;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_rpc_error_encode(uint32_t call_id, int16_t code, uint8_t *out,
                           size_t cap)
{
    if (cap < 7u) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_RPC_ERROR;
    busrt_le32_put(&out[1], call_id);
    const int32_t wide = code;
    /* Two's complement by arithmetic: 0 .. 65535 for every code. */
    int32_t raw = wide;
    if (wide < 0) {
        raw = wide + 65536;
    }
    busrt_le16_put(&out[5], (uint16_t)raw);
    return 7;
}

/*@ requires off <= SIZE_MAX - n;
    requires \valid(dst + (off .. off + n - 1));
    requires \valid_read(src + (0 .. n - 1));
    requires \separated(dst + (off .. off + n - 1), src + (0 .. n - 1));
    terminates \true;
    assigns dst[off .. off + n - 1] \from src[0 .. n - 1];
    ensures \forall integer m; off <= m < off + n ==> dst[m] == src[m - off];
*/
static void rpc_copy_at(uint8_t *dst, size_t off, const uint8_t *src,
                        size_t n)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= n;
        loop invariant \forall integer m; off <= m < off + i ==>
                         dst[m] == src[m - off];
        loop assigns i, dst[off .. off + n - 1];
        loop variant n - i;
    */
    while (i < n) {
        dst[off + i] = src[i];
        i++;
    }
}

/*@ requires \valid_read(method + (0 .. method_len - 1));
    requires \valid(out + (0 .. cap - 1));
    requires \separated(method + (0 .. method_len - 1), out + (0 .. cap - 1));
    terminates \true;
    assigns out[0 .. 5 + method_len];
    behavior limit:
      assumes method_len > 65535;
      assigns \nothing;
      ensures \result == BUSRT_ERR_LIMIT;
    behavior nosep:
      assumes method_len <= 65535 &&
              nul_at(method, 0, method_len) != method_len;
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior space:
      assumes method_len <= 65535 &&
              nul_at(method, 0, method_len) == method_len &&
              cap < method_len + 6;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes method_len <= 65535 &&
              nul_at(method, 0, method_len) == method_len &&
              cap >= method_len + 6;
      ensures \result == method_len + 6;
      ensures out[0] == 0x01 && le32(out, 1) == call_id;
      ensures \forall integer m; 5 <= m < 5 + method_len ==>
                out[m] == method[m - 5];
      ensures out[5 + method_len] == 0;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_rpc_request_encode(uint32_t call_id, const uint8_t *method,
                             size_t method_len, uint8_t *out, size_t cap)
{
    if (method_len > 65535u) {
        return BUSRT_ERR_LIMIT;
    }
    if (busrt_nul_find(method, method_len, 0u) != method_len) {
        return BUSRT_ERR_NOSEP;
    }
    if (cap < (method_len + 6u)) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_RPC_REQUEST;
    busrt_le32_put(&out[1], call_id);
    out[5u + method_len] = 0u;
    rpc_copy_at(out, 5u, method, method_len);
    const size_t total = method_len + 6u;
    return (int)total;
}
