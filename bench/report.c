/* Output of busrt-bench: the aligned table, the goals, CSV, JSON and the
 * gnuplot chart. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench.h"

static const char *sec_name(enum section s)
{
    static const char *n[SEC_COUNT] = {"latency", "placement", "latency-load", "throughput",
                                       "fanout", "scale"};
    return s < SEC_COUNT ? n[s] : "?";
}

static const char *label(const struct report *r, int t)
{
    return t < 0 ? "floor" : r->targets[t].label;
}

static const char *size_str(size_t b, char *buf, size_t cap)
{
    if (b >= 1024u && b % 1024u == 0) {
        (void)snprintf(buf, cap, "%zu KiB", b / 1024u);
    } else {
        (void)snprintf(buf, cap, "%zu B", b);
    }
    return buf;
}

static const char *rate_str(double v, char *buf, size_t cap)
{
    if (v >= 1e6) {
        (void)snprintf(buf, cap, "%.3f M", v / 1e6);
    } else if (v >= 1e3) {
        (void)snprintf(buf, cap, "%.1f k", v / 1e3);
    } else {
        (void)snprintf(buf, cap, "%.0f", v);
    }
    return buf;
}

static const struct result *find(const struct report *r, enum section sec, const char *test,
                                 int target, int qos, size_t payload, size_t others)
{
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *x = &r->res[i];
        if (x->sec == sec && x->target == target && x->qos == qos && x->payload == payload &&
            (test == NULL || strcmp(x->test, test) == 0) &&
            (others == (size_t)-1 || x->others_req == others)) {
            return x;
        }
    }
    return NULL;
}

/* ---- goals --------------------------------------------------------------------------- */

struct goal {
    char what[96];
    int target;
    double value;
    double limit;
    int at_most; /* 1: value <= limit is met; 0: value >= limit */
    int have;
    char detail[200];
};

/* The next goal (the last one again when g is full): target t, what it
 * measures, its limit; not yet measured. */
