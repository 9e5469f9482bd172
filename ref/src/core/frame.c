/* Frame codec: handshake, headers, ACK and body splitting (spec sections
 * 4 to 7). Every decoder reads only inside [buf, buf + len) and writes its
 * output only on success. */
#include "busrt/frame.h"

#include "busrt/utf8.h"
#include "le.h"
#include "utf8_spec.h"

/*@ predicate valid_op(integer op) =
      op == 0x00 || op == 0x01 || op == 0x02 || op == 0x03 || op == 0x04 ||
      op == 0x05 || op == 0x06 || op == 0x12 || op == 0x13;

    predicate valid_kind(integer k) =
      k == 0x00 || k == 0x01 || k == 0x12 || k == 0x13;

    predicate is_ping(integer op, integer qos) = op == 0 && qos == 0;

    // Offset of the first NUL in b[i, n), or n. Decreases on n - i.
    logic integer nul_at(uint8_t *b, integer i, integer n) =
      i >= n ? n : (b[i] == 0 ? i : nul_at(b, i + 1, n));

    lemma nul_at_bounds:
      \forall uint8_t *b, integer i, n; 0 <= i <= n ==>
        i <= nul_at(b, i, n) <= n;

    // Offset of the first "%%" in b[i, n), or n.
    logic integer pct2_at(uint8_t *b, integer i, integer n) =
      n - i < 2 ? n :
      (b[i] == 0x25 && b[i + 1] == 0x25 ? i : pct2_at(b, i + 1, n));
*/

/* ---- Handshake ------------------------------------------------------- */

/*@ requires \valid(out + (0 .. cap - 1));
    assigns out[0 .. 2];
    behavior space:
      assumes cap < 3;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes cap >= 3;
      ensures \result == 3;
      ensures out[0] == 0xEB && out[1] == 1 && out[2] == 0;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_greeting_encode(uint8_t *out, size_t cap)
{
    if (cap < BUSRT_GREETING_LEN) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_GREETING;
    busrt_le16_put(out + 1, (uint16_t)BUSRT_PROTOCOL_VERSION);
    return (int)BUSRT_GREETING_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    assigns \nothing;
    behavior short:
      assumes len < 3;
      ensures \result == BUSRT_ERR_SHORT;
    behavior greeting:
      assumes len >= 3 && buf[0] != 0xEB;
      ensures \result == BUSRT_ERR_GREETING;
    behavior version:
      assumes len >= 3 && buf[0] == 0xEB && le16(buf, 1) != 1;
      ensures \result == BUSRT_ERR_VERSION;
    behavior ok:
      assumes len >= 3 && buf[0] == 0xEB && le16(buf, 1) == 1;
      ensures \result == 3;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_greeting_decode(const uint8_t *buf, size_t len)
{
    if (len < BUSRT_GREETING_LEN) {
        return BUSRT_ERR_SHORT;
    }
    if (buf[0] != (uint8_t)BUSRT_GREETING) {
        return BUSRT_ERR_GREETING;
    }
    if (busrt_le16_get(buf + 1) != BUSRT_PROTOCOL_VERSION) {
        return BUSRT_ERR_VERSION;
    }
    return (int)BUSRT_GREETING_LEN;
}

/*@ requires \valid(out + (0 .. cap - 1));
    assigns out[0 .. 1];
    behavior limit:
      assumes name_len > 65535;
      assigns \nothing;
      ensures \result == BUSRT_ERR_LIMIT;
    behavior space:
      assumes name_len <= 65535 && cap < 2;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes name_len <= 65535 && cap >= 2;
      ensures \result == 2 && le16(out, 0) == name_len;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_name_len_encode(size_t name_len, uint8_t *out, size_t cap)
{
    if (name_len > BUSRT_NAME_MAX) {
        return BUSRT_ERR_LIMIT;
    }
    if (cap < BUSRT_NAME_LEN_FIELD) {
        return BUSRT_ERR_SPACE;
    }
    busrt_le16_put(out, (uint16_t)name_len);
    return (int)BUSRT_NAME_LEN_FIELD;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(name_len);
    requires \separated(name_len, buf + (0 .. len - 1));
    assigns *name_len \from buf[0 .. 1];
    behavior short:
      assumes len < 2;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior ok:
      assumes len >= 2;
      ensures \result == 2 && *name_len == le16(buf, 0);
    complete behaviors;
    disjoint behaviors;
*/
int busrt_name_len_decode(const uint8_t *buf, size_t len, uint16_t *name_len)
{
    if (len < BUSRT_NAME_LEN_FIELD) {
        return BUSRT_ERR_SHORT;
    }
    *name_len = busrt_le16_get(buf);
    return (int)BUSRT_NAME_LEN_FIELD;
}

