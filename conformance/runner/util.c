/* Buffers, hex, time and text helpers of the conformance runner. */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        die("out of memory (%zu bytes)", n);
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL) {
        die("out of memory (%zu bytes)", n);
    }
    return q;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *d = xmalloc(n + 1u);
    memcpy(d, s, n + 1u);
    return d;
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("busrt-conformance: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- buffers ------------------------------------------------------------- */

void buf_init(struct buf *b)
{
    memset(b, 0, sizeof *b);
}

void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void buf_reset(struct buf *b)
{
    b->r = 0;
    b->w = 0;
}

size_t buf_len(const struct buf *b)
{
    return b->w - b->r;
}

uint8_t *buf_data(const struct buf *b)
{
    static uint8_t empty[1];
    return b->p == NULL ? empty : b->p + b->r;
}

void buf_reserve(struct buf *b, size_t n)
{
    if (b->cap - b->w >= n + 1u) {
        return;
    }
    if (b->r > 0) { /* compact first */
        memmove(b->p, b->p + b->r, b->w - b->r);
        b->w -= b->r;
        b->r = 0;
        if (b->cap - b->w >= n + 1u) {
            return;
        }
    }
    size_t need = b->w + n + 1u;
    size_t cap = b->cap == 0 ? 256u : b->cap;
    while (cap < need) {
        cap *= 2u;
    }
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

void buf_add(struct buf *b, const void *d, size_t n)
{
    if (n == 0) {
        return;
    }
    buf_reserve(b, n);
    memcpy(b->p + b->w, d, n);
    b->w += n;
}

void buf_addc(struct buf *b, uint8_t c)
{
    buf_add(b, &c, 1);
}

void buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof tmp) {
        buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1u);
    va_start(ap, fmt);
    (void)vsnprintf(big, (size_t)n + 1u, fmt, ap);
    va_end(ap);
    buf_add(b, big, (size_t)n);
    free(big);
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= buf_len(b)) {
        b->r = 0;
        b->w = 0;
        return;
    }
    b->r += n;
}

const char *buf_str(struct buf *b)
{
    buf_reserve(b, 1);
    b->p[b->w] = 0;
    return (const char *)(b->p + b->r);
}

/* ---- time -------------------------------------------------------------- */

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

void sleep_ms(int64_t ms)
{
    if (ms <= 0) {
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- hex and text ------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int hex_decode(const char *s, struct buf *out)
{
    int hi = -1;
    for (; *s != '\0'; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            continue;
        }
        int v = hexval((unsigned char)*s);
        if (v < 0) {
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            buf_addc(out, (uint8_t)(hi * 16 + v));
            hi = -1;
        }
    }
    return hi < 0 ? 0 : -1;
}

void hex_append(struct buf *out, const uint8_t *d, size_t n, size_t max)
{
    static const char digits[] = "0123456789abcdef";
    size_t lim = n < max ? n : max;
    for (size_t i = 0; i < lim; i++) {
        if (i > 0) {
            buf_addc(out, ' ');
        }
        buf_addc(out, (uint8_t)digits[d[i] >> 4]);
        buf_addc(out, (uint8_t)digits[d[i] & 15u]);
    }
    if (n > lim) {
        buf_printf(out, " ... (%zu bytes in all)", n);
    }
    if (n == 0) {
        buf_adds(out, "(none)");
    }
}

void text_append(struct buf *out, const uint8_t *d, size_t n, size_t max)
{
    size_t lim = n < max ? n : max;
    buf_addc(out, '"');
    for (size_t i = 0; i < lim; i++) {
        uint8_t c = d[i];
        if (c == '"' || c == '\\') {
            buf_addc(out, '\\');
            buf_addc(out, c);
        } else if (c >= 0x20 && c < 0x7f) {
            buf_addc(out, c);
        } else {
            buf_printf(out, "\\x%02x", c);
        }
    }
    buf_addc(out, '"');
    if (n > lim) {
        buf_printf(out, "...(%zu bytes)", n);
    }
}

char *subst(const char *s, const char *prefix, int hex)
{
    struct buf b;
    buf_init(&b);
    while (*s != '\0') {
        if (strncmp(s, "${p}", 4) == 0) {
            if (hex) {
                static const char digits[] = "0123456789abcdef";
                for (const char *q = prefix; *q != '\0'; q++) {
                    unsigned char c = (unsigned char)*q;
                    buf_addc(&b, (uint8_t)digits[c >> 4]);
                    buf_addc(&b, (uint8_t)digits[c & 15u]);
                }
            } else {
                buf_adds(&b, prefix);
            }
            s += 4;
        } else {
            buf_addc(&b, (uint8_t)*s);
            s++;
        }
    }
    char *r = xstrdup(buf_str(&b));
    buf_free(&b);
    return r;
}

void shell_quote(struct buf *out, const char *s)
{
    buf_addc(out, '\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'') {
            buf_adds(out, "'\\''");
        } else {
            buf_addc(out, (uint8_t)*s);
        }
    }
    buf_addc(out, '\'');
}

int json_byte(const json_t *v, uint8_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > 255) {
            return -1;
        }
        *out = (uint8_t)i;
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    const char *s = json_string_value(v);
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    if (strlen(s) != 2) {
        return -1;
    }
    int hi = hexval((unsigned char)s[0]), lo = hexval((unsigned char)s[1]);
    if (hi < 0 || lo < 0) {
        return -1;
    }
    *out = (uint8_t)(hi * 16 + lo);
    return 0;
}
