/* Client frame header and body: decode, re-encode, split, list iteration.
 * Input: 4 bytes body limit (LE), then the frame bytes. */
#include <string.h>

#include "busrt/frame.h"
#include "busrt/utf8.h"
#include "fuzz.h"

static void check_split(uint8_t op, const uint8_t *body, size_t len)
{
    struct busrt_client_body b;
    int rc = busrt_client_body_split(op, body, len, &b);
    if (rc != 0) {
        CHECK(rc == BUSRT_ERR_NOSEP || rc == BUSRT_ERR_OP);
        CHECK(rc != BUSRT_ERR_OP || busrt_op_valid(op) == 0);
        return;
    }
    CHECK(b.target.off + b.target.len <= len);
    CHECK(b.receiver.off + b.receiver.len <= len);
    CHECK(b.payload.off + b.payload.len <= len);
    if (op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE) {
        CHECK(b.target.off == 0 && b.target.len == len);
        /* the items, joined with NUL, give the body back */
        size_t pos = 0, at = 0;
        struct busrt_span it;
        while (busrt_list_next(body, len, &pos, &it) == 1) {
            CHECK(it.off == at);
            CHECK(memchr(body + it.off, 0, it.len) == NULL);
            at = it.off + it.len;
            CHECK(at == len || body[at] == 0);
            at++;
        }
        CHECK(at == len + 1u);
        return;
    }
    /* target ends at the first NUL; the payload is everything after the
     * last separator consumed */
    CHECK(b.target.off == 0 && memchr(body, 0, b.target.len) == NULL);
    CHECK(body[b.target.len] == 0);
    if (op == BUSRT_OP_PUBLISH_FOR) {
        CHECK(b.receiver.off == b.target.len + 1u);
        CHECK(memchr(body + b.receiver.off, 0, b.receiver.len) == NULL);
        CHECK(body[b.receiver.off + b.receiver.len] == 0);
        CHECK(b.payload.off == b.receiver.off + b.receiver.len + 1u);
    } else {
        CHECK(b.receiver.len == 0);
        CHECK(b.payload.off == b.target.len + 1u);
    }
    CHECK(b.payload.off + b.payload.len == len);
    (void)busrt_utf8_valid(body + b.target.off, b.target.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    const uint32_t limit = busrt_get_le32(data);
    const uint8_t *p = data + 4;
    size_t n = size - 4;
    struct busrt_client_header h;
    memset(&h, 0x5A, sizeof h);
    int rc = busrt_client_header_decode(p, n, limit, &h);
    if (rc < 0) {
        CHECK(rc == BUSRT_ERR_SHORT || rc == BUSRT_ERR_OP || rc == BUSRT_ERR_LIMIT);
        CHECK(rc != BUSRT_ERR_SHORT || n < 9);
        CHECK(h.op_id == 0x5A5A5A5Au); /* untouched on failure */
        return 0;
    }
    CHECK(rc == 9 && busrt_op_valid(h.op) == 1 && h.qos <= 3);
    uint8_t out[9];
    CHECK(busrt_client_header_encode(&h, out, sizeof out) == 9);
    CHECK(memcmp(out, p, 9) == 0);
    uint32_t blen = busrt_client_body_len(&h);
    CHECK(blen == 0 || blen <= limit);
    size_t avail = n - 9;
    check_split(h.op, p + 9, blen < avail ? blen : avail);
    return 0;
}
