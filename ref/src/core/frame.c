/* Frame codec: handshake, headers, ACK and body splitting (spec sections
 * 4 to 7). Every decoder reads only inside [buf, buf + len) and writes its
 * output only on success. */
#include "busrt/frame.h"

#include "busrt/utf8.h"
#include "frame_spec.h"
#include "le.h"
#include "utf8_spec.h"

/* ---- Handshake ------------------------------------------------------- */

/*@ requires \valid(out + (0 .. cap - 1));
    terminates \true;
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
    busrt_le16_put(&out[1], (uint16_t)BUSRT_PROTOCOL_VERSION);
    return (int)BUSRT_GREETING_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    terminates \true;
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
    if (busrt_le16_get(&buf[1]) != BUSRT_PROTOCOL_VERSION) {
        return BUSRT_ERR_VERSION;
    }
    return (int)BUSRT_GREETING_LEN;
}

/*@ requires \valid(out + (0 .. cap - 1));
    terminates \true;
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
    terminates \true;
    assigns *name_len \from buf[0 .. 1];
    behavior short:
      assumes len < 2;
      assigns \nothing;
      ensures \result == BUSRT_ERR_SHORT;
    behavior ok:
      assumes len >= 2;
      ensures \result == 2 && *name_len == \old(le16(buf, 0));
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
    terminates \true;
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
    if ((len == 0u) || (name[0] == (uint8_t)'.')) {
        return BUSRT_ERR_NAME;
    }
    if (busrt_utf8_valid(name, len) != 1) {
        return BUSRT_ERR_UTF8;
    }
    return 0;
}

/*@ requires \valid_read(name + (0 .. len - 1));
    terminates \true;
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
        if ((name[i] == 0x25u) && (name[i + 1u] == 0x25u)) {
            return i;
        }
        i++;
    }
    return len;
}

/* ---- Client frame header ---------------------------------------------- */

/*@ terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> valid_op(op);
    ensures \result == 0 || \result == 1;
*/
int busrt_op_valid(uint8_t op)
{
    return ((op <= BUSRT_OP_PUBLISH_FOR) || (op == BUSRT_OP_MESSAGE) ||
            (op == BUSRT_OP_BROADCAST))
               ? 1
               : 0;
}

/*@ requires \valid_read(h);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(h, out + (0 .. cap - 1));
    terminates \true;
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
    out[4] = (uint8_t)(h->op + (h->qos * 64u));
    busrt_le32_put(&out[5], h->body_len);
    return (int)BUSRT_CLIENT_HEADER_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(h);
    requires \separated(h, buf + (0 .. len - 1));
    terminates \true;
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
      ensures h->op_id == \old(le32(buf, 0));
      ensures h->op == \old(buf[4]) % 64 && h->qos == \old(buf[4]) / 64;
      ensures h->body_len == \old(le32(buf, 5));
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
    const uint32_t body_len = busrt_le32_get(&buf[5]);
    if (busrt_op_valid(op) != 1) {
        return BUSRT_ERR_OP;
    }
    /* A ping carries no body, so its length field is never trusted. */
    if ((flags != 0u) && (body_len > max_body)) {
        return BUSRT_ERR_LIMIT;
    }
    const struct busrt_client_header r = {
        .op_id = busrt_le32_get(buf),
        .op = op,
        .qos = (uint8_t)(flags / 64u),
        .body_len = body_len,
    };
    *h = r;
    return (int)BUSRT_CLIENT_HEADER_LEN;
}

/*@ requires \valid_read(h);
    terminates \true;
    assigns \nothing;
    ensures is_ping(h->op, h->qos) ==> \result == 0;
    ensures !is_ping(h->op, h->qos) ==> \result == h->body_len;
*/
uint32_t busrt_client_body_len(const struct busrt_client_header *h)
{
    if ((h->op == BUSRT_OP_NOP) && (h->qos == BUSRT_QOS_NO)) {
        return 0u;
    }
    return h->body_len;
}

/* ---- Delivered frame header and ACK ------------------------------------ */

/*@ terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> valid_kind(kind);
    ensures \result == 0 || \result == 1;
*/
int busrt_kind_valid(uint8_t kind)
{
    return ((kind == BUSRT_KIND_NOP) || (kind == BUSRT_KIND_PUBLISH) ||
            (kind == BUSRT_KIND_MESSAGE) || (kind == BUSRT_KIND_BROADCAST))
               ? 1
               : 0;
}

