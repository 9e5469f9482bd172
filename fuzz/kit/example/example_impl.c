/* Worked example for the third-party kit: "minibus", a small BUS/RT v1
 * parser written independently of the reference core, the way another
 * team's code might look, plus the adapter functions of busrt_kit.h.
 *
 * Build and fuzz it with `make fuzz-kit-example`, or by hand with the
 * commands of fuzz/README.md (section "Third-party kit").
 *
 * Nothing here includes a reference header: only busrt_kit.h. */
#include <string.h>

#include "busrt_kit.h"

/* ---- minibus: the "own" code -------------------------------------------- */

#define MB_HEADER_SIZE 9
#define MB_REPLY_SIZE 6

enum mb_op {
    MB_PING = 0x00,
    MB_PUBLISH = 0x01,
    MB_SUBSCRIBE = 0x02,
    MB_UNSUBSCRIBE = 0x03,
    MB_EXCLUDE = 0x04,
    MB_UNEXCLUDE = 0x05,
    MB_PUBLISH_FOR = 0x06,
    MB_MESSAGE = 0x12,
    MB_BROADCAST = 0x13
};

struct mb_header {
    unsigned long id;
    int op;
    int qos;
    unsigned long length;
};

static unsigned long mb_u32(const unsigned char *p)
{
    unsigned long v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static int mb_known_op(int op)
{
    switch (op) {
    case MB_PING:
    case MB_PUBLISH:
    case MB_SUBSCRIBE:
    case MB_UNSUBSCRIBE:
    case MB_EXCLUDE:
    case MB_UNEXCLUDE:
    case MB_PUBLISH_FOR:
    case MB_MESSAGE:
    case MB_BROADCAST:
        return 1;
    default:
        return 0;
    }
}

/* 0 ok, 1 need more, 2 bad op, 3 too long */
static int mb_parse_header(const unsigned char *in, size_t n, unsigned long limit,
                           struct mb_header *h)
{
    if (n < MB_HEADER_SIZE) {
        return 1;
    }
    int flags = in[4];
    h->op = flags & 0x3F;
    h->qos = (flags >> 6) & 3;
    if (!mb_known_op(h->op)) {
        return 2;
    }
    h->id = mb_u32(in);
    h->length = mb_u32(in + 5);
    if (flags == 0) {
        h->length = 0; /* keep-alive ping: never has a body */
    } else if (h->length > limit) {
        return 3;
    }
    return 0;
}

/* Position of the next zero byte at or after `from`, or -1. */
static long mb_find_zero(const unsigned char *p, size_t n, size_t from)
{
    for (size_t i = from; i < n; i++) {
        if (p[i] == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* A strict UTF-8 check, one code point at a time. */
static int mb_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t extra;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c <= 0x7F) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
        } else if (c == 0xE0) {
            extra = 2;
            lo = 0xA0;
        } else if (c == 0xED) {
            extra = 2;
            hi = 0x9F; /* no surrogates */
        } else if (c >= 0xE1 && c <= 0xEF) {
            extra = 2;
        } else if (c == 0xF0) {
            extra = 3;
            lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            extra = 3;
        } else if (c == 0xF4) {
            extra = 3;
            hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return 0;
        }
        if (n - i <= extra) {
            return 0;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t k = 2; k <= extra; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return 0;
            }
        }
        i += extra + 1;
    }
    return 1;
}

/* Wildcard matching over separated words: `one` takes exactly one word,
 * `rest` takes one or more words and ends the pattern. */
static int mb_words_match(const unsigned char *pat, size_t plen, const unsigned char *str,
                          size_t slen, unsigned char sep, unsigned char one, unsigned char rest)
{
    size_t pp = 0, sp = 0;
    int pat_left = 1, str_left = 1; /* "a word remains" flags */
    while (pat_left) {
        size_t pe = pp;
        while (pe < plen && pat[pe] != sep) {
            pe++;
        }
        size_t pwlen = pe - pp;
        if (pwlen == 1 && pat[pp] == rest) {
            return str_left;
        }
        if (!str_left) {
            return 0;
        }
        size_t se = sp;
        while (se < slen && str[se] != sep) {
            se++;
        }
        size_t swlen = se - sp;
        int wild = pwlen == 1 && pat[pp] == one;
        if (!wild && (pwlen != swlen || memcmp(pat + pp, str + sp, pwlen) != 0)) {
            return 0;
        }
        pat_left = pe < plen;
        str_left = se < slen;
        pp = pe + 1;
        sp = se + 1;
    }
    return !str_left;
}

/* ---- adapters for the kit ------------------------------------------------- */

unsigned kit_features(void)
{
    return KIT_F_ALL;
}

