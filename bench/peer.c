/* The forked processes of busrt-bench.
 *
 * peer_main (B): the other end of every ping-pong. It echoes what reaches
 * its connection to each target back to the sender (a message with the QoS
 * the bench process chose), echoes CTL_FLOOR messages on the socketpair (the
 * floor), and on request becomes the receiver of a throughput run: it
 * counts and checks frames (sequence numbers in the payload) and returns
 * credit to the sender over the socketpair.
 *
 * load_main (L): floods one target at a given rate (messages between two
 * connections of its own, credit-controlled) while the bench process
 * measures latency.
 *
 * holder_main (H): sets up the non-matching clients or subscriptions of the
 * scale series, timing the connects, and keeps them alive (pings) until told
 * to quit. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "busrt/codes.h"
#include "busrt/frame.h"

static void args_text(struct ctl_args *a, const char *fmt, const char *s)
{
    (void)snprintf(a->text, sizeof a->text, fmt, s);
}

/* ==== B: echoer and receiver ================================================== */

struct ptarget {
    int used;
    int dead;
    char addr[ADDR_CAP];
    struct conn c;
};

struct recv_state {
    int active;
    int tidx;
    int mode;
    int nsenders;
    int nsubs;
    size_t payload;
    struct conn *subs;
    uint64_t *sub_count;
    uint64_t seq[MAX_SENDERS];
    uint64_t count, errors, report_every, last_report;
    int ending;
    uint64_t expected;
    int64_t end_deadline, t_last;
};

static struct ptarget g_pt[MAX_TARGETS];
static uint8_t g_echo_qos;
static uint64_t g_echo_errors;
static struct recv_state g_rs;
static int64_t g_timeout;

/* Checks one received data frame of a throughput run. */
static void recv_check(struct recv_state *rs, const struct dframe *f, uint64_t *seqp,
                       uint8_t want_kind)
{
    struct busrt_frame_body b;
    if (f->kind != want_kind || busrt_frame_body_split(f->kind, f->body, f->len, &b) != 0 ||
        b.payload.len != rs->payload || rs->payload < 12u) {
        rs->errors++;
        return;
    }
    const uint8_t *p = f->body + b.payload.off;
    uint64_t seq = get_u64(p);
    uint32_t s = busrt_get_le32(p + 8);
    if (seqp == NULL) {
        if (s >= (uint32_t)rs->nsenders) {
            rs->errors++;
            return;
        }
        seqp = &rs->seq[s];
    }
    if (seq != *seqp) {
        rs->errors++; /* lost, duplicated or reordered */
    }
    *seqp = seq + 1u;
}

static void echo_frame(struct conn *c, const struct dframe *f)
{
    struct busrt_frame_body b;
    if (f->kind == BUSRT_ACK_MARKER) {
        if (f->code != BUSRT_RC_OK) {
            g_echo_errors++;
        }
        return;
    }
    if (busrt_frame_body_split(f->kind, f->body, f->len, &b) != 0) {
        g_echo_errors++;
        return;
    }
    uint8_t hdr[BUSRT_CLIENT_HEADER_LEN];
    size_t body = b.sender.len + 1u + b.payload.len;
    struct busrt_client_header h = {c->next_op++, BUSRT_OP_MESSAGE, g_echo_qos, (uint32_t)body};
    (void)busrt_client_header_encode(&h, hdr, sizeof hdr);
    struct iovec iov[3];
    int n = 0;
    iov[n].iov_base = hdr;
    iov[n++].iov_len = sizeof hdr;
    /* The delivered "sender NUL" is the message's "target NUL". */
    iov[n].iov_base = (void *)(uintptr_t)(f->body + b.sender.off);
    iov[n++].iov_len = b.sender.len + 1u;
    if (b.payload.len > 0) {
        iov[n].iov_base = (void *)(uintptr_t)(f->body + b.payload.off);
        iov[n++].iov_len = b.payload.len;
    }
    if (conn_writev(c, iov, n) != 0) {
        g_echo_errors++;
    }
}

