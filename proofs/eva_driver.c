/* Eva driver: arbitrary connection input through the core calls the broker
 * makes on one connection (ref/src/broker/conn.c handshake_step and
 * process_input, ref/src/broker/router.c router_dispatch and apply_list,
 * ref/src/broker/coreapi.c coreapi_handle):
 *
 *   greeting decode; name length decode; busrt_name_check, busrt_nul_find
 *   and busrt_name_primary_len on the name; then frame after frame: client
 *   header decode with an arbitrary body limit, busrt_client_body_len,
 *   busrt_client_body_split, busrt_utf8_valid on target / receiver / topic
 *   list, busrt_list_next over topic lists, busrt_topic_matches and
 *   busrt_mask_matches against a pattern also read from the input,
 *   busrt_mask_has_wildcard, busrt_rpc_decode of message payloads, and
 *   busrt_mp_check on the params of RPC requests.
 *
 * Input model. The connection delivers any sequence of bytes; the parser
 * consumes it item by item, as the broker's read buffer hands items out
 * (take(): exactly the bytes of one item, or the input ends). Every byte
 * is arbitrary and independent of the others, so each item is a fresh
 * buffer of unknown bytes. Lengths come from the input itself (the name
 * length field, a pattern length byte, each frame header's length field)
 * and are bounded as follows, so that the analysis terminates:
 *   - the whole input is at most EVA_INPUT_MAX bytes;
 *   - the name, the pattern and each frame body are at most EVA_ITEM_MAX
 *     bytes (a longer one ends the input: the analysis then stops there);
 * Each item sits at the END of its static buffer of EVA_ITEM_MAX bytes, so
 * that any read past the item's length is a read past the array: Eva
 * checks every access against the item's exact length, not against a
 * larger buffer.
 *
 * Not compiled into anything: `make eva` analyses it with Frama-C Eva (see
 * proofs/proofs.mk for the exact command and precision). */
#include <stddef.h>
#include <stdint.h>

#include "__fc_builtin.h"
#include "busrt/frame.h"
#include "busrt/match.h"
#include "busrt/mpack.h"
#include "busrt/rpcproto.h"
#include "busrt/utf8.h"

#ifndef EVA_INPUT_MAX
#define EVA_INPUT_MAX 40u
#endif
#ifndef EVA_NAME_MAX
#define EVA_NAME_MAX 8u
#endif
#ifndef EVA_PAT_MAX
#define EVA_PAT_MAX 4u
#endif
#ifndef EVA_BODY_MAX
#define EVA_BODY_MAX 6u
#endif
#ifndef EVA_MSG_MAX
#define EVA_MSG_MAX 10u
#endif

/* Input bytes not consumed yet, the lengths read from the input, and the
 * position in a topic list. `make eva` partitions the analysis states by
 * the value of each of these globals (-eva-partition-value), so every
 * length and offset the driver hands to the core is exact in its state,
 * while states that differ only in what is known about byte values merge. */
static size_t input_left;
static size_t name_len;
static size_t pat_len;
static size_t body_len;
static size_t list_pos;
/* The spans of the current body (target, receiver, payload) and of the
 * current topic-list item, likewise partitioned. */
static size_t t_off, t_len, r_off, r_len, p_off, p_len, i_off, i_len;

/* The wire: each read of a volatile object is, for Eva, any value of its
 * type, independently of every other read. */
static volatile uint8_t wire_byte;
static volatile uint32_t config_limit;

static uint8_t greeting_buf[BUSRT_GREETING_LEN];
static uint8_t name_len_buf[BUSRT_NAME_LEN_FIELD];
static uint8_t header_buf[BUSRT_CLIENT_HEADER_LEN];
static uint8_t pat_len_buf[1];
static uint8_t name_buf[EVA_NAME_MAX];
static uint8_t pat_buf[EVA_PAT_MAX];
static uint8_t body_buf[EVA_MSG_MAX];

/* Fills p[0 .. n - 1] with input bytes. */
static void fill(uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        p[k] = wire_byte;
    }
}

/* The exact value of v when v <= bound, one analysis state per value (the
 * loop is the identity on such v; Eva unrolls it); bound + 1 otherwise. */
static size_t exact(size_t v, size_t bound)
{
    size_t k = 0;
    while (k < v && k <= bound) {
        k++;
    }
    return k;
}

/* The next len input bytes as an item at the end of buf (capacity cap),
 * or NULL when the input ends first or the item is longer than cap. */
static uint8_t *take_item(uint8_t *buf, size_t cap, size_t len)
{
    if (len > cap || len > input_left) {
        return NULL;
    }
    uint8_t *p = buf + (cap - len);
    fill(p, len);
    input_left -= len;
    return p;
}

/* Up to want bytes of a fixed-size field (fewer when the input ends, to run
 * the decoders on short input too). Returns the count. */
static size_t take_field(uint8_t *buf, size_t want)
{
    size_t n = input_left;
    if (input_left >= want) {
        n = want;
        input_left -= want;
    } else {
        input_left = 0u;
    }
    fill(buf, n);
    return n;
}