static struct goal *goal_add(struct goal *g, size_t *n, size_t cap, int t, double limit,
                             int at_most, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static struct goal *goal_add(struct goal *g, size_t *n, size_t cap, int t, double limit,
                             int at_most, const char *fmt, ...)
{
    struct goal *x = *n < cap ? &g[(*n)++] : &g[cap - 1u];
    memset(x, 0, sizeof *x);
    x->target = t;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(x->what, sizeof x->what, fmt, ap);
    va_end(ap);
    x->limit = limit;
    x->at_most = at_most;
    return x;
}

static size_t goals(const struct report *r, struct goal *g, size_t cap)
{
    size_t n = 0;
    for (int t = 0; t < r->ntargets; t++) {
        int measured = 0;
        for (size_t i = 0; i < r->nres && !measured; i++) {
            measured = r->res[i].target == t && r->res[i].ok;
        }
        if (r->targets[t].dead && !measured) {
            continue; /* failed before any figure: its line above says why */
        }
        const struct result *q2 = find(r, SEC_LAT, "rtt message", t, 2, 100, (size_t)-1);
        const struct result *q0 = find(r, SEC_LAT, "rtt message", t, 0, 100, (size_t)-1);
        struct goal *x = goal_add(g, &n, cap, t, 1.3, 1,
                                  "realtime RTT p50 / (2 x floor p50), QoS 2, 100 B");
        if (q2 != NULL && q2->ok && q2->floor_p50 > 0) {
            x->have = 1;
            x->value = q2->ratio;
            (void)snprintf(x->detail, sizeof x->detail, "p50 %.1f us, floor p50 %.1f us",
                           q2->p50, q2->floor_p50);
            const struct result *one = NULL, *split = NULL;
            for (size_t i = 0; i < r->nres; i++) {
                const struct result *y = &r->res[i];
                if (y->sec == SEC_PLACE && y->target == t && y->ok) {
                    if (strncmp(y->test, "A+B+broker", 10) == 0) {
                        one = y;
                    } else if (strstr(y->test, ", broker on CPU") != NULL) {
                        split = y;
                    }
                }
            }
            if (one != NULL && split != NULL) {
                size_t l = strlen(x->detail);
                (void)snprintf(x->detail + l, sizeof x->detail - l,
                               "; pinned: one CPU %.2f x, broker on the other %.2f x", one->ratio,
                               split->ratio);
            }
        }
        x = goal_add(g, &n, cap, t, 4, 1, "realtime RTT p99.9 / p50, QoS 2, 100 B");
        if (q2 != NULL && q2->ok && q2->p50 > 0) {
            x->have = 1;
            x->value = q2->p999 / q2->p50;
            (void)snprintf(x->detail, sizeof x->detail,
                           "p99.9 %.1f us, p50 %.1f us; floor p99.9 %.1f us", q2->p999, q2->p50,
                           q2->floor_p999);
        }
        x = goal_add(g, &n, cap, t, 1.3, 1, "QoS 0 RTT p50 / realtime p50, 100 B, idle");
        if (q2 != NULL && q0 != NULL && q2->ok && q0->ok && q2->p50 > 0) {
            x->have = 1;
            x->value = q0->p50 / q2->p50;
            (void)snprintf(x->detail, sizeof x->detail, "QoS 0 %.1f us, QoS 2 %.1f us", q0->p50,
                           q2->p50);
        }
        for (int qq = 0; qq <= 2; qq += 2) {
            const struct result *tp = find(r, SEC_TPUT, "1->1 message", t, qq, 100, (size_t)-1);
            x = goal_add(g, &n, cap, t, qq == 0 ? 1.8e6 : 1.0e6, 0,
                         "throughput 1->1, QoS %d, 100 B (frames/s)", qq);
            if (tp != NULL && tp->ok) {
                x->have = 1;
                x->value = tp->rate;
                (void)snprintf(x->detail, sizeof x->detail,
                               "runs: %.0f .. %.0f; %.2f x the socketpair floor (%.0f/s)",
                               tp->rate_min, tp->rate_max, tp->rate_ratio, tp->floor_rate);
            }
        }
        const struct result *f10 = find(r, SEC_FANOUT, "1->10 publish", t, 0, 100, (size_t)-1);
        const struct result *f100 = find(r, SEC_FANOUT, "1->100 publish", t, 0, 100, (size_t)-1);
        x = goal_add(g, &n, cap, t, 2, 1, "fan-out cost per delivery, 1->100 / 1->10");
        if (f10 != NULL && f100 != NULL && f10->ok && f100->ok && f100->deliveries > 0) {
            x->have = 1;
            x->value = f10->deliveries / f100->deliveries;
            (void)snprintf(x->detail, sizeof x->detail, "deliveries/s %.0f vs %.0f",
                           f100->deliveries, f10->deliveries);
        }
        static const char *series[4] = {"publish, other subscriptions",
                                         "broadcast, other subscriptions",
                                         "publish, other clients", "broadcast, other clients"};
        for (int s = 0; s < 4; s++) {
            const struct result *lo = NULL, *hi = NULL;
            for (size_t i = 0; i < r->nres; i++) {
                const struct result *y = &r->res[i];
                if (y->sec != SEC_SCALE || y->target != t || strcmp(y->test, series[s]) != 0) {
                    continue;
                }
                if (lo == NULL || y->others_req < lo->others_req) {
                    lo = y;
                }
                if (hi == NULL || y->others_req > hi->others_req) {
                    hi = y;
                }
            }
            if (hi != NULL && lo != NULL) {
                x = goal_add(g, &n, cap, t, 2, 1, "scale: %s, cost at %zu / at %zu", series[s],
                             hi->others_req, lo->others_req);
            } else {
                x = goal_add(g, &n, cap, t, 2, 1, "scale: %s, cost largest / smallest N",
                             series[s]);
            }
            if (lo != NULL && hi != NULL && lo != hi && lo->ok && hi->ok && lo->per_op_ns > 0) {
                x->have = 1;
                x->value = hi->per_op_ns / lo->per_op_ns;
                (void)snprintf(x->detail, sizeof x->detail,
                               "%.0f -> %.0f ns/op; RTT p50 %.1f -> %.1f us%s", lo->per_op_ns,
                               hi->per_op_ns, lo->p50, hi->p50,
                               hi->others_got < hi->others_req ? " (capped)" : "");
            }
        }
    }
    return n;
}

void report_goals(const struct report *r, FILE *out)
{
    struct goal g[64];
    size_t n = goals(r, g, 64);
    fprintf(out, "\n== Goals (benchmark goals, reported as measured; never pass/fail)\n");
    fprintf(out, "%-58s %-12s %12s %10s  %-4s  %s\n", "goal", "target", "measured", "goal",
            "", "detail");
    for (size_t i = 0; i < n; i++) {
        const struct goal *x = &g[i];
        char v[32], l[32];
        if (x->limit >= 1000) {
            (void)snprintf(v, sizeof v, "%.0f", x->value);
            (void)snprintf(l, sizeof l, ">= %.0f", x->limit);
        } else {
            (void)snprintf(v, sizeof v, "%.2f x", x->value);
            (void)snprintf(l, sizeof l, "%s %.1f x", x->at_most ? "<=" : ">=", x->limit);
        }
        const char *st = !x->have ? "n/a"
                         : (x->at_most ? x->value <= x->limit : x->value >= x->limit) ? "met"
                                                                                     : "MISS";
        fprintf(out, "%-58s %-12s %12s %10s  %-4s  %s\n", x->what, label(r, x->target),
                x->have ? v : "-", l, st, x->detail);
    }
}

/* ---- table --------------------------------------------------------------------------- */

/* Whether the run has rows of section sec (its table is printed). */
static int has_section(const struct report *r, enum section sec)
{
    for (size_t i = 0; i < r->nres; i++) {
        if (r->res[i].sec == sec) {
            return 1;
        }
    }
    return 0;
}

static void lat_row(const struct report *r, FILE *out, enum section sec, const struct result *x);

static void lat_table(const struct report *r, FILE *out, enum section sec)
{
    if (!has_section(r, sec)) {
        return;
    }
    if (sec == SEC_LAT) {
        fprintf(out, "\n== Latency, idle bus: round trip A -> broker -> B -> broker -> A, "
                     "microseconds\n");
    } else if (sec == SEC_PLACE) {
        fprintf(out, "\n== Placement probe: QoS 2, 100 B round trips with the processes pinned "
                     "(A = bench, B = peer); the unpinned figures above\n"
                     "   fall between these, as the scheduler places the processes; ratio = "
                     "p50 / (2 x floor p50 with A+B on one CPU)\n");
        fprintf(out, "%-36s %-12s %7s %8s %8s %8s %8s %9s %9s %6s\n", "placement", "target", "n",
                "p50", "p90", "p99", "p99.9", "max", "floor p50", "ratio");
        for (size_t i = 0; i < r->nres; i++) {
            const struct result *x = &r->res[i];
            if (x->sec != SEC_PLACE) {
                continue;
            }
            char ratio[16] = "", fl[16] = "";
            if (x->target >= 0 && x->floor_p50 > 0) {
                (void)snprintf(ratio, sizeof ratio, "%.2f", x->ratio);
                (void)snprintf(fl, sizeof fl, "%.1f", x->floor_p50);
            }
            fprintf(out, "%-36s %-12.12s %7zu %8.1f %8.1f %8.1f %8.1f %9.1f %9s %6s%s%s\n",
                    x->test, label(r, x->target), x->n, x->p50, x->p90, x->p99, x->p999, x->max,
                    fl, ratio, x->ok ? "" : "  FAILED: ", x->ok ? "" : x->note);
        }
        return;
    } else {
        fprintf(out, "\n== Latency under background load: a second pair floods the same "
                     "broker at half its measured 1->1 capacity (QoS 0, 100 B); the floor is "
                     "measured under the same load\n");
    }
    fprintf(out, "   %zu round trips per cell and target in %d interleaved repeats, after "
                 "warm-up; exact percentiles over all samples;\n"
                 "   floor = the same ping-pong over a bare socketpair between the same two "
                 "processes; ratio = p50 / (2 x floor p50)\n",
            r->rounds, r->repeats);
    fprintf(out, "%-3s %8s  %-12s %7s %8s %8s %8s %8s %9s %9s %6s  %-17s%s\n", "QoS", "payload",
            "target", "n", "p50", "p90", "p99", "p99.9", "max", "floor p50", "ratio",
            "p50 of repeats", sec == SEC_LOAD ? "  load frames/s" : "");
    for (int q = 0; q < 4; q++) {
        int first = 1;
        for (size_t i = 0; i < r->nres; i++) {
            const struct result *x = &r->res[i];
            if (x->sec != sec || x->qos != q) {
                continue;
            }
            if (first && q > 0) {
                fprintf(out, "\n");
            }
            first = 0;
            lat_row(r, out, sec, x);
        }
    }
}

static void lat_row(const struct report *r, FILE *out, enum section sec, const struct result *x)
{
    char sz[24], rep[40] = "", ratio[16] = "", fl[16] = "";
    if (x->rep_max > 0) {
        (void)snprintf(rep, sizeof rep, "%.1f .. %.1f", x->rep_min, x->rep_max);
    }
    if (x->target >= 0 && x->floor_p50 > 0) {
        (void)snprintf(ratio, sizeof ratio, "%.2f", x->ratio);
        (void)snprintf(fl, sizeof fl, "%.1f", x->floor_p50);
    }
    fprintf(out, "%-3d %8s  %-12.12s %7zu %8.1f %8.1f %8.1f %8.1f %9.1f %9s %6s  %-17s",
            x->qos, size_str(x->payload, sz, sizeof sz), label(r, x->target), x->n, x->p50,
            x->p90, x->p99, x->p999, x->max, fl, ratio, rep);
    if (sec == SEC_LOAD && x->target >= 0) {
        fprintf(out, "  %.0f", x->load_rate);
    }
    if (!x->ok) {
        fprintf(out, "  FAILED: %s", x->note);
    }
    fprintf(out, "\n");
}

/* ---- realtime twins (--broker-rt) ------------------------------------------------------ */

/* One comparison: the realtime twin and its base, one latency cell. */
struct rt_pair {
    const struct result *base, *rt;
};

/* The realtime-QoS (2, 3) latency cells, idle then under load, of every
 * twin beside its base's. Returns their number (at most cap). */
static size_t rt_pairs(const struct report *r, struct rt_pair *out, size_t cap)
{
    static const enum section secs[2] = {SEC_LAT, SEC_LOAD};
    size_t n = 0;
    for (int t = 0; t < r->ntargets; t++) {
        if (!r->targets[t].rt) {
            continue;
        }
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < r->nres && n < cap; i++) {
                const struct result *x = &r->res[i];
                if (x->sec != secs[k] || x->target != t || x->qos < 2) {
                    continue;
                }
                const struct result *b = find(r, x->sec, x->test, r->targets[t].rt_base, x->qos,
                                              x->payload, (size_t)-1);
                if (b != NULL) {
                    out[n].base = b;
                    out[n].rt = x;
                    n++;
                }
            }
        }
    }
    return n;
}

