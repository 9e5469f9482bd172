/* busrt-bench: the command line. Every option is a row of one table: its
 * names, whether it takes a value, and the function that stores it. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: busrt-bench (--target [LABEL=]ADDR | --spawn [LABEL=]CMD)... [OPTIONS]\n"
            "Latency, throughput, fan-out and scale of BUS/RT v1 brokers, every figure beside\n"
            "a floor (the same ping-pong over a bare socketpair) measured in the same run.\n"
            "\n"
            "Targets (up to %d, measured interleaved):\n"
            "  --target [LABEL=]ADDR  a running broker: UNIX socket path or HOST:PORT\n"
            "  --spawn [LABEL=]CMD    start CMD with /bin/sh, {addr} replaced by a temporary\n"
            "                         UNIX socket path; waited for, stopped (SIGTERM) at the end\n"
            "  --broker-log FILE      stdout/stderr of spawned brokers (default: a temporary\n"
            "                         file, read for the reason when a broker fails to start)\n"
            "  --broker-rt N[:LIST]   also spawn each --spawn broker with --rt-priority N\n"
            "                         --cpu LIST --mlockall (LIST default: the last CPU this\n"
            "                         tool may use), as target LABEL+rt, and compare their\n"
            "                         realtime round trips; skipped, and said so, where the\n"
            "                         broker is not permitted to (exit status 2)\n"
            "Selection:\n"
            "  --only LIST            comma-separated: latency (idle and loaded), load (loaded\n"
            "                         only), throughput, fanout, scale (default: all)\n"
            "  --no-load              skip latency under background load\n"
            "  --no-placement         skip the CPU placement probe (part of latency)\n"
            "  --probe-qos Q          QoS of the placement probe's round trips (default 2)\n"
            "  --pin MODE             CPU placement for every measurement: none (default, the\n"
            "                         scheduler's), one (all processes and brokers on one CPU),\n"
            "                         split (bench processes on one CPU, brokers on another)\n"
            "  --quick                short smoke run (~10 s for one target)\n"
            "Sizes:\n"
            "  --rounds N             round trips per latency cell and target (default 20000)\n"
            "  --repeats N            interleaved repeats of each latency cell (default 10)\n"
            "  --duration S           seconds per throughput/fan-out run (default 2)\n"
            "  --runs N               repeated throughput/fan-out/scale runs (default 3)\n"
            "  --payloads LIST        latency payload sizes (default 0,100,1024,16384,65536)\n"
            "  --qos LIST             latency QoS values (default 0,1,2,3)\n"
            "  --scale LIST           non-matching entries, up to 4 (default 10,1000,10000,19000;\n"
            "                         --quick 10,100,1000)\n"
            "  --scale-rounds N       round trips per scale point (default 4000)\n"
            "  --scale-duration S     seconds per scale rate run (default 1)\n"
            "  --window N             frames in flight in throughput runs (default 4096)\n"
            "Output:\n"
            "  --csv FILE  --json FILE  --plot FILE.png (gnuplot)\n"
            "  -q, --quiet            no progress line\n"
            "Limits:\n"
            "  --timeout S            bound of every single wait (default 10)\n"
            "  --max-time S           watchdog for the whole run (default: 3 x estimate + 120)\n"
            "  --ping S               keep-alive ping interval of idle connections (default 1)\n"
            "  --hook CMD             run CMD (sh) before and after every measurement block on\n"
            "                         a broker, with BENCH_EVENT=begin|end, BENCH_WHAT,\n"
            "                         BENCH_TARGET, BENCH_ADDR, BENCH_PID (spawned brokers)\n"
            "In-process mode (a run of its own; busrt-bench --inproc --help):\n"
            "  --inproc [...]         an embedded broker (libbusrtd) in this process: round\n"
            "                         trips and throughput of in-process clients beside its\n"
            "                         UNIX socket and a socketpair floor\n"
            "  -h, --help  -V, --version\n"
            "\n"
            "Exit status: 0 when every measurement produced numbers and nothing was lost;\n"
            "1 when one did not; 2 on a usage error; 3 when the watchdog stopped the run.\n"
            "Timing goals are reported, never turned into a failure.\n",
            MAX_TARGETS);
}

static int parse_list(const char *s, size_t *out, int max, size_t lo, size_t hi)
{
    int n = 0;
    const char *p = s;
    while (*p != '\0') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || errno != 0 || v < lo || v > hi || n == max) {
            return -1;
        }
        out[n++] = (size_t)v;
        p = end;
        if (*p == ',') {
            p++;
        } else if (*p != '\0') {
            return -1;
        }
    }
    return n;
}

static int parse_num(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= lo && v <= hi)) {
        fprintf(stderr, "busrt-bench: %s: '%s' is not a number in [%g, %g]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* The label of a --spawn target without one: the program's base name. */
