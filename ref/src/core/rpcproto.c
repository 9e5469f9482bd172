/* RPC layer header codec (spec section 12). The data after the header is
 * opaque here: msgpack by convention, handled outside the core. */
#include "busrt/rpcproto.h"

#include "le.h"

/*@ // Offset of the first NUL in b[i, n), or n (as in frame.c).
    logic integer rpc_nul_at(uint8_t *b, integer i, integer n) =
      i >= n ? n : (b[i] == 0 ? i : rpc_nul_at(b, i + 1, n));

    // Signed value of the little-endian i16 at b[i].
    logic integer les16(uint8_t *b, integer i) =
      le16(b, i) >= 32768 ? le16(b, i) - 65536 : le16(b, i);
*/

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires from <= len;
    assigns \nothing;
    ensures \result == rpc_nul_at(buf, from, len);
    ensures from <= \result <= len;
*/
static size_t rpc_nul_find(const uint8_t *buf, size_t len, size_t from)
{
    size_t i = from;
    /*@ loop invariant from <= i <= len;
        loop invariant rpc_nul_at(buf, i, len) == rpc_nul_at(buf, from, len);
        loop assigns i;
        loop variant len - i;
    */
    while (i < len && buf[i] != 0u) {
        i++;
    }
    return i;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(h);
    requires \separated(h, buf + (0 .. len - 1));
    assigns *h \from buf[0 .. len - 1];
    behavior empty:
      assumes len == 0;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior kind:
      assumes len > 0 && buf[0] != 0x00 && buf[0] != 0x01 &&
              buf[0] != 0x11 && buf[0] != 0x12;
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
      assumes len >= 5 && buf[0] == 0x01 && rpc_nul_at(buf, 5, len) == len;
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior request:
      assumes len >= 5 && buf[0] == 0x01 && rpc_nul_at(buf, 5, len) < len;
      ensures \result == 0 && h->kind == 0x01 && h->code == 0;
      ensures h->call_id == le32(buf, 1);
      ensures h->method.off == 5;
      ensures h->method.off + h->method.len == rpc_nul_at(buf, 5, len);
      ensures h->data.off == rpc_nul_at(buf, 5, len) + 1;
      ensures h->data.off + h->data.len == len;
    behavior reply:
      assumes len >= 5 && buf[0] == 0x11;
      ensures \result == 0 && h->kind == 0x11 && h->code == 0;
      ensures h->call_id == le32(buf, 1);
      ensures h->method.off == 5 && h->method.len == 0;
      ensures h->data.off == 5 && h->data.len == len - 5;
    behavior error:
      assumes len >= 7 && buf[0] == 0x12;
      ensures \result == 0 && h->kind == 0x12;
      ensures h->call_id == le32(buf, 1);
      ensures h->code == les16(buf, 5);
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
        h->kind = kind;
        h->call_id = 0u;
        h->code = 0;
        h->method.off = 1u;
        h->method.len = 0u;
        h->data.off = 1u;
        h->data.len = len - 1u;
        return 0;
    }
    if (kind != BUSRT_RPC_REQUEST && kind != BUSRT_RPC_REPLY &&
        kind != BUSRT_RPC_ERROR) {
        return BUSRT_ERR_RPC_KIND;
    }
    if (len < 5u || (kind == BUSRT_RPC_ERROR && len < 7u)) {
        return BUSRT_ERR_SHORT;
    }
    const uint32_t call_id = busrt_le32_get(buf + 1);
    size_t data_off = 5u;
    size_t method_len = 0u;
    int16_t code = 0;
    if (kind == BUSRT_RPC_REQUEST) {
        const size_t nul = rpc_nul_find(buf, len, 5u);
        if (nul == len) {
            return BUSRT_ERR_NOSEP;
        }
        method_len = nul - 5u;
        data_off = nul + 1u;
    } else if (kind == BUSRT_RPC_ERROR) {
        const uint16_t raw = busrt_le16_get(buf + 5);
        /* Two's complement by arithmetic: defined for every raw value. */
        code = raw >= 32768u ? (int16_t)((int32_t)raw - 65536)
                             : (int16_t)raw;
        data_off = 7u;
    }
    h->kind = kind;
    h->call_id = call_id;
    h->code = code;
    h->method.off = 5u;
    h->method.len = method_len;
    h->data.off = data_off;
    h->data.len = len - data_off;
    if (kind == BUSRT_RPC_ERROR) {
        h->method.off = 7u;
    }
    return 0;
}

/*@ requires \valid(out + (0 .. cap - 1));
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
    busrt_le32_put(out + 1, call_id);
    return 5;
}

/*@ requires \valid(out + (0 .. cap - 1));
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
    busrt_le32_put(out + 1, call_id);
    const int32_t wide = code;
    busrt_le16_put(out + 5, (uint16_t)(wide < 0 ? wide + 65536 : wide));
    return 7;
}

/*@ requires \valid_read(method + (0 .. method_len - 1));
    requires \valid(out + (0 .. cap - 1));
    requires \separated(method + (0 .. method_len - 1), out + (0 .. cap - 1));
    assigns out[0 .. cap - 1];
    behavior limit:
      assumes method_len > 65535;
      assigns \nothing;
      ensures \result == BUSRT_ERR_LIMIT;
    behavior nosep:
      assumes method_len <= 65535 &&
              rpc_nul_at(method, 0, method_len) < method_len;
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior space:
      assumes method_len <= 65535 &&
              rpc_nul_at(method, 0, method_len) == method_len &&
              cap < method_len + 6;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes method_len <= 65535 &&
              rpc_nul_at(method, 0, method_len) == method_len &&
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
    if (rpc_nul_find(method, method_len, 0u) != method_len) {
        return BUSRT_ERR_NOSEP;
    }
    if (cap < method_len + 6u) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_RPC_REQUEST;
    busrt_le32_put(out + 1, call_id);
    size_t m = 5u;
    /*@ loop invariant 5 <= m <= 5 + method_len;
        loop invariant out[0] == 0x01 && le32(out, 1) == call_id;
        loop invariant \forall integer k; 5 <= k < m ==>
                         out[k] == method[k - 5];
        loop assigns m, out[5 .. 4 + method_len];
        loop variant 5 + method_len - m;
    */
    while (m < 5u + method_len) {
        out[m] = method[m - 5u];
        m++;
    }
    out[5u + method_len] = 0u;
    return (int)(method_len + 6u);
}
