/* One stream against a fresh client process: start it, accept its
 * connection, do the broker's side of the handshake, answer its subscribe,
 * write the stream in its pieces, end it, and judge what the client
 * reported against what the spec requires (the matcher below). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <jansson.h>

#include "busrt/frame.h"
#include "busrt/le.h"
#include "cf.h"

/* ---- Results ----------------------------------------------------------------- */

void cf_viol(struct cf_result *r, const char *key, const char *fmt, ...)
{
    for (size_t i = 0; i < r->nv; i++) {
        if (strcmp(r->v[i].key, key) == 0) {
            return; /* one finding of each kind per stream */
        }
    }
    if (r->nv == r->cv) {
        r->cv = r->cv > 0 ? r->cv * 2 : 8;
        r->v = nf_xrealloc(r->v, r->cv * sizeof *r->v);
    }
    struct cf_viol *v = &r->v[r->nv++];
    snprintf(v->key, sizeof v->key, "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->what, sizeof v->what, fmt, ap);
    va_end(ap);
}

void cf_result_free(struct cf_result *r)
{
    for (size_t i = 0; i < r->nfr; i++) {
        nf_buf_free(&r->fr[i].sender);
        nf_buf_free(&r->fr[i].topic);
        nf_buf_free(&r->fr[i].payload);
    }
    free(r->fr);
    free(r->v);
    free(r->wrote);
    nf_buf_free(&r->lines);
    nf_buf_free(&r->sent);
    memset(r, 0, sizeof *r);
}

/* ---- The listening socket ------------------------------------------------------ */

int cf_env_open(struct cf_env *e, const struct cf_opts *o)
{
    memset(e, 0, sizeof *e);
    e->o = o;
    e->lfd = -1;
    snprintf(e->dir, sizeof e->dir, "/tmp/busrt-clientfuzz.XXXXXX");
    if (mkdtemp(e->dir) == NULL) {
        fprintf(stderr, "busrt-clientfuzz: cannot create a temporary directory: %s\n",
                strerror(errno));
        return -1;
    }
    snprintf(e->addr, sizeof e->addr, "%s/bus.sock", e->dir);
    snprintf(e->log, sizeof e->log, "%s/client.log", o->out_dir);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(e->addr) >= sizeof sa.sun_path) {
        fprintf(stderr, "busrt-clientfuzz: the socket path %s is too long\n", e->addr);
        cf_env_close(e);
        return -1;
    }
    memcpy(sa.sun_path, e->addr, strlen(e->addr) + 1);
    e->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (e->lfd < 0 || bind(e->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(e->lfd, 16) != 0) {
        fprintf(stderr, "busrt-clientfuzz: cannot listen on %s: %s\n", e->addr,
                strerror(errno));
        cf_env_close(e);
        return -1;
    }
    int fd = open(e->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "busrt-clientfuzz: cannot write %s: %s\n", e->log, strerror(errno));
        cf_env_close(e);
        return -1;
    }
    close(fd);
    return 0;
}

void cf_env_close(struct cf_env *e)
{
    if (e->lfd >= 0) {
        close(e->lfd);
        e->lfd = -1;
    }
    if (e->addr[0] != 0) {
        (void)unlink(e->addr);
    }
    if (e->dir[0] != 0) {
        (void)rmdir(e->dir);
    }
}

/* ---- One run -------------------------------------------------------------------- */

struct run {
    struct cf_env *e;
    const struct cf_opts *o;
    const struct cf_stream *st;
    struct cf_result *r;
    pid_t pid;
    int out;                 /* the client's stdout */
    int fd;                  /* the connection */
    struct nf_buf line;      /* a stdout line not yet complete */
    struct nf_buf cin;       /* bytes from the client not yet parsed */
    int registered;          /* the handshake is over: cin holds frames */
    int sub_seen;
    int peer_gone;           /* writing failed: the client closed */
    int bad_client;          /* its frames could not be parsed: stop parsing */
    size_t upto;             /* wait_delivered: the units to wait for */
    long clk;
};

static int64_t now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU time (user + system) of the client process in ms, -1 when gone. */
static long cpu_ms(const struct run *R)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)R->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) {
        return -1;
    }
    unsigned long ut = 0, stt = 0;
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2) {
        return -1;
    }
    return (long)((ut + stt) * 1000ul / (unsigned long)R->clk);
}

static void hexcat(char *dst, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = strlen(dst);
    for (size_t i = 0; i < n && k + 3 < cap; i++) {
        if (i == 48 && n > 56) {
            snprintf(dst + k, cap - k, "...(%zu bytes)", n);
            return;
        }
        k += (size_t)snprintf(dst + k, cap - k, "%02x", p[i]);
    }
}