static void spawn_label(char *label, size_t cap, const char *cmd)
{
    size_t l = strcspn(cmd, " \t");
    const char *b = cmd;
    for (size_t i = 0; i < l; i++) {
        if (cmd[i] == '/') {
            b = cmd + i + 1;
        }
    }
    size_t bl = (size_t)(cmd + l - b);
    if (bl >= cap) {
        bl = cap - 1u;
    }
    memcpy(label, b, bl);
    label[bl] = '\0';
}

static int add_target(struct bench *b, const char *spec, int spawn)
{
    if (b->nt == MAX_TARGETS) {
        fprintf(stderr, "busrt-bench: at most %d targets\n", MAX_TARGETS);
        return -1;
    }
    struct target *t = &b->t[b->nt];
    memset(t, 0, sizeof *t);
    conn_init(&t->a);
    const char *eq = strchr(spec, '=');
    const char *val = spec;
    if (eq != NULL && eq != spec && (size_t)(eq - spec) < sizeof t->label &&
        strcspn(spec, " /\t") >= (size_t)(eq - spec)) {
        memcpy(t->label, spec, (size_t)(eq - spec));
        t->label[eq - spec] = '\0';
        val = eq + 1;
    }
    if (spawn) {
        t->cmd = strdup(val);
        if (t->label[0] == '\0') {
            spawn_label(t->label, sizeof t->label, val);
        }
    } else {
        (void)snprintf(t->addr, sizeof t->addr, "%s", val);
        if (t->label[0] == '\0') {
            (void)snprintf(t->label, sizeof t->label, "%s", val);
        }
    }
    for (int i = 0; i < b->nt; i++) {
        if (strcmp(b->t[i].label, t->label) == 0) {
            size_t l = strlen(t->label);
            (void)snprintf(t->label + (l > 50 ? 50 : l), sizeof t->label - 50, "#%d", b->nt);
        }
    }
    b->nt++;
    return 0;
}

/* ---- the option table ----------------------------------------------------------- */

/* How a numeric option is stored. */
enum num_type { N_DOUBLE, N_SIZE, N_INT, N_U64 };

struct opt {
    const char *name;
    const char *alias; /* short form, or NULL */
    int has_value;
    /* Stores the option; v is NULL for a flag. Returns 0, 1 to stop with
     * exit status 0, -1 on a usage error (reported). */
    int (*set)(struct bench *b, const struct opt *d, const char *v);
    size_t off; /* of the field in struct bench_opts (flags, strings, numbers) */
    enum num_type type;
    double lo, hi;
};

static void *field(struct bench *b, const struct opt *d)
{
    return (char *)&b->o + d->off;
}

static int set_flag(struct bench *b, const struct opt *d, const char *v)
{
    (void)v;
    *(int *)field(b, d) = 1;
    return 0;
}

static int set_str(struct bench *b, const struct opt *d, const char *v)
{
    *(const char **)field(b, d) = v;
    return 0;
}

/* A number in [lo, hi]; counts keep its whole part. */
static int set_num(struct bench *b, const struct opt *d, const char *v)
{
    double x;
    if (parse_num(d->name, v, d->lo, d->hi, &x) != 0) {
        return -1;
    }
    switch (d->type) {
    case N_DOUBLE:
        *(double *)field(b, d) = x;
        break;
    case N_SIZE:
        *(size_t *)field(b, d) = (size_t)x;
        break;
    case N_INT:
        *(int *)field(b, d) = (int)x;
        break;
    case N_U64:
        *(uint64_t *)field(b, d) = (uint64_t)x;
        break;
    }
    return 0;
}

