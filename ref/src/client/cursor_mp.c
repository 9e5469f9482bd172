/* The MessagePack forms of RPC cursors; see cursor_int.h. Multi-byte
 * MessagePack integers are big-endian. */
#include "cursor_int.h"

#include <string.h>

#include "busrt/mpack.h"

static uint64_t be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = (v * 256u) + p[i];
    }
    return v;
}

/* Container header: element count and header length; -1 when p[0] starts
 * no container of the kind asked (map or array). */
static int container(const uint8_t *p, size_t len, int map, uint32_t *count, size_t *hl)
{
    uint8_t fix = map ? 0x80u : 0x90u;
    uint8_t b16 = map ? 0xDEu : 0xDCu;
    if (len == 0u) {
        return -1;
    }
    if ((p[0] & 0xF0u) == fix) {
        *count = p[0] & 0x0Fu;
        *hl = 1u;
    } else if (p[0] == b16 && len >= 3u) {
        *count = (uint32_t)be(p + 1, 2u);
        *hl = 3u;
    } else if (p[0] == (uint8_t)(b16 + 1u) && len >= 5u) {
        *count = (uint32_t)be(p + 1, 4u);
        *hl = 5u;
    } else {
        return -1;
    }
    return 0;
}

/* A string object: its bytes; -1 when obj is not a string. */
static int str_of(const uint8_t *obj, size_t olen, const uint8_t **s, size_t *slen)
{
    size_t hl;
    if ((obj[0] & 0xE0u) == 0xA0u) {
        hl = 1u;
    } else if (obj[0] == 0xD9u) {
        hl = 2u;
    } else if (obj[0] == 0xDAu) {
        hl = 3u;
    } else if (obj[0] == 0xDBu) {
        hl = 5u;
    } else {
        return -1;
    }
    /* busrt_mp_check bounded the object, so the header fits. */
    *s = obj + hl;
    *slen = olen - hl;
    return 0;
}

/* An integer object >= 0: 0 with *v; -1 for anything else. */
static int uint_of(const uint8_t *obj, size_t olen, uint64_t *v)
{
    uint8_t b = obj[0];
    if (b < 0x80u) {
        *v = b;
        return 0;
    }
    if ((b >= 0xCCu && b <= 0xCFu) || (b >= 0xD0u && b <= 0xD3u)) {
        if ((b >= 0xD0u) && ((obj[1] & 0x80u) != 0u)) {
            return -1; /* a negative signed integer */
        }
        *v = be(obj + 1, olen - 1u);
        return 0;
    }
    return -1;
}

int bc_cm_scan(const uint8_t *p, size_t len, struct cm_map *m)
{
    size_t ol = 0;
    uint32_t count = 0;
    size_t off = 0;
    memset(m, 0, sizeof *m);
    if (p == NULL || busrt_mp_check(p, len, &ol) != 0 || ol != len ||
        container(p, len, 1, &count, &off) != 0) {
        return -1;
    }
    m->nkeys = count;
    for (uint32_t i = 0; i < count; i++) {
        size_t kl = 0;
        size_t vl = 0;
        const uint8_t *k;
        size_t klen;
        if (busrt_mp_check(p + off, len - off, &kl) != 0 ||
            str_of(p + off, kl, &k, &klen) != 0 ||
            busrt_mp_check(p + off + kl, len - off - kl, &vl) != 0) {
            return -1;
        }
        const uint8_t *v = p + off + kl;
        if (klen == 1u && k[0] == (uint8_t)'u') {
            if (m->u != NULL) {
                return -1;
            }
            m->u = v;
            m->u_len = vl;
        } else if (klen == 1u && k[0] == (uint8_t)'n') {
            if (m->has_n) {
                return -1;
            }
            m->has_n = 1;
            m->n_ok = uint_of(v, vl, &m->n) == 0;
        } else {
            /* other keys are ignored, as serde does */
        }
        off += kl + vl;
    }
    return 0;
}

int bc_cm_array_count(const uint8_t *p, size_t len, uint32_t *count)
{
    size_t ol = 0;
    size_t hl = 0;
    if (p == NULL || busrt_mp_check(p, len, &ol) != 0 || ol != len) {
        return -1;
    }
    return container(p, len, 0, count, &hl);
}

static size_t put_be(uint8_t tag, uint64_t v, size_t n, uint8_t *out)
{
    out[0] = tag;
    for (size_t i = 0; i < n; i++) {
        out[n - i] = (uint8_t)(v % 256u);
        v /= 256u;
    }
    return n + 1u;
}

size_t bc_cm_put_array(uint32_t count, uint8_t *out)
{
    if (count < 16u) {
        out[0] = (uint8_t)(0x90u + count);
        return 1u;
    }
    if (count < 65536u) {
        return put_be(0xDCu, count, 2u, out);
    }
    return put_be(0xDDu, count, 4u, out);
}

size_t bc_cm_put_uint(uint64_t v, uint8_t *out)
{
    if (v < 128u) {
        out[0] = (uint8_t)v;
        return 1u;
    }
    if (v < 256u) {
        return put_be(0xCCu, v, 1u, out);
    }
    if (v < 65536u) {
        return put_be(0xCDu, v, 2u, out);
    }
    if (v <= UINT32_MAX) {
        return put_be(0xCEu, v, 4u, out);
    }
    return put_be(0xCFu, v, 8u, out);
}