int kit_client_header_decode(const uint8_t *buf, size_t len, uint32_t max_body,
                             uint32_t *op_id, uint8_t *op, uint8_t *qos, uint32_t *body_len)
{
    struct mb_header h;
    switch (mb_parse_header(buf, len, max_body, &h)) {
    case 1:
        return KIT_ERR_SHORT;
    case 2:
        return KIT_ERR_OP;
    case 3:
        return KIT_ERR_LIMIT;
    default:
        break;
    }
    *op_id = (uint32_t)h.id;
    *op = (uint8_t)h.op;
    *qos = (uint8_t)h.qos;
    *body_len = (uint32_t)h.length;
    return MB_HEADER_SIZE;
}

int kit_client_body_split(uint8_t op, const uint8_t *body, size_t len, struct kit_span *target,
                          struct kit_span *receiver, struct kit_span *payload)
{
    if (!mb_known_op(op)) {
        return KIT_ERR_OP;
    }
    receiver->off = len;
    receiver->len = 0;
    payload->off = len;
    payload->len = 0;
    if (op >= MB_SUBSCRIBE && op <= MB_UNEXCLUDE) {
        target->off = 0;
        target->len = len;
        return 0;
    }
    long z1 = mb_find_zero(body, len, 0);
    if (z1 < 0) {
        return KIT_ERR_NOSEP;
    }
    target->off = 0;
    target->len = (size_t)z1;
    size_t rest = (size_t)z1 + 1;
    if (op == MB_PUBLISH_FOR) {
        long z2 = mb_find_zero(body, len, rest);
        if (z2 < 0) {
            return KIT_ERR_NOSEP;
        }
        receiver->off = rest;
        receiver->len = (size_t)z2 - rest;
        rest = (size_t)z2 + 1;
    }
    payload->off = rest;
    payload->len = len - rest;
    return 0;
}

int kit_list_split(const uint8_t *body, size_t len, struct kit_span *items, size_t cap)
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || body[i] == 0) {
            if (count < cap) {
                items[count].off = start;
                items[count].len = i - start;
            }
            count++;
            start = i + 1;
        }
    }
    return (int)count;
}

int kit_name_valid(const uint8_t *name, size_t len)
{
    return len > 0 && name[0] != '.' && mb_utf8_ok(name, len);
}

int kit_frame_header_decode(const uint8_t *buf, size_t len, uint32_t max_body, uint8_t *kind,
                            uint32_t *body_len, uint8_t *realtime)
{
    if (len < MB_REPLY_SIZE) {
        return KIT_ERR_SHORT;
    }
    unsigned char k = buf[0];
    if (k != 0x00 && k != 0x01 && k != 0x12 && k != 0x13) {
        return KIT_ERR_KIND;
    }
    unsigned long n = mb_u32(buf + 1);
    if (k == 0x00) {
        n = 0; /* NOP */
    } else if (n > max_body) {
        return KIT_ERR_LIMIT;
    }
    *kind = k;
    *body_len = (uint32_t)n;
    *realtime = buf[5];
    return MB_REPLY_SIZE;
}

int kit_ack_decode(const uint8_t *buf, size_t len, uint32_t *op_id, uint8_t *code)
{
    if (len < MB_REPLY_SIZE) {
        return KIT_ERR_SHORT;
    }
    if (buf[0] != 0xFE) {
        return KIT_ERR_MARKER;
    }
    *op_id = (uint32_t)mb_u32(buf + 1);
    *code = buf[5];
    return MB_REPLY_SIZE;
}

int kit_frame_body_split(uint8_t kind, const uint8_t *body, size_t len, struct kit_span *sender,
                         struct kit_span *topic, struct kit_span *payload)
{
    if (kind != 0x01 && kind != 0x12 && kind != 0x13) {
        return KIT_ERR_KIND;
    }
    long z1 = mb_find_zero(body, len, 0);
    if (z1 < 0) {
        return KIT_ERR_NOSEP;
    }
    sender->off = 0;
    sender->len = (size_t)z1;
    size_t rest = (size_t)z1 + 1;
    topic->off = len;
    topic->len = 0;
    if (kind == 0x01) {
        long z2 = mb_find_zero(body, len, rest);
        if (z2 < 0) {
            return KIT_ERR_NOSEP;
        }
        topic->off = rest;
        topic->len = (size_t)z2 - rest;
        rest = (size_t)z2 + 1;
    }
    payload->off = rest;
    payload->len = len - rest;
    return 0;
}

int kit_topic_match(const uint8_t *pattern, size_t plen, const uint8_t *topic, size_t tlen)
{
    return mb_words_match(pattern, plen, topic, tlen, '/', '+', '#');
}

int kit_mask_match(const uint8_t *mask, size_t mlen, const uint8_t *name, size_t nlen)
{
    return mb_words_match(mask, mlen, name, nlen, '.', '?', '*');
}

int kit_utf8_valid(const uint8_t *s, size_t len)
{
    return mb_utf8_ok(s, len);
}