static void recv_stop(struct recv_state *rs)
{
    if (rs->subs != NULL) {
        for (int i = 0; i < rs->nsubs; i++) {
            conn_close(&rs->subs[i]);
        }
        free(rs->subs);
    }
    free(rs->sub_count);
    memset(rs, 0, sizeof *rs);
}

static uint64_t recv_count(const struct recv_state *rs)
{
    if (rs->mode != RM_FANOUT) {
        return rs->count;
    }
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < rs->nsubs; i++) {
        if (rs->sub_count[i] < m) {
            m = rs->sub_count[i];
        }
    }
    return rs->nsubs > 0 ? m : 0u;
}

static int recv_start(const struct ctl_args *a, char *err, size_t errlen)
{
    struct recv_state *rs = &g_rs;
    recv_stop(rs);
    if (a->mode == RM_FLOOR) {
        rs->mode = RM_FLOOR;
        rs->tidx = -1;
        rs->nsenders = 1;
        rs->payload = (size_t)a->count2;
        rs->report_every = a->report_every > 0 ? a->report_every : 256u;
        rs->active = 1;
        return 0; /* frames arrive on the socketpair itself */
    }
    if (a->tidx < 0 || a->tidx >= MAX_TARGETS || !g_pt[a->tidx].used || g_pt[a->tidx].dead) {
        (void)snprintf(err, errlen, "no connection to target %d", a->tidx);
        return -1;
    }
    rs->tidx = a->tidx;
    rs->mode = a->mode;
    rs->nsenders = a->nsenders > 0 ? a->nsenders : 1;
    rs->payload = (size_t)a->count2;
    rs->report_every = a->report_every > 0 ? a->report_every : 256u;
    if (rs->nsenders > MAX_SENDERS) {
        (void)snprintf(err, errlen, "too many senders");
        return -1;
    }
    if (a->mode == RM_FANOUT) {
        int n = a->nsubs;
        if (n < 1 || n > MAX_SUBS) {
            (void)snprintf(err, errlen, "bad subscriber count %d", n);
            return -1;
        }
        char(*names)[NAME_CAP] = xmalloc((size_t)n * NAME_CAP);
        for (int i = 0; i < n; i++) {
            name_sub(names[i], a->tidx, i);
        }
        rs->subs = xmalloc((size_t)n * sizeof *rs->subs);
        rs->sub_count = calloc((size_t)n, sizeof *rs->sub_count);
        size_t ok = conn_open_many(rs->subs, (size_t)n, g_pt[a->tidx].addr, names, g_timeout,
                                   err, errlen);
        free(names);
        rs->nsubs = (int)ok;
        if (rs->sub_count == NULL || ok < (size_t)n) {
            return -1;
        }
        char topic[NAME_CAP];
        topic_fanout(topic, a->tidx);
        const char *items[1] = {topic};
        for (int i = 0; i < n; i++) {
            rs->subs[i].rcap = 65536u;
            ka_add(&rs->subs[i]);
            if (conn_list_op(&rs->subs[i], BUSRT_OP_SUBSCRIBE, items, 1, g_timeout) !=
                (int)BUSRT_RC_OK) {
                (void)snprintf(err, errlen, "subscriber %d: subscribe failed", i);
                return -1;
            }
        }
    }
    rs->active = 1;
    return 0;
}

static void recv_frames(struct recv_state *rs, struct conn *c)
{
    struct dframe f;
    int k;
    while ((k = conn_next(c, &f)) == 1) {
        if (f.kind == BUSRT_ACK_MARKER) {
            continue;
        }
        switch (rs->mode) {
        case RM_MSG:
            recv_check(rs, &f, NULL, BUSRT_KIND_MESSAGE);
            rs->count++;
            break;
        case RM_PUB:
            recv_check(rs, &f, &rs->seq[0], BUSRT_KIND_PUBLISH);
            rs->count++;
            break;
        case RM_BCAST:
            recv_check(rs, &f, &rs->seq[0], BUSRT_KIND_BROADCAST);
            rs->count++;
            break;
        default:
            rs->errors++;
            break;
        }
    }
    if (k < 0) {
        rs->errors++;
    }
}

/* Fan-out subscribers check their own sequence: one publisher numbers its
 * publications from 0, so each subscriber expects its own count. */