static int set_help(struct bench *b, const struct opt *d, const char *v)
{
    (void)b;
    (void)d;
    (void)v;
    usage(stdout);
    return 1;
}

static int set_version(struct bench *b, const struct opt *d, const char *v)
{
    (void)b;
    (void)d;
    (void)v;
    printf("busrt-bench %s (BUS/RT wire protocol v1)\n", BENCH_VERSION);
    return 1;
}

static int set_target(struct bench *b, const struct opt *d, const char *v)
{
    (void)d;
    return add_target(b, v, 0);
}

static int set_spawn(struct bench *b, const struct opt *d, const char *v)
{
    (void)d;
    return add_target(b, v, 1);
}

static int set_only(struct bench *b, const struct opt *d, const char *v)
{
    static const struct {
        const char *word;
        int bits;
    } words[] = {
        {"latency", ONLY_LAT | ONLY_LOAD},
        {"load", ONLY_LOAD},
        {"throughput", ONLY_TPUT},
        {"fanout", ONLY_FANOUT},
        {"scale", ONLY_SCALE},
        {"all", ONLY_LAT | ONLY_LOAD | ONLY_TPUT | ONLY_FANOUT | ONLY_SCALE},
    };
    (void)d;
    b->o.only = 0;
    char *dup = strdup(v), *save = NULL;
    int rc = 0;
    for (char *w = strtok_r(dup, ",", &save); w != NULL && rc == 0;
         w = strtok_r(NULL, ",", &save)) {
        size_t k = 0;
        while (k < sizeof words / sizeof words[0] && strcmp(w, words[k].word) != 0) {
            k++;
        }
        if (k == sizeof words / sizeof words[0]) {
            fprintf(stderr, "busrt-bench: --only: unknown '%s' (latency, load, "
                            "throughput, fanout, scale)\n", w);
            rc = -1;
        } else {
            b->o.only |= words[k].bits;
        }
    }
    free(dup);
    return rc;
}

static int set_pin(struct bench *b, const struct opt *d, const char *v)
{
    static const char *const modes[] = {"none", "one", "split"};
    (void)d;
    for (int k = 0; k < 3; k++) {
        if (strcmp(v, modes[k]) == 0) {
            b->o.pin = k;
            return 0;
        }
    }
    fprintf(stderr, "busrt-bench: --pin: none, one or split\n");
    return -1;
}

static int set_broker_rt(struct bench *b, const struct opt *d, const char *v)
{
    (void)d;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    const char *list = end != NULL && *end == ':' ? end + 1 : NULL;
    if (errno != 0 || end == v || (*end != '\0' && *end != ':') || n < 1 || n > 99 ||
        (list != NULL && (list[0] == '\0' || strspn(list, "0123456789,-") != strlen(list)))) {
        fprintf(stderr, "busrt-bench: --broker-rt: '%s' is not PRIORITY[:CPULIST], a SCHED_FIFO "
                        "priority 1..99 and optionally a CPU list like 1 or 2-3\n", v);
        return -1;
    }
    b->o.rt_prio = (int)n;
    b->o.rt_cpus = list;
    return 0;
}

/* The --broker-rt twins: one per --spawn target, after every other target.
 * Their commands are completed when they are spawned (targets.c), when the
 * CPUs this process may use are known. */
static int add_rt_twins(struct bench *b)
{
    int n = b->nt, added = 0;
    for (int i = 0; i < n; i++) {
        if (b->t[i].cmd == NULL) {
            continue;
        }
        if (b->nt == MAX_TARGETS) {
            fprintf(stderr, "busrt-bench: --broker-rt: at most %d targets with the realtime "
                            "twins (%d asked)\n", MAX_TARGETS, n + added + 1);
            return -1;
        }
        struct target *t = &b->t[b->nt];
        memset(t, 0, sizeof *t);
        conn_init(&t->a);
        size_t l = strlen(b->t[i].label);
        (void)snprintf(t->label, sizeof t->label, "%.*s+rt", (int)(l > 50u ? 50u : l),
                       b->t[i].label);
        t->rt = 1;
        t->rt_base = i;
        b->nt++;
        added++;
    }
    if (added == 0) {
        fprintf(stderr, "busrt-bench: --broker-rt needs a --spawn target (a broker this tool "
                        "starts, with the realtime options added)\n");
        return -1;
    }
    return 0;
}

