/* The line-command FIFO (-B fifo:PATH): each line becomes a frame sent by
 * the internal client with QoS 0.
 *   TARGET PAYLOAD        message (broadcast when TARGET has '*' or '?')
 *   =TOPIC PAYLOAD        publication
 *   TARGET .TEXT          RPC notification
 *   TARGET :METHOD k=v..  RPC call with id 0; params as a msgpack map */
#include "fifo.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "busrt/match.h"
#include "busrt/rpcproto.h"
#include "busrt/utf8.h"
#include "coreapi.h"
#include "log.h"
#include "mpout.h"
#include "router.h"
#include "mem.h"

#define FIFO_LINE_MAX 65536u

struct fifo {
    int fd;
    int keep; /* a write end held open so the read end never sees EOF */
    char *path;
    char buf[FIFO_LINE_MAX];
    size_t len;
    int skipping; /* inside an overlong line */
};

struct fifo *fifo_open(const char *path)
{
    (void)unlink(path); /* a FIFO left by an earlier run */
    if (mkfifo(path, 0622) != 0) {
        log_error("fifo %s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    (void)chmod(path, 0622); /* mkfifo applies the umask */
    struct fifo *f = mem_calloc(1, sizeof *f);
    if (f == NULL) {
        return NULL;
    }
    f->path = mem_strdup(path);
    f->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    f->keep = f->fd >= 0 ? open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;
    if (f->path == NULL || f->fd < 0 || f->keep < 0) {
        log_error("fifo %s: cannot open: %s", path, strerror(errno));
        fifo_close(f);
        return NULL;
    }
    return f;
}

int fifo_fd(const struct fifo *f)
{
    return f->fd;
}

void fifo_close(struct fifo *f)
{
    if (f == NULL) {
        return;
    }
    if (f->fd >= 0) {
        (void)close(f->fd);
    }
    if (f->keep >= 0) {
        (void)close(f->keep);
    }
    if (f->path != NULL) {
        (void)unlink(f->path);
    }
    mem_free(f->path);
    mem_free(f);
}

/* 1 when v[0, n) is a decimal number as REQ-FIFO-4 reads it: an optional
 * '-', digits, and for floats a '.' and/or an exponent. */
static int decimal(const char *v, size_t n, int *is_float)
{
    size_t i = (n > 0 && v[0] == '-') ? 1u : 0u;
    int digits = 0;
    *is_float = 0;
    for (; i < n; i++) {
        if (v[i] >= '0' && v[i] <= '9') {
            digits = 1;
        } else if (v[i] == '.' || v[i] == 'e' || v[i] == 'E' ||
                   ((v[i] == '-' || v[i] == '+') && (v[i - 1] == 'e' || v[i - 1] == 'E'))) {
            *is_float = 1;
        } else {
            return 0;
        }
    }
    return digits;
}

/* A k=v value: true/false, an integer that fits 64 bits, a float, else a
 * string. */
static void pack_value(msgpack_packer *pk, const char *v, size_t n)
{
    char tmp[64];
    int is_float = 0;
    if (n == 4 && memcmp(v, "true", 4) == 0) {
        (void)msgpack_pack_true(pk);
        return;
    }
    if (n == 5 && memcmp(v, "false", 5) == 0) {
        (void)msgpack_pack_false(pk);
        return;
    }
    if (n < sizeof tmp && decimal(v, n, &is_float)) {
        memcpy(tmp, v, n);
        tmp[n] = '\0';
        char *end = NULL;
        errno = 0;
        if (!is_float) {
            long long i = strtoll(tmp, &end, 10);
            if (errno == 0 && *end == '\0') {
                (void)msgpack_pack_int64(pk, i);
                return;
            }
        } else {
            double d = strtod(tmp, &end);
            if (errno == 0 && *end == '\0') {
                (void)msgpack_pack_double(pk, d);
                return;
            }
        }
    }
    (void)msgpack_pack_str(pk, n);
    (void)msgpack_pack_str_body(pk, v, n);
}

/* The words of rest[0, n) split at single spaces, empty ones skipped:
 * *pos advances; returns 0 when there are no more. */
static int next_word(const char *rest, size_t n, size_t *pos, const char **w, size_t *wl)
{
    while (*pos < n && rest[*pos] == ' ') {
        (*pos)++;
    }
    if (*pos >= n) {
        return 0;
    }
    *w = rest + *pos;
    const char *sp = memchr(*w, ' ', n - *pos);
    *wl = sp != NULL ? (size_t)(sp - *w) : n - *pos;
    *pos += *wl;
    return 1;
}

/* TARGET :METHOD k=v ...: an RPC request with call id 0 whose params are a
 * msgpack map of the k=v words. Returns -1 when the line is invalid. */
static int rpc_call0(struct broker *b, const char *t, size_t tlen, const char *rest,
                     size_t rlen)
{
    size_t pos = 0, wl = 0, pairs = 0;
    const char *w = NULL;
    if (!next_word(rest, rlen, &pos, &w, &wl) || wl < 2u || w[0] != ':') {
        return -1;
    }
    const char *method = w + 1;
    size_t mlen = wl - 1u, after_method = pos;
    while (next_word(rest, rlen, &pos, &w, &wl)) {
        if (memchr(w, '=', wl) == NULL) {
            return -1; /* a word without '=' makes the line invalid */
        }
        pairs++;
    }
    uint8_t hdr[6 + 1024];
    int hl = busrt_rpc_request_encode(0u, (const uint8_t *)method, mlen, hdr, sizeof hdr);
    if (hl < 0) {
        return -1;
    }
    struct mpout out; /* pack calls are checked once, by out.failed */
    mpout_init(&out);
    mpout_raw(&out, hdr, (size_t)hl);
    (void)msgpack_pack_map(&out.pk, pairs);
    pos = after_method;
    while (next_word(rest, rlen, &pos, &w, &wl)) {
        const char *eq = memchr(w, '=', wl);
        size_t kl = (size_t)(eq - w);
        (void)msgpack_pack_str(&out.pk, kl);
        (void)msgpack_pack_str_body(&out.pk, w, kl);
        pack_value(&out.pk, eq + 1, wl - kl - 1u);
    }
    if (out.failed) {
        log_error("fifo: out of memory encoding the params of a call; line dropped");
    } else {
        router_message_internal(b, (const uint8_t *)t, tlen, (const uint8_t *)out.sb.data,
                                out.sb.size);
    }
    mpout_destroy(&out);
    return 0;
}

/* Runs one line (REQ-FIFO-3). Returns -1 when it is invalid. */
static int command(struct broker *b, const char *line, size_t n)
{
    if (n > 0 && line[n - 1u] == '\r') {
        n--;
    }
    if (n == 0 || busrt_utf8_valid((const uint8_t *)line, n) != 1) {
        return n == 0 ? 0 : -1;
    }
    const char *sp = memchr(line, ' ', n);
    size_t tlen = sp != NULL ? (size_t)(sp - line) : n;
    const char *rest = sp != NULL ? sp + 1 : line + n;
    size_t rlen = n - tlen - (sp != NULL ? 1u : 0u);
    const uint8_t *t = (const uint8_t *)line, *r = (const uint8_t *)rest;
    if (line[0] == '=') {
        router_publish_internal(b, t + 1, tlen - 1u, r, rlen);
    } else if (tlen == 0) {
        return -1;
    } else if (rlen > 0 && rest[0] == '.') {
        uint8_t *p = mem_alloc(rlen);
        if (p == NULL) {
            return -1;
        }
        (void)busrt_rpc_notification_encode(p, 1);
        memcpy(p + 1, rest + 1, rlen - 1u);
        router_message_internal(b, t, tlen, p, rlen);
        mem_free(p);
    } else if (rlen > 0 && rest[0] == ':') {
        return rpc_call0(b, line, tlen, rest, rlen);
    } else if (busrt_mask_has_wildcard(t, tlen) == 1) {
        router_broadcast_internal(b, t, tlen, r, rlen);
    } else {
        router_message_internal(b, t, tlen, r, rlen);
    }
    return 0;
}

void fifo_on_readable(struct broker *b, struct fifo *f)
{
    for (;;) {
        ssize_t r = read(f->fd, f->buf + f->len, sizeof f->buf - f->len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return;
        }
        size_t end = f->len + (size_t)r, start = 0;
        for (size_t i = f->len; i < end; i++) {
            if (f->buf[i] != '\n') {
                continue;
            }
            if (!f->skipping && command(b, f->buf + start, i - start) != 0) {
                log_warn("fifo %s: invalid line ignored", f->path);
            }
            coreapi_flush_events(b);
            f->skipping = 0;
            start = i + 1u;
        }
        memmove(f->buf, f->buf + start, end - start);
        f->len = end - start;
        if (f->len == sizeof f->buf) {
            log_warn("fifo %s: line longer than %u bytes ignored", f->path, FIFO_LINE_MAX);
            f->skipping = 1;
            f->len = 0;
        }
    }
}
