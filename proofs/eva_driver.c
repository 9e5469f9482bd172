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
 *   busrt_mask_has_wildcard, and busrt_rpc_decode of message payloads.
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
#define EVA_BODY_MAX 8u
#endif

/* Input bytes not consumed yet. */
static size_t input_left;

static uint8_t greeting_buf[BUSRT_GREETING_LEN];
static uint8_t name_len_buf[BUSRT_NAME_LEN_FIELD];
static uint8_t header_buf[BUSRT_CLIENT_HEADER_LEN];
static uint8_t pat_len_buf[1];
static uint8_t name_buf[EVA_NAME_MAX];
static uint8_t pat_buf[EVA_PAT_MAX];
static uint8_t body_buf[EVA_BODY_MAX];

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
    Frama_C_make_unknown((char *)p, len);
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
    Frama_C_make_unknown((char *)buf, n);
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
    const size_t len = exact(field, EVA_NAME_MAX);
    const uint8_t *name = take_item(name_buf, EVA_NAME_MAX, len);
    if (name == NULL) {
        return 0;
    }
    if (busrt_name_check(name, len) != 0 ||
        busrt_nul_find(name, len, 0u) != len) {
        return 0;
    }
    (void)busrt_name_primary_len(name, len);
    return 1;
}

/* router.c apply_list over a subscribe-family body. */
static void topic_list(const uint8_t *body, size_t len, const uint8_t *pat,
                       size_t pat_len)
{
    size_t pos = 0;
    struct busrt_span it;
    while (busrt_list_next(body, len, &pos, &it) == 1) {
        const uint8_t *t = body + it.off;
        (void)busrt_topic_matches(t, it.len, pat, pat_len);
        (void)busrt_topic_matches(pat, pat_len, t, it.len);
    }
}

/* router.c router_dispatch (and coreapi.c for messages) on one body. */
static void dispatch(uint8_t op, const uint8_t *body, size_t len,
                     const uint8_t *pat, size_t pat_len)
{
    struct busrt_client_body fb;
    if (busrt_client_body_split(op, body, len, &fb) != 0) {
        return;
    }
    const uint8_t *t = body + fb.target.off;
    const uint8_t *p = body + fb.payload.off;
    const uint8_t *r = body + fb.receiver.off;
    struct busrt_rpc_header rh;
    switch (op) {
    case BUSRT_OP_NOP:
        return;
    case BUSRT_OP_MESSAGE:
        if (busrt_utf8_valid(t, fb.target.len) == 1) {
            (void)busrt_rpc_decode(p, fb.payload.len, &rh);
        }
        return;
    case BUSRT_OP_BROADCAST:
        if (busrt_utf8_valid(t, fb.target.len) == 1 &&
            busrt_mask_has_wildcard(t, fb.target.len) == 1) {
            (void)busrt_mask_matches(t, fb.target.len, pat, pat_len);
        }
        return;
    case BUSRT_OP_PUBLISH:
        if (busrt_utf8_valid(t, fb.target.len) == 1) {
            (void)busrt_topic_matches(pat, pat_len, t, fb.target.len);
        }
        return;
    case BUSRT_OP_PUBLISH_FOR:
        if (busrt_utf8_valid(t, fb.target.len) == 1 &&
            busrt_utf8_valid(r, fb.receiver.len) == 1) {
            (void)busrt_topic_matches(pat, pat_len, t, fb.target.len);
            (void)busrt_mask_matches(r, fb.receiver.len, pat, pat_len);
        }
        return;
    default: /* subscribe, unsubscribe, exclude, unexclude */
        if (busrt_utf8_valid(body, len) == 1) {
            topic_list(body, len, pat, pat_len);
        }
        return;
    }
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
    const size_t pat_len = exact(pat_len_buf[0], EVA_PAT_MAX);
    const uint8_t *pat = take_item(pat_buf, EVA_PAT_MAX, pat_len);
    if (pat == NULL) {
        return;
    }
    const uint32_t max_body = Frama_C_unsigned_int_interval(0u, UINT32_MAX);
    while (input_left > 0u) {
        struct busrt_client_header h;
        const size_t n = take_field(header_buf, BUSRT_CLIENT_HEADER_LEN);
        if (busrt_client_header_decode(header_buf, n, max_body, &h) < 0) {
            return;
        }
        const size_t len = exact(busrt_client_body_len(&h), EVA_BODY_MAX);
        const uint8_t *body = take_item(body_buf, EVA_BODY_MAX, len);
        if (body == NULL) {
            return;
        }
        dispatch(h.op, body, len, pat, pat_len);
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
