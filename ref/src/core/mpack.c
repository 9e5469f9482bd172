/* Extent of one MessagePack object (spec section 12.3), checked against
 * the logic specification in mpack_spec.h. One pass, no recursion: the
 * walk keeps the number of objects still to read, and never lets it
 * exceed the number of bytes left. */
#include "busrt/mpack.h"

#include "busrt/codes.h"
#include "mpack_spec.h"

/*@ terminates \true;
    assigns \nothing;
    ensures \result == mp_lf(b);
*/
static size_t mp_lf_of(uint8_t b)
{
    size_t r = 0u;
    if ((b == 0xC4u) || (b == 0xC7u) || (b == 0xD9u)) {
        r = 1u;
    } else if ((b == 0xC5u) || (b == 0xC8u) || (b == 0xDAu) || (b == 0xDCu) ||
               (b == 0xDEu)) {
        r = 2u;
    } else if ((b == 0xC6u) || (b == 0xC9u) || (b == 0xDBu) || (b == 0xDDu) ||
               (b == 0xDFu)) {
        r = 4u;
    } else {
        /* every other type has no length field */
    }
    return r;
}

/*@ terminates \true;
    assigns \nothing;
    ensures \result == mp_fixed(b);
*/
static size_t mp_fixed_of(uint8_t b)
{
    size_t r = 0u;
    if ((b >= 0xA0u) && (b <= 0xBFu)) {
        r = (size_t)b - 0xA0u;
    } else if ((b == 0xCCu) || (b == 0xD0u)) {
        r = 1u;
    } else if ((b == 0xCDu) || (b == 0xD1u)) {
        r = 2u;
    } else if ((b == 0xCAu) || (b == 0xCEu) || (b == 0xD2u)) {
        r = 4u;
    } else if ((b == 0xCBu) || (b == 0xCFu) || (b == 0xD3u)) {
        r = 8u;
    } else if ((b == 0xC7u) || (b == 0xC8u) || (b == 0xC9u)) {
        r = 1u;
    } else if (b == 0xD4u) {
        r = 2u;
    } else if (b == 0xD5u) {
        r = 3u;
    } else if (b == 0xD6u) {
        r = 5u;
    } else if (b == 0xD7u) {
        r = 9u;
    } else if (b == 0xD8u) {
        r = 17u;
    } else {
        /* nil, booleans, fixints, containers: nothing of fixed size */
    }
    return r;
}

/*@ terminates \true;
    assigns \nothing;
    ensures \result == 1 <==> mp_has_data(b);
    ensures \result == 0 || \result == 1;
*/
static int mp_has_data_of(uint8_t b)
{
    return (((b >= 0xC4u) && (b <= 0xC9u)) || ((b >= 0xD9u) && (b <= 0xDBu))) ? 1 : 0;
}

/*@ terminates \true;
    assigns \nothing;
    ensures \result == mp_count(b, f);
*/
static uint64_t mp_count_of(uint8_t b, uint32_t f)
{
    uint64_t r = 0u;
    if ((b >= 0x80u) && (b <= 0x8Fu)) {
        r = 2u * ((uint64_t)b - 0x80u);
    } else if ((b >= 0x90u) && (b <= 0x9Fu)) {
        r = (uint64_t)b - 0x90u;
    } else if ((b == 0xDCu) || (b == 0xDDu)) {
        r = f;
    } else if ((b == 0xDEu) || (b == 0xDFu)) {
        r = 2u * (uint64_t)f;
    } else {
        /* not a container */
    }
    return r;
}