static int hexdigit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int unhex_buf(const char *s, struct nf_buf *b)
{
    size_t n = strlen(s);
    if (n % 2 != 0) {
        return -1;
    }
    uint8_t tmp[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexdigit(s[i]), lo = hexdigit(s[i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        tmp[k++] = (uint8_t)(hi * 16 + lo);
        if (k == sizeof tmp) {
            nf_buf_add(b, tmp, k);
            k = 0;
        }
    }
    nf_buf_add(b, tmp, k);
    return 0;
}

/* One line of the adapter's protocol (README: "Line protocol"). */
static void on_line(struct run *R, const char *s, size_t n)
{
    struct cf_result *r = R->r;
    nf_buf_add(&r->lines, s, n);
    nf_buf_addc(&r->lines, '\n');
    if (n == 0 || s[0] != '{') {
        return; /* not protocol: kept, ignored */
    }
    json_error_t err;
    json_t *o = json_loadb(s, n, 0, &err);
    const char *ev = json_string_value(json_object_get(o, "ev"));
    if (o == NULL || ev == NULL) {
        cf_viol(r, "ADAPTER: malformed line", "the client printed a line that is not a JSON "
                "object with \"ev\": %.*s", (int)(n > 200 ? 200 : n), s);
        json_decref(o);
        return;
    }
    if (strcmp(ev, "ready") == 0) {
        r->ready = 1;
    } else if (strcmp(ev, "error") == 0) {
        r->errors++;
    } else if (strcmp(ev, "closed") == 0) {
        r->closed_ev = 1;
    } else if (strcmp(ev, "frame") == 0) {
        if (r->nfr == r->cfr) {
            r->cfr = r->cfr > 0 ? r->cfr * 2 : 32;
            r->fr = nf_xrealloc(r->fr, r->cfr * sizeof *r->fr);
        }
        struct cf_frame *f = &r->fr[r->nfr++];
        memset(f, 0, sizeof *f);
        json_t *k = json_object_get(o, "kind");
        const char *ks = json_string_value(k);
        f->kind = json_is_integer(k) ? (int)json_integer_value(k)
                  : ks == NULL ? -1
                  : strcmp(ks, "publication") == 0 ? 0x01
                  : strcmp(ks, "message") == 0 ? 0x12
                  : strcmp(ks, "broadcast") == 0 ? 0x13 : -1;
        json_t *rt = json_object_get(o, "realtime");
        f->rt = json_is_integer(rt) ? (json_integer_value(rt) != 0)
                : json_is_boolean(rt) ? json_is_true(rt) : -1;
        const char *sh = json_string_value(json_object_get(o, "sender_hex"));
        const char *th = json_string_value(json_object_get(o, "topic_hex"));
        const char *ph = json_string_value(json_object_get(o, "payload_hex"));
        if (sh == NULL || ph == NULL || unhex_buf(sh, &f->sender) != 0 ||
            unhex_buf(ph, &f->payload) != 0 || (th != NULL && unhex_buf(th, &f->topic) != 0)) {
            cf_viol(r, "ADAPTER: malformed frame line", "a frame line without valid "
                    "sender_hex and payload_hex: %.*s", (int)(n > 200 ? 200 : n), s);
        }
    }
    json_decref(o);
}

static void read_out(struct run *R)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(R->out, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(R->out);
                R->out = -1;
                if (R->line.len > 0) {
                    on_line(R, (const char *)R->line.p, R->line.len);
                    R->line.len = 0;
                }
            }
            return;
        }
        const char *p = buf, *end = buf + n;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL) {
                nf_buf_add(&R->line, p, (size_t)(end - p));
                break;
            }
            nf_buf_add(&R->line, p, (size_t)(nl - p));
            size_t len = R->line.len;
            if (len > 0 && R->line.p[len - 1] == '\r') {
                len--;
            }
            on_line(R, R->line.p != NULL ? (const char *)R->line.p : "", len);
            R->line.len = 0;
            p = nl + 1;
        }
    }
}

/* Frames the client sends: pings (nine 00 bytes, REQ-FRM-3), its
 * subscribe, anything else counted. */
static void parse_client(struct run *R)
{
    while (R->registered && !R->bad_client && R->cin.len >= BUSRT_CLIENT_HEADER_LEN) {
        struct busrt_client_header h;
        int rc = busrt_client_header_decode(R->cin.p, R->cin.len, 0xFFFFFFFFu, &h);
        if (rc < 0) {
            char hex[64] = "";
            hexcat(hex, sizeof hex, R->cin.p, 9);
            cf_viol(R->r, "REQ-OP-1: client sent an unknown operation",
                    "the client sent a frame header with an unknown operation: %s", hex);
            R->bad_client = 1;
            return;
        }
        if (h.op == BUSRT_OP_NOP && h.qos == 0) {
            static const uint8_t zero[9];
            if (memcmp(R->cin.p, zero, 9) != 0) {
                char hex[64] = "";
                hexcat(hex, sizeof hex, R->cin.p, 9);
                cf_viol(R->r, "REQ-FRM-3: ping not nine 00 bytes",
                        "the client sent a ping that is not nine 00 bytes: %s", hex);
            }
            R->r->pings++;
            nf_buf_consume(&R->cin, 9);
            continue;
        }
        size_t total = BUSRT_CLIENT_HEADER_LEN + (size_t)h.body_len;
        if (R->cin.len < total) {
            return;
        }
        if (h.op == BUSRT_OP_SUBSCRIBE && !R->sub_seen) {
            R->sub_seen = 1;
            R->r->sub_op = h.op_id;
            R->r->sub_qos = h.qos;
        }
        nf_buf_consume(&R->cin, total);
    }
}

