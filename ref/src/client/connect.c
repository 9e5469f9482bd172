/* libbusrt: the configuration, connecting with the handshake, closing,
 * and what a connection reports about itself. */
#define _DEFAULT_SOURCE
#include "client_int.h"

#include "busrt/transport.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "busrt/frame.h"

void busrt_client_config_init(struct busrt_client_config *cfg, const char *name)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->name = name;
    cfg->connect_timeout_ms = BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    cfg->io_timeout_ms = BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    cfg->ping_interval_ms = BUSRT_CLIENT_DEFAULT_PING_MS;
    cfg->idle_timeout_ms = 0;
    cfg->max_body = BUSRT_CLIENT_DEFAULT_MAX_BODY;
    cfg->buf_size = BUSRT_CLIENT_DEFAULT_BUF_SIZE;
}

/* One attempt to write or read: > 0 bytes, 0 would block, else a code. */
static long hs_once(const struct bc_io *io, const uint8_t *out, uint8_t *in, size_t n)
{
    if (io->tp != NULL) {
        if (out != NULL) {
            struct iovec v;
            v.iov_base = (void *)(uintptr_t)out;
            v.iov_len = n;
            long r = io->tp->writev(io->ctx, &v, 1);
            return r < 0 ? BUSRT_E_HANDSHAKE : r;
        }
        long r = io->tp->read(io->ctx, in, n);
        return r < 0 ? BUSRT_E_HANDSHAKE : r;
    }
    for (;;) {
        ssize_t r = out != NULL ? send(io->fd, out, n, MSG_NOSIGNAL) : read(io->fd, in, n);
        if (r > 0) {
            return (long)r;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        return BUSRT_E_HANDSHAKE;
    }
}

/* Writes out (when not NULL) or reads into in exactly n bytes before the
 * deadline. EOF, a reset or a failed write -> BUSRT_E_HANDSHAKE. */
static int hs_io(const struct bc_io *io, const uint8_t *out, uint8_t *in, size_t n,
                 int64_t deadline)
{
    size_t done = 0;
    while (done < n) {
        long r = hs_once(io, out != NULL ? out + done : NULL, in != NULL ? in + done : NULL,
                         n - done);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0) {
            return (int)r;
        }
        int w = bc_net_wait(io->fd, out != NULL && io->tp == NULL ? POLLOUT : POLLIN, deadline);
        if (w == 0) {
            return BUSRT_E_TIMEOUT;
        }
        if (w < 0) {
            return w;
        }
    }
    return 0;
}

static int hs_write(const struct bc_io *io, const uint8_t *buf, size_t n, int64_t deadline)
{
    return hs_io(io, buf, NULL, n, deadline);
}

static int hs_read(const struct bc_io *io, uint8_t *buf, size_t n, int64_t deadline)
{
    return hs_io(io, NULL, buf, n, deadline);
}

/* The client side of spec section 4. Returns 0 or a negative code. */
static int handshake(const struct bc_io *io, const char *name, size_t name_len, int64_t deadline)
{
    uint8_t g[BUSRT_GREETING_LEN];
    int r = hs_read(io, g, sizeof g, deadline);
    if (r != 0) {
        return r;
    }
    if (busrt_greeting_decode(g, sizeof g) != (int)BUSRT_GREETING_LEN) {
        return BUSRT_E_PROTO; /* REQ-HS-7 */
    }
    if (busrt_greeting_encode(g, sizeof g) != (int)BUSRT_GREETING_LEN) {
        return BUSRT_E_INVAL;
    }
    r = hs_write(io, g, sizeof g, deadline);
    if (r != 0) {
        return r;
    }
    uint8_t b;
    r = hs_read(io, &b, 1, deadline);
    if (r != 0) {
        return r;
    }
    if (b != BUSRT_RC_OK) {
        return BUSRT_E_RC(b);
    }
    uint8_t nl[BUSRT_NAME_LEN_FIELD];
    if (busrt_name_len_encode(name_len, nl, sizeof nl) != (int)BUSRT_NAME_LEN_FIELD) {
        return BUSRT_E_INVAL;
    }
    r = hs_write(io, nl, sizeof nl, deadline);
    if (r == 0 && name_len > 0) {
        r = hs_write(io, (const uint8_t *)name, name_len, deadline);
    }
    if (r == BUSRT_E_HANDSHAKE) {
        /* A broker may refuse a name without reading it (REQ-LIM-3) and
         * close at once: its result code is still there to read. */
        if (hs_read(io, &b, 1, deadline) == 0 && b != BUSRT_RC_OK) {
            return BUSRT_E_RC(b);
        }
        return r;
    }
    if (r != 0) {
        return r;
    }
    r = hs_read(io, &b, 1, deadline);
    if (r != 0) {
        return r;
    }
    return b == BUSRT_RC_OK ? 0 : BUSRT_E_RC(b);
}