static int set_probe_qos(struct bench *b, const struct opt *d, const char *v)
{
    double x;
    if (parse_num(d->name, v, 0, 3, &x) != 0 || x != (double)(int)x) {
        fprintf(stderr, "busrt-bench: --probe-qos: 0, 1, 2 or 3\n");
        return -1;
    }
    b->o.probe_qos = (int)x;
    return 0;
}

static int set_payloads(struct bench *b, const struct opt *d, const char *v)
{
    size_t tmp[8];
    (void)d;
    int n = parse_list(v, tmp, 8, 0, 16u * 1024u * 1024u);
    if (n <= 0) {
        fprintf(stderr, "busrt-bench: --payloads: a list of up to 8 sizes\n");
        return -1;
    }
    memcpy(b->o.payloads, tmp, (size_t)n * sizeof *tmp);
    b->o.npayloads = n;
    return 0;
}

static int set_qos(struct bench *b, const struct opt *d, const char *v)
{
    size_t tmp[4];
    (void)d;
    int n = parse_list(v, tmp, 4, 0, 3);
    if (n <= 0) {
        fprintf(stderr, "busrt-bench: --qos: a list of values 0..3\n");
        return -1;
    }
    for (int k = 0; k < n; k++) {
        b->o.qos[k] = (int)tmp[k];
    }
    b->o.nqos = n;
    return 0;
}

static int set_scale(struct bench *b, const struct opt *d, const char *v)
{
    size_t tmp[4];
    struct bench_opts *o = &b->o;
    (void)d;
    int n = parse_list(v, tmp, 4, 1, 1000000);
    if (n <= 0) {
        fprintf(stderr, "busrt-bench: --scale: a list of up to 4 counts\n");
        return -1;
    }
    /* ascending, without repeats: the first point is the smallest (the
     * base of "x vs min" and of KB per client), and the broker's heap only
     * grows from point to point */
    o->nscale = 0;
    for (int k = 0; k < n; k++) {
        int at = 0;
        while (at < o->nscale && o->scale_k[at] < tmp[k]) {
            at++;
        }
        if (at < o->nscale && o->scale_k[at] == tmp[k]) {
            continue;
        }
        memmove(&o->scale_k[at + 1], &o->scale_k[at],
                (size_t)(o->nscale - at) * sizeof o->scale_k[0]);
        o->scale_k[at] = tmp[k];
        o->nscale++;
    }
    return 0;
}

#define OFF(f) offsetof(struct bench_opts, f)
#define FLAG(n, a, f) {n, a, 0, set_flag, OFF(f), N_INT, 0, 0}
#define STR(n, f) {n, NULL, 1, set_str, OFF(f), N_INT, 0, 0}
#define NUM(n, f, t, lo, hi) {n, NULL, 1, set_num, OFF(f), t, lo, hi}
#define FN(n, a, v, fn) {n, a, v, fn, 0, N_INT, 0, 0}

/* Counts and durations of 0 are "not given": defaults follow --quick. */
static const struct opt OPTS[] = {
    FN("--help", "-h", 0, set_help),
    FN("--version", "-V", 0, set_version),
    FN("--target", NULL, 1, set_target),
    FN("--spawn", NULL, 1, set_spawn),
    STR("--broker-log", broker_log),
    FN("--broker-rt", NULL, 1, set_broker_rt),
    FN("--only", NULL, 1, set_only),
    FLAG("--no-load", NULL, no_load),
    FN("--pin", NULL, 1, set_pin),
    STR("--hook", hook),
    FLAG("--no-placement", NULL, no_place),
    FN("--probe-qos", NULL, 1, set_probe_qos),
    FLAG("--quick", NULL, quick),
    NUM("--rounds", rounds, N_SIZE, 1, 1e8),
    NUM("--repeats", repeats, N_INT, 1, 1000),
    NUM("--runs", tput_repeats, N_INT, 1, 16),
    NUM("--duration", duration, N_DOUBLE, 0.05, 3600),
    NUM("--scale-duration", scale_duration, N_DOUBLE, 0.05, 3600),
    NUM("--scale-rounds", scale_rounds, N_SIZE, 1, 1e8),
    NUM("--window", window, N_U64, 8, 1e7),
    FN("--payloads", NULL, 1, set_payloads),
    FN("--qos", NULL, 1, set_qos),
    FN("--scale", NULL, 1, set_scale),
    STR("--csv", csv),
    STR("--json", json),
    STR("--plot", plot),
    NUM("--timeout", timeout, N_DOUBLE, 0.5, 600),
    NUM("--max-time", max_time, N_DOUBLE, 1, 1e6),
    NUM("--ping", ping, N_DOUBLE, 0.05, 60),
    FLAG("--quiet", "-q", quiet),
};