/*@ requires \valid_read(name + (0 .. len - 1));
    assigns \nothing;
    behavior name:
      assumes len == 0 || name[0] == '.';
      ensures \result == BUSRT_ERR_NAME;
    behavior utf8:
      assumes len > 0 && name[0] != '.' && !utf8_valid(name, len);
      ensures \result == BUSRT_ERR_UTF8;
    behavior ok:
      assumes len > 0 && name[0] != '.' && utf8_valid(name, len);
      ensures \result == 0;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_name_check(const uint8_t *name, size_t len)
{
    if (len == 0u || name[0] == (uint8_t)'.') {
        return BUSRT_ERR_NAME;
    }
    if (busrt_utf8_valid(name, len) != 1) {
        return BUSRT_ERR_UTF8;
    }
    return 0;
}

/*@ requires \valid_read(name + (0 .. len - 1));
    assigns \nothing;
    ensures \result == pct2_at(name, 0, len);
    ensures 0 <= \result <= len;
*/
size_t busrt_name_primary_len(const uint8_t *name, size_t len)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= len;
        loop invariant pct2_at(name, i, len) == pct2_at(name, 0, len);
        loop assigns i;
        loop variant len - i;
    */
    while ((len - i) >= 2u) {
        if (name[i] == 0x25u && name[i + 1u] == 0x25u) {
            return i;
        }
        i++;
    }
    return len;
}

/* ---- Client frame header ---------------------------------------------- */

/*@ assigns \nothing;
    ensures \result == 1 <==> valid_op(op);
    ensures \result == 0 || \result == 1;
*/
int busrt_op_valid(uint8_t op)
{
    return (op <= BUSRT_OP_PUBLISH_FOR || op == BUSRT_OP_MESSAGE ||
            op == BUSRT_OP_BROADCAST)
               ? 1
               : 0;
}