/* Checks the arguments common to both ways of connecting; the name's
 * length in *name_len. 0 or BUSRT_E_INVAL. */
static int check_args(busrt_client **out, const struct busrt_client_config *cfg,
                      size_t *name_len)
{
    if (out == NULL) {
        return BUSRT_E_INVAL;
    }
    *out = NULL;
    if (cfg == NULL || cfg->name == NULL) {
        return BUSRT_E_INVAL;
    }
    *name_len = strlen(cfg->name);
    return *name_len > BUSRT_NAME_MAX ? BUSRT_E_INVAL : 0;
}

static void io_close(const struct bc_io *io)
{
    if (io->tp != NULL) {
        io->tp->close(io->ctx);
    } else {
        (void)close(io->fd);
    }
}

/* Handshake, then the client object. io is closed on failure. */
static int finish(busrt_client **out, const struct bc_io *io, const struct busrt_client_config *cfg,
                  size_t name_len, int64_t deadline)
{
    int r = handshake(io, cfg->name, name_len, deadline);
    if (r != 0) {
        int e = errno;
        io_close(io);
        errno = e;
        return r;
    }
    busrt_client *c = calloc(1, sizeof *c);
    size_t bs = cfg->buf_size >= 64u ? cfg->buf_size : BUSRT_CLIENT_DEFAULT_BUF_SIZE;
    if (c != NULL) {
        c->name = malloc(name_len + 1u);
        c->rbuf = malloc(bs);
    }
    if (c == NULL || c->name == NULL || c->rbuf == NULL) {
        if (c != NULL) {
            free(c->name);
            free(c->rbuf);
            free(c);
        }
        io_close(io);
        return BUSRT_E_NOMEM;
    }
    memcpy(c->name, cfg->name, name_len + 1u);
    c->fd = io->fd;
    c->tp = io->tp;
    c->tp_ctx = io->ctx;
    c->rcap = bs;
    c->buf_size = bs;
    c->io_timeout_ms = cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms
                                              : BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    c->ping_ms = cfg->ping_interval_ms > 0 ? cfg->ping_interval_ms
                                           : BUSRT_CLIENT_DEFAULT_PING_MS;
    c->idle_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 0;
    c->spin_ns = cfg->spin_us <= 0 ? 0
                                   : (int64_t)(cfg->spin_us > 10000 ? 10000 : cfg->spin_us) * 1000;
    c->max_body = cfg->max_body > 0 ? cfg->max_body : BUSRT_CLIENT_DEFAULT_MAX_BODY;
    c->last_send_ms = bc_now_ms();
    c->last_recv_ms = c->last_send_ms;
    c->prev_nop_ms = c->last_send_ms; /* "since registering" */
    c->next_op_id = 1;
    c->next_call_id = 1;
    *out = c;
    return 0;
}

static int64_t connect_deadline(const struct busrt_client_config *cfg)
{
    int ct = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                         : BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    return bc_now_ms() + ct;
}

int busrt_client_connect(busrt_client **out, const char *addr,
                         const struct busrt_client_config *cfg)
{
    size_t name_len = 0;
    int r = check_args(out, cfg, &name_len);
    if (r != 0) {
        return r;
    }
    if (addr == NULL) {
        return BUSRT_E_INVAL;
    }
    int64_t deadline = connect_deadline(cfg);
    int fd = bc_net_connect(addr, deadline);
    if (fd < 0) {
        return fd;
    }
    struct bc_io io = {fd, NULL, NULL};
    return finish(out, &io, cfg, name_len, deadline);
}

int busrt_client_connect_transport(busrt_client **out, const struct busrt_transport *t,
                                   void *ctx, int fd, const struct busrt_client_config *cfg)
{
    if (t == NULL || t->writev == NULL || t->read == NULL || t->close == NULL) {
        if (out != NULL) {
            *out = NULL;
        }
        return BUSRT_E_INVAL;
    }
    struct bc_io io = {fd, t, ctx};
    size_t name_len = 0;
    int r = check_args(out, cfg, &name_len);
    if (r != 0 || fd < 0) {
        t->close(ctx);
        return r != 0 ? r : BUSRT_E_INVAL;
    }
    return finish(out, &io, cfg, name_len, connect_deadline(cfg));
}

void busrt_client_close(busrt_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->tp != NULL) {
        c->tp->close(c->tp_ctx);
    } else {
        (void)close(c->fd);
    }
    free(c->name);
    free(c->rbuf);
    free(c->held);
    free(c->acks);
    free(c->reply);
    free(c);
}

const char *busrt_client_name(const busrt_client *c)
{
    return c != NULL ? c->name : NULL;
}

int busrt_client_connected(const busrt_client *c)
{
    return (c != NULL && c->err == 0) ? 1 : 0;
}

uint64_t busrt_client_discarded(const busrt_client *c)
{
    return c != NULL ? c->discarded : 0u;
}

int busrt_fd(const busrt_client *c)
{
    return c != NULL ? c->fd : -1;
}