/* conn.c handshake_step. Returns 1 when the client is registered. */
static int handshake(void)
{
    size_t n = take_field(greeting_buf, BUSRT_GREETING_LEN);
    if (busrt_greeting_decode(greeting_buf, n) != (int)BUSRT_GREETING_LEN) {
        return 0;
    }
    uint16_t field = 0;
    n = take_field(name_len_buf, BUSRT_NAME_LEN_FIELD);
    if (busrt_name_len_decode(name_len_buf, n, &field) !=
            (int)BUSRT_NAME_LEN_FIELD ||
        field == 0u) {
        return 0;
    }
    name_len = exact(field, EVA_NAME_MAX);
    const uint8_t *name = take_item(name_buf, EVA_NAME_MAX, name_len);
    if (name == NULL) {
        return 0;
    }
    int ok = 0;
    if (busrt_name_check(name, name_len) == 0 &&
        busrt_nul_find(name, name_len, 0u) == name_len) {
        (void)busrt_name_primary_len(name, name_len);
        ok = 1;
    }
    name_len = 0u; /* not used after the handshake */
    return ok;
}

/* router.c apply_list over a subscribe-family body: each item is a
 * subscription, matched (as registry.c does when a publication arrives)
 * against the input's pattern as a topic. */
static void topic_list(const uint8_t *body, const uint8_t *pat)
{
    struct busrt_span it;
    list_pos = 0u;
    while (busrt_list_next(body, body_len, &list_pos, &it) == 1) {
        i_off = it.off;
        i_len = it.len;
        (void)busrt_topic_matches(body + i_off, i_len, pat, pat_len);
    }
    list_pos = 0u;
    i_off = 0u;
    i_len = 0u;
}

/* router.c router_dispatch (and coreapi.c for messages) on one body. */
static void dispatch(uint8_t op, const uint8_t *body, const uint8_t *pat)
{
    struct busrt_client_body fb;
    if (busrt_client_body_split(op, body, body_len, &fb) != 0) {
        return;
    }
    t_off = fb.target.off;
    t_len = fb.target.len;
    r_off = fb.receiver.off;
    r_len = fb.receiver.len;
    p_off = fb.payload.off;
    p_len = fb.payload.len;
    const uint8_t *t = body + t_off;
    const uint8_t *r = body + r_off;
    const uint8_t *p = body + p_off;
    struct busrt_rpc_header rh;
    switch (op) {
    case BUSRT_OP_NOP:
        break;
    case BUSRT_OP_MESSAGE:
        if (busrt_utf8_valid(t, t_len) == 1 &&
            busrt_rpc_decode(p, p_len, &rh) == 0 && rh.kind == BUSRT_RPC_REQUEST) {
            /* coreapi.c list_filter: the params' extent before unpacking */
            size_t obj_len = 0;
            (void)busrt_mp_check(p + rh.data.off, rh.data.len, &obj_len);
        }
        break;
    case BUSRT_OP_BROADCAST:
        if (busrt_utf8_valid(t, t_len) == 1 &&
            busrt_mask_has_wildcard(t, t_len) == 1) {
            (void)busrt_mask_matches(t, t_len, pat, pat_len);
        }
        break;
    case BUSRT_OP_PUBLISH:
        if (busrt_utf8_valid(t, t_len) == 1) {
            (void)busrt_topic_matches(pat, pat_len, t, t_len);
        }
        break;
    case BUSRT_OP_PUBLISH_FOR:
        if (busrt_utf8_valid(t, t_len) == 1 &&
            busrt_utf8_valid(r, r_len) == 1) {
            (void)busrt_topic_matches(pat, pat_len, t, t_len);
            (void)busrt_mask_matches(r, r_len, pat, pat_len);
        }
        break;
    default: /* subscribe, unsubscribe, exclude, unexclude */
        if (busrt_utf8_valid(body, body_len) == 1) {
            topic_list(body, pat);
        }
        break;
    }
    t_off = t_len = r_off = r_len = p_off = p_len = 0u;
}

/* conn.c process_input after the handshake: a pattern (a length byte and
 * that many bytes, standing for the subscriptions and client names the
 * broker matches against), then frames until the input ends or a frame is
 * rejected. */
static void frames(void)
{
    if (take_field(pat_len_buf, 1u) != 1u) {
        return;
    }
    pat_len = exact(pat_len_buf[0], EVA_PAT_MAX);
    const uint8_t *pat = take_item(pat_buf, EVA_PAT_MAX, pat_len);
    if (pat == NULL) {
        return;
    }
    /* The broker's --payload-size-limit: any value. */
    const uint32_t max_body = config_limit;
    while (input_left > 0u) {
        struct busrt_client_header h;
        const size_t n = take_field(header_buf, BUSRT_CLIENT_HEADER_LEN);
        if (busrt_client_header_decode(header_buf, n, max_body, &h) < 0) {
            return;
        }
        /* Messages carry RPC payloads: a longer bound for them. */
        const size_t bound =
            (h.op == BUSRT_OP_MESSAGE) ? EVA_MSG_MAX : EVA_BODY_MAX;
        body_len = exact(busrt_client_body_len(&h), bound);
        if (body_len > bound) {
            return;
        }
        const uint8_t *body = take_item(body_buf, EVA_MSG_MAX, body_len);
        if (body == NULL) {
            return;
        }
        dispatch(h.op, body, pat);
        body_len = 0u;
    }
}

int main(void)
{
    input_left = (size_t)Frama_C_interval_split(0, (int)EVA_INPUT_MAX);
    if (handshake() == 1) {
        frames();
    }
    return 0;
}