static void read_sock(struct run *R)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(R->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n > 0) {
            nf_buf_add(&R->cin, buf, (size_t)n);
            if (R->cin.len > (64u << 20)) {
                nf_buf_consume(&R->cin, R->cin.len); /* a flood: stop keeping it */
                R->bad_client = 1;
            }
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            R->r->sock_eof = 1;
        }
        break;
    }
    parse_client(R);
}

static void reap(struct run *R, int block)
{
    if (R->r->exited || R->pid <= 0) {
        return;
    }
    struct rusage ru;
    int status = 0;
    pid_t p = wait4(R->pid, &status, block ? 0 : WNOHANG, &ru);
    if (p == R->pid) {
        R->r->exited = 1;
        R->r->status = status;
        R->r->cpu_ms = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                       (long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
        R->r->maxrss_kb = ru.ru_maxrss;
    }
}

/* One round: waits up to timeout_ms for the socket or stdout, reads both. */
static void pump(struct run *R, int timeout_ms)
{
    struct pollfd p[2];
    nfds_t n = 0;
    int si = -1, oi = -1;
    if (R->fd >= 0 && !R->r->sock_eof) {
        p[n] = (struct pollfd){R->fd, POLLIN, 0};
        si = (int)n++;
    }
    if (R->out >= 0) {
        p[n] = (struct pollfd){R->out, POLLIN, 0};
        oi = (int)n++;
    }
    if (n == 0) {
        reap(R, 0);
        if (timeout_ms > 0 && !R->r->exited) {
            struct timespec ts = {0, 200000}; /* waiting for the exit alone */
            (void)nanosleep(&ts, NULL);
        }
        return;
    }
    int rc = poll(p, n, timeout_ms);
    if (rc > 0) {
        if (si >= 0 && p[si].revents != 0) {
            read_sock(R);
        }
        if (oi >= 0 && p[oi].revents != 0) {
            read_out(R);
        }
    }
    reap(R, 0);
}

/* Waits up to ms, pumping, until cond(R) holds. Returns 1 when it did. */
static int wait_for(struct run *R, int ms, int (*cond)(struct run *))
{
    int64_t end = nf_now_ms() + ms;
    for (;;) {
        if (cond(R)) {
            return 1;
        }
        int64_t left = end - nf_now_ms();
        if (left <= 0) {
            return cond(R);
        }
        pump(R, left > 20 ? 20 : (int)left);
    }
}

static int c_stopped(struct run *R)
{
    return R->r->sock_eof || R->r->exited || R->r->closed_ev;
}

static int c_connection_gone(struct run *R)
{
    return R->r->sock_eof || R->r->exited;
}

static int c_exited(struct run *R)
{
    return R->r->exited;
}

static int c_ready(struct run *R)
{
    return R->r->ready || c_stopped(R);
}

static int c_sub(struct run *R)
{
    return R->sub_seen || c_connection_gone(R);
}

/* Writes p in full (bounded by wait_ms), reading meanwhile. 0, or -1 when
 * the client is gone or does not read. */
static int write_all(struct run *R, const uint8_t *p, size_t n)
{
    int64_t end = nf_now_ms() + R->o->wait_ms;
    while (n > 0) {
        if (R->peer_gone) {
            return -1;
        }
        ssize_t w = send(R->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            nf_buf_add(&R->r->sent, p, (size_t)w);
            p += w;
            n -= (size_t)w;
            end = nf_now_ms() + R->o->wait_ms; /* progress: a new deadline */
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (nf_now_ms() >= end) {
                cf_viol(R->r, "HANG: does not read",
                        "the client read nothing for %d ms while the fuzzer had %zu more "
                        "bytes to write (it printed %zu frames)", R->o->wait_ms, n, R->r->nfr);
                R->peer_gone = 1;
                return -1;
            }
            struct pollfd q = {R->fd, POLLOUT, 0};
            (void)poll(&q, 1, 5);
            pump(R, 0);
            continue;
        }
        R->peer_gone = 1; /* EPIPE, ECONNRESET: the client closed */
        return -1;
    }
    return 0;
}

/* After a write: gives the client up to settle_ms to read everything, so
 * that the pieces reach it as separate reads. */
static void settle(struct run *R)
{
    int64_t end = now_us() + (int64_t)R->o->settle_ms * 1000;
    for (;;) {
        int q = 0;
        if (ioctl(R->fd, SIOCOUTQ, &q) != 0 || q == 0 || now_us() >= end) {
            return;
        }
        pump(R, 0);
        struct timespec ts = {0, 30000};
        (void)nanosleep(&ts, NULL);
    }
}

static void mark_write(struct cf_result *r)
{
    if (r->nwrote == r->cwrote) {
        r->cwrote = r->cwrote > 0 ? r->cwrote * 2 : 64;
        r->wrote = nf_xrealloc(r->wrote, r->cwrote * sizeof *r->wrote);
    }
    r->wrote[r->nwrote++] = r->sent.len;
}

/* Sends bytes [from, to) of the stream copy b at the planned split points. */
static int send_range(struct run *R, const uint8_t *b, size_t from, size_t to)
{
    const struct cf_stream *st = R->st;
    size_t at = from;
    for (size_t i = 0; i <= st->nsplit && at < to; i++) {
        size_t next = i < st->nsplit ? st->split[i] : to;
        if (next <= at) {
            continue;
        }
        if (next > to) {
            next = to;
        }
        if (write_all(R, b + at, next - at) != 0) {
            return -1;
        }
        mark_write(R->r);
        settle(R);
        pump(R, 0);
        at = next;
    }
    return 0;
}

/* ---- The oracle ------------------------------------------------------------------ */

enum { M_DONE, M_WAIT, M_BAD };

struct match {
    int state;
    size_t unit;      /* M_WAIT: the unit waited for */
    char key[96];
    char what[1024];
};

static const char *frame_diff(const struct cf_stream *st, const struct cf_unit *u,
                              const struct cf_frame *f)
{
    const uint8_t *b = st->bytes.p;
    if (f->kind != u->kind) {
        return "kind";
    }
    if (!nf_buf_eq(&f->sender, b + u->sender.off, u->sender.len)) {
        return "sender";
    }
    if (!nf_buf_eq(&f->topic, b + u->topic.off, u->kind == 0x01 ? u->topic.len : 0)) {
        return "topic";
    }
    if (!nf_buf_eq(&f->payload, b + u->payload.off, u->payload.len)) {
        return "payload";
    }
    if (f->rt >= 0 && f->rt != (u->rt != 0)) {
        return "realtime";
    }
    return NULL;
}

static void describe_frame(char *out, size_t cap, const struct cf_frame *f)
{
    snprintf(out, cap, "kind %d, sender ", f->kind);
    hexcat(out, cap, f->sender.p, f->sender.len);
    strncat(out, ", topic ", cap - strlen(out) - 1);
    hexcat(out, cap, f->topic.p, f->topic.len);
    strncat(out, ", payload ", cap - strlen(out) - 1);
    hexcat(out, cap, f->payload.p, f->payload.len);
    size_t k = strlen(out);
    snprintf(out + k, cap - k, ", realtime %d", f->rt);
}

static void describe_unit(char *out, size_t cap, const struct cf_stream *st,
                          const struct cf_unit *u)
{
    const uint8_t *b = st->bytes.p;
    snprintf(out, cap, "kind %d, sender ", u->kind);
    hexcat(out, cap, b + u->sender.off, u->sender.len);
    strncat(out, ", topic ", cap - strlen(out) - 1);
    hexcat(out, cap, b + u->topic.off, u->kind == 0x01 ? u->topic.len : 0);
    strncat(out, ", payload ", cap - strlen(out) - 1);
    hexcat(out, cap, b + u->payload.off, u->payload.len);
    size_t k = strlen(out);
    snprintf(out + k, cap - k, ", realtime %d", u->rt != 0);
}

/* The unit to blame when the client stopped before unit i: the last one
 * since frame-unit `last` that is not a plain delivery, else unit i. */
static size_t blame(const struct cf_stream *st, size_t last, size_t i)
{
    for (size_t k = i; k > last; k--) {
        if (st->u[k - 1].type != U_FRAME) {
            return k - 1;
        }
    }
    return i;
}

/* Compares what the client reported with the units [0, upto). stopped: the
 * client reported the close, closed the connection, or exited. */
static void match(const struct cf_stream *st, const struct cf_result *r, size_t upto,
                  int stopped, struct match *m)
{
    memset(m, 0, sizeof *m);
    size_t j = 0, last = 0;
    for (size_t i = 0; i < upto; i++) {
        const struct cf_unit *u = &st->u[i];
        const struct cf_frame *f = j < r->nfr ? &r->fr[j] : NULL;
        char a[400], b[400];
        switch (u->type) {
        case U_FRAME:
            if (f != NULL) {
                const char *d = frame_diff(st, u, f);
                if (d == NULL) {
                    j++;
                    last = i + 1;
                    continue;
                }
                describe_unit(a, sizeof a, st, u);
                describe_frame(b, sizeof b, f);
                m->state = M_BAD;
                snprintf(m->key, sizeof m->key, "%s: wrong frame (%s)", u->req, d);
                snprintf(m->what, sizeof m->what, "delivered frame %zu differs in its %s from "
                         "unit %zu (%s): expected %s; the client reported %s", j + 1, d, i,
                         u->what, a, b);
                return;
            }
            if (stopped) {
                size_t k = blame(st, last, i);
                m->state = M_BAD;
                snprintf(m->key, sizeof m->key, "%s: stopped at a %s unit", st->u[k].req,
                         cf_utype_name(st->u[k].type));
                snprintf(m->what, sizeof m->what, "the client stopped after %zu frames and "
                         "never delivered unit %zu (%s); the unit before it that is not a "
                         "plain delivery: %zu (%s: %s)", r->nfr, i, u->what, k,
                         cf_utype_name(st->u[k].type), st->u[k].what);
                return;
            }
            m->state = M_WAIT;
            m->unit = i;
            return;
        case U_BADTEXT:
            if (f != NULL && frame_diff(st, u, f) == NULL) {
                j++;
                last = i + 1;
                continue;
            }
            if (f == NULL && stopped) {
                return; /* discarded, then closed: allowed */
            }
            continue; /* discarded (and the next frame must match what follows) */
        case U_NOSEP:
            if (f == NULL && stopped) {
                return;
            }
            continue;
        case U_NOP:
        case U_ACK:
        case U_TRAIL:
            continue;
        case U_FATAL:
        case U_HUGE:
        case U_CUT:
            if (f != NULL) {
                describe_frame(b, sizeof b, f);
                m->state = M_BAD;
                snprintf(m->key, sizeof m->key, "%s: frame delivered after a %s unit", u->req,
                         cf_utype_name(u->type));
                snprintf(m->what, sizeof m->what, "after unit %zu (%s) the client delivered "
                         "frame %zu: %s", i, u->what, j + 1, b);
                return;
            }
            if (u->type == U_FATAL && !stopped) {
                m->state = M_WAIT;
                m->unit = i;
            }
            return;
        default:
            continue;
        }
    }
    if (j < r->nfr) {
        char b[400];
        describe_frame(b, sizeof b, &r->fr[j]);
        m->state = M_BAD;
        snprintf(m->key, sizeof m->key, "REQ-DLV-1: extra frame");
        snprintf(m->what, sizeof m->what, "the client delivered frame %zu, which is none the "
                 "fuzzer sent (it sent %zu units): %s", j + 1, upto, b);
    }
}

static size_t units_before(const struct cf_stream *st, size_t off)
{
    size_t k = 0;
    while (k < st->nu && st->u[k].off < off) {
        k++;
    }
    return k;
}

/* Units [0, R->upto) are delivered: the client read every byte sent and
 * no required frame is missing (or it stopped). */
static int c_delivered(struct run *R)
{
    struct match m;
    int q = 0;
    if (c_stopped(R)) {
        return 1;
    }
    if (ioctl(R->fd, SIOCOUTQ, &q) == 0 && q > 0) {
        return 0;
    }
    match(R->st, R->r, R->upto, 0, &m);
    return m.state != M_WAIT;
}

/* Waits until units [0, upto) are delivered (or the client stopped). */
/* Waits until units [0, upto) are delivered (or the client stopped); a
 * frame still missing after wait_ms is a finding. */
static void wait_delivered(struct run *R, size_t upto)
{
    R->upto = upto;
    if (wait_for(R, R->o->wait_ms, c_delivered)) {
        return;
    }
    struct match m;
    match(R->st, R->r, upto, 0, &m);
    if (m.state == M_WAIT) {
        const struct cf_unit *u = &R->st->u[m.unit];
        cf_viol(R->r, "HANG: frame not delivered in time",
                "%d ms after it was sent the client had not delivered unit %zu (%s); it had "
                "delivered %zu frames", R->o->wait_ms, m.unit, u->what, R->r->nfr);
    }
}

/* CPU use over a window in which the client has nothing to do. */
static void idle_window(struct run *R, int ms, const char *when)
{
    long c0 = cpu_ms(R);
    int64_t t0 = nf_now_ms();
    (void)wait_for(R, ms, c_connection_gone);
    long c1 = cpu_ms(R);
    int64_t dt = nf_now_ms() - t0;
    if (c0 >= 0 && c1 >= 0 && dt >= 100 && (c1 - c0) * 100 >= (long)R->o->spin_pct * dt) {
        cf_viol(R->r, "SPIN: busy while idle", "the client used %ld ms of CPU in %lld ms %s "
                "(%ld%%)", c1 - c0, (long long)dt, when, (c1 - c0) * 100 / (long)dt);
    }
}

/* ---- The client process ----------------------------------------------------------- */

/* "exec " and cmd with every "{addr}" replaced by addr. */
static char *expand(const char *cmd, const char *addr)
{
    struct nf_buf b = {0};
    nf_buf_adds(&b, "exec ");
    nf_expand_addr(&b, cmd, addr);
    return (char *)b.p;
}

static int spawn(struct run *R)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        fprintf(stderr, "busrt-clientfuzz: pipe: %s\n", strerror(errno));
        return -1;
    }
    int log = open(R->e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
        char hdr[128];
        int n = snprintf(hdr, sizeof hdr, "==== stream %ld (seed %llu)\n", R->st->index,
                         (unsigned long long)R->st->seed);
        if (write(log, hdr, (size_t)n) != n) {
            /* the log is for people; the run goes on without it */
        }
    }
    char *sh = expand(R->o->cmd, R->e->addr);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "busrt-clientfuzz: fork: %s\n", strerror(errno));
        free(sh);
        close(pfd[0]);
        close(pfd[1]);
        if (log >= 0) {
            close(log);
        }
        return -1;
    }
    if (pid == 0) {
        (void)setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) {
            (void)dup2(in, 0);
        }
        (void)dup2(pfd[1], 1);
        if (log >= 0) {
            (void)dup2(log, 2);
        }
        execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
        _exit(127);
    }
    free(sh);
    close(pfd[1]);
    if (log >= 0) {
        close(log);
    }
    (void)setpgid(pid, pid);
    (void)fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
    (void)fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    R->pid = pid;
    R->out = pfd[0];
    return 0;
}

