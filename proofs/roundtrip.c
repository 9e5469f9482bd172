/* Round-trip theorems for the BUS/RT codecs, proved by Frama-C WP.
 *
 * Each function below runs an encoder and then the matching decoder (or the
 * other way round) on a local buffer; its contract is the theorem
 * "decode(encode(x)) == x" (or "encode(decode(b)) == b"). WP proves each
 * contract from the contracts of the core functions alone, so the theorems
 * hold for every input the preconditions allow, not only for tested ones.
 *
 * Proof-only code: it is not part of the library. `make proofs` compiles it
 * with the project's warning flags to keep it honest C, and proves it
 * together with ref/src/core. */
#include <stddef.h>
#include <stdint.h>

#include "busrt/frame.h"
#include "busrt/rpcproto.h"
#include "frame_spec.h"
#include "le_spec.h"
#include "rpc_spec.h"

int roundtrip_greeting(void);
int roundtrip_name_len(size_t n, uint16_t *out);
int roundtrip_client_header(const struct busrt_client_header *h,
                            uint32_t max_body, struct busrt_client_header *out);
int reencode_client_header(const uint8_t *wire, uint32_t max_body,
                           uint8_t *out);
int roundtrip_frame_header(const struct busrt_frame_header *h,
                           uint32_t max_body, struct busrt_frame_header *out);
int roundtrip_ack(const struct busrt_ack *a, struct busrt_ack *out);
int roundtrip_rpc_notification(struct busrt_rpc_header *out);
int roundtrip_rpc_reply(uint32_t call_id, struct busrt_rpc_header *out);
int roundtrip_rpc_error(uint32_t call_id, int16_t code,
                        struct busrt_rpc_header *out);
int roundtrip_rpc_request(uint32_t call_id, const uint8_t *method,
                          size_t method_len, uint8_t *wire,
                          struct busrt_rpc_header *out);

/* ---- Arithmetic lemma functions ---------------------------------------- */
/* Each contract is a lemma; calling the function instantiates it exactly
 * where a proof needs it (instead of a global ACSL lemma that every other
 * goal would carry). The bodies compute nothing. */

/*@ requires op < 64;
    terminates \true;
    assigns \nothing;
    ensures (op + 64 * qos) % 64 == op && (op + 64 * qos) / 64 == qos;
*/
static void lemma_flags_split(uint8_t op, uint8_t qos)
{
    (void)op;
    (void)qos;
}

/*@ terminates \true;
    assigns \nothing;
    ensures f % 64 + 64 * (f / 64) == f;
*/
static void lemma_flags_join(uint8_t f)
{
    (void)f;
}

/* The base-256 digits of a u32 are unique. */
/*@ requires \valid_read(a + (i .. i + 3)) && \valid_read(b + (j .. j + 3));
    requires le32(a, i) == le32(b, j);
    terminates \true;
    assigns \nothing;
    ensures a[i] == b[j] && a[i + 1] == b[j + 1] && a[i + 2] == b[j + 2] &&
            a[i + 3] == b[j + 3];
*/
static void lemma_le32_unique(const uint8_t *a, size_t i, const uint8_t *b,
                              size_t j)
{
    (void)a;
    (void)i;
    (void)b;
    (void)j;
}

/* Induction on nul_at, part 1: a range whose first NUL is its end holds no
 * NUL at all. The loop is the induction on i; it computes nothing. */
/*@ requires \valid_read(b + (0 .. n - 1));
    requires nul_at(b, 0, n) == n;
    terminates \true;
    assigns \nothing;
    ensures \forall integer m; 0 <= m < n ==> b[m] != 0;
*/
static void lemma_no_nul(const uint8_t *b, size_t n)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= n;
        loop invariant nul_at(b, i, n) == n;
        loop invariant \forall integer m; 0 <= m < i ==> b[m] != 0;
        loop assigns i;
        loop variant n - i;
    */
    while (i < n) {
        i++;
    }
    (void)b;
}

/* Induction on nul_at, part 2: when a[off .. off + n - 1] holds no NUL and
 * a[off + n] is a NUL, the first NUL of a from off is at off + n. */
/*@ requires off + n < len;
    requires \valid_read(a + (0 .. len - 1));
    requires \forall integer m; off <= m < off + n ==> a[m] != 0;
    requires a[off + n] == 0;
    terminates \true;
    assigns \nothing;
    ensures nul_at(a, off, len) == off + n;
*/
static void lemma_nul_at_end(const uint8_t *a, size_t off, size_t len,
                             size_t n)
{
    size_t i = 0;
    /*@ loop invariant 0 <= i <= n;
        loop invariant nul_at(a, off, len) == nul_at(a, off + i, len);
        loop assigns i;
        loop variant n - i;
    */
    while (i < n) {
        i++;
    }
    (void)a;
    (void)off;
    (void)len;
}