static void recv_frames_sub(struct recv_state *rs, int i)
{
    struct conn *c = &rs->subs[i];
    struct dframe f;
    int k;
    while ((k = conn_next(c, &f)) == 1) {
        if (f.kind == BUSRT_ACK_MARKER) {
            continue;
        }
        uint64_t expect = rs->sub_count[i];
        recv_check(rs, &f, &expect, BUSRT_KIND_PUBLISH);
        rs->sub_count[i]++;
    }
    if (k < 0) {
        rs->errors++;
    }
}

static void peer_ctl(struct ctl *k, uint32_t type, const uint8_t *body, size_t len)
{
    struct ctl_args a, r;
    memset(&a, 0, sizeof a);
    memset(&r, 0, sizeof r);
    if (type == CTL_FLOOR) {
        (void)ctl_send(k, CTL_FLOOR, body, len);
        return;
    }
    if (type == CTL_TDATA) {
        /* a frame of a floor throughput run: seq u64, sender u32, filler */
        struct recv_state *rs = &g_rs;
        if (!rs->active || rs->mode != RM_FLOOR || len != rs->payload || len < 12u) {
            rs->errors++;
            return;
        }
        if (get_u64(body) != rs->seq[0]) {
            rs->errors++;
        }
        rs->seq[0] = get_u64(body) + 1u;
        rs->count++;
        return;
    }
    if (len == sizeof a) {
        memcpy(&a, body, sizeof a);
    }
    switch (type) {
    case CTL_QUIT:
        _exit(0);
    case CTL_CONNECT: {
        if (a.tidx < 0 || a.tidx >= MAX_TARGETS) {
            (void)ctl_send_args(k, CTL_ERR, &r);
            return;
        }
        struct ptarget *t = &g_pt[a.tidx];
        if (t->used) {
            conn_close(&t->c);
        }
        memset(t, 0, sizeof *t);
        (void)snprintf(t->addr, sizeof t->addr, "%s", a.addr);
        char err[200];
        int rc = conn_open(&t->c, a.addr, a.name, g_timeout, err, sizeof err);
        if (rc != 0) {
            args_text(&r, "%s", err);
            (void)ctl_send_args(k, CTL_ERR, &r);
            return;
        }
        t->used = 1;
        t->c.rcap = 1u << 18;
        ka_add(&t->c);
        char topic[NAME_CAP];
        topic_scale(topic, a.tidx);
        const char *items[1] = {topic};
        if (conn_list_op(&t->c, BUSRT_OP_SUBSCRIBE, items, 1, g_timeout) != (int)BUSRT_RC_OK) {
            args_text(&r, "%s", "subscribe to the scale topic failed");
            (void)ctl_send_args(k, CTL_ERR, &r);
            return;
        }
        (void)ctl_send_args(k, CTL_OK, &r);
        return;
    }
    case CTL_PIN:
        if (pin_to(0, a.qos) != 0) {
            args_text(&r, "%s", "sched_setaffinity failed");
            (void)ctl_send_args(k, CTL_ERR, &r);
            return;
        }
        (void)ctl_send_args(k, CTL_OK, &r);
        return;
    case CTL_ECHO_QOS:
        g_echo_qos = (uint8_t)(a.qos & 3);
        (void)ctl_send_args(k, CTL_OK, &r);
        return;
    case CTL_RECV_START: {
        char err[200] = "";
        if (recv_start(&a, err, sizeof err) != 0) {
            args_text(&r, "%s", err);
            recv_stop(&g_rs);
            (void)ctl_send_args(k, CTL_ERR, &r);
            return;
        }
        (void)ctl_send_args(k, CTL_OK, &r);
        return;
    }
    case CTL_RECV_END:
        if (!g_rs.active) {
            args_text(&r, "%s", "not receiving");
            (void)ctl_send_args(k, CTL_ERR, &r);
            return;
        }
        g_rs.ending = 1;
        g_rs.expected = a.count;
        g_rs.end_deadline = now_ns() + g_timeout;
        return;
    case CTL_PAUSE: /* statistics of the echo side */
        r.errors = g_echo_errors;
        for (int i = 0; i < MAX_TARGETS; i++) {
            if (g_pt[i].used) {
                r.errors += g_pt[i].c.proto_err;
                r.count += g_pt[i].dead ? 1u : 0u;
            }
        }
        (void)ctl_send_args(k, CTL_RESULT, &r);
        return;
    default:
        args_text(&r, "%s", "unknown command");
        (void)ctl_send_args(k, CTL_ERR, &r);
        return;
    }
}