static int accept_client(struct run *R)
{
    int64_t end = nf_now_ms() + R->o->start_ms;
    while (nf_now_ms() < end && !R->r->exited) {
        int fd = accept4(R->e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            R->fd = fd;
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fprintf(stderr, "busrt-clientfuzz: accept: %s\n", strerror(errno));
            return -1;
        }
        struct pollfd p[2] = {{R->e->lfd, POLLIN, 0}, {R->out, POLLIN, 0}};
        (void)poll(p, R->out >= 0 ? 2 : 1, 20);
        if (R->out >= 0 && p[1].revents != 0) {
            read_out(R);
        }
        reap(R, 0);
    }
    return 1;
}

/* Reads exactly n bytes of the handshake. 0, or -1 (EOF or timeout). */
static int read_hs(struct run *R, uint8_t *dst, size_t n)
{
    int64_t end = nf_now_ms() + R->o->start_ms;
    size_t got = 0;
    while (got < n) {
        if (R->cin.len > 0) {
            size_t k = R->cin.len < n - got ? R->cin.len : n - got;
            memcpy(dst + got, R->cin.p, k);
            nf_buf_consume(&R->cin, k);
            got += k;
            continue;
        }
        if (R->r->sock_eof || nf_now_ms() >= end) {
            return -1;
        }
        pump(R, 20);
    }
    return 0;
}