/*@ requires \valid_read(h);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(h, out + (0 .. cap - 1));
    terminates \true;
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
    busrt_le32_put(&out[1], h->body_len);
    out[5] = h->realtime;
    return (int)BUSRT_FRAME_HEADER_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(h);
    requires \separated(h, buf + (0 .. len - 1));
    terminates \true;
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
      ensures h->kind == \old(buf[0]) &&
              h->body_len == \old(le32(buf, 1)) &&
              h->realtime == \old(buf[5]);
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
    const uint32_t body_len = busrt_le32_get(&buf[1]);
    if ((buf[0] != BUSRT_KIND_NOP) && (body_len > max_body)) {
        return BUSRT_ERR_LIMIT;
    }
    const struct busrt_frame_header r = {
        .kind = buf[0],
        .body_len = body_len,
        .realtime = buf[5],
    };
    *h = r;
    return (int)BUSRT_FRAME_HEADER_LEN;
}

/*@ requires \valid_read(a);
    requires \valid(out + (0 .. cap - 1));
    requires \separated(a, out + (0 .. cap - 1));
    terminates \true;
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
    busrt_le32_put(&out[1], a->op_id);
    out[5] = a->code;
    return (int)BUSRT_ACK_LEN;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(a);
    requires \separated(a, buf + (0 .. len - 1));
    terminates \true;
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
      ensures a->op_id == \old(le32(buf, 1)) && a->code == \old(buf[5]);
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
    const struct busrt_ack r = {
        .op_id = busrt_le32_get(&buf[1]),
        .code = buf[5],
    };
    *a = r;
    return (int)BUSRT_ACK_LEN;
}

/* ---- Bodies ------------------------------------------------------------ */

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires from <= len;
    terminates \true;
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
    while ((i < len) && (buf[i] != 0u)) {
        i++;
    }
    return i;
}

/* Stores the three spans of a client body, each given by its start and
 * end offsets; the first starts at 0. */
/*@ requires \valid(b);
    requires r_off <= r_end && p_off <= p_end;
    terminates \true;
    assigns *b \from t_end, r_off, r_end, p_off, p_end;
    ensures b->target.off == 0 && b->target.len == t_end;
    ensures b->receiver.off == r_off && b->receiver.len == r_end - r_off;
    ensures b->payload.off == p_off && b->payload.len == p_end - p_off;
*/
static void client_body_set(struct busrt_client_body *b, size_t t_end,
                            size_t r_off, size_t r_end, size_t p_off,
                            size_t p_end)
{
    b->target.off = 0u;
    b->target.len = t_end;
    b->receiver.off = r_off;
    b->receiver.len = r_end - r_off;
    b->payload.off = p_off;
    b->payload.len = p_end - p_off;
}

/* Stores the three spans of a delivered frame body, each given by its start
 * and end offsets; the first starts at 0. */
/*@ requires \valid(b);
    requires t_off <= t_end && p_off <= p_end;
    terminates \true;
    assigns *b \from s_end, t_off, t_end, p_off, p_end;
    ensures b->sender.off == 0 && b->sender.len == s_end;
    ensures b->topic.off == t_off && b->topic.len == t_end - t_off;
    ensures b->payload.off == p_off && b->payload.len == p_end - p_off;
*/
static void frame_body_set(struct busrt_frame_body *b, size_t s_end,
                           size_t t_off, size_t t_end, size_t p_off,
                           size_t p_end)
{
    b->sender.off = 0u;
    b->sender.len = s_end;
    b->topic.off = t_off;
    b->topic.len = t_end - t_off;
    b->payload.off = p_off;
    b->payload.len = p_end - p_off;
}