static const struct opt *find_opt(const char *a)
{
    for (size_t k = 0; k < sizeof OPTS / sizeof OPTS[0]; k++) {
        if (strcmp(a, OPTS[k].name) == 0 ||
            (OPTS[k].alias != NULL && strcmp(a, OPTS[k].alias) == 0)) {
            return &OPTS[k];
        }
    }
    return NULL;
}

/* ---- defaults ---------------------------------------------------------------------- */

/* Values before the command line: a 0 or -1 count is filled in afterwards. */
static void opts_init(struct bench_opts *o)
{
    o->only = ONLY_LAT | ONLY_LOAD | ONLY_TPUT | ONLY_FANOUT | ONLY_SCALE;
    o->timeout = 10;
    o->ping = 1;
    o->npayloads = -1;
    o->nqos = -1;
    o->nscale = -1;
    o->probe_qos = 2;
}

/* Defaults of what was not given, some of them following --quick. */
static void opts_finish(struct bench_opts *o)
{
    if (o->no_load) {
        o->only &= ~ONLY_LOAD;
    }
    o->rounds = o->rounds > 0 ? o->rounds : o->quick ? 400u : 20000u;
    o->repeats = o->repeats > 0 ? o->repeats : o->quick ? 2 : 10;
    if ((size_t)o->repeats > o->rounds) {
        o->repeats = (int)o->rounds;
    }
    o->tput_repeats = o->tput_repeats > 0 ? o->tput_repeats : o->quick ? 1 : 3;
    o->duration = o->duration > 0 ? o->duration : o->quick ? 0.25 : 2.0;
    o->scale_duration = o->scale_duration > 0 ? o->scale_duration : o->quick ? 0.15 : 1.0;
    o->scale_rounds = o->scale_rounds > 0 ? o->scale_rounds : o->quick ? 200u : 4000u;
    o->window = o->window > 0 ? o->window : 4096u;
    if (o->npayloads < 0) {
        static const size_t def[5] = {0, 100, 1024, 16384, 65536};
        memcpy(o->payloads, def, sizeof def);
        o->npayloads = 5;
    }
    if (o->nqos < 0) {
        for (int k = 0; k < 4; k++) {
            o->qos[k] = k;
        }
        o->nqos = 4;
    }
    if (o->nscale < 0) {
        /* full: up to about what one process may hold (RLIMIT_NOFILE 20000
         * here); quick: below FD_SETSIZE, so that every backend holds them */
        static const size_t full[4] = {10, 1000, 10000, 19000};
        static const size_t quick[3] = {10, 100, 1000};
        o->nscale = o->quick ? 3 : 4;
        memcpy(o->scale_k, o->quick ? quick : full, (size_t)o->nscale * sizeof o->scale_k[0]);
    }
}

void parse_args(struct bench *b, int argc, char **argv)
{
    opts_init(&b->o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct opt *d = find_opt(a);
        if (d == NULL) {
            fprintf(stderr, "busrt-bench: unknown option '%s' (try --help)\n", a);
            exit(2);
        }
        const char *v = NULL;
        if (d->has_value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "busrt-bench: %s needs a value\n", a);
                exit(2);
            }
            v = argv[++i];
        }
        int rc = d->set(b, d, v);
        if (rc != 0) {
            exit(rc > 0 ? 0 : 2);
        }
    }
    if (b->nt == 0) {
        fprintf(stderr, "busrt-bench: give at least one --target or --spawn (try --help)\n");
        exit(2);
    }
    if (b->o.rt_prio > 0 && add_rt_twins(b) != 0) {
        exit(2);
    }
    opts_finish(&b->o);
}
