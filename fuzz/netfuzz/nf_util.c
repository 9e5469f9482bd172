/* Buffers, files, time and the byte source. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busrt/le.h"
#include "nf.h"

void *nf_xmalloc(size_t n)
{
    void *p = malloc(n > 0 ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "busrt-netfuzz: out of memory\n");
        abort();
    }
    return p;
}

void *nf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n > 0 ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "busrt-netfuzz: out of memory\n");
        abort();
    }
    return q;
}

static void reserve(struct nf_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap) {
        return;
    }
    size_t cap = b->cap > 0 ? b->cap : 64;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    b->p = nf_xrealloc(b->p, cap);
    b->cap = cap;
}

void nf_buf_add(struct nf_buf *b, const void *p, size_t n)
{
    reserve(b, n + 1);
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = 0; /* always NUL-terminated, for printing */
}

void nf_buf_addc(struct nf_buf *b, uint8_t c)
{
    nf_buf_add(b, &c, 1);
}

void nf_buf_adds(struct nf_buf *b, const char *s)
{
    nf_buf_add(b, s, strlen(s));
}

void nf_buf_consume(struct nf_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    if (b->p != NULL) {
        b->p[b->len] = 0;
    }
}

void nf_buf_free(struct nf_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int nf_buf_eq(const struct nf_buf *b, const void *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->p, p, n) == 0);
}

int nf_buf_read_file(struct nf_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    uint8_t tmp[65536];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) {
        nf_buf_add(b, tmp, r);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        errno = EIO;
        return -1;
    }
    return 0;
}

int64_t nf_now_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nf_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void nf_hex(struct nf_buf *out, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[p[i] >> 4], digits[p[i] & 15u]};
        nf_buf_add(out, two, 2);
    }
}

uint64_t nf_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void nf_src_prng(struct nf_src *s, uint64_t seed, uint64_t session)
{
    memset(s, 0, sizeof *s);
    s->s = nf_mix64(nf_mix64(seed) ^ nf_mix64(session + 0x51ull));
}

void nf_src_data(struct nf_src *s, const uint8_t *d, size_t n)
{
    memset(s, 0, sizeof *s);
    s->data = d;
    s->len = n;
    s->compact = 1;
}

void nf_src_replay(struct nf_src *s, const uint8_t *d, size_t n)
{
    nf_src_data(s, d, n);
    s->compact = 0;
}

/* The bytes that make a data source choose v out of n again. */
static void record(struct nf_src *s, uint32_t v, uint32_t n)
{
    if (n <= 256u) {
        nf_buf_addc(s->rec, (uint8_t)v);
    } else {
        uint8_t b[4];
        busrt_put_le32(b, v);
        nf_buf_add(s->rec, b, 4);
    }
}

static uint8_t next_byte(struct nf_src *s)
{
    if (s->pos < s->len) {
        return s->data[s->pos++];
    }
    s->exhausted = 1;
    return 0;
}

uint32_t nf_pick(struct nf_src *s, uint32_t n)
{
    if (n <= 1u) {
        return 0;
    }
    if (s->data == NULL) {
        s->s += 0x9E3779B97F4A7C15ull;
        uint64_t z = nf_mix64(s->s);
        uint32_t v = (uint32_t)((z >> 11) % n);
        if (s->rec != NULL) {
            record(s, v, n);
        }
        return v;
    }
    uint32_t v;
    if (n <= 256u) {
        v = next_byte(s);
    } else {
        uint8_t b[4] = {next_byte(s), next_byte(s), next_byte(s), next_byte(s)};
        v = busrt_get_le32(b);
    }
    return v % n;
}

static int exact(const struct nf_src *s)
{
    return s->rec != NULL || (s->data != NULL && !s->compact);
}

uint32_t nf_pick_fixed(struct nf_src *s, uint32_t n)
{
    if (!exact(s)) {
        return nf_pick(s, n);
    }
    if (s->data != NULL) {
        uint8_t b = next_byte(s);
        return n > 1 ? b % n : 0;
    }
    struct nf_buf *rec = s->rec;
    s->rec = NULL;
    uint32_t v = nf_pick(s, n);
    s->rec = rec;
    nf_buf_addc(rec, (uint8_t)v);
    return v;
}

int nf_pick_slot(struct nf_src *s, int chosen)
{
    if (!exact(s)) {
        return chosen;
    }
    if (s->data != NULL) {
        return next_byte(s);
    }
    nf_buf_addc(s->rec, chosen >= 0 ? (uint8_t)chosen : 0xFFu);
    return chosen;
}

int nf_chance(struct nf_src *s, unsigned pct)
{
    return nf_pick(s, 100u) < pct;
}

int nf_numopt_parse(const char *prog, const struct nf_numopt *t, size_t n, const char *a,
                    const char *v)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(a, t[i].name) != 0) {
            continue;
        }
        char *end = NULL;
        errno = 0;
        double x = v != NULL ? strtod(v, &end) : 0;
        if (v == NULL || end == v || *end != 0 || errno != 0 || x < t[i].lo || x > t[i].hi) {
            fprintf(stderr, "%s: bad value for %s: %s (from %g to %g)\n", prog, a,
                    v != NULL ? v : "(none)", t[i].lo, t[i].hi);
            return -1;
        }
        switch (t[i].type) {
        case NF_U64:
            *(uint64_t *)t[i].dst = (uint64_t)x;
            break;
        case NF_U32:
            *(uint32_t *)t[i].dst = (uint32_t)x;
            break;
        case NF_LONG:
            *(long *)t[i].dst = (long)x;
            break;
        case NF_INT:
            *(int *)t[i].dst = (int)x;
            break;
        default:
            *(double *)t[i].dst = x;
            break;
        }
        return 0;
    }
    return 1;
}

void nf_expand_addr(struct nf_buf *b, const char *cmd, const char *addr)
{
    const char *p = cmd;
    for (;;) {
        const char *q = strstr(p, "{addr}");
        if (q == NULL) {
            nf_buf_adds(b, p);
            return;
        }
        nf_buf_add(b, p, (size_t)(q - p));
        nf_buf_adds(b, addr);
        p = q + 6;
    }
}
