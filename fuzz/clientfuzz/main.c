/* busrt-clientfuzz command line: random streams (--seed, --streams,
 * --seconds) or the replay of a case (--replay). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "busrt/codes.h"
#include "cf.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: busrt-clientfuzz --cmd 'CMD {addr}' [OPTIONS]\n"
            "       busrt-clientfuzz --replay CASE.json [--cmd 'CMD {addr}'] [OPTIONS]\n"
            "A fake BUS/RT v1 broker that fuzzes a client library: it starts CMD (through\n"
            "sh -c 'exec CMD', every {addr} replaced by a UNIX socket path) for each stream,\n"
            "completes the handshake, answers its subscribe and sends a generated\n"
            "broker-to-client stream; the client reports what it received as JSON lines on\n"
            "its stdout (fuzz/clientfuzz/README.md). The last line printed is\n"
            "\"N streams, M with findings\"; the exit status is 1 when M > 0, 2 on errors.\n"
            "\n"
            "  --cmd CMD            the client under test (an adapter program)\n"
            "  --seed S             stream K draws from a PRNG seeded by (S, K) (default 1)\n"
            "  --streams N          stop after N streams (default 0 = no limit)\n"
            "  --stream K           number of the first stream (default 0); with\n"
            "                       --streams 1 it reruns one stream of a seed\n"
            "  --seconds N          stop after N seconds (default 30; 0 = no limit)\n"
            "  --out DIR            cases go to DIR/cases/, the client's stderr to\n"
            "                       DIR/client.log (default build/clientfuzz)\n"
            "  --replay CASE.json   run the stream of a case file again, report, and write\n"
            "                       the new case to DIR/replayed/\n"
            "  --vectors DIR        the test vectors (default spec/vectors)\n"
            "Bounds:\n"
            "  --start-ms MS        start, connect, handshake, subscribe, \"ready\"\n"
            "                       (default 5000)\n"
            "  --wait-ms MS         every wait for an expected event (default 2000)\n"
            "  --exit-ms MS         the exit after the connection ended (default 2000)\n"
            "  --settle-ms MS       after each write, wait at most MS for the client to read\n"
            "                       it, so that the pieces arrive apart (default 5)\n"
            "  --spin-pct P         CPU use of P%% or more while idle is a finding (default 50)\n"
            "  --max-rss-mb N       a peak RSS above N MiB is a finding (default 1024)\n"
            "Reporting:\n"
            "  --max-cases N        case files written per kind of finding (default 3)\n"
            "  --progress N         a progress line on stderr every N streams (default 500)\n"
            "  --verbose            one line per stream on stderr\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n");
}

static int num_opt(struct cf_opts *o, const char *a, const char *v)
{
    const struct nf_numopt t[] = {
        {"--seed", 0, 1.8e19, NF_U64, &o->seed},
        {"--streams", 0, 1e15, NF_LONG, &o->streams},
        {"--stream", 0, 1e15, NF_LONG, &o->first},
        {"--seconds", 0, 1e9, NF_DBL, &o->seconds},
        {"--start-ms", 10, 600000, NF_INT, &o->start_ms},
        {"--wait-ms", 10, 600000, NF_INT, &o->wait_ms},
        {"--exit-ms", 10, 600000, NF_INT, &o->exit_ms},
        {"--settle-ms", 0, 1000, NF_INT, &o->settle_ms},
        {"--spin-pct", 1, 100, NF_INT, &o->spin_pct},
        {"--max-rss-mb", 1, 1e7, NF_LONG, &o->max_rss_mb},
        {"--max-cases", 0, 1e6, NF_INT, &o->max_cases},
        {"--progress", 1, 1e15, NF_LONG, &o->progress},
    };
    return nf_numopt_parse("busrt-clientfuzz", t, sizeof t / sizeof t[0], a, v);
}

/* Findings of one kind over the run. */
struct tally {
    char key[96];
    long n;
    char first[1200];
};

static struct tally *tal;
static size_t ntal;

static long tally_add(const char *key, const char *path)
{
    for (size_t i = 0; i < ntal; i++) {
        if (strcmp(tal[i].key, key) == 0) {
            return ++tal[i].n;
        }
    }
    tal = nf_xrealloc(tal, (ntal + 1) * sizeof *tal);
    snprintf(tal[ntal].key, sizeof tal[ntal].key, "%s", key);
    snprintf(tal[ntal].first, sizeof tal[ntal].first, "%s", path);
    tal[ntal].n = 1;
    return tal[ntal++].n;
}