/*@ requires \valid_read(body + (0 .. len - 1));
    requires \valid(b);
    requires \separated(b, body + (0 .. len - 1));
    terminates \true;
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
      assumes two_fields(op) && nul_at(body, 0, len) != len;
      ensures \result == 0;
      ensures b->target.off == 0;
      ensures b->target.len == \old(nul_at(body, 0, len));
      ensures b->receiver.off == len && b->receiver.len == 0;
      ensures b->payload.off == \old(nul_at(body, 0, len)) + 1;
      ensures b->payload.len == len - (\old(nul_at(body, 0, len)) + 1);
    behavior three_nosep:
      assumes op == 0x06 && (nul_at(body, 0, len) == len ||
        nul_at(body, nul_at(body, 0, len) + 1, len) == len);
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior three:
      assumes op == 0x06 && nul_at(body, 0, len) != len &&
        nul_at(body, nul_at(body, 0, len) + 1, len) != len;
      ensures \result == 0;
      ensures b->target.off == 0;
      ensures b->target.len == \old(nul_at(body, 0, len));
      ensures b->receiver.off == \old(nul_at(body, 0, len)) + 1;
      ensures b->receiver.off + b->receiver.len ==
              \old(nul_at(body, nul_at(body, 0, len) + 1, len));
      ensures b->payload.off ==
              \old(nul_at(body, nul_at(body, 0, len) + 1, len)) + 1;
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
    if ((op >= BUSRT_OP_SUBSCRIBE) && (op <= BUSRT_OP_UNEXCLUDE)) {
        client_body_set(b, len, len, len, len, len);
        return 0;
    }
    const size_t n1 = busrt_nul_find(body, len, 0u);
    if (n1 == len) {
        return BUSRT_ERR_NOSEP;
    }
    if (op != BUSRT_OP_PUBLISH_FOR) {
        client_body_set(b, n1, len, len, n1 + 1u, len);
        return 0;
    }
    const size_t n2 = busrt_nul_find(body, len, n1 + 1u);
    if (n2 == len) {
        return BUSRT_ERR_NOSEP;
    }
    client_body_set(b, n1, n1 + 1u, n2, n2 + 1u, len);
    /*@ assert b->receiver.off + b->receiver.len == n2; */
    return 0;
}

/*@ requires \valid_read(body + (0 .. len - 1));
    requires \valid(b);
    requires \separated(b, body + (0 .. len - 1));
    terminates \true;
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
      assumes (kind == 0x12 || kind == 0x13) && nul_at(body, 0, len) != len;
      ensures \result == 0;
      ensures b->sender.off == 0;
      ensures b->sender.len == \old(nul_at(body, 0, len));
      ensures b->topic.off == len && b->topic.len == 0;
      ensures b->payload.off == \old(nul_at(body, 0, len)) + 1;
      ensures b->payload.off + b->payload.len == len;
    behavior three_nosep:
      assumes kind == 0x01 && (nul_at(body, 0, len) == len ||
        nul_at(body, nul_at(body, 0, len) + 1, len) == len);
      assigns \nothing;
      ensures \result == BUSRT_ERR_NOSEP;
    behavior three:
      assumes kind == 0x01 && nul_at(body, 0, len) != len &&
        nul_at(body, nul_at(body, 0, len) + 1, len) != len;
      ensures \result == 0;
      ensures b->sender.off == 0;
      ensures b->sender.len == \old(nul_at(body, 0, len));
      ensures b->topic.off == \old(nul_at(body, 0, len)) + 1;
      ensures b->topic.off + b->topic.len ==
              \old(nul_at(body, nul_at(body, 0, len) + 1, len));
      ensures b->payload.off ==
              \old(nul_at(body, nul_at(body, 0, len) + 1, len)) + 1;
      ensures b->payload.off + b->payload.len == len;
    complete behaviors;
    disjoint behaviors;
*/
int busrt_frame_body_split(uint8_t kind, const uint8_t *body, size_t len,
                           struct busrt_frame_body *b)
{
    if ((kind != BUSRT_KIND_PUBLISH) && (kind != BUSRT_KIND_MESSAGE) &&
        (kind != BUSRT_KIND_BROADCAST)) {
        return BUSRT_ERR_KIND;
    }
    const size_t n1 = busrt_nul_find(body, len, 0u);
    if (n1 == len) {
        return BUSRT_ERR_NOSEP;
    }
    if (kind != BUSRT_KIND_PUBLISH) {
        frame_body_set(b, n1, len, len, n1 + 1u, len);
        return 0;
    }
    const size_t n2 = busrt_nul_find(body, len, n1 + 1u);
    if (n2 == len) {
        return BUSRT_ERR_NOSEP;
    }
    frame_body_set(b, n1, n1 + 1u, n2, n2 + 1u, len);
    return 0;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(pos) && \valid(item);
    requires \separated(pos, item, buf + (0 .. len - 1));
    requires len < SIZE_MAX;
    terminates \true;
    assigns *pos, *item \from *pos, buf[0 .. len - 1];
    behavior done:
      assumes *pos > len;
      assigns \nothing;
      ensures \result == 0;
    behavior next:
      assumes *pos <= len;
      ensures \result == 1;
      ensures item->off == \old(*pos);
      ensures item->off + item->len == \old(nul_at(buf, *pos, len));
      ensures *pos == \old(nul_at(buf, *pos, len)) + 1;
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
    const struct busrt_span r = {.off = start, .len = end - start};
    *item = r;
    *pos = end + 1u; /* past len once the last item is taken */
    return 1;
}