/* ---- Frame layer ------------------------------------------------------ */

/*@ terminates \true;
    assigns \nothing;
    ensures \result == BUSRT_GREETING_LEN;
*/
int roundtrip_greeting(void)
{
    uint8_t wire[BUSRT_GREETING_LEN];
    const int rc = busrt_greeting_encode(wire, sizeof wire);
    /*@ assert rc == BUSRT_GREETING_LEN; */
    (void)rc;
    return busrt_greeting_decode(wire, sizeof wire);
}

/*@ requires n <= 65535;
    requires \valid(out);
    terminates \true;
    assigns *out;
    ensures \result == BUSRT_NAME_LEN_FIELD && *out == n;
*/
int roundtrip_name_len(size_t n, uint16_t *out)
{
    uint8_t wire[BUSRT_NAME_LEN_FIELD];
    const int rc = busrt_name_len_encode(n, wire, sizeof wire);
    /*@ assert rc == BUSRT_NAME_LEN_FIELD; */
    (void)rc;
    return busrt_name_len_decode(wire, sizeof wire, out);
}

/* decode(encode(h)) == h for every header the encoder accepts and whose
 * body fits the decoder's limit (a ping's length is never checked). */
/*@ requires \valid_read(h) && \valid(out) && \separated(h, out);
    requires valid_op(h->op) && h->qos <= 3;
    requires is_ping(h->op, h->qos) || h->body_len <= max_body;
    terminates \true;
    assigns *out;
    ensures \result == BUSRT_CLIENT_HEADER_LEN;
    ensures out->op_id == h->op_id && out->op == h->op &&
            out->qos == h->qos && out->body_len == h->body_len;
*/
int roundtrip_client_header(const struct busrt_client_header *h,
                            uint32_t max_body, struct busrt_client_header *out)
{
    uint8_t wire[BUSRT_CLIENT_HEADER_LEN];
    const int rc = busrt_client_header_encode(h, wire, sizeof wire);
    /*@ assert rc == BUSRT_CLIENT_HEADER_LEN; */
    (void)rc;
    lemma_flags_split(h->op, h->qos);
    /*@ assert wire[4] % 64 == h->op && wire[4] / 64 == h->qos; */
    /*@ assert wire[4] == 0 <==> is_ping(h->op, h->qos); */
    return busrt_client_header_decode(wire, sizeof wire, max_body, out);
}

/* encode(decode(b)) == b for every 9 bytes the decoder accepts: the wire
 * form of a client header is unique. */
/*@ requires \valid_read(wire + (0 .. 8)) && \valid(out + (0 .. 8));
    requires \separated(wire + (0 .. 8), out + (0 .. 8));
    requires valid_op(wire[4] % 64);
    requires wire[4] == 0 || le32(wire, 5) <= max_body;
    terminates \true;
    assigns out[0 .. 8];
    ensures \result == BUSRT_CLIENT_HEADER_LEN;
    ensures out[0] == wire[0] && out[1] == wire[1] && out[2] == wire[2] &&
            out[3] == wire[3] && out[4] == wire[4] && out[5] == wire[5] &&
            out[6] == wire[6] && out[7] == wire[7] && out[8] == wire[8];
*/
int reencode_client_header(const uint8_t *wire, uint32_t max_body,
                           uint8_t *out)
{
    struct busrt_client_header h;
    const int rc = busrt_client_header_decode(wire, BUSRT_CLIENT_HEADER_LEN,
                                              max_body, &h);
    /*@ assert rc == BUSRT_CLIENT_HEADER_LEN; */
    (void)rc;
    lemma_flags_join(wire[4]);
    const int n = busrt_client_header_encode(&h, out, BUSRT_CLIENT_HEADER_LEN);
    /*@ assert out[4] == wire[4]; */
    lemma_le32_unique(out, 0u, wire, 0u);
    lemma_le32_unique(out, 5u, wire, 5u);
    return n;
}

/*@ requires \valid_read(h) && \valid(out) && \separated(h, out);
    requires valid_kind(h->kind) && h->realtime <= 1;
    requires h->kind == 0 || h->body_len <= max_body;
    terminates \true;
    assigns *out;
    ensures \result == BUSRT_FRAME_HEADER_LEN;
    ensures out->kind == h->kind && out->body_len == h->body_len &&
            out->realtime == h->realtime;
*/
int roundtrip_frame_header(const struct busrt_frame_header *h,
                           uint32_t max_body, struct busrt_frame_header *out)
{
    uint8_t wire[BUSRT_FRAME_HEADER_LEN];
    const int rc = busrt_frame_header_encode(h, wire, sizeof wire);
    /*@ assert rc == BUSRT_FRAME_HEADER_LEN; */
    (void)rc;
    return busrt_frame_header_decode(wire, sizeof wire, max_body, out);
}