/* Kills what is left of the client and collects its status. */
static void finish(struct run *R)
{
    reap(R, 0);
    if (!R->r->exited && R->pid > 0) {
        (void)kill(-R->pid, SIGKILL);
        (void)kill(R->pid, SIGKILL);
        reap(R, 1);
        R->r->exited = 0; /* it did not end by itself */
    } else if (R->pid > 0) {
        (void)kill(-R->pid, SIGKILL); /* what it may have left behind */
    }
    while (R->out >= 0) {
        read_out(R);
    }
    if (R->fd >= 0) {
        close(R->fd);
        R->fd = -1;
    }
}

/* The end of every stream: the connection is over (closed by the client,
 * or by us now); the client must report it and exit. */
static void end_and_exit(struct run *R, const char *why)
{
    if (R->fd >= 0) {
        (void)shutdown(R->fd, SHUT_RDWR);
    }
    long c0 = cpu_ms(R);
    int64_t t0 = nf_now_ms();
    int ok = wait_for(R, R->o->exit_ms, c_exited);
    /* Its CPU time meanwhile: from the exit status when it ended. */
    long c1 = ok ? R->r->cpu_ms : cpu_ms(R);
    int64_t dt = nf_now_ms() - t0;
    long pct = c0 >= 0 && c1 >= c0 && dt > 0 ? (c1 - c0) * 100 / (long)dt : -1;
    if (!ok) {
        cf_viol(R->r, "REQ-ERR-6: no exit after the connection ended",
                "%s; the client had not ended %d ms later (it printed %s, %zu frames, %d "
                "errors)", why, R->o->exit_ms, R->r->closed_ev ? "\"closed\"" : "no "
                "\"closed\"", R->r->nfr, R->r->errors);
    }
    if (dt >= 100 && pct >= R->o->spin_pct) {
        cf_viol(R->r, "SPIN: busy after the connection ended",
                "%s; the client used %ld ms of CPU in the %lld ms until it %s (%ld%%)", why,
                c1 - c0, (long long)dt, ok ? "exited" : "was killed", pct);
    }
}

