#include "model.h"

#include <stdlib.h>
#include <string.h>

struct chunk {
    const uint8_t *p;
    size_t n;
};

/* Splits s at sep; returns a malloc'd array of *count chunks (at least 1). */
static struct chunk *split(const uint8_t *s, size_t len, uint8_t sep, size_t *count)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++) {
        n += s[i] == sep;
    }
    struct chunk *v = malloc(n * sizeof *v);
    if (v == NULL) {
        abort();
    }
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == sep) {
            v[k].p = s + start;
            v[k].n = i - start;
            k++;
            start = i + 1;
        }
    }
    *count = n;
    return v;
}

static int is_byte(const struct chunk *c, uint8_t w)
{
    return c->n == 1 && c->p[0] == w;
}

/* Iterative form of: rec(i, j) = pattern exhausted ? subject exhausted :
 * many ? (subject has a chunk) : subject has a chunk && chunk ok &&
 * rec(i + 1, j + 1). Tail recursion, so a loop. */
static int walk(const struct chunk *p, size_t pn, const struct chunk *s, size_t sn,
                uint8_t one, uint8_t many)
{
    size_t i = 0, j = 0;
    for (;;) {
        if (i == pn) {
            return j == sn;
        }
        if (is_byte(&p[i], many)) {
            return j < sn;
        }
        if (j == sn) {
            return 0;
        }
        if (!is_byte(&p[i], one) &&
            (p[i].n != s[j].n || (p[i].n > 0 && memcmp(p[i].p, s[j].p, p[i].n) != 0))) {
            return 0;
        }
        i++;
        j++;
    }
}

int model_match(const uint8_t *pat, size_t pl, const uint8_t *subj, size_t sl,
                uint8_t sep, uint8_t one, uint8_t many)
{
    size_t pn, sn;
    struct chunk *p = split(pat, pl, sep, &pn);
    struct chunk *s = split(subj, sl, sep, &sn);
    int r = walk(p, pn, s, sn, one, many);
    free(p);
    free(s);
    return r;
}

int model_topic(const uint8_t *pat, size_t pl, const uint8_t *topic, size_t tl)
{
    return model_match(pat, pl, topic, tl, '/', '+', '#');
}

int model_mask(const uint8_t *mask, size_t ml, const uint8_t *name, size_t nl)
{
    return model_match(mask, ml, name, nl, '.', '?', '*');
}

int model_utf8_decode(const uint8_t *s, size_t n)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80u, 0x800u, 0x10000u};
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        size_t k;
        if (c < 0x80u) {
            i++;
            continue;
        }
        if ((c & 0xE0u) == 0xC0u) {
            k = 2;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0u) == 0xE0u) {
            k = 3;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8u) == 0xF0u) {
            k = 4;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i < k) {
            return 0;
        }
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0u) != 0x80u) {
                return 0;
            }
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if (cp < min_cp[k] || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* Byte classes: 0 ASCII, 1 80-8F, 2 90-9F, 3 A0-BF, 4 C2-DF, 5 E0, 6 E1-EC
 * and EE-EF, 7 ED, 8 F0, 9 F1-F3, 10 F4, 11 invalid (C0 C1 F5-FF). */
static int byte_class(uint8_t b)
{
    if (b < 0x80u) return 0;
    if (b < 0x90u) return 1;
    if (b < 0xA0u) return 2;
    if (b < 0xC0u) return 3;
    if (b < 0xC2u) return 11;
    if (b < 0xE0u) return 4;
    if (b == 0xE0u) return 5;
    if (b == 0xEDu) return 7;
    if (b < 0xF0u) return 6;
    if (b == 0xF0u) return 8;
    if (b < 0xF4u) return 9;
    if (b == 0xF4u) return 10;
    return 11;
}

int model_utf8_dfa(const uint8_t *s, size_t n)
{
    /* States: 0 accept, 1 need 1 tail, 2 need 2 tails, 3 need 3 tails,
     * 4 after E0 (A0-BF), 5 after ED (80-9F), 6 after F0 (90-BF),
     * 7 after F4 (80-8F), 8 reject. */
    static const uint8_t next[9][12] = {
        /*       A  80 90 A0 C2 E0 E1 ED F0 F1 F4 bad */
        /* 0 */ {0, 8, 8, 8, 1, 4, 2, 5, 6, 3, 7, 8},
        /* 1 */ {8, 0, 0, 0, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 2 */ {8, 1, 1, 1, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 3 */ {8, 2, 2, 2, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 4 */ {8, 8, 8, 1, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 5 */ {8, 1, 1, 8, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 6 */ {8, 8, 2, 2, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 7 */ {8, 2, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8},
        /* 8 */ {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8},
    };
    uint8_t st = 0;
    for (size_t i = 0; i < n && st != 8; i++) {
        st = next[st][byte_class(s[i])];
    }
    return st == 0;
}
