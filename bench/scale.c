/* busrt-bench: scale: the cost of a publish and of a broadcast with N
 * non-matching entries held by a forked holder: (a) N subscriptions on 10
 * clients per target, one holder for every target, the targets interleaved
 * as elsewhere; (b) N other clients, one holder per target and one target
 * at a time: a process holds at most its descriptor limit (about what one
 * broker can hold), and the idle clients of one broker (their keep-alive
 * pings, the broker's work on them) would load the machine while another
 * broker is measured. With the N other clients of (b) held the broker's
 * resident set is read (the process is known for spawned brokers and UNIX
 * sockets), and the holder times their connects and registrations. (b) runs
 * first: freed memory stays resident, so its smallest point must come
 * before (a) grows the broker's heap. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <string.h>

#include "run.h"
#include "busrt/codes.h"
#include "../ref/src/common/procinfo.h"

static const char *const SCALE_SERIES[4] = {"publish, other subscriptions",
                                            "broadcast, other subscriptions",
                                            "publish, other clients", "broadcast, other clients"};

struct hold {
    pid_t pid;
    struct ctl k;
    int ready;
    size_t got[MAX_TARGETS];  /* clients (b) or subscriptions (a) held */
    double rate[MAX_TARGETS]; /* (b): clients connected and registered per second */
    long rss[MAX_TARGETS];    /* (b): the broker's VmRSS with them held, kB; -1 unknown */
    long fds[MAX_TARGETS];    /* the broker's descriptors before the set-up; -1 unknown */
    char note[MAX_TARGETS][200];
};

/* Takes a holder's CTL_READY for target t: what it holds, and a note when
 * it holds fewer than asked. */
static void hold_ready(struct bench *b, struct hold *h, int clients, size_t kk, int t,
                       const struct ctl_args *a)
{
    h->got[t] = clients ? (size_t)a->count : (size_t)a->count2;
    h->rate[t] = clients ? a->rate : 0.0;
    if (clients && a->count < kk) {
        (void)snprintf(h->note[t], sizeof h->note[t],
                       "capped: %llu of %zu other clients held (%.110s)",
                       (unsigned long long)a->count, kk, a->text);
        if (b->t[t].clients_cap == 0 || a->count < b->t[t].clients_cap) {
            b->t[t].clients_cap = (size_t)a->count;
        }
    } else if (clients && a->count2 < a->count) {
        (void)snprintf(h->note[t], sizeof h->note[t],
                       "only %llu of %llu other clients subscribed (%.120s)",
                       (unsigned long long)a->count2, (unsigned long long)a->count, a->text);
    } else if (!clients && a->count2 < kk) {
        (void)snprintf(h->note[t], sizeof h->note[t],
                       "only %llu of %zu subscriptions accepted (%.120s)",
                       (unsigned long long)a->count2, kk, a->text);
    }
}

/* Starts a holder of kk other clients (clients = 1) or subscriptions on the
 * targets with in[t] set and waits until it has reported every target. Each
 * wait is bounded by one set-up step of the holder (CTL_SETUP), so a slow
 * broker that keeps accepting is waited for, one that stops is not.
 * Returns 0, or -1 when the holder failed or went silent. */
static int hold_start(struct bench *b, struct hold *h, int clients, size_t kk, const int *in)
{
    memset(h, 0, sizeof *h);
    h->pid = -1;
    for (int t = 0; t < b->nt; t++) {
        h->rss[t] = -1;
        h->fds[t] = in[t] && b->t[t].mpid > 0 ? proc_fd_count(b->t[t].mpid) : -1;
    }
    int fd;
    pid_t pid = fork_child(b, &fd, KID_HOLDER);
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        holder_main(fd, child_addrs(b, in), b->nt, clients, kk, b->timeout);
    }
    h->pid = pid;
    ctl_init(&h->k, fd);
    const char *what = clients ? "clients" : "subscriptions";
    for (int nready = 0; nready < b->nt;) {
        struct ctl_args a;
        int rc = ctl_wait(&h->k, CTL_READY, CTL_SETUP, &a, b->timeout * 2 + 5000000000LL);
        if (rc == CTL_SETUP && a.tidx >= 0 && a.tidx < b->nt) {
            progress_phase("scale: setting up %zu other %s on %s: %llu/%llu", kk, what,
                           b->t[a.tidx].label, (unsigned long long)a.count,
                           (unsigned long long)a.count2);
            continue;
        }
        if (rc != CTL_READY || a.tidx < 0 || a.tidx >= b->nt) {
            msg("scale: the holder of %zu other %s %s", kk, what,
                rc == CTL_ERR ? a.text : rc < 0 ? "stopped answering" : "sent a bad message");
            return -1;
        }
        nready++;
        if (in[a.tidx]) {
            hold_ready(b, h, clients, kk, a.tidx, &a);
        }
    }
    nap(b->o.quick ? 50 : 300); /* registration announcements, logging */
    for (int t = 0; t < b->nt && clients; t++) {
        /* (b) only: (a) runs after (b), on a heap (b) has grown */
        if (in[t] && b->t[t].mpid > 0) {
            h->rss[t] = proc_rss_kb(b->t[t].mpid);
        }
    }
    h->ready = 1;
    return 0;
}

