/* busrt-bench: blocks of round trips, through a broker or over the floor
 * (the socketpair between the bench process and the peer), and the
 * latency figures made of them. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "busrt/codes.h"
#include "busrt/frame.h"

/* Ends round trip i, sent at t0: recorded unless it is a warm-up one. */
static void rtt_record(struct samples *out, size_t i, size_t warm, int64_t t0)
{
    int64_t t1 = now_ns();
    if (i >= warm) {
        samples_add(out, t1 - t0);
    }
    ka_tick(t1);
}

/* Takes the frames that arrived for round trip `id`: the ACK (QoS 1, 3)
 * and B's echo, which carries seq in its first 8 payload bytes. Returns 0,
 * or -1 on a malformed stream. */
static int rtt_take(struct conn *c, uint32_t id, uint64_t seq, size_t payload, int *got_echo,
                    int *got_ack, uint64_t *errors)
{
    struct dframe f;
    int k;
    while ((k = conn_next(c, &f)) == 1) {
        if (f.kind == BUSRT_ACK_MARKER) {
            if (f.op_id == id) {
                *got_ack = 1;
                if (f.code != BUSRT_RC_OK) {
                    (*errors)++;
                }
            }
            continue;
        }
        struct busrt_frame_body fb;
        if (f.kind != BUSRT_KIND_MESSAGE ||
            busrt_frame_body_split(f.kind, f.body, f.len, &fb) != 0) {
            continue; /* e.g. a .broker/warn announcement */
        }
        if (fb.payload.len == payload &&
            (payload < 8 || get_u64(f.body + fb.payload.off) == seq)) {
            *got_echo = 1;
        } else {
            (*errors)++; /* a stray or damaged echo */
        }
    }
    return k < 0 ? -1 : 0;
}