static void check_exit(struct run *R)
{
    struct cf_result *r = R->r;
    if (!r->exited) {
        return; /* reported by end_and_exit */
    }
    if (WIFSIGNALED(r->status)) {
        cf_viol(r, "CRASH: killed by a signal", "the client was killed by signal %d",
                WTERMSIG(r->status));
    } else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0) {
        cf_viol(r, "CRASH: exit status", "the client exited with status %d (its stderr is in "
                "%s)", WEXITSTATUS(r->status), R->e->log);
    }
    if (r->maxrss_kb > R->o->max_rss_mb * 1024) {
        cf_viol(r, "MEMORY: peak RSS", "the client's peak RSS was %ld KiB (limit %ld MiB)",
                r->maxrss_kb, R->o->max_rss_mb);
    }
}

static void run_handshake_attack(struct run *R)
{
    const struct cf_stream *st = R->st;
    uint8_t b[3];
    int we_close = 0;
    const char *what = "";
    if (st->hs == HS_GREETING) {
        (void)write_all(R, st->hs_bytes, 3);
        what = "a greeting other than EB 01 00 (REQ-HS-7: the client must close)";
    } else if (st->hs == HS_GREET_CUT) {
        (void)write_all(R, st->hs_bytes, st->hs_len);
        we_close = 1;
        what = "the connection ended within the greeting";
    } else {
        (void)write_all(R, (const uint8_t *)"\xEB\x01\x00", 3);
        if (read_hs(R, b, 3) != 0) {
            cf_viol(R->r, "REQ-HS-2: no greeting echo", "the client did not echo the greeting");
            return;
        }
        if (st->hs == HS_REPLY1) {
            (void)write_all(R, st->hs_bytes, 1);
            what = "a reply other than 01 to the greeting echo (REQ-HS-7)";
        } else {
            (void)write_all(R, (const uint8_t *)"\x01", 1);
            uint8_t l[2];
            if (read_hs(R, l, 2) != 0) {
                cf_viol(R->r, "REQ-HS-4: no name", "the client sent no name length");
                return;
            }
            uint16_t nl = busrt_get_le16(l);
            uint8_t *name = nf_xmalloc(nl);
            int rc = read_hs(R, name, nl);
            free(name);
            if (rc != 0) {
                cf_viol(R->r, "REQ-HS-4: no name", "the client sent %u as the name length but "
                        "not the name", nl);
                return;
            }
            if (st->hs == HS_REPLY2) {
                (void)write_all(R, st->hs_bytes, 1);
                what = "a reply other than 01 to the name (REQ-HS-7)";
            } else {
                we_close = 1;
                what = "the connection ended instead of the reply to the name";
            }
        }
    }
    if (!we_close && !wait_for(R, R->o->wait_ms, c_connection_gone)) {
        cf_viol(R->r, "REQ-HS-7: no close after a bad handshake",
                "after %s the client had not closed the connection %d ms later", what,
                R->o->wait_ms);
    }
    end_and_exit(R, what);
    if (R->r->ready) {
        cf_viol(R->r, "REQ-HS-7: ready after a bad handshake",
                "after %s the client reported \"ready\"", what);
    }
}