static void recv_progress(struct ctl *k)
{
    struct recv_state *rs = &g_rs;
    if (!rs->active) {
        return;
    }
    uint64_t n = recv_count(rs);
    if (n - rs->last_report >= rs->report_every) {
        struct ctl_args a;
        memset(&a, 0, sizeof a);
        a.count = n;
        a.t_ns = rs->t_last;
        (void)ctl_send_args(k, CTL_CREDIT, &a);
        rs->last_report = n;
    }
    if (rs->ending && (n >= rs->expected || now_ns() >= rs->end_deadline)) {
        struct ctl_args a;
        memset(&a, 0, sizeof a);
        a.count = n;
        a.errors = rs->errors;
        a.t_ns = rs->t_last;
        if (n < rs->expected) {
            (void)snprintf(a.text, sizeof a.text, "received %llu of %llu frames",
                           (unsigned long long)n, (unsigned long long)rs->expected);
        }
        (void)ctl_send_args(k, CTL_RESULT, &a);
        recv_stop(rs);
    }
}

void peer_main(int fd, int64_t timeout_ns)
{
    struct ctl k;
    ctl_init(&k, fd);
    g_timeout = timeout_ns;
    int cpus[4];
    (void)affinity_init(cpus, 4);
    size_t pcap = 1u + MAX_TARGETS + MAX_SUBS;
    struct pollfd *pf = xmalloc(pcap * sizeof *pf);
    int who[1 + MAX_TARGETS + MAX_SUBS]; /* >= 0 target, <= -2 subscriber -(i+2) */
    for (;;) {
        nfds_t n = 0;
        pf[n].fd = k.fd;
        pf[n].events = POLLIN;
        who[n++] = -1;
        for (int i = 0; i < MAX_TARGETS; i++) {
            struct ptarget *t = &g_pt[i];
            if (t->used && !t->dead) {
                pf[n].fd = t->c.fd;
                pf[n].events = (short)(POLLIN | (t->c.woff < t->c.wlen ? POLLOUT : 0));
                who[n++] = i;
            }
        }
        if (g_rs.active && g_rs.mode == RM_FANOUT) {
            for (int i = 0; i < g_rs.nsubs; i++) {
                pf[n].fd = g_rs.subs[i].fd;
                pf[n].events = POLLIN;
                who[n++] = -(i + 2);
            }
        }
        int rc = poll(pf, n, 100);
        int64_t now = now_ns();
        if (rc > 0) {
            for (nfds_t j = 1; j < n; j++) {
                short re = pf[j].revents;
                if (re == 0) {
                    continue;
                }
                if (who[j] >= 0) {
                    struct ptarget *t = &g_pt[who[j]];
                    if ((re & POLLOUT) != 0 && conn_flush(&t->c) < 0) {
                        t->dead = 1;
                        continue;
                    }
                    if ((re & (POLLIN | POLLHUP | POLLERR)) == 0) {
                        continue;
                    }
                    int recv_here = g_rs.active && g_rs.tidx == who[j] &&
                                    g_rs.mode != RM_FANOUT;
                    for (int loops = 0; loops < 8; loops++) {
                        ssize_t r = conn_fill(&t->c);
                        if (r < 0) {
                            t->dead = 1;
                            break;
                        }
                        if (recv_here) {
                            recv_frames(&g_rs, &t->c);
                        } else {
                            struct dframe f;
                            int q;
                            while ((q = conn_next(&t->c, &f)) == 1) {
                                echo_frame(&t->c, &f);
                            }
                            if (q < 0) {
                                t->dead = 1;
                                g_echo_errors++;
                                break;
                            }
                        }
                        if (!recv_here || r < 32768) {
                            break; /* a short read: the socket is (nearly) empty */
                        }
                    }
                    if (recv_here) {
                        g_rs.t_last = now_ns();
                    }
                } else if (g_rs.active) {
                    int i = -who[j] - 2;
                    if (i < g_rs.nsubs) {
                        if (conn_fill(&g_rs.subs[i]) < 0) {
                            g_rs.errors++;
                        }
                        recv_frames_sub(&g_rs, i);
                        g_rs.t_last = now_ns();
                    }
                }
            }
            if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                if (ctl_fill(&k) < 0) {
                    _exit(0); /* the bench process is gone */
                }
                uint32_t type;
                const uint8_t *body;
                size_t len;
                while (ctl_next(&k, &type, &body, &len) == 1) {
                    peer_ctl(&k, type, body, len);
                }
                if (g_rs.active && g_rs.mode == RM_FLOOR) {
                    g_rs.t_last = now_ns();
                }
            }
        }
        recv_progress(&k);
        ka_tick(now);
    }
}