/* Stops the holder and lets the brokers process the disconnections (their
 * descriptor count back where it was, bounded) before anything else runs. */
static void hold_stop(struct bench *b, struct hold *h, const int *in)
{
    pid_t hp = h->pid;
    if (hp > 0) {
        reap_child(b, &hp, &h->k, KID_HOLDER);
    }
    h->pid = -1;
    int64_t deadline = now_ns() + b->timeout;
    int waited = 0;
    for (int t = 0; t < b->nt; t++) {
        if (!in[t] || h->fds[t] < 0) {
            continue;
        }
        long n;
        while ((n = proc_fd_count(b->t[t].mpid)) > h->fds[t] + 8 && now_ns() < deadline) {
            nap(20);
            waited = 1;
        }
        if (n > h->fds[t] + 8) {
            msg("scale: %s still has %ld descriptors open (%ld before the set-up) %.0f s after "
                "its other clients left", b->t[t].label, n, h->fds[t], b->o.timeout);
        }
    }
    nap(waited ? (b->o.quick ? 50 : 200) : (b->o.quick ? 100 : 400));
}

/* What one series of one scale point measured per target. */
struct point {
    struct trun runs[MAX_TARGETS][16];
    struct samples lat[MAX_TARGETS];
    uint64_t lerr[MAX_TARGETS];
    char lwhy[MAX_TARGETS][200];
};

/* n interleaved rate runs and blocks of round trips of series si (sidx 0:
 * publish, 1: broadcast) on the targets with in[t] set. */
static void point_runs(struct bench *b, struct point *pt, int si, int sidx, size_t kk, int n,
                       const int *in)
{
    struct tspec sp = {SCALE_SERIES[si], sidx == 0 ? RM_PUB : RM_BCAST, 0, 100, 1, 0};
    for (int r = 0; r < n; r++) {
        for (int k = 0; k < b->nt; k++) {
            int t = (k + r) % b->nt;
            if (!in[t]) {
                continue;
            }
            progress_phase("scale: %s, %zu, run %d/%d, %s", SCALE_SERIES[si], kk, r + 1, n,
                           b->t[t].label);
            tput_run(b, t, &sp, b->o.scale_duration, &pt->runs[t][r]);
            char dest[NAME_CAP];
            if (sidx == 0) {
                topic_scale(dest, t);
            } else {
                mask_scale(dest, t);
            }
            size_t nb = b->o.scale_rounds / (size_t)n;
            if (pt->lwhy[t][0] == '\0' &&
                rtt_bus(b, &b->t[t], sidx == 0 ? BUSRT_OP_PUBLISH : BUSRT_OP_BROADCAST, dest,
                        BUSRT_QOS_REALTIME, 100, nb / 10u + 5u, nb, &pt->lat[t], &pt->lerr[t],
                        pt->lwhy[t], sizeof pt->lwhy[t]) != 0 &&
                pt->lwhy[t][0] == '\0') {
                (void)snprintf(pt->lwhy[t], sizeof pt->lwhy[t], "round trips failed");
            }
            progress_add(b->o.scale_duration + 0.1 + (double)nb * est_rtt_s(100));
        }
    }
}

/* Target t's row of one series of a scale point. Returns 0, or -1 when the
 * holder was not ready (nothing was measured). */
static int point_row(struct bench *b, struct result *res, struct point *pt, int t, int n,
                     const struct hold *h)
{
    res->others_got = h->got[t];
    res->rss_kb = h->rss[t] > 0 ? h->rss[t] : 0;
    res->setup_rate = h->rate[t];
    if (!h->ready) {
        char why[200];
        (void)snprintf(why, sizeof why, "skipped: %.160s", b->t[t].dead_why);
        res_fail(b, res, b->t[t].dead ? why : "the holder of the other entries did not get ready");
        return -1;
    }
    fill_rate(b, res, pt->runs[t], n);
    if (h->note[t][0] != '\0' && res->note[0] == '\0') {
        copy_str(res->note, sizeof res->note, h->note[t]);
    }
    if (pt->lwhy[t][0] != '\0') {
        res_fail(b, res, pt->lwhy[t]);
    }
    fill_pcts(res, &pt->lat[t]);
    res->errors += pt->lerr[t];
    if (pt->lerr[t] > 0) {
        res_fail(b, res, "stray echoes in the round trips");
    }
    samples_free(&pt->lat[t]);
    return 0;
}

/* The rate runs and round trips of one scale point on the targets with
 * in[t] set, into rows[publish / broadcast][t]. */