/*@ requires \valid_read(a) && \valid(out) && \separated(a, out);
    terminates \true;
    assigns *out;
    ensures \result == BUSRT_ACK_LEN;
    ensures out->op_id == a->op_id && out->code == a->code;
*/
int roundtrip_ack(const struct busrt_ack *a, struct busrt_ack *out)
{
    uint8_t wire[BUSRT_ACK_LEN];
    const int rc = busrt_ack_encode(a, wire, sizeof wire);
    /*@ assert rc == BUSRT_ACK_LEN; */
    (void)rc;
    return busrt_ack_decode(wire, sizeof wire, out);
}

/* ---- RPC layer -------------------------------------------------------- */

/*@ requires \valid(out);
    terminates \true;
    assigns *out;
    ensures \result == 0 && out->kind == BUSRT_RPC_NOTIFICATION;
    ensures out->call_id == 0 && out->code == 0 && out->data.len == 0;
*/
int roundtrip_rpc_notification(struct busrt_rpc_header *out)
{
    uint8_t wire[1];
    const int rc = busrt_rpc_notification_encode(wire, sizeof wire);
    /*@ assert rc == 1; */
    (void)rc;
    return busrt_rpc_decode(wire, sizeof wire, out);
}

/*@ requires \valid(out);
    terminates \true;
    assigns *out;
    ensures \result == 0 && out->kind == BUSRT_RPC_REPLY;
    ensures out->call_id == call_id && out->code == 0;
    ensures out->data.off == 5 && out->data.len == 0;
*/
int roundtrip_rpc_reply(uint32_t call_id, struct busrt_rpc_header *out)
{
    uint8_t wire[5];
    const int rc = busrt_rpc_reply_encode(call_id, wire, sizeof wire);
    /*@ assert rc == 5; */
    (void)rc;
    return busrt_rpc_decode(wire, sizeof wire, out);
}

/*@ requires \valid(out);
    terminates \true;
    assigns *out;
    ensures \result == 0 && out->kind == BUSRT_RPC_ERROR;
    ensures out->call_id == call_id && out->code == code;
    ensures out->data.off == 7 && out->data.len == 0;
*/
int roundtrip_rpc_error(uint32_t call_id, int16_t code,
                        struct busrt_rpc_header *out)
{
    uint8_t wire[7];
    const int rc = busrt_rpc_error_encode(call_id, code, wire, sizeof wire);
    /*@ assert rc == 7; */
    (void)rc;
    return busrt_rpc_decode(wire, sizeof wire, out);
}

/* decode(request_encode(call_id, method)) gives back the call id and the
 * method span, for every NUL-free method of at most 65535 bytes; the params
 * that would follow are empty here. */
/*@ requires method_len <= 65535;
    requires \valid_read(method + (0 .. method_len - 1));
    requires \valid(wire + (0 .. method_len + 5));
    requires \valid(out);
    requires \separated(method + (0 .. method_len - 1),
                        wire + (0 .. method_len + 5), out);
    requires \separated(wire + (0 .. method_len + 5), out);
    requires nul_at(method, 0, method_len) == method_len;
    terminates \true;
    assigns wire[0 .. method_len + 5], *out;
    ensures \result == 0 && out->kind == BUSRT_RPC_REQUEST;
    ensures out->call_id == call_id && out->code == 0;
    ensures out->method.off == 5 && out->method.len == method_len;
    ensures \forall integer m; 5 <= m < 5 + method_len ==>
              wire[m] == method[m - 5];
    ensures out->data.off == method_len + 6 && out->data.len == 0;
*/
int roundtrip_rpc_request(uint32_t call_id, const uint8_t *method,
                          size_t method_len, uint8_t *wire,
                          struct busrt_rpc_header *out)
{
    lemma_no_nul(method, method_len);
    const int n = busrt_rpc_request_encode(call_id, method, method_len, wire,
                                           method_len + 6u);
    /*@ assert n == method_len + 6; */
    (void)n;
    /*@ assert \forall integer m; 5 <= m < 5 + method_len ==> wire[m] != 0; */
    lemma_nul_at_end(wire, 5u, method_len + 6u, method_len);
    return busrt_rpc_decode(wire, method_len + 6u, out);
}