/*@ requires \valid_read(s + (0 .. n - 1));
    requires k == 0 || k == 1 || k == 2 || k == 4;
    requires i + k <= n;
    terminates \true;
    assigns \nothing;
    ensures \result == be(s, i, k);
*/
static uint32_t mp_be(const uint8_t *s, size_t n, size_t i, size_t k)
{
    uint32_t v = 0u;
    (void)n;
    if (k == 1u) {
        v = s[i];
    } else if (k == 2u) {
        v = ((uint32_t)s[i] * 256u) + s[i + 1u];
    } else if (k == 4u) {
        v = ((((((uint32_t)s[i] * 256u) + s[i + 1u]) * 256u) + s[i + 2u]) * 256u) +
            s[i + 3u];
    } else {
        /* no length field: 0 */
    }
    return v;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires i < len;
    requires \valid(next) && \valid(children);
    requires \separated(next, children, buf + (0 .. len - 1));
    terminates \true;
    assigns *next, *children;
    ensures \result == 0 || \result == BUSRT_ERR_SHORT ||
            \result == BUSRT_ERR_MSGPACK;
    ensures \result == 0 ==>
      buf[i] != 0xC1 && i + 1 + mp_lf(buf[i]) <= len &&
      *next == mp_next(buf, i) && *next <= len &&
      *children == mp_children(buf, i) && *children <= len - *next;
*/
static int mp_head(const uint8_t *buf, size_t len, size_t i, size_t *next,
                   size_t *children)
{
    const uint8_t b = buf[i];
    if (b == 0xC1u) {
        return BUSRT_ERR_MSGPACK;
    }
    const size_t lf = mp_lf_of(b);
    size_t rest = len - i - 1u; /* bytes after the type byte */
    if (rest < lf) {
        return BUSRT_ERR_SHORT;
    }
    const uint32_t field = mp_be(buf, len, i + 1u, lf);
    rest -= lf;
    const size_t fixed = mp_fixed_of(b);
    if (rest < fixed) {
        return BUSRT_ERR_SHORT;
    }
    rest -= fixed;
    if (mp_has_data_of(b) == 1) {
        if (rest < field) {
            return BUSRT_ERR_SHORT;
        }
        rest -= field;
    }
    /* Each contained object takes at least one byte. */
    const uint64_t count = mp_count_of(b, field);
    if (count > rest) {
        return BUSRT_ERR_SHORT;
    }
    *next = len - rest;
    *children = (size_t)count;
    return 0;
}

/*@ requires \valid_read(buf + (0 .. len - 1));
    requires \valid(obj_len);
    requires \separated(obj_len, buf + (0 .. len - 1));
    terminates \true;
    assigns *obj_len;
    ensures \result == 0 || \result == BUSRT_ERR_SHORT ||
            \result == BUSRT_ERR_MSGPACK;
    ensures \result == 0 ==> 1 <= *obj_len <= len;
    ensures \result == 0 ==> mp_object(buf, len, *obj_len);
    ensures \result != 0 ==> *obj_len == \old(*obj_len);
*/
int busrt_mp_check(const uint8_t *buf, size_t len, size_t *obj_len)
{
    size_t i = 0u;
    size_t pending = 1u; /* objects still to read from buf[i] on */

    /*@ loop invariant 0 <= i <= len;
        loop invariant pending <= len - i + 1;
        loop invariant i == 0 ==> pending == 1;
        loop invariant \forall integer e;
          mp_seq(buf, len, i, pending, e) ==> mp_seq(buf, len, 0, 1, e);
        loop assigns i, pending;
        loop variant len - i;
    */
    while (pending > 0u) {
        if (i >= len) {
            return BUSRT_ERR_SHORT;
        }
        size_t next = 0u;
        size_t children = 0u;
        const int rc = mp_head(buf, len, i, &next, &children);
        if (rc != 0) {
            return rc;
        }
        /* Each object still to read takes at least one byte. */
        if ((pending - 1u) > (len - next - children)) {
            return BUSRT_ERR_SHORT;
        }
        /*@ assert \forall integer e;
              mp_seq(buf, len, next, pending - 1 + children, e) ==>
              mp_seq(buf, len, i, pending, e); */
        i = next;
        pending = (pending - 1u) + children;
    }
    /*@ assert mp_seq(buf, len, i, 0, i); */
    *obj_len = i;
    return 0;
}