static double ratio_of(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

static void rt_table(const struct report *r, FILE *out)
{
    if (!r->rt_asked) {
        return;
    }
    fprintf(out, "\n== Realtime broker (--broker-rt): the same broker started with "
                 "--rt-priority, --cpu and --mlockall, beside the default one;\n"
                 "   realtime QoS (2, 3) round trips from the latency tables above, "
                 "microseconds; rt/base = realtime broker / default broker\n");
    if (r->rt_skipped != NULL && r->rt_skipped[0] != '\0') {
        fprintf(out, "skipped: %s\n", r->rt_skipped);
    }
    struct rt_pair p[256];
    size_t n = rt_pairs(r, p, 256);
    if (n == 0) {
        if (r->rt_skipped == NULL || r->rt_skipped[0] == '\0') {
            fprintf(out, "(no realtime QoS cell measured: use --only latency with --qos 2 "
                         "or 3)\n");
        }
        return;
    }
    fprintf(out, "%-5s %-3s %8s  %-12s %-12s %9s %9s %7s %10s %10s %7s\n", "bus", "QoS",
            "payload", "base", "realtime", "p50", "p50 rt", "rt/base", "p99.9", "p99.9 rt",
            "rt/base");
    for (size_t i = 0; i < n; i++) {
        const struct result *b = p[i].base, *x = p[i].rt;
        char sz[24];
        fprintf(out, "%-5s %-3d %8s  %-12.12s %-12.12s %9.1f %9.1f %7.2f %10.1f %10.1f %7.2f%s%s\n",
                x->sec == SEC_LOAD ? "load" : "idle", x->qos,
                size_str(x->payload, sz, sizeof sz), label(r, b->target), label(r, x->target),
                b->p50, x->p50, ratio_of(x->p50, b->p50), b->p999, x->p999,
                ratio_of(x->p999, b->p999), b->ok && x->ok ? "" : "  FAILED: ",
                b->ok && x->ok ? "" : (x->ok ? b->note : x->note));
    }
}

static void rate_table(const struct report *r, FILE *out, enum section sec)
{
    if (!has_section(r, sec)) {
        return;
    }
    if (sec == SEC_TPUT) {
        fprintf(out, "\n== Throughput: frames per second received, end-to-end credit flow "
                     "control (at most %llu frames in flight, nothing may be lost);\n"
                     "   median of %d run(s) of %.1f s per target, interleaved with the floor "
                     "(the same flow A -> B over the socketpair); x floor = rate / floor rate\n",
                (unsigned long long)r->window, r->tput_repeats, r->duration);
        fprintf(out, "%-15s %-3s %8s  %-12s %12s  %-25s %9s %8s %12s %6s %6s\n", "test", "QoS",
                "payload", "target", "frames/s", "runs (min .. max)", "MB/s", "x floor",
                "frames", "lost", "errors");
    } else {
        fprintf(out, "\n== Fan-out: one publisher, N subscribers of the topic (QoS 0, 100 B), "
                     "credit = the slowest subscriber;\n"
                     "   x floor = deliveries/s / frames/s of the floor (one flow A -> B over "
                     "the socketpair)\n");
        fprintf(out, "%-15s %-3s %8s  %-12s %12s  %-25s %12s %12s %8s %6s %6s\n", "test", "QoS",
                "payload", "target", "publ./s", "runs (min .. max)", "deliveries/s",
                "ns/delivery", "x floor", "lost", "errors");
    }
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *x = &r->res[i];
        if (x->sec != sec) {
            continue;
        }
        char sz[24], a[24], b[24], c[24], runs[48];
        (void)snprintf(runs, sizeof runs, "%s .. %s", rate_str(x->rate_min, a, sizeof a),
                       rate_str(x->rate_max, b, sizeof b));
        char xf[16] = "";
        if (x->target >= 0 && x->rate_ratio > 0) {
            (void)snprintf(xf, sizeof xf, "%.2f", x->rate_ratio);
        }
        if (sec == SEC_TPUT) {
            fprintf(out, "%-15s %-3d %8s  %-12.12s %12.0f  %-25s %9.1f %8s %12llu %6llu %6llu",
                    x->test, x->qos, size_str(x->payload, sz, sizeof sz), label(r, x->target),
                    x->rate, runs, x->rate * (double)x->payload / 1e6, xf,
                    (unsigned long long)x->received, (unsigned long long)x->lost,
                    (unsigned long long)x->errors);
        } else {
            fprintf(out, "%-15s %-3d %8s  %-12.12s %12.0f  %-25s %12s %12.0f %8s %6llu %6llu",
                    x->test, x->qos, size_str(x->payload, sz, sizeof sz), label(r, x->target),
                    x->rate, runs, rate_str(x->deliveries, c, sizeof c),
                    x->deliveries > 0 ? 1e9 / x->deliveries : 0.0, xf,
                    (unsigned long long)x->lost, (unsigned long long)x->errors);
        }
        if (!x->ok) {
            fprintf(out, "  FAILED: %s", x->note);
        }
        fprintf(out, "\n");
    }
}