/*@ requires \valid_read(h);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(h, out + (0 .. cap - 1));
    assigns out[0 .. 8];
    behavior op:
      assumes !valid_op(h->op);
      assigns \nothing;
      ensures \result == BUSRT_ERR_OP;
    behavior qos:
      assumes valid_op(h->op) && h->qos > 3;
      assigns \nothing;
      ensures \result == BUSRT_ERR_ARG;
    behavior space:
      assumes valid_op(h->op) && h->qos <= 3 && cap < 9;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes valid_op(h->op) && h->qos <= 3 && cap >= 9;
      ensures \result == 9;
      ensures le32(out, 0) == h->op_id;
      ensures out[4] == h->op + 64 * h->qos;
      ensures le32(out, 5) == h->body_len;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_client_header_encode(const struct busrt_client_header *h,
                               uint8_t *out, size_t cap)
{
    if (busrt_op_valid(h->op) != 1) {
        return BUSRT_ERR_OP;
    }
    if (h->qos > BUSRT_QOS_REALTIME_PROCESSED) {
        return BUSRT_ERR_ARG;
    }
    if (cap < BUSRT_CLIENT_HEADER_LEN) {
        return BUSRT_ERR_SPACE;
    }
    busrt_le32_put(out, h->op_id);
    out[4] = (uint8_t)(h->op + h->qos * 64u);
    busrt_le32_put(out + 5, h->body_len);
    return (int)BUSRT_CLIENT_HEADER_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(h);
    requires \separated(h, buf + (0 .. len - 1));
    assigns *h \from buf[0 .. 8];
    behavior short:
      assumes len < 9;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior op:
      assumes len >= 9 && !valid_op(buf[4] % 64);
      assigns \nothing;
      ensures \result == BUSRT_ERR_OP;
    behavior limit:
      assumes len >= 9 && valid_op(buf[4] % 64) && buf[4] != 0 &&
              le32(buf, 5) > max_body;
      assigns \nothing;
      ensures \result == BUSRT_ERR_LIMIT;
    behavior ok:
      assumes len >= 9 && valid_op(buf[4] % 64) &&
              (buf[4] == 0 || le32(buf, 5) <= max_body);
      ensures \result == 9;
      ensures h->op_id == le32(buf, 0);
      ensures h->op == buf[4] % 64 && h->qos == buf[4] / 64;
      ensures h->body_len == le32(buf, 5);
    complete behaviors;
    disjoint behaviors;
*/
int busrt_client_header_decode(const uint8_t *buf, size_t len,
                               uint32_t max_body,
                               struct busrt_client_header *h)
{
    if (len < BUSRT_CLIENT_HEADER_LEN) {
        return BUSRT_ERR_SHORT;
    }
    const uint8_t flags = buf[4];
    const uint8_t op = (uint8_t)(flags % 64u);
    const uint32_t body_len = busrt_le32_get(buf + 5);
    if (busrt_op_valid(op) != 1) {
        return BUSRT_ERR_OP;
    }
    /* A ping carries no body, so its length field is never trusted. */
    if (flags != 0u && body_len > max_body) {
        return BUSRT_ERR_LIMIT;
    }
    h->op_id = busrt_le32_get(buf);
    h->op = op;
    h->qos = (uint8_t)(flags / 64u);
    h->body_len = body_len;
    return (int)BUSRT_CLIENT_HEADER_LEN;
}

/*@ requires \valid_read(h);
    assigns \nothing;
    ensures is_ping(h->op, h->qos) ==> \result == 0;
    ensures !is_ping(h->op, h->qos) ==> \result == h->body_len;
*/
uint32_t busrt_client_body_len(const struct busrt_client_header *h)
{
    if (h->op == BUSRT_OP_NOP && h->qos == BUSRT_QOS_NO) {
        return 0u;
    }
    return h->body_len;
}

/* ---- Delivered frame header and ACK ------------------------------------ */

/*@ assigns \nothing;
    ensures \result == 1 <==> valid_kind(kind);
    ensures \result == 0 || \result == 1;
*/
int busrt_kind_valid(uint8_t kind)
{
    return (kind == BUSRT_KIND_NOP || kind == BUSRT_KIND_PUBLISH ||
            kind == BUSRT_KIND_MESSAGE || kind == BUSRT_KIND_BROADCAST)
               ? 1
               : 0;
}

