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
#include "busrt/rpcproto.h"
#include "log.h"

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
    struct fifo *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return NULL;
    }
    f->path = strdup(path);
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
    free(f->path);
    free(f);
}

/* A k=v value: true/false, an integer, a float, else a string. */
static void pack_value(msgpack_packer *pk, const char *v, size_t n)
{
    char tmp[64];
    if (n == 4 && memcmp(v, "true", 4) == 0) {
        (void)msgpack_pack_true(pk);
        return;
    }
    if (n == 5 && memcmp(v, "false", 5) == 0) {
        (void)msgpack_pack_false(pk);
        return;
    }
    if (n > 0 && n < sizeof tmp) {
        memcpy(tmp, v, n);
        tmp[n] = '\0';
        char *end = NULL;
        errno = 0;
        long long i = strtoll(tmp, &end, 10);
        if (errno == 0 && *end == '\0') {
            (void)msgpack_pack_int64(pk, i);
            return;
        }
        errno = 0;
        double d = strtod(tmp, &end);
        if (errno == 0 && *end == '\0') {
            (void)msgpack_pack_double(pk, d);
            return;
        }
    }
    (void)msgpack_pack_str(pk, n);
    (void)msgpack_pack_str_body(pk, v, n);
}

static void rpc_call0(struct broker *b, const char *t, size_t tlen, const char *rest,
                      size_t rlen)
{
    /* rest: METHOD k=v k=v (words split on single spaces) */
    const char *sp = memchr(rest, ' ', rlen);
    size_t mlen = sp != NULL ? (size_t)(sp - rest) : rlen;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t hdr[6 + 1024];
    int hl = busrt_rpc_request_encode(0u, (const uint8_t *)rest, mlen, hdr, sizeof hdr);
    if (hl < 0) {
        log_warn("fifo: bad RPC method in command for %.*s: %s", (int)tlen, t,
                 busrt_strerror(hl));
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    (void)msgpack_sbuffer_write(&sb, (const char *)hdr, (size_t)hl);
    uint32_t pairs = 0;
    for (size_t i = mlen; i < rlen; i++) {
        if (rest[i] == ' ') {
            pairs++;
        }
    }
    if (pairs > 0) {
        (void)msgpack_pack_map(&pk, pairs);
    }
    size_t pos = mlen;
    while (pos < rlen) {
        const char *w = rest + pos + 1u;
        size_t wl = rlen - pos - 1u;
        const char *nx = memchr(w, ' ', wl);
        if (nx != NULL) {
            wl = (size_t)(nx - w);
        }
        const char *eq = memchr(w, '=', wl);
        size_t kl = eq != NULL ? (size_t)(eq - w) : wl;
        (void)msgpack_pack_str(&pk, kl);
        (void)msgpack_pack_str_body(&pk, w, kl);
        if (eq != NULL) {
            pack_value(&pk, eq + 1, wl - kl - 1u);
        } else {
            (void)msgpack_pack_nil(&pk);
        }
        pos += wl + 1u;
    }
    router_send_internal(b, (const uint8_t *)t, tlen, (const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void command(struct broker *b, const char *line, size_t n)
{
    if (n == 0) {
        return;
    }
    const char *sp = memchr(line, ' ', n);
    size_t tlen = sp != NULL ? (size_t)(sp - line) : n;
    const char *rest = sp != NULL ? sp + 1 : line + n;
    size_t rlen = n - tlen - (sp != NULL ? 1u : 0u);
    if (line[0] == '=') {
        char topic[4096];
        if (tlen - 1u >= sizeof topic) {
            log_warn("fifo: topic too long; command ignored");
            return;
        }
        memcpy(topic, line + 1, tlen - 1u);
        topic[tlen - 1u] = '\0';
        router_publish_internal(b, topic, (const uint8_t *)rest, rlen);
    } else if (rlen > 0 && rest[0] == '.') {
        uint8_t *p = malloc(rlen);
        if (p == NULL) {
            return;
        }
        (void)busrt_rpc_notification_encode(p, 1);
        memcpy(p + 1, rest + 1, rlen - 1u);
        router_send_internal(b, (const uint8_t *)line, tlen, p, rlen);
        free(p);
    } else if (rlen > 0 && rest[0] == ':') {
        rpc_call0(b, line, tlen, rest + 1, rlen - 1u);
    } else {
        router_send_internal(b, (const uint8_t *)line, tlen, (const uint8_t *)rest, rlen);
    }
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
            if (!f->skipping) {
                command(b, f->buf + start, i - start);
                coreapi_flush_events(b);
            }
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