static void scale_table(const struct report *r, FILE *out)
{
    if (!has_section(r, SEC_SCALE)) {
        return;
    }
    fprintf(out, "\n== Scale: cost of a publish / broadcast (QoS 0, 100 B, one receiver) with N "
                 "other, non-matching subscriptions (on 10 clients)\n"
                 "   or N other clients (one non-matching subscription each); ns/op = 1e9 / "
                 "flow-controlled rate; RTT = QoS 2 round trip, us;\n"
                 "   RSS = the broker's resident set with the N other clients held (MiB); KB/client = "
                 "(RSS - RSS at the smallest N) / (held - held there);\n"
                 "   conn/s = other clients connected and registered per second (one holder "
                 "process; the other clients of one target at a time)\n");
    fprintf(out, "%-31s %8s %8s  %-12s %11s %9s %8s %8s %8s %8s %9s %8s  %s\n", "series",
            "N asked", "N held", "target", "ops/s", "ns/op", "x vs min", "RTT p50", "RTT p99",
            "RSS MiB", "KB/client", "conn/s", "note");
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *x = &r->res[i];
        if (x->sec != SEC_SCALE) {
            continue;
        }
        char rss[24] = "-", kbc[24] = "-", cps[24] = "-";
        if (x->rss_kb > 0) {
            (void)snprintf(rss, sizeof rss, "%.1f", (double)x->rss_kb / 1024.0);
        }
        if (x->have_kb_per_client) {
            (void)snprintf(kbc, sizeof kbc, "%.2f", x->kb_per_client);
        }
        if (x->setup_rate > 0) {
            (void)rate_str(x->setup_rate, cps, sizeof cps);
        }
        fprintf(out, "%-31s %8zu %8zu  %-12.12s %11.0f %9.0f %8.2f %8.1f %8.1f %8s %9s %8s  %s%s\n",
                x->test, x->others_req, x->others_got, label(r, x->target), x->rate,
                x->per_op_ns, x->base_ratio, x->p50, x->p99, rss, kbc, cps,
                x->ok ? "" : "FAILED: ", x->note);
    }
}