/*@ requires \valid_read(h);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(h, out + (0 .. cap - 1));
    assigns out[0 .. 5];
    behavior kind:
      assumes !valid_kind(h->kind);
      assigns \nothing;
      ensures \result == BUSRT_ERR_KIND;
    behavior realtime:
      assumes valid_kind(h->kind) && h->realtime > 1;
      assigns \nothing;
      ensures \result == BUSRT_ERR_ARG;
    behavior space:
      assumes valid_kind(h->kind) && h->realtime <= 1 && cap < 6;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes valid_kind(h->kind) && h->realtime <= 1 && cap >= 6;
      ensures \result == 6;
      ensures out[0] == h->kind && le32(out, 1) == h->body_len &&
              out[5] == h->realtime;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_frame_header_encode(const struct busrt_frame_header *h,
                              uint8_t *out, size_t cap)
{
    if (busrt_kind_valid(h->kind) != 1) {
        return BUSRT_ERR_KIND;
    }
    if (h->realtime > 1u) {
        return BUSRT_ERR_ARG;
    }
    if (cap < BUSRT_FRAME_HEADER_LEN) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = h->kind;
    busrt_le32_put(out + 1, h->body_len);
    out[5] = h->realtime;
    return (int)BUSRT_FRAME_HEADER_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(h);
    requires \separated(h, buf + (0 .. len - 1));
    assigns *h \from buf[0 .. 5];
    behavior short:
      assumes len < 6;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior kind:
      assumes len >= 6 && !valid_kind(buf[0]);
      assigns \nothing;
      ensures \result == BUSRT_ERR_KIND;
    behavior limit:
      assumes len >= 6 && valid_kind(buf[0]) && buf[0] != 0 &&
              le32(buf, 1) > max_body;
      assigns \nothing;
      ensures \result == BUSRT_ERR_LIMIT;
    behavior ok:
      assumes len >= 6 && valid_kind(buf[0]) &&
              (buf[0] == 0 || le32(buf, 1) <= max_body);
      ensures \result == 6;
      ensures h->kind == buf[0] && h->body_len == le32(buf, 1) &&
              h->realtime == buf[5];
    complete behaviors;
    disjoint behaviors;
*/
int busrt_frame_header_decode(const uint8_t *buf, size_t len,
                              uint32_t max_body,
                              struct busrt_frame_header *h)
{
    if (len < BUSRT_FRAME_HEADER_LEN) {
        return BUSRT_ERR_SHORT;
    }
    if (busrt_kind_valid(buf[0]) != 1) {
        return BUSRT_ERR_KIND;
    }
    const uint32_t body_len = busrt_le32_get(buf + 1);
    if (buf[0] != BUSRT_KIND_NOP && body_len > max_body) {
        return BUSRT_ERR_LIMIT;
    }
    h->kind = buf[0];
    h->body_len = body_len;
    h->realtime = buf[5];
    return (int)BUSRT_FRAME_HEADER_LEN;
}

/*@ requires \valid_read(a);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(a, out + (0 .. cap - 1));
    assigns out[0 .. 5];
    behavior space:
      assumes cap < 6;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SPACE;
    behavior ok:
      assumes cap >= 6;
      ensures \result == 6;
      ensures out[0] == 0xFE && le32(out, 1) == a->op_id && out[5] == a->code;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_ack_encode(const struct busrt_ack *a, uint8_t *out, size_t cap)
{
    if (cap < BUSRT_ACK_LEN) {
        return BUSRT_ERR_SPACE;
    }
    out[0] = (uint8_t)BUSRT_ACK_MARKER;
    busrt_le32_put(out + 1, a->op_id);
    out[5] = a->code;
    return (int)BUSRT_ACK_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(a);
    requires \separated(a, buf + (0 .. len - 1));
    assigns *a \from buf[0 .. 5];
    behavior short:
      assumes len < 6;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior marker:
      assumes len >= 6 && buf[0] != 0xFE;
      assigns \nothing;
      ensures \result == BUSRT_ERR_MARKER;
    behavior ok:
      assumes len >= 6 && buf[0] == 0xFE;
      ensures \result == 6;
      ensures a->op_id == le32(buf, 1) && a->code == buf[5];
    complete behaviors;
    disjoint behaviors;
*/
int busrt_ack_decode(const uint8_t *buf, size_t len, struct busrt_ack *a)
{
    if (len < BUSRT_ACK_LEN) {
        return BUSRT_ERR_SHORT;
    }
    if (buf[0] != (uint8_t)BUSRT_ACK_MARKER) {
        return BUSRT_ERR_MARKER;
    }
    a->op_id = busrt_le32_get(buf + 1);
    a->code = buf[5];
    return (int)BUSRT_ACK_LEN;
}