static long tally_get(const char *key)
{
    for (size_t i = 0; i < ntal; i++) {
        if (strcmp(tal[i].key, key) == 0) {
            return tal[i].n;
        }
    }
    return 0;
}

static void print_findings(const struct cf_stream *st, const struct cf_result *r,
                           const char *path)
{
    for (size_t i = 0; i < r->nv; i++) {
        fprintf(stderr, "busrt-clientfuzz: FINDING in stream %ld [%s]: %s\n", st->index,
                r->v[i].key, r->v[i].what);
    }
    if (r->nv > 0) {
        fprintf(stderr, "  case: %s\n", path[0] != 0 ? path : "(not written: enough cases of "
                "these kinds)");
    }
}

static int replay(const struct cf_opts *o0)
{
    struct cf_opts o = *o0;
    struct cf_stream st;
    char *cmd = NULL;
    if (cf_case_read(o.replay, &st, &cmd) != 0) {
        return 2;
    }
    if (o.cmd == NULL) {
        o.cmd = cmd;
    }
    if (o.cmd == NULL) {
        fprintf(stderr, "busrt-clientfuzz: %s names no command: give --cmd\n", o.replay);
        free(cmd);
        cf_stream_free(&st);
        return 2;
    }
    struct cf_env e;
    if (cf_env_open(&e, &o) != 0) {
        free(cmd);
        cf_stream_free(&st);
        return 2;
    }
    struct cf_result r;
    int rc = cf_run(&e, &st, &r);
    cf_env_close(&e);
    if (rc != 0) {
        free(cmd);
        cf_stream_free(&st);
        return 2;
    }
    char path[1200] = "";
    (void)cf_case_write(&o, &st, &r, path, sizeof path);
    print_findings(&st, &r, path);
    printf("replayed %s: %zu units, end %s, %zu frames reported, %s; %zu findings\n",
           o.replay, st.nu, cf_end_name(st.end), r.nfr,
           r.exited ? "the client exited" : "the client was killed", r.nv);
    int found = r.nv > 0;
    cf_result_free(&r);
    cf_stream_free(&st);
    free(cmd);
    return found ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct cf_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 1;
    o.seconds = 30;
    o.out_dir = "build/clientfuzz";
    o.vectors = "spec/vectors";
    o.start_ms = 5000;
    o.wait_ms = 2000;
    o.exit_ms = 2000;
    o.settle_ms = 5;
    o.spin_pct = 50;
    o.max_rss_mb = 1024;
    o.max_cases = 3;
    o.progress = 500;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = num_opt(&o, a, v), val = 1;
        if (rc < 0) {
            return 2;
        } else if (rc == 0) {
            /* parsed with its value */
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("busrt-clientfuzz %s (BUS/RT wire protocol v1)\n", BUSRT_VERSION_STRING);
            return 0;
        } else if (strcmp(a, "--cmd") == 0 && v != NULL) {
            o.cmd = v;
        } else if (strcmp(a, "--out") == 0 && v != NULL) {
            o.out_dir = v;
        } else if (strcmp(a, "--replay") == 0 && v != NULL) {
            o.replay = v;
        } else if (strcmp(a, "--vectors") == 0 && v != NULL) {
            o.vectors = v;
        } else if (strcmp(a, "--verbose") == 0) {
            o.verbose = 1;
            val = 0;
        } else {
            fprintf(stderr, "busrt-clientfuzz: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
        i += val;
    }
    if (o.cmd == NULL && o.replay == NULL) {
        fprintf(stderr, "busrt-clientfuzz: --cmd is required (the client under test, e.g. "
                        "--cmd 'build/clientfuzz-libbusrt {addr}')\n");
        usage(stderr);
        return 2;
    }
    if (o.cmd != NULL && strstr(o.cmd, "{addr}") == NULL) {
        fprintf(stderr, "busrt-clientfuzz: --cmd has no {addr}: the client would not know "
                        "where to connect\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", o.out_dir);
        for (char *p = tmp + 1; *p != 0; p++) {
            if (*p == '/') {
                *p = 0;
                (void)mkdir(tmp, 0755);
                *p = '/';
            }
        }
        (void)mkdir(tmp, 0755);
    }
    if (o.replay != NULL) {
        return replay(&o);
    }

    struct cf_vec vec;
    if (cf_vec_load(&vec, o.vectors) != 0) {
        return 2;
    }
    struct cf_env e;
    if (cf_env_open(&e, &o) != 0) {
        cf_vec_free(&vec);
        return 2;
    }
    long streams = 0, with = 0, frames = 0, units = 0, writes = 0, hs = 0;
    long ends[END_HS + 1] = {0};
    size_t bytes = 0;
    int64_t t0 = nf_now_ms();
    int fail = 0;
    for (long k = o.first; !stop_flag; k++) {
        double el = (double)(nf_now_ms() - t0) / 1000.0;
        if ((o.seconds > 0 && el >= o.seconds) || (o.streams > 0 && streams >= o.streams)) {
            break;
        }
        struct cf_stream st;
        cf_stream_gen(&st, &vec, o.seed, k);
        struct cf_result r;
        if (cf_run(&e, &st, &r) != 0) {
            cf_stream_free(&st);
            fail = 1;
            break;
        }
        if (streams == 0 && r.nv > 0 && strncmp(r.v[0].key, "START:", 6) == 0) {
            fprintf(stderr, "busrt-clientfuzz: the first client did not start: %s; its stderr "
                            "is in %s (the command runs as sh -c 'exec CMD': set variables "
                            "with env VAR=VALUE CMD)\n", r.v[0].what, e.log);
            cf_result_free(&r);
            cf_stream_free(&st);
            fail = 1;
            break;
        }
        streams++;
        frames += (long)r.nfr;
        units += (long)st.nu;
        writes += (long)r.nwrote;
        bytes += r.sent.len;
        ends[st.end]++;
        hs += st.hs != HS_NONE;
        if (o.verbose) {
            fprintf(stderr, "busrt-clientfuzz: stream %ld: %zu units, %zu bytes, %s, end %s%s, "
                            "%zu frames reported, %lld ms%s\n", k, st.nu, st.bytes.len, st.mode,
                    cf_end_name(st.end), st.drain ? " (drained)" : "", r.nfr, (long long)r.ms,
                    r.nv > 0 ? ", FINDING" : "");
        }
        if (r.nv > 0) {
            with++;
            int write = 0;
            for (size_t i = 0; i < r.nv; i++) {
                write |= tally_get(r.v[i].key) < o.max_cases;
            }
            char path[1200] = "";
            if (write) {
                (void)cf_case_write(&o, &st, &r, path, sizeof path);
            }
            for (size_t i = 0; i < r.nv; i++) {
                (void)tally_add(r.v[i].key, path);
            }
            print_findings(&st, &r, path);
        }
        cf_result_free(&r);
        cf_stream_free(&st);
        if (streams % o.progress == 0) {
            double s = (double)(nf_now_ms() - t0) / 1000.0;
            fprintf(stderr, "busrt-clientfuzz: %ld streams, %ld with findings, %.1f s (%.0f "
                            "streams/s)\n", streams, with, s, s > 0 ? (double)streams / s : 0.0);
        }
    }
    cf_env_close(&e);
    cf_vec_free(&vec);
    double s = (double)(nf_now_ms() - t0) / 1000.0;
    fprintf(stderr, "busrt-clientfuzz: %.1f s, %.1f streams/s; %ld units, %ld frames reported, "
                    "%zu bytes in %ld writes; ends: %ld close, %ld fatal, %ld cut, %ld huge, %ld "
                    "handshake\n", s, s > 0 ? (double)streams / s : 0.0, units, frames, bytes,
            writes, ends[END_CLOSE], ends[END_FATAL], ends[END_CUT], ends[END_HUGE], hs);
    for (size_t i = 0; i < ntal; i++) {
        fprintf(stderr, "busrt-clientfuzz: %6ld x %s (first case: %s)\n", tal[i].n, tal[i].key,
                tal[i].first[0] != 0 ? tal[i].first : "-");
    }
    free(tal);
    printf("%ld streams, %ld with findings\n", streams, with);
    if (fail) {
        return 2;
    }
    return with > 0 ? 1 : 0;
}