void report_table(const struct report *r, FILE *out)
{
    const struct machine *m = &r->m;
    fprintf(out, "\nbusrt-bench %s  %s  %s, %ld CPUs\n", BENCH_VERSION, m->date, m->uname,
            m->ncpu);
    fprintf(out, "command: busrt-bench %s\n", r->argv_line);
    fprintf(out,
            "machine load: load average %.2f at start, %.2f at end; during the %.0f s run "
            "%.2f of %ld CPUs were busy:\n"
            "  %.2f by this tool, its children and the brokers it spawned, %.2f by everything "
            "else\n",
            m->load1_start, m->load1_end, m->seconds, m->busy_cores, m->ncpu, m->own_cores,
            m->busy_cores - m->own_cores > 0 ? m->busy_cores - m->own_cores : 0.0);
    fprintf(out, "placement: %s\n", r->pin);
    for (int t = 0; t < r->ntargets; t++) {
        const struct target *x = &r->targets[t];
        char cap[96] = "";
        if (x->clients_cap > 0) {
            (void)snprintf(cap, sizeof cap, "  (held at most %zu other clients: see scale)",
                           x->clients_cap);
        }
        char twin[96] = "";
        if (x->rt) {
            (void)snprintf(twin, sizeof twin, "  (realtime twin of target %d)", x->rt_base);
        }
        fprintf(out, "target %d: %-12s %s%s%s%s%s%s\n", t, x->label,
                x->cmd != NULL ? "spawned: " : "", x->cmd != NULL ? x->cmd : x->addr, twin, cap,
                x->dead ? "\n  FAILED: " : "", x->dead ? x->dead_why : "");
    }
    if (r->rt_skipped != NULL && r->rt_skipped[0] != '\0') {
        fprintf(out, "realtime twin skipped: %s\n", r->rt_skipped);
    }
    lat_table(r, out, SEC_LAT);
    lat_table(r, out, SEC_PLACE);
    lat_table(r, out, SEC_LOAD);
    rt_table(r, out);
    rate_table(r, out, SEC_TPUT);
    rate_table(r, out, SEC_FANOUT);
    scale_table(r, out);
}

/* ---- CSV / JSON ----------------------------------------------------------------------- */

/* s between two q's, every q in it doubled: a CSV field ('"') or a gnuplot
 * single-quoted string ('\''). */
static void put_quoted(FILE *f, const char *s, char q)
{
    fputc(q, f);
    for (; *s; s++) {
        if (*s == q) {
            fputc(q, f);
        }
        fputc(*s, f);
    }
    fputc(q, f);
}

int report_csv(const struct report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        msg("cannot write %s", path);
        return -1;
    }
    fprintf(f, "section,test,target,label,qos,payload,others_requested,others_held,n,p50_us,"
               "p90_us,p99_us,p999_us,max_us,mean_us,floor_p50_us,floor_p999_us,ratio_to_2x_floor,"
               "p50_repeat_min_us,p50_repeat_max_us,background_frames_per_s,runs,rate_per_s,"
               "rate_min,rate_max,deliveries_per_s,floor_rate_per_s,ratio_to_floor_rate,ns_per_op,"
               "ratio_to_smallest,sent,received,"
               "lost,errors,ok,note,broker_rss_kb,kb_per_client,setup_clients_per_s\n");
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *x = &r->res[i];
        fprintf(f, "%s,", sec_name(x->sec));
        put_quoted(f, x->test, '"');
        fprintf(f, ",%d,", x->target);
        put_quoted(f, label(r, x->target), '"');
        fprintf(f, ",%d,%zu,%zu,%zu,%zu,", x->qos, x->payload, x->others_req, x->others_got,
                x->n);
        fprintf(f, "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.4f,%.3f,%.3f,%.1f,%d,", x->p50,
                x->p90, x->p99, x->p999, x->max, x->mean, x->floor_p50, x->floor_p999, x->ratio,
                x->rep_min, x->rep_max, x->load_rate, x->runs);
        fprintf(f, "%.1f,%.1f,%.1f,%.1f,%.1f,%.4f,%.1f,%.4f,", x->rate, x->rate_min, x->rate_max,
                x->deliveries, x->floor_rate, x->rate_ratio, x->per_op_ns, x->base_ratio);
        fprintf(f, "%llu,%llu,%llu,%llu,%d,", (unsigned long long)x->sent,
                (unsigned long long)x->received, (unsigned long long)x->lost,
                (unsigned long long)x->errors, x->ok);
        put_quoted(f, x->note, '"');
        /* unknown or not applicable: empty */
        fputc(',', f);
        if (x->rss_kb > 0) {
            fprintf(f, "%ld", x->rss_kb);
        }
        fputc(',', f);
        if (x->have_kb_per_client) {
            fprintf(f, "%.3f", x->kb_per_client);
        }
        fputc(',', f);
        if (x->setup_rate > 0) {
            fprintf(f, "%.1f", x->setup_rate);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        return -1;
    }
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v, int last)
{
    fprintf(f, "\"%s\": ", key);
    if (isfinite(v)) {
        fprintf(f, "%.6g", v);
    } else {
        fprintf(f, "null");
    }
    fprintf(f, "%s", last ? "" : ", ");
}