/* ==== L: background load =========================================================== */

struct lt {
    struct conn tx, rx;
    char rxname[NAME_CAP];
    int ok;
};

void load_main(int fd, char (*addrs)[ADDR_CAP], int ntargets, uint64_t window,
               int64_t timeout_ns)
{
    struct ctl k;
    ctl_init(&k, fd);
    struct lt *t = calloc((size_t)ntargets, sizeof *t);
    if (t == NULL) {
        _exit(3);
    }
    struct ctl_args r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < ntargets; i++) {
        char err[200], nm[NAME_CAP];
        if (addrs[i][0] == '\0') {
            continue; /* a failed target */
        }
        name_load(nm, i, 0);
        name_load(t[i].rxname, i, 1);
        if (conn_open(&t[i].tx, addrs[i], nm, timeout_ns, err, sizeof err) != 0 ||
            conn_open(&t[i].rx, addrs[i], t[i].rxname, timeout_ns, err, sizeof err) != 0) {
            args_text(&r, "%s", err);
            (void)ctl_send_args(&k, CTL_ERR, &r);
            _exit(1);
        }
        t[i].rx.rcap = 1u << 18;
        ka_add(&t[i].tx);
        ka_add(&t[i].rx);
        t[i].ok = 1;
    }
    (void)ctl_send_args(&k, CTL_READY, &r);

    enum { PAYLOAD = 100, BATCH = 128 };
    size_t tlen = 0;
    size_t fsize = 0;
    uint8_t *batch = NULL;
    int ft = -1;
    double rate = 0;
    int64_t t0 = 0;
    uint64_t sent = 0, recvd = 0, errors = 0, expect = 0;
    int pausing = 0;
    int64_t pause_deadline = 0;
    for (;;) {
        int64_t now = now_ns();
        if (ft >= 0 && !pausing) {
            struct lt *x = &t[ft];
            double due = rate * (double)(now - t0) / 1e9;
            uint64_t allowed = due > (double)sent ? (uint64_t)(due - (double)sent) : 0u;
            uint64_t room = window - (sent - recvd);
            uint64_t kk = allowed < room ? allowed : room;
            if (kk > BATCH) {
                kk = BATCH;
            }
            if (kk > 0 && x->tx.woff == x->tx.wlen) {
                for (uint64_t i = 0; i < kk; i++) {
                    put_u64(batch + i * fsize + BUSRT_CLIENT_HEADER_LEN + tlen + 1u, sent + i);
                }
                struct iovec iov = {batch, (size_t)kk * fsize};
                if (conn_writev(&x->tx, &iov, 1) != 0) {
                    errors++;
                }
                sent += kk;
            }
        }
        struct pollfd pf[3];
        nfds_t n = 0;
        pf[n].fd = k.fd;
        pf[n++].events = POLLIN;
        if (ft >= 0) {
            pf[n].fd = t[ft].rx.fd;
            pf[n++].events = POLLIN;
            pf[n].fd = t[ft].tx.fd;
            pf[n++].events = t[ft].tx.woff < t[ft].tx.wlen ? POLLOUT : 0;
        }
        (void)poll(pf, n, ft >= 0 ? 1 : 100);
        if (ft >= 0) {
            struct lt *x = &t[ft];
            if ((pf[2].revents & POLLOUT) != 0 && conn_flush(&x->tx) < 0) {
                errors++;
            }
            if ((pf[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                if (conn_fill(&x->rx) < 0) {
                    errors++;
                }
                struct dframe f;
                struct busrt_frame_body b;
                while (conn_next(&x->rx, &f) == 1) {
                    if (f.kind != BUSRT_KIND_MESSAGE ||
                        busrt_frame_body_split(f.kind, f.body, f.len, &b) != 0 ||
                        b.payload.len != PAYLOAD ||
                        get_u64(f.body + b.payload.off) != expect) {
                        errors++;
                    }
                    expect++;
                    recvd++;
                }
            }
            if (pausing && (recvd >= sent || now_ns() >= pause_deadline)) {
                memset(&r, 0, sizeof r);
                r.count = sent;
                r.count2 = recvd;
                r.errors = errors + (sent - recvd);
                r.rate = (double)recvd / ((double)(now_ns() - t0) / 1e9);
                (void)ctl_send_args(&k, CTL_RESULT, &r);
                ft = -1;
                pausing = 0;
            }
        }
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            if (ctl_fill(&k) < 0) {
                _exit(0);
            }
            uint32_t type;
            const uint8_t *body;
            size_t len;
            struct ctl_args a;
            while (ctl_next(&k, &type, &body, &len) == 1) {
                memset(&a, 0, sizeof a);
                if (len == sizeof a) {
                    memcpy(&a, body, sizeof a);
                }
                memset(&r, 0, sizeof r);
                if (type == CTL_QUIT) {
                    _exit(0);
                } else if (type == CTL_FLOOD && a.tidx >= 0 && a.tidx < ntargets && ft < 0 &&
                           t[a.tidx].ok) {
                    ft = a.tidx;
                    rate = a.rate;
                    t0 = now_ns();
                    sent = recvd = errors = expect = 0;
                    tlen = strlen(t[ft].rxname);
                    fsize = BUSRT_CLIENT_HEADER_LEN + tlen + 1u + PAYLOAD;
                    free(batch);
                    batch = xmalloc(fsize * BATCH);
                    for (size_t i = 0; i < BATCH; i++) {
                        uint8_t *p = batch + i * fsize;
                        struct busrt_client_header h = {0, BUSRT_OP_MESSAGE, 0,
                                                        (uint32_t)(tlen + 1u + PAYLOAD)};
                        (void)busrt_client_header_encode(&h, p, BUSRT_CLIENT_HEADER_LEN);
                        memcpy(p + BUSRT_CLIENT_HEADER_LEN, t[ft].rxname, tlen);
                        p[BUSRT_CLIENT_HEADER_LEN + tlen] = 0;
                        memset(p + BUSRT_CLIENT_HEADER_LEN + tlen + 1u, 0x5a, PAYLOAD);
                    }
                    (void)ctl_send_args(&k, CTL_OK, &r);
                } else if (type == CTL_PAUSE && ft >= 0) {
                    pausing = 1;
                    pause_deadline = now_ns() + timeout_ns;
                } else {
                    args_text(&r, "%s", "load: unexpected command");
                    (void)ctl_send_args(&k, CTL_ERR, &r);
                }
            }
        }
        ka_tick(now_ns());
    }
}

