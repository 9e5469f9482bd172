/* Broker -> client side: delivered frame header, ACK, delivered body split.
 * Input: 4 bytes body limit (LE), then the bytes a client would read. */
#include <string.h>

#include "busrt/frame.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    const uint32_t limit = busrt_get_le32(data);
    const uint8_t *p = data + 4;
    size_t n = size - 4;
    struct busrt_ack a;
    int rc = busrt_ack_decode(p, n, &a);
    if (rc == 6) {
        uint8_t out[6];
        CHECK(busrt_ack_encode(&a, out, sizeof out) == 6 && memcmp(out, p, 6) == 0);
        return 0;
    }
    CHECK(rc == BUSRT_ERR_SHORT || rc == BUSRT_ERR_MARKER);
    struct busrt_frame_header h;
    rc = busrt_frame_header_decode(p, n, limit, &h);
    if (rc < 0) {
        CHECK(rc == BUSRT_ERR_SHORT || rc == BUSRT_ERR_KIND || rc == BUSRT_ERR_LIMIT);
        return 0;
    }
    CHECK(rc == 6 && busrt_kind_valid(h.kind) == 1);
    CHECK(h.kind == BUSRT_KIND_NOP || h.body_len <= limit);
    if (h.realtime <= 1u) {
        uint8_t out[6];
        CHECK(busrt_frame_header_encode(&h, out, sizeof out) == 6 && memcmp(out, p, 6) == 0);
    }
    size_t avail = n - 6, blen = h.body_len < avail ? h.body_len : avail;
    struct busrt_frame_body b;
    rc = busrt_frame_body_split(h.kind, p + 6, blen, &b);
    if (rc == 0) {
        CHECK(b.sender.off == 0 && memchr(p + 6, 0, b.sender.len) == NULL);
        CHECK(b.payload.off + b.payload.len == blen);
        if (h.kind == BUSRT_KIND_PUBLISH) {
            CHECK(b.topic.off == b.sender.len + 1u);
            CHECK(b.payload.off == b.topic.off + b.topic.len + 1u);
            CHECK(memchr(p + 6 + b.topic.off, 0, b.topic.len) == NULL);
        } else {
            CHECK(b.topic.len == 0 && b.payload.off == b.sender.len + 1u);
        }
    } else {
        CHECK(rc == BUSRT_ERR_NOSEP || (rc == BUSRT_ERR_KIND && h.kind == BUSRT_KIND_NOP));
    }
    return 0;
}