int report_json(const struct report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        msg("cannot write %s", path);
        return -1;
    }
    const struct machine *m = &r->m;
    fprintf(f, "{\n  \"tool\": \"busrt-bench\", \"version\": \"%s\", \"protocol\": 1,\n",
            BENCH_VERSION);
    fprintf(f, "  \"date\": ");
    json_str(f, m->date);
    fprintf(f, ", \"command\": ");
    json_str(f, r->argv_line);
    fprintf(f, ",\n  \"machine\": {\"uname\": ");
    json_str(f, m->uname);
    fprintf(f, ", \"cpus\": %ld, ", m->ncpu);
    json_num(f, "loadavg1_start", m->load1_start, 0);
    json_num(f, "loadavg1_end", m->load1_end, 0);
    json_num(f, "seconds", m->seconds, 0);
    json_num(f, "busy_cpus", m->busy_cores, 0);
    json_num(f, "busy_cpus_own", m->own_cores, 1);
    fprintf(f, "},\n  \"settings\": {\"rounds\": %zu, \"repeats\": %d, \"runs\": %d, ", r->rounds,
            r->repeats, r->tput_repeats);
    json_num(f, "duration_s", r->duration, 0);
    fprintf(f, "\"window\": %llu, \"quick\": %s, \"placement\": ", (unsigned long long)r->window,
            r->quick ? "true" : "false");
    json_str(f, r->pin);
    fprintf(f, "},\n  \"targets\": [\n");
    for (int t = 0; t < r->ntargets; t++) {
        const struct target *x = &r->targets[t];
        fprintf(f, "    {\"index\": %d, \"label\": ", t);
        json_str(f, x->label);
        fprintf(f, ", \"address\": ");
        json_str(f, x->addr);
        fprintf(f, ", \"spawn\": ");
        if (x->cmd != NULL) {
            json_str(f, x->cmd);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"failed\": ");
        if (x->dead) {
            json_str(f, x->dead_why);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"clients_cap\": ");
        if (x->clients_cap > 0) {
            fprintf(f, "%zu", x->clients_cap);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"realtime_twin_of\": ");
        if (x->rt) {
            fprintf(f, "%d", x->rt_base);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, "}%s\n", t + 1 < r->ntargets ? "," : "");
    }
    /* --broker-rt: null when not asked; skipped: why twins were not measured */
    fprintf(f, "  ],\n  \"realtime\": ");
    if (!r->rt_asked) {
        fprintf(f, "null");
    } else {
        fprintf(f, "{\"skipped\": ");
        if (r->rt_skipped != NULL && r->rt_skipped[0] != '\0') {
            json_str(f, r->rt_skipped);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"cells\": [\n");
        struct rt_pair p[256];
        size_t n = rt_pairs(r, p, 256);
        for (size_t i = 0; i < n; i++) {
            const struct result *b = p[i].base, *x = p[i].rt;
            fprintf(f, "    {\"section\": \"%s\", \"base\": %d, \"target\": %d, \"qos\": %d, "
                       "\"payload\": %zu, \"ok\": %s, ",
                    sec_name(x->sec), b->target, x->target, x->qos, x->payload,
                    b->ok && x->ok ? "true" : "false");
            json_num(f, "p50_base_us", b->p50, 0);
            json_num(f, "p50_us", x->p50, 0);
            json_num(f, "p50_ratio", ratio_of(x->p50, b->p50), 0);
            json_num(f, "p999_base_us", b->p999, 0);
            json_num(f, "p999_us", x->p999, 0);
            json_num(f, "p999_ratio", ratio_of(x->p999, b->p999), 1);
            fprintf(f, "}%s\n", i + 1 < n ? "," : "");
        }
        fprintf(f, "  ]}");
    }
    fprintf(f, ",\n  \"results\": [\n");
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *x = &r->res[i];
        fprintf(f, "    {\"section\": \"%s\", \"test\": ", sec_name(x->sec));
        json_str(f, x->test);
        fprintf(f, ", \"target\": %d, \"label\": ", x->target);
        json_str(f, label(r, x->target));
        fprintf(f, ", \"qos\": %d, \"payload\": %zu, \"ok\": %s, ", x->qos, x->payload,
                x->ok ? "true" : "false");
        if (x->sec == SEC_LAT || x->sec == SEC_PLACE || x->sec == SEC_LOAD || x->sec == SEC_SCALE) {
            fprintf(f, "\"n\": %zu, ", x->n);
            json_num(f, "p50_us", x->p50, 0);
            json_num(f, "p90_us", x->p90, 0);
            json_num(f, "p99_us", x->p99, 0);
            json_num(f, "p999_us", x->p999, 0);
            json_num(f, "max_us", x->max, 0);
        }
        if (x->sec == SEC_LAT || x->sec == SEC_PLACE || x->sec == SEC_LOAD) {
            json_num(f, "mean_us", x->mean, 0);
            json_num(f, "p50_repeat_min_us", x->rep_min, 0);
            json_num(f, "p50_repeat_max_us", x->rep_max, 0);
            if (x->target >= 0) {
                json_num(f, "floor_p50_us", x->floor_p50, 0);
                json_num(f, "floor_p999_us", x->floor_p999, 0);
                json_num(f, "ratio_to_2x_floor", x->ratio, 0);
            }
            if (x->sec == SEC_LOAD) {
                json_num(f, "background_frames_per_s", x->load_rate, 0);
            }
        } else {
            fprintf(f, "\"runs\": %d, ", x->runs);
            json_num(f, "rate_per_s", x->rate, 0);
            json_num(f, "rate_min", x->rate_min, 0);
            json_num(f, "rate_max", x->rate_max, 0);
            json_num(f, "ns_per_op", x->per_op_ns, 0);
            if (x->target >= 0 && x->sec != SEC_SCALE) {
                json_num(f, "floor_rate_per_s", x->floor_rate, 0);
                json_num(f, "ratio_to_floor_rate", x->rate_ratio, 0);
            }
            if (x->sec == SEC_FANOUT) {
                json_num(f, "deliveries_per_s", x->deliveries, 0);
                fprintf(f, "\"subscribers\": %zu, ", x->others_got);
            }
            if (x->sec == SEC_SCALE) {
                fprintf(f, "\"others_requested\": %zu, \"others_held\": %zu, ", x->others_req,
                        x->others_got);
                json_num(f, "ratio_to_smallest", x->base_ratio, 0);
                /* null: unknown (the broker's process), or not applicable */
                json_num(f, "broker_rss_kb", x->rss_kb > 0 ? (double)x->rss_kb : NAN, 0);
                json_num(f, "kb_per_client", x->have_kb_per_client ? x->kb_per_client : NAN, 0);
                json_num(f, "setup_clients_per_s", x->setup_rate > 0 ? x->setup_rate : NAN, 0);
            }
        }
        fprintf(f, "\"sent\": %llu, \"received\": %llu, \"lost\": %llu, \"errors\": %llu, "
                   "\"note\": ",
                (unsigned long long)x->sent, (unsigned long long)x->received,
                (unsigned long long)x->lost, (unsigned long long)x->errors);
        json_str(f, x->note);
        fprintf(f, "}%s\n", i + 1 < r->nres ? "," : "");
    }
    fprintf(f, "  ],\n  \"goals\": [\n");
    struct goal g[64];
    size_t n = goals(r, g, 64);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "    {\"goal\": ");
        json_str(f, g[i].what);
        fprintf(f, ", \"target\": %d, \"measured\": ", g[i].target);
        if (g[i].have) {
            fprintf(f, "%.6g", g[i].value);
        } else {
            fprintf(f, "null");
        }
        fprintf(f, ", \"limit\": %.6g, \"at_most\": %s, \"met\": %s, \"detail\": ", g[i].limit,
                g[i].at_most ? "true" : "false",
                !g[i].have ? "null"
                : (g[i].at_most ? g[i].value <= g[i].limit : g[i].value >= g[i].limit)
                    ? "true"
                    : "false");
        json_str(f, g[i].detail);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) {
        return -1;
    }
    return 0;
}