/* ==== H: holders of non-matching clients / subscriptions ============================ */

/* Subscribes connection i to pattern_other(base + i), all frames sent at
 * once, then every ACK collected. Returns the number acknowledged OK. */
static uint64_t subscribe_many(struct conn *c, size_t n, size_t base, char *pat, size_t patcap,
                               int64_t timeout_ns)
{
    for (size_t i = 0; i < n; i++) {
        pattern_other(pat, patcap, base + i);
        uint32_t id = c[i].next_op;
        /* a subscribe body is the pattern alone: send the header and the
         * pattern without conn_send's NUL */
        uint8_t hdr[BUSRT_CLIENT_HEADER_LEN];
        size_t l = strlen(pat);
        struct busrt_client_header h = {id, BUSRT_OP_SUBSCRIBE, BUSRT_QOS_PROCESSED, (uint32_t)l};
        (void)busrt_client_header_encode(&h, hdr, sizeof hdr);
        struct iovec iov[2] = {{hdr, sizeof hdr}, {pat, l}};
        if (conn_writev(&c[i], iov, 2) != 0) {
            return 0;
        }
    }
    uint8_t *done = calloc(n, 1);
    struct pollfd *pf = xmalloc(n * sizeof *pf);
    size_t *idx = xmalloc(n * sizeof *idx);
    uint64_t good = 0;
    size_t left = n;
    int64_t deadline = now_ns() + timeout_ns;
    while (left > 0 && done != NULL && now_ns() < deadline) {
        nfds_t np = 0;
        for (size_t i = 0; i < n; i++) {
            if (!done[i]) {
                pf[np].fd = c[i].fd;
                pf[np].events = (short)(POLLIN | (c[i].woff < c[i].wlen ? POLLOUT : 0));
                pf[np].revents = 0;
                idx[np++] = i;
            }
        }
        (void)poll(pf, np, ms_left(deadline, 100));
        for (nfds_t j = 0; j < np; j++) {
            struct conn *x = &c[idx[j]];
            if ((pf[j].revents & POLLOUT) != 0) {
                (void)conn_flush(x);
            }
            if ((pf[j].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            if (conn_fill(x) < 0) {
                done[idx[j]] = 1;
                left--;
                continue;
            }
            struct dframe f;
            while (!done[idx[j]] && conn_next(x, &f) == 1) {
                if (f.kind == BUSRT_ACK_MARKER && f.op_id == x->next_op) {
                    done[idx[j]] = 1;
                    left--;
                    good += f.code == BUSRT_RC_OK ? 1u : 0u;
                }
            }
        }
        ka_tick(now_ns());
    }
    for (size_t i = 0; i < n; i++) {
        c[i].next_op++;
    }
    free(done);
    free(pf);
    free(idx);
    return good;
}

/* Clients are opened and subscribed in steps of this many (one batch of
 * conn_open_many, one bounded wait each); the bench hears of every step
 * (CTL_SETUP), so its wait is bounded per step, not per set-up. */
#define HOLD_STEP 64u

static void holder_progress(struct ctl *k, int t, uint64_t done, uint64_t want)
{
    struct ctl_args p;
    memset(&p, 0, sizeof p);
    p.tidx = t;
    p.count = done;
    p.count2 = want;
    (void)ctl_send_args(k, CTL_SETUP, &p);
}

/* Connects and registers up to want clients (names from offset 0) in steps,
 * keeping every registered one alive from its step on. Returns the number
 * registered; *spent: the time inside the connects and handshakes. */
static size_t hold_clients(struct ctl *k, int t, struct conn *c, size_t want, const char *addr,
                           char (*names)[NAME_CAP], int64_t timeout_ns, int64_t *spent,
                           char *err, size_t errlen)
{
    size_t ok = 0;
    *spent = 0;
    while (ok < want) {
        size_t m = want - ok < HOLD_STEP ? want - ok : HOLD_STEP;
        int64_t t0 = now_ns();
        size_t got = conn_open_many(c + ok, m, addr, names + ok, timeout_ns, err, errlen);
        *spent += now_ns() - t0;
        for (size_t i = ok; i < ok + got; i++) {
            c[i].idle = 0;
            c[i].rcap = 4096u;
            ka_add(&c[i]);
        }
        ok += got;
        if (got < m) {
            break;
        }
        holder_progress(k, t, ok, want);
    }
    return ok;
}

void holder_main(int fd, char (*addrs)[ADDR_CAP], int ntargets, int clients, size_t kk,
                 int64_t timeout_ns)
{
    struct ctl k;
    ctl_init(&k, fd);
    /* Every held client is a descriptor of this process: take the hard
     * limit, and never ask for more than it leaves (the standard
     * descriptors, the control socket and a margin aside). */
    char lim_err[160];
    size_t nofile = nofile_raise(lim_err, sizeof lim_err);
    int live = 0;
    for (int t = 0; t < ntargets; t++) {
        live += addrs[t][0] != '\0';
    }
    size_t per = clients ? kk : 10u;
    size_t room = nofile > 64u ? (nofile - 32u) / (size_t)(live > 0 ? live : 1) : per;
    size_t want = per < room ? per : room;
    char(*names)[NAME_CAP] = xmalloc((want > 0 ? want : 1u) * NAME_CAP);
    for (size_t i = 0; i < want; i++) {
        if (clients) {
            name_other(names[i], (int)i);
        } else {
            name_holder(names[i], (int)i);
        }
    }
    char pat[128];
    for (int t = 0; t < ntargets; t++) {
        struct ctl_args r;
        memset(&r, 0, sizeof r);
        r.tidx = t;
        if (addrs[t][0] == '\0') {
            (void)snprintf(r.text, sizeof r.text, "not set up by this holder");
            (void)ctl_send_args(&k, CTL_READY, &r);
            continue;
        }
        struct conn *c = calloc(want > 0 ? want : 1u, sizeof *c);
        if (c == NULL) {
            msg("holder: out of memory for %zu connections", want);
            _exit(3);
        }
        char err[200] = "";
        int64_t spent = 0;
        size_t ok = hold_clients(&k, t, c, want, addrs[t], names, timeout_ns, &spent, err,
                                 sizeof err);
        r.count = ok;
        r.t_ns = spent;
        r.rate = spent > 0 ? (double)ok / ((double)spent / 1e9) : 0.0;
        if (ok < want) {
            (void)snprintf(r.text, sizeof r.text, "%s", err);
        } else if (want < per) {
            (void)snprintf(r.text, sizeof r.text,
                           "this holder's descriptor limit (RLIMIT_NOFILE %zu%s%.100s) leaves "
                           "room for %zu", nofile, lim_err[0] != '\0' ? "; " : "", lim_err,
                           want);
        }
        uint64_t subs = 0;
        if (clients) {
            for (size_t lo = 0; lo < ok; lo += HOLD_STEP) {
                size_t m = ok - lo < HOLD_STEP ? ok - lo : HOLD_STEP;
                uint64_t g = subscribe_many(c + lo, m, lo, pat, sizeof pat, timeout_ns);
                subs += g;
                if (g < m) {
                    (void)snprintf(r.text, sizeof r.text,
                                   "subscribe failed: %llu of %zu other clients subscribed",
                                   (unsigned long long)subs, lo + m);
                    break;
                }
                holder_progress(&k, t, lo + m, ok);
            }
        } else {
            size_t each = (kk + per - 1u) / per;
            char(*pats)[128] = xmalloc(each * 128u);
            const char **items = xmalloc(each * sizeof *items);
            for (size_t i = 0; i < ok; i++) {
                size_t lo = i * each, hi = lo + each > kk ? kk : lo + each, m = 0;
                for (size_t j = lo; j < hi; j++, m++) {
                    pattern_other(pats[m], sizeof pats[m], j);
                    items[m] = pats[m];
                }
                if (m > 0 && conn_list_op(&c[i], BUSRT_OP_SUBSCRIBE, items, m, timeout_ns) !=
                                 (int)BUSRT_RC_OK) {
                    (void)snprintf(r.text, sizeof r.text, "subscribe failed");
                    break;
                }
                subs += m;
                holder_progress(&k, t, subs, kk);
            }
            free(pats);
            free(items);
        }
        for (size_t i = 0; i < ok; i++) {
            c[i].idle = 1;
            free(c[i].rb);
            c[i].rb = NULL;
        }
        r.count2 = subs;
        (void)ctl_send_args(&k, CTL_READY, &r);
    }
    free(names);
    for (;;) {
        struct pollfd pf = {k.fd, POLLIN, 0};
        (void)poll(&pf, 1, 100);
        if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            if (ctl_fill(&k) < 0) {
                _exit(0);
            }
            uint32_t type;
            const uint8_t *body;
            size_t len;
            while (ctl_next(&k, &type, &body, &len) == 1) {
                if (type == CTL_QUIT) {
                    _exit(0);
                }
            }
        }
        ka_tick(now_ns());
    }
}