static void scale_measure(struct bench *b, int clients, size_t kk, int ki, const int *in,
                          const struct hold *h, struct result *rows[2][MAX_TARGETS],
                          struct result *base[4][MAX_TARGETS])
{
    for (int sidx = 0; sidx < 2; sidx++) {
        int si = clients * 2 + sidx;
        struct point pt;
        memset(&pt, 0, sizeof pt);
        int n = b->o.tput_repeats > 16 ? 16 : b->o.tput_repeats;
        if (h->ready) {
            point_runs(b, &pt, si, sidx, kk, n, in);
        }
        for (int t = 0; t < b->nt; t++) {
            if (!in[t]) {
                continue;
            }
            struct result *res = rows[sidx][t];
            if (point_row(b, res, &pt, t, n, h) != 0) {
                continue;
            }
            if (ki == 0) {
                base[si][t] = res;
            }
            if (base[si][t] != NULL && base[si][t]->per_op_ns > 0) {
                res->base_ratio = res->per_op_ns / base[si][t]->per_op_ns;
            }
        }
    }
}

/* KB per other client: the broker's growth from the smallest point. */
static void kb_per_client(struct bench *b, struct result *base[4][MAX_TARGETS])
{
    for (size_t i = 0; i < b->nres; i++) {
        struct result *x = &b->res[i];
        if (x->sec != SEC_SCALE || strstr(x->test, "other clients") == NULL) {
            continue;
        }
        const struct result *b0 = NULL;
        for (int si = 2; si < 4 && b0 == NULL; si++) {
            if (x->target >= 0 && base[si][x->target] != NULL &&
                strcmp(base[si][x->target]->test, x->test) == 0) {
                b0 = base[si][x->target];
            }
        }
        if (b0 != NULL && b0 != x && x->rss_kb > 0 && b0->rss_kb > 0 &&
            x->others_got > b0->others_got) {
            x->kb_per_client =
                (double)(x->rss_kb - b0->rss_kb) / (double)(x->others_got - b0->others_got);
            x->have_kb_per_client = 1;
        }
    }
}

/* One scale point of series group `clients` (0: (a), 1: (b)) on the
 * targets with in[t] set (gi: the target of a (b) group). */
static void scale_point(struct bench *b, int clients, int ki, int gi, const int *in,
                        struct result *rows[2][MAX_TARGETS], struct result *base[4][MAX_TARGETS])
{
    size_t kk = b->o.scale_k[ki];
    struct hold h;
    if (clients && b->t[gi].dead) {
        memset(&h, 0, sizeof h); /* not ready: its rows say why */
        scale_measure(b, clients, kk, ki, in, &h, rows, base);
        return;
    }
    progress_phase("scale: setting up %zu other %s%s%s", kk,
                   clients ? "clients" : "subscriptions", clients ? " on " : "",
                   clients ? b->t[gi].label : "");
    if (hold_start(b, &h, clients, kk, in) != 0) {
        h.ready = 0;
    }
    progress_add(clients ? est_setup_s(kk) : 0.0);
    scale_measure(b, clients, kk, ki, in, &h, rows, base);
    hold_stop(b, &h, in);
}

void phase_scale(struct bench *b)
{
    struct result *base[4][MAX_TARGETS];
    memset(base, 0, sizeof base);
    int live = 0;
    for (int t = 0; t < b->nt; t++) {
        live += !b->t[t].dead;
    }
    if (live == 0) {
        msg("scale skipped: no target answers");
        b->failed++;
        return;
    }
    /* rows in the table's order: (a) then (b), each by N, series, target */
    struct result *rows[2][4][2][MAX_TARGETS];
    for (int clients = 0; clients < 2; clients++) {
        for (int ki = 0; ki < b->o.nscale; ki++) {
            for (int sidx = 0; sidx < 2; sidx++) {
                for (int t = 0; t < b->nt; t++) {
                    struct result *res =
                        res_new(b, SEC_SCALE, SCALE_SERIES[clients * 2 + sidx], t);
                    res->qos = 0;
                    res->payload = 100;
                    res->others_req = b->o.scale_k[ki];
                    rows[clients][ki][sidx][t] = res;
                }
            }
        }
    }
    /* (b) runs first: the broker's resident set at its smallest N is the
     * base of KB per client, and memory a broker frees stays resident, so
     * the base is read before (a)'s subscriptions have grown the heap */
    for (int oi = 0; oi < 2; oi++) {
        int clients = 1 - oi;
        for (int ki = 0; ki < b->o.nscale; ki++) {
            /* (a): one group of every target; (b): one group per target */
            int ngroups = clients ? b->nt : 1;
            for (int gi = 0; gi < ngroups; gi++) {
                int in[MAX_TARGETS];
                for (int t = 0; t < b->nt; t++) {
                    in[t] = clients ? t == gi : 1;
                }
                scale_point(b, clients, ki, gi, in, rows[clients][ki], base);
            }
        }
    }
    kb_per_client(b, base);
}