static int rtt_bus_run(struct bench *b, struct conn *c, uint8_t op, const char *dest,
                       size_t dlen, uint8_t qos, size_t payload, size_t warm, size_t n,
                       struct samples *out, uint64_t *errors, char *why, size_t whylen)
{
    for (size_t i = 0; i < warm + n; i++) {
        uint32_t id = c->next_op++;
        uint64_t seq = ((uint64_t)id << 8) ^ 0xbe;
        if (payload >= 8) {
            put_u64(b->payload, seq);
        }
        struct iovec pl = {b->payload, payload};
        int64_t t0 = now_ns();
        if (conn_send(c, op, qos, id, dest, dlen, &pl, payload > 0 ? 1 : 0) != 0) {
            (void)snprintf(why, whylen, "send failed: %s", strerror(errno));
            return -1;
        }
        int got_echo = 0, got_ack = (qos & 1u) == 0;
        int64_t deadline = t0 + b->timeout;
        for (;;) {
            if (rtt_take(c, id, seq, payload, &got_echo, &got_ack, errors) != 0) {
                (void)snprintf(why, whylen, "malformed frame from the broker");
                return -1;
            }
            if (got_echo && got_ack) {
                break;
            }
            struct pollfd pf = {c->fd, (short)(POLLIN | (c->woff < c->wlen ? POLLOUT : 0)), 0};
            int pr = poll(&pf, 1, ms_left(deadline, 1000));
            if (pr == 0 && now_ns() >= deadline) {
                (void)snprintf(why, whylen, "no %s within %.0f s (round trip %zu)",
                               got_echo ? "ACK" : "echo", b->o.timeout, i);
                return -1;
            }
            if ((pf.revents & POLLOUT) != 0 && conn_flush(c) < 0) {
                (void)snprintf(why, whylen, "write error");
                return -1;
            }
            if ((pf.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && conn_fill(c) < 0) {
                (void)snprintf(why, whylen, "the broker closed the connection");
                return -1;
            }
        }
        rtt_record(out, i, warm, t0);
    }
    return 0;
}

int rtt_bus(struct bench *b, struct target *t, uint8_t op, const char *dest, uint8_t qos,
            size_t payload, size_t warm, size_t n, struct samples *out, uint64_t *errors,
            char *why, size_t whylen)
{
    if (t->dead) {
        (void)snprintf(why, whylen, "skipped: %.140s", t->dead_why);
        return -1;
    }
    hook(b, "begin", t);
    int rc = rtt_bus_run(b, &t->a, op, dest, strlen(dest), qos, payload, warm, n, out, errors,
                         why, whylen);
    hook(b, "end", t);
    if (rc != 0) {
        mark_dead(t, why);
    }
    return rc;
}

int rtt_floor(struct bench *b, size_t frame_len, size_t warm, size_t n, struct samples *out,
              uint64_t *errors, char *why, size_t whylen)
{
    struct ctl *k = &b->ctl;
    for (size_t i = 0; i < warm + n; i++) {
        uint64_t seq = (uint64_t)i * 7919u + 1u;
        put_u64(b->payload, seq);
        int64_t t0 = now_ns();
        if (ctl_send(k, CTL_FLOOR, b->payload, frame_len) != 0) {
            (void)snprintf(why, whylen, "floor: send failed");
            return -1;
        }
        int64_t deadline = t0 + b->timeout;
        int done = 0;
        while (!done) {
            uint32_t type;
            const uint8_t *body;
            size_t len;
            while (ctl_next(k, &type, &body, &len) == 1) {
                if (type == CTL_FLOOR && len == frame_len && get_u64(body) == seq) {
                    done = 1;
                } else {
                    (*errors)++;
                }
            }
            if (done) {
                break;
            }
            struct pollfd pf = {k->fd, POLLIN, 0};
            int pr = poll(&pf, 1, ms_left(deadline, 1000));
            if (pr == 0 && now_ns() >= deadline) {
                (void)snprintf(why, whylen, "floor: no echo within %.0f s", b->o.timeout);
                return -1;
            }
            if (ctl_fill(k) < 0) {
                (void)snprintf(why, whylen, "floor: the peer process is gone");
                return -1;
            }
        }
        rtt_record(out, i, warm, t0);
    }
    return 0;
}

double block_p50(const struct samples *s, size_t from)
{
    struct samples c = {0};
    for (size_t i = from; i < s->n; i++) {
        samples_add(&c, s->v[i]);
    }
    samples_sort(&c);
    double v = (double)samples_pct(&c, 0.5) / 1000.0;
    samples_free(&c);
    return v;
}

void fill_pcts(struct result *r, struct samples *s)
{
    samples_sort(s);
    r->n = s->n;
    if (s->n == 0) {
        return;
    }
    r->p50 = (double)samples_pct(s, 0.5) / 1000.0;
    r->p90 = (double)samples_pct(s, 0.9) / 1000.0;
    r->p99 = (double)samples_pct(s, 0.99) / 1000.0;
    r->p999 = (double)samples_pct(s, 0.999) / 1000.0;
    r->max = (double)s->v[s->n - 1u] / 1000.0;
}

void fill_lat(struct bench *b, struct result *r, struct samples *s, const double *rep,
              size_t nrep)
{
    fill_pcts(r, s);
    if (s->n == 0) {
        res_fail(b, r, "no samples");
        return;
    }
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        sum += (double)s->v[i];
    }
    r->mean = sum / (double)s->n / 1000.0;
    r->rep_min = r->rep_max = 0;
    for (size_t i = 0; i < nrep; i++) {
        if (i == 0 || rep[i] < r->rep_min) {
            r->rep_min = rep[i];
        }
        if (i == 0 || rep[i] > r->rep_max) {
            r->rep_max = rep[i];
        }
    }
}

int set_echo_qos(struct bench *b, int q)
{
    b->echo_qos = -1;
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.qos = q;
    if (ctl_send_args(&b->ctl, CTL_ECHO_QOS, &a) != 0 ||
        ctl_wait(&b->ctl, CTL_OK, 0, &a, b->timeout) != CTL_OK) {
        msg("the peer process does not answer");
        return -1;
    }
    b->echo_qos = q;
    return 0;
}

int echo_qos(struct bench *b, int q)
{
    return q == b->echo_qos ? 0 : set_echo_qos(b, q);
}