/* ---- plot ------------------------------------------------------------------------------ */

/* Percentiles of one (section, QoS, payload) cell: one row per percentile,
 * one column per target, then 2 x floor. */
static int pct_block(const struct report *r, FILE *f, const char *name, enum section sec, int q,
                     size_t payload)
{
    const struct result *fl = find(r, sec, NULL, -1, q, payload, (size_t)-1);
    if (fl == NULL) {
        return 0;
    }
    static const char *pn[5] = {"p50", "p90", "p99", "p99.9", "max"};
    fprintf(f, "$%s << EOD\n", name);
    for (int k = 0; k < 5; k++) {
        fprintf(f, "\"%s\"", pn[k]);
        for (int t = -1; t < r->ntargets; t++) {
            const struct result *x = find(r, sec, NULL, t, q, payload, (size_t)-1);
            double v = 0;
            if (x != NULL && x->n > 0) {
                v = k == 0 ? x->p50 : k == 1 ? x->p90 : k == 2 ? x->p99 : k == 3 ? x->p999 : x->max;
            }
            if (t < 0) {
                v *= 2;
            }
            fprintf(f, " %.3f", v > 0 ? v : NAN);
        }
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\n");
    return 1;
}

static void pct_plot(const struct report *r, FILE *f, const char *name, const char *title)
{
    fprintf(f, "set title ");
    put_quoted(f, title, '\'');
    fprintf(f, "\nset logscale y\nset ylabel 'round trip, us'\nset xlabel ''\nset key top left\n"
               "set style data linespoints\nunset style histogram\nset style fill empty\n"
               "set xrange [-0.3:4.3]\nunset logscale x\nset format x '%%g'\n");
    fprintf(f, "plot ");
    for (int t = 0; t < r->ntargets; t++) {
        fprintf(f, "$%s using 0:%d:xtic(1) title ", name, t + 3);
        put_quoted(f, r->targets[t].label, '\'');
        fprintf(f, " lw 2 pt 7, ");
    }
    fprintf(f, "$%s using 0:2:xtic(1) title '2 x floor' dt 2 lw 2 lc rgb 'gray40'\n", name);
    fprintf(f, "unset logscale y\n");
}

int report_plot(const struct report *r, const char *path)
{
    size_t pl = strlen(path);
    char *gp = xmalloc(pl + 8);
    memcpy(gp, path, pl + 1);
    if (pl > 4 && strcmp(path + pl - 4, ".png") == 0) {
        gp[pl - 4] = '\0';
    }
    strcat(gp, ".gp");
    FILE *f = fopen(gp, "w");
    if (f == NULL) {
        msg("cannot write %s", gp);
        free(gp);
        return -1;
    }
    fprintf(f, "# busrt-bench %s chart; regenerate with: gnuplot %s\n", BENCH_VERSION, gp);
    fprintf(f, "set terminal pngcairo size 2000,1100 font 'Sans,9'\nset output ");
    put_quoted(f, path, '\'');
    fprintf(f, "\nset grid ytics\n");
    int have_lat[4] = {0};
    for (int q = 0; q < 4; q++) {
        char nm[16];
        (void)snprintf(nm, sizeof nm, "lat%d", q);
        have_lat[q] = pct_block(r, f, nm, SEC_LAT, q, 100);
    }
    int have_load = pct_block(r, f, "load2", SEC_LOAD, 2, 100);
    /* p50 by payload, QoS 2 */
    fprintf(f, "$pay << EOD\n");
    int have_pay = 0;
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *fl = &r->res[i];
        if (fl->sec != SEC_LAT || fl->target != -1 || fl->qos != 2) {
            continue;
        }
        char sz[24];
        fprintf(f, "\"%s\" %.3f", size_str(fl->payload, sz, sizeof sz), 2 * fl->p50);
        for (int t = 0; t < r->ntargets; t++) {
            const struct result *x = find(r, SEC_LAT, NULL, t, 2, fl->payload, (size_t)-1);
            fprintf(f, " %.3f", x != NULL && x->n > 0 ? x->p50 : NAN);
        }
        fprintf(f, "\n");
        have_pay = 1;
    }
    fprintf(f, "EOD\n");
    /* throughput bars: frames (deliveries for fan-out) per second, millions */
    fprintf(f, "$tput << EOD\n");
    int have_tput = 0;
    for (size_t i = 0; i < r->nres; i++) {
        const struct result *x = &r->res[i];
        if ((x->sec != SEC_TPUT && x->sec != SEC_FANOUT) || x->target != 0) {
            continue;
        }
        char sz[24];
        size_t w = strcspn(x->test, " "); /* "1->1", "8->1", "1->10" */
        fprintf(f, "\"%.*s q%d %s%s\"", (int)w, x->test, x->qos,
                size_str(x->payload, sz, sizeof sz), x->sec == SEC_FANOUT ? " deliv." : "");
        for (int t = -1; t < r->ntargets; t++) {
            const struct result *y = find(r, x->sec, x->test, t, x->qos, x->payload, (size_t)-1);
            double v = y == NULL ? 0 : x->sec == SEC_FANOUT ? y->deliveries : y->rate;
            fprintf(f, " %.4f", v / 1e6);
        }
        fprintf(f, "\n");
        have_tput = 1;
    }
    fprintf(f, "EOD\n");
    /* scale: ns/op by N, one column per (series, target) */
    static const char *series[4] = {"publish, other subscriptions",
                                     "broadcast, other subscriptions", "publish, other clients",
                                     "broadcast, other clients"};
    int have_scale = 0;
    for (int s = 0; s < 4; s++) {
        for (int t = 0; t < r->ntargets; t++) {
            fprintf(f, "$scale_%d_%d << EOD\n", s, t);
            for (size_t i = 0; i < r->nres; i++) {
                const struct result *x = &r->res[i];
                if (x->sec == SEC_SCALE && x->target == t && strcmp(x->test, series[s]) == 0 &&
                    x->per_op_ns > 0) {
                    fprintf(f, "%zu %.1f\n", x->others_got > 0 ? x->others_got : x->others_req,
                            x->per_op_ns);
                    have_scale = 1;
                }
            }
            fprintf(f, "EOD\n");
        }
    }
    fprintf(f, "set multiplot layout 2,4 title ");
    char title[256];
    (void)snprintf(title, sizeof title, "busrt-bench %s, %s, %s, %ld CPUs (load avg %.2f)",
                   BENCH_VERSION, r->m.date, r->m.uname, r->m.ncpu, r->m.load1_start);
    put_quoted(f, title, '\'');
    fprintf(f, "\n");
    for (int q = 0; q < 4; q++) {
        char nm[16], tt[96];
        (void)snprintf(nm, sizeof nm, "lat%d", q);
        (void)snprintf(tt, sizeof tt, "Latency percentiles, QoS %d, 100 B, idle", q);
        if (have_lat[q]) {
            pct_plot(r, f, nm, tt);
        } else {
            fprintf(f, "set multiplot next\n");
        }
    }
    if (have_load) {
        pct_plot(r, f, "load2", "Latency under load (flood at 1/2 capacity), QoS 2, 100 B");
    } else {
        fprintf(f, "set multiplot next\n");
    }
    if (have_pay) {
        fprintf(f, "set title 'RTT p50 by payload, QoS 2, idle'\nset logscale y\n"
                   "set ylabel 'round trip, us'\nset xrange [-0.3:*]\nset key top left\n"
                   "set style data linespoints\nplot ");
        for (int t = 0; t < r->ntargets; t++) {
            fprintf(f, "$pay using 0:%d:xtic(1) title ", t + 3);
            put_quoted(f, r->targets[t].label, '\'');
            fprintf(f, " lw 2 pt 7, ");
        }
        fprintf(f, "$pay using 0:2:xtic(1) title '2 x floor' dt 2 lw 2 lc rgb 'gray40'\n"
                   "unset logscale y\n");
    } else {
        fprintf(f, "set multiplot next\n");
    }
    if (have_tput) {
        fprintf(f, "set title 'Throughput (flow-controlled), millions per second'\n"
                   "set ylabel 'M frames/s'\nset xrange [*:*]\nset yrange [0:*]\n"
                   "set style data histogram\nset style histogram cluster gap 1\n"
                   "set style fill solid 0.8 border -1\nset boxwidth 0.9\n"
                   "set xtics font ',7' rotate by 45 right offset 0,0\nset bmargin 6\n"
                   "set key top center horizontal opaque font ',8'\n"
                   "set offsets 0, 0, graph 0.15, 0\nplot ");
        for (int t = 0; t < r->ntargets; t++) {
            fprintf(f, "%s$tput using %d%s title ", t > 0 ? ", " : "", t + 3,
                    t == 0 ? ":xtic(1)" : "");
            put_quoted(f, r->targets[t].label, '\'');
        }
        fprintf(f, ", $tput using 2 title 'floor (socketpair)' lc rgb 'gray60'");
        fprintf(f, "\nset xtics font ',9' norotate\nset bmargin\nset yrange [*:*]\n"
                   "set offsets 0, 0, 0, 0\n"
                   "set style fill empty\n"
                   "set style data linespoints\n");
    } else {
        fprintf(f, "set multiplot next\n");
    }
    if (have_scale) {
        fprintf(f, "set title 'Scale: cost per publish / broadcast vs non-matching entries'\n"
                   "set logscale x\nset xrange [*:*]\nset yrange [0:*]\nset ylabel 'ns per op'\n"
                   "set xlabel 'other subscriptions / clients held'\nset key top left font ',7'\n"
                   "plot ");
        int first = 1;
        for (int s = 0; s < 4; s++) {
            for (int t = 0; t < r->ntargets; t++) {
                char tt[160];
                (void)snprintf(tt, sizeof tt, "%s: %s", r->targets[t].label, series[s]);
                fprintf(f, "%s$scale_%d_%d using 1:2 with linespoints lw 2 pt %d title ",
                        first ? "" : ", ", s, t, 5 + s);
                put_quoted(f, tt, '\'');
                first = 0;
            }
        }
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
    if (fclose(f) != 0) {
        free(gp);
        return -1;
    }
    size_t cl = strlen(gp) + 64;
    char *cmd = xmalloc(cl);
    (void)snprintf(cmd, cl, "gnuplot '%s'", gp);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0) {
        msg("gnuplot failed (status %d) on %s; is gnuplot (package gnuplot-nox) installed?",
            WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, gp);
        free(gp);
        return -1;
    }
    msg("chart written to %s (script %s)", path, gp);
    free(gp);
    return 0;
}