int cf_run(struct cf_env *e, const struct cf_stream *st, struct cf_result *r)
{
    memset(r, 0, sizeof *r);
    struct run R;
    memset(&R, 0, sizeof R);
    R.e = e;
    R.o = e->o;
    R.st = st;
    R.r = r;
    R.fd = -1;
    R.out = -1;
    R.clk = sysconf(_SC_CLK_TCK);
    if (R.clk <= 0) {
        R.clk = 100;
    }
    int64_t t0 = nf_now_ms();
    if (spawn(&R) != 0) {
        return -1;
    }
    int rc = accept_client(&R);
    if (rc < 0) {
        finish(&R);
        return -1;
    }
    if (rc > 0) {
        cf_viol(r, "START: no connection", "the client did not connect within %d ms%s",
                R.o->start_ms, r->exited ? " (it exited)" : "");
        finish(&R);
        check_exit(&R);
        goto out;
    }
    if (st->hs != HS_NONE) {
        run_handshake_attack(&R);
        finish(&R);
        check_exit(&R);
        goto out;
    }

    /* The broker's side of the handshake (Section 4). */
    uint8_t b[3], l[2];
    (void)write_all(&R, (const uint8_t *)"\xEB\x01\x00", 3);
    if (read_hs(&R, b, 3) != 0 || memcmp(b, "\xEB\x01\x00", 3) != 0) {
        cf_viol(r, "REQ-HS-2: bad greeting echo", "the client did not answer the greeting with "
                "EB 01 00");
        end_and_exit(&R, "after the greeting");
        finish(&R);
        goto out;
    }
    (void)write_all(&R, (const uint8_t *)"\x01", 1);
    uint16_t nl = 0;
    rc = -1;
    if (read_hs(&R, l, 2) == 0) {
        nl = busrt_get_le16(l);
        uint8_t *name = nf_xmalloc(nl);
        rc = read_hs(&R, name, nl);
        free(name);
    }
    if (rc != 0) {
        cf_viol(r, "REQ-HS-4: no name", "the client did not send its name");
        end_and_exit(&R, "during the handshake");
        finish(&R);
        goto out;
    }
    (void)write_all(&R, (const uint8_t *)"\x01", 1);
    R.registered = 1;
    parse_client(&R);
    if (!wait_for(&R, R.o->start_ms, c_sub) || !R.sub_seen) {
        cf_viol(r, "START: no subscribe", "the client sent no subscribe frame within %d ms "
                "of registering (the adapter subscribes to \"#\")", R.o->start_ms);
        end_and_exit(&R, "before the subscribe");
        finish(&R);
        check_exit(&R);
        goto out;
    }
    /* What goes before the subscribe ACK: foreign ACKs must not carry the
     * subscribe's op id (they would be its result). */
    struct nf_buf copy = {0};
    nf_buf_add(&copy, st->bytes.p, st->bytes.len);
    for (size_t i = 0; i < st->nu; i++) {
        const struct cf_unit *u = &st->u[i];
        if (u->type == U_ACK && u->off < st->pre_len &&
            busrt_get_le32(copy.p + u->off + 1) == r->sub_op) {
            busrt_put_le32(copy.p + u->off + 1, r->sub_op ^ 0x5A5A5A5Au);
        }
    }
    if (st->pre_len > 0) {
        (void)write_all(&R, copy.p, st->pre_len);
        mark_write(r);
    }
    if ((r->sub_qos & 1) != 0) {
        uint8_t a[6] = {0xFE, 0, 0, 0, 0, 0x01};
        busrt_put_le32(a + 1, r->sub_op);
        (void)write_all(&R, a, 6);
    }
    r->sent.len = 0; /* the case keeps the stream's bytes, not the ACK */
    nf_buf_add(&r->sent, copy.p, st->pre_len);
    r->nwrote = 0;
    if (!wait_for(&R, R.o->start_ms, c_ready) || !r->ready) {
        if (!c_stopped(&R)) {
            cf_viol(r, "START: not ready", "the client did not print \"ready\" within %d ms "
                    "of the subscribe ACK", R.o->start_ms);
        }
    }

    /* The stream. */
    size_t end = st->end == END_CLOSE ? st->bytes.len : st->end_off;
    if (st->drain && end > st->pre_len) {
        if (send_range(&R, copy.p, st->pre_len, end) == 0) {
            wait_delivered(&R, units_before(st, end));
        }
        (void)send_range(&R, copy.p, end, st->bytes.len);
    } else {
        (void)send_range(&R, copy.p, st->pre_len, st->bytes.len);
    }
    nf_buf_free(&copy);
    switch (st->end) {
    case END_CLOSE:
        wait_delivered(&R, st->nu);
        if (st->idle_ms > 0 && !c_stopped(&R)) {
            idle_window(&R, st->idle_ms, "with every frame delivered and nothing to do");
        }
        end_and_exit(&R, "the fuzzer closed the connection after the last frame");
        break;
    case END_FATAL:
        if (!wait_for(&R, R.o->wait_ms, c_connection_gone)) {
            cf_viol(r, "REQ-DLV-8: no close after an unknown frame type",
                    "after unit %zu (%s) the client had not closed the connection %d ms later",
                    units_before(st, st->end_off), st->u[units_before(st, st->end_off)].what,
                    R.o->wait_ms);
        }
        end_and_exit(&R, "the fuzzer closed the connection after an unknown frame type");
        break;
    case END_CUT:
        end_and_exit(&R, "the fuzzer closed the connection in the middle of a frame");
        break;
    default:
        idle_window(&R, st->hold_ms, "waiting for a body that does not come");
        end_and_exit(&R, "the fuzzer closed the connection in the middle of a large body");
        break;
    }
    finish(&R);
    {
        struct match m;
        match(st, r, st->nu, 1, &m);
        int hung = 0;
        for (size_t i = 0; i < r->nv; i++) {
            hung |= strncmp(r->v[i].key, "HANG:", 5) == 0;
        }
        if (m.state == M_BAD && !(hung && strstr(m.key, ": stopped at") != NULL)) {
            cf_viol(r, m.key, "%s", m.what);
        }
        if (r->exited && !r->closed_ev && r->errors == 0) {
            cf_viol(r, "REQ-ERR-6: connection loss not reported",
                    "the client exited without printing \"closed\" or \"error\"");
        }
    }
    check_exit(&R);
out:
    nf_buf_free(&R.line);
    nf_buf_free(&R.cin);
    r->ms = nf_now_ms() - t0;
    return 0;
}
