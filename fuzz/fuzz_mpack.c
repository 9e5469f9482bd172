/* busrt_mp_check (the extent of one MessagePack object) against two
 * others: a recursive model written here from the MessagePack format
 * specification, and msgpack-c itself (the library the broker and the
 * CLI use after the check).
 *
 *   - the check accepts exactly what the model accepts, with the same
 *     length (the error codes may differ: the check stops as soon as a
 *     count cannot fit, the model when it reaches the missing bytes);
 *   - what the check accepts, msgpack-c unpacks to the same length
 *     (unless nested deeper than msgpack-c's fixed limit of 32);
 *   - an accepted object declares at most one element per byte.
 * msgpack-c runs only on accepted input: on the rest it could try to
 * allocate gigabytes, which is the reason for the check. */
#include <string.h>

#include <msgpack.h>

#include "busrt/codes.h"
#include "busrt/mpack.h"
#include "fuzz.h"

struct walk {
    const uint8_t *p;
    size_t n;
    size_t depth;    /* deepest nesting seen */
    size_t elements; /* elements declared by every array and map */
};

static size_t be(const uint8_t *p, size_t k)
{
    size_t v = 0;
    for (size_t i = 0; i < k; i++) {
        v = v * 256 + p[i];
    }
    return v;
}

/* The end of the object at i, or (size_t)-1 when it is not complete or
 * uses 0xC1. */
static size_t obj(struct walk *w, size_t i, size_t depth)
{
    const size_t bad = (size_t)-1;
    if (i >= w->n) {
        return bad;
    }
    if (depth > w->depth) {
        w->depth = depth;
    }
    const uint8_t b = w->p[i++];
    size_t left = w->n - i;
    size_t lenbytes = 0, skip = 0, count = 0, pairs = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        return i;
    } else if (b >= 0x80 && b <= 0x8f) {
        count = b & 0x0f;
        pairs = 1;
    } else if (b >= 0x90 && b <= 0x9f) {
        count = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
        skip = b & 0x1f;
    } else {
        switch (b) {
        case 0xc4: case 0xd9: lenbytes = 1; break;             /* bin8, str8 */
        case 0xc5: case 0xda: lenbytes = 2; break;             /* bin16, str16 */
        case 0xc6: case 0xdb: lenbytes = 4; break;             /* bin32, str32 */
        case 0xc7: lenbytes = 1; skip = 1; break;              /* ext8 + type */
        case 0xc8: lenbytes = 2; skip = 1; break;
        case 0xc9: lenbytes = 4; skip = 1; break;
        case 0xca: skip = 4; break;                            /* float32 */
        case 0xcb: skip = 8; break;                            /* float64 */
        case 0xcc: case 0xd0: skip = 1; break;                 /* (u)int8 */
        case 0xcd: case 0xd1: skip = 2; break;
        case 0xce: case 0xd2: skip = 4; break;
        case 0xcf: case 0xd3: skip = 8; break;
        case 0xd4: skip = 2; break;                            /* fixext 1..16 */
        case 0xd5: skip = 3; break;
        case 0xd6: skip = 5; break;
        case 0xd7: skip = 9; break;
        case 0xd8: skip = 17; break;
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {          /* array, map 16/32 */
            size_t k = (b == 0xdc || b == 0xde) ? 2 : 4;
            if (left < k) {
                return bad;
            }
            count = be(w->p + i, k);
            pairs = b >= 0xde;
            i += k;
            break;
        }
        default: /* 0xc1 */
            return bad;
        }
    }
    if (lenbytes > 0) {
        if (left < lenbytes) {
            return bad;
        }
        size_t data = be(w->p + i, lenbytes);
        i += lenbytes;
        left -= lenbytes;
        if (left < skip || left - skip < data) {
            return bad;
        }
        return i + skip + data;
    }
    if (skip > 0) {
        return left < skip ? bad : i + skip;
    }
    size_t elements = pairs ? 2 * count : count;
    w->elements += elements;
    for (size_t e = 0; e < elements; e++) {
        i = obj(w, i, depth + 1);
        if (i == bad) {
            return bad;
        }
    }
    return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = 12345;
    const int rc = busrt_mp_check(data, size, &len);
    struct walk w = {data, size, 0, 0};
    const size_t end = obj(&w, 0, 0);
    if (end == (size_t)-1) {
        CHECK(rc == BUSRT_ERR_SHORT || rc == BUSRT_ERR_MSGPACK);
        CHECK(len == 12345);
        /* 0xC1 reported only when the input holds one. */
        CHECK(rc != BUSRT_ERR_MSGPACK || memchr(data, 0xc1, size) != NULL);
        return 0;
    }
    CHECK(rc == 0 && len == end && len >= 1 && len <= size);
    CHECK(w.elements < len);
    if (w.depth < 32) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        CHECK(msgpack_unpack_next(&u, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS);
        CHECK(off == len);
        msgpack_unpacked_destroy(&u);
    }
    return 0;
}