/* ---- Bodies ------------------------------------------------------------ */

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires from <= len;
    assigns \nothing;
    ensures \result == nul_at(buf, from, len);
    ensures from <= \result <= len;
*/
size_t busrt_nul_find(const uint8_t *buf, size_t len, size_t from)
{
    size_t i = from;
    /*@ loop invariant from <= i <= len;
        loop invariant nul_at(buf, i, len) == nul_at(buf, from, len);
        loop assigns i;
        loop variant len - i;
    */
    while (i < len && buf[i] != 0u) {
        i++;
    }
    return i;
}

/*@ predicate two_fields(integer op) =
      op == 0x00 || op == 0x01 || op == 0x12 || op == 0x13;
    predicate list_body(integer op) =
      op == 0x02 || op == 0x03 || op == 0x04 || op == 0x05;
*/

/*@ requires \valid_read(body + (0 .. len - 1));
    requires \valid(b);
    requires \separated(b, body + (0 .. len - 1));
    assigns *b \from body[0 .. len - 1];
    behavior op:
      assumes !valid_op(op);
      assigns \nothing;
      ensures \result == BUSRT_ERR_OP;
    behavior list:
      assumes list_body(op);
      ensures \result == 0;
      ensures b->target.off == 0 && b->target.len == len;
      ensures b->receiver.off == len && b->receiver.len == 0;
      ensures b->payload.off == len && b->payload.len == 0;
    behavior two_nosep:
      assumes two_fields(op) && nul_at(body, 0, len) == len;
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior two:
      assumes two_fields(op) && nul_at(body, 0, len) < len;
      ensures \result == 0;
      ensures b->target.off == 0 && b->target.len == nul_at(body, 0, len);
      ensures b->receiver.off == len && b->receiver.len == 0;
      ensures b->payload.off == nul_at(body, 0, len) + 1;
      ensures b->payload.len == len - (nul_at(body, 0, len) + 1);
    behavior three_nosep:
      assumes op == 0x06 && (nul_at(body, 0, len) == len ||
        nul_at(body, nul_at(body, 0, len) + 1, len) == len);
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior three:
      assumes op == 0x06 && nul_at(body, 0, len) < len &&
        nul_at(body, nul_at(body, 0, len) + 1, len) < len;
      ensures \result == 0;
      ensures b->target.off == 0 && b->target.len == nul_at(body, 0, len);
      ensures b->receiver.off == nul_at(body, 0, len) + 1;
      ensures b->receiver.off + b->receiver.len ==
              nul_at(body, nul_at(body, 0, len) + 1, len);
      ensures b->payload.off ==
              nul_at(body, nul_at(body, 0, len) + 1, len) + 1;
      ensures b->payload.off + b->payload.len == len;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_client_body_split(uint8_t op, const uint8_t *body, size_t len,
                            struct busrt_client_body *b)
{
    if (busrt_op_valid(op) != 1) {
        return BUSRT_ERR_OP;
    }
    if (op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE) {
        b->target.off = 0u;
        b->target.len = len;
        b->receiver.off = len;
        b->receiver.len = 0u;
        b->payload.off = len;
        b->payload.len = 0u;
        return 0;
    }
    const size_t n1 = busrt_nul_find(body, len, 0u);
    if (n1 == len) {
        return BUSRT_ERR_NOSEP;
    }
    if (op != BUSRT_OP_PUBLISH_FOR) {
        b->target.off = 0u;
        b->target.len = n1;
        b->receiver.off = len;
        b->receiver.len = 0u;
        b->payload.off = n1 + 1u;
        b->payload.len = len - (n1 + 1u);
        return 0;
    }
    const size_t n2 = busrt_nul_find(body, len, n1 + 1u);
    if (n2 == len) {
        return BUSRT_ERR_NOSEP;
    }
    b->target.off = 0u;
    b->target.len = n1;
    b->receiver.off = n1 + 1u;
    b->receiver.len = n2 - (n1 + 1u);
    b->payload.off = n2 + 1u;
    b->payload.len = len - (n2 + 1u);
    return 0;
}

/*@ requires \valid_read(body + (0 .. len - 1));
    requires \valid(b);
    requires \separated(b, body + (0 .. len - 1));
    assigns *b \from body[0 .. len - 1];
    behavior kind:
      assumes kind != 0x01 && kind != 0x12 && kind != 0x13;
      assigns \nothing;
      ensures \result == BUSRT_ERR_KIND;
    behavior two_nosep:
      assumes (kind == 0x12 || kind == 0x13) && nul_at(body, 0, len) == len;
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior two:
      assumes (kind == 0x12 || kind == 0x13) && nul_at(body, 0, len) < len;
      ensures \result == 0;
      ensures b->sender.off == 0 && b->sender.len == nul_at(body, 0, len);
      ensures b->topic.off == len && b->topic.len == 0;
      ensures b->payload.off == nul_at(body, 0, len) + 1;
      ensures b->payload.off + b->payload.len == len;
    behavior three_nosep:
      assumes kind == 0x01 && (nul_at(body, 0, len) == len ||
        nul_at(body, nul_at(body, 0, len) + 1, len) == len);
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior three:
      assumes kind == 0x01 && nul_at(body, 0, len) < len &&
        nul_at(body, nul_at(body, 0, len) + 1, len) < len;
      ensures \result == 0;
      ensures b->sender.off == 0 && b->sender.len == nul_at(body, 0, len);
      ensures b->topic.off == nul_at(body, 0, len) + 1;
      ensures b->topic.off + b->topic.len ==
              nul_at(body, nul_at(body, 0, len) + 1, len);
      ensures b->payload.off ==
              nul_at(body, nul_at(body, 0, len) + 1, len) + 1;
      ensures b->payload.off + b->payload.len == len;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_frame_body_split(uint8_t kind, const uint8_t *body, size_t len,
                           struct busrt_frame_body *b)
{
    if (kind != BUSRT_KIND_PUBLISH && kind != BUSRT_KIND_MESSAGE &&
        kind != BUSRT_KIND_BROADCAST) {
        return BUSRT_ERR_KIND;
    }
    const size_t n1 = busrt_nul_find(body, len, 0u);
    if (n1 == len) {
        return BUSRT_ERR_NOSEP;
    }
    if (kind != BUSRT_KIND_PUBLISH) {
        b->sender.off = 0u;
        b->sender.len = n1;
        b->topic.off = len;
        b->topic.len = 0u;
        b->payload.off = n1 + 1u;
        b->payload.len = len - (n1 + 1u);
        return 0;
    }
    const size_t n2 = busrt_nul_find(body, len, n1 + 1u);
    if (n2 == len) {
        return BUSRT_ERR_NOSEP;
    }
    b->sender.off = 0u;
    b->sender.len = n1;
    b->topic.off = n1 + 1u;
    b->topic.len = n2 - (n1 + 1u);
    b->payload.off = n2 + 1u;
    b->payload.len = len - (n2 + 1u);
    return 0;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(pos) && \valid(item);
    requires \separated(pos, item, buf + (0 .. len - 1));
    requires len < SIZE_MAX;
    assigns *pos, *item;
    behavior done:
      assumes *pos > len;
      assigns \nothing;
      ensures \result == 0;
    behavior next:
      assumes *pos <= len;
      ensures \result == 1;
      ensures item->off == \old(*pos);
      ensures item->off + item->len == nul_at(buf, \old(*pos), len);
      ensures *pos == nul_at(buf, \old(*pos), len) + 1;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_list_next(const uint8_t *buf, size_t len, size_t *pos,
                    struct busrt_span *item)
{
    if (*pos > len) {
        return 0;
    }
    const size_t start = *pos;
    const size_t end = busrt_nul_find(buf, len, start);
    item->off = start;
    item->len = end - start;
    *pos = end + 1u; /* past len once the last item is taken */
    return 1;
}
