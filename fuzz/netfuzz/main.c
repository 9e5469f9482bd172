/* busrt-netfuzz command line: random mode (--seed/--seconds) and replay of
 * fuzz inputs (--input), against --target ADDR or a broker it spawns. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "nf.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: busrt-netfuzz (--target ADDR | --spawn CMD) [OPTIONS]\n"
            "Fuzzes a BUS/RT v1 broker over the network and checks every frame against\n"
            "a model of spec/busrt-v1.md. The last line printed is\n"
            "\"N sessions, M violations\"; the exit status is 1 when M > 0.\n"
            "\n"
            "Broker:\n"
            "  --target ADDR        connect to ADDR (UNIX path or HOST:PORT)\n"
            "  --spawn CMD          start the broker with sh -c CMD, every {addr} replaced by\n"
            "                       the address (--target, else a temporary UNIX socket);\n"
            "                       restarted when it dies; stopped (SIGTERM) at the end, and\n"
            "                       a non-zero exit status then counts as a violation\n"
            "Inputs:\n"
            "  --seed S             random mode: session K draws from a PRNG seeded by (S, K)\n"
            "                       (default 1)\n"
            "  --seconds N          stop after N seconds (default 30; 0 = no limit)\n"
            "  --sessions N         stop after N sessions (default 0 = no limit)\n"
            "  --session K          number of the first session (default 0); with\n"
            "                       --sessions 1 it reruns one session of a seed\n"
            "  --input FILE         run one session per FILE (a libFuzzer/AFL++ input)\n"
            "                       instead of random mode; repeatable\n"
            "Model assumptions about the broker:\n"
            "  --body-limit N       its exact body limit: longer bodies must close\n"
            "  --assume-body N      when the limit is unknown, bodies up to N are assumed\n"
            "                       accepted (default 65536); longer ones are never sent\n"
            "  --wait-ms MS         bound of every wait for an expected frame (default 2000)\n"
            "Sessions:\n"
            "  --max-actions N      up to N actions per session (default 40)\n"
            "  --session-ms MS      stop starting actions after MS (default 2500)\n"
            "  --max-violations N   stop after N violations (default 10; 0 = never)\n"
            "  --progress N         a progress line on stderr every N sessions (default 100)\n"
            "  --out DIR            violations go to DIR/violations/ID.json, the spawned\n"
            "                       broker's output to DIR/broker.log (default build/netfuzz)\n"
            "  --verbose            one line per session on stderr\n"
            "Minimizing:\n"
            "  --minimize CASE.json shrink a violation case written by busrt-netfuzz: rerun\n"
            "                       its session (seed and session from the case; a case\n"
            "                       from a fuzz input also needs that --input), then remove\n"
            "                       actions and simplify choices while the broker still\n"
            "                       violates the same requirements; the shortest case goes\n"
            "                       to OUT/minimized/. Exit status 0, 1 when the violation\n"
            "                       does not reproduce, 2 on errors\n"
            "  --minimize-seconds N time budget of --minimize (default 300)\n"
            "  -h, --help           show this help and exit\n"
            "  -V, --version        show the version and exit\n");
}

/* Parses a numeric option a (value v) into o. Returns 0, -1 on a bad
 * value (reported), 1 when a is not a numeric option. */
static int num_opt(struct nf_opts *o, const char *a, const char *v)
{
    const struct nf_numopt t[] = {
        {"--seed", 0, 1.8e19, NF_U64, &o->seed},
        {"--seconds", 0, 1e9, NF_DBL, &o->seconds},
        {"--sessions", 0, 1e15, NF_LONG, &o->sessions},
        {"--session", 0, 1e15, NF_LONG, &o->first_session},
        {"--progress", 1, 1e15, NF_LONG, &o->progress},
        {"--wait-ms", 10, 600000, NF_INT, &o->wait_ms},
        {"--body-limit", 1024, 4294901759.0, NF_U32, &o->body_limit},
        {"--assume-body", 1024, 4294901759.0, NF_U32, &o->assume_body},
        {"--max-actions", 1, 100000, NF_INT, &o->max_actions},
        {"--session-ms", 10, 3600000, NF_INT, &o->session_ms},
        {"--max-violations", 0, 1e9, NF_INT, &o->max_violations},
        {"--minimize-seconds", 1, 1e6, NF_DBL, &o->minimize_seconds},
    };
    return nf_numopt_parse("busrt-netfuzz", t, sizeof t / sizeof t[0], a, v);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    struct nf_buf b = {0};
    if (nf_buf_read_file(&b, path) != 0) {
        return NULL;
    }
    *n = b.len;
    if (b.p == NULL) {
        b.p = nf_xmalloc(1);
    }
    return b.p;
}

int main(int argc, char **argv)
{
    struct nf_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 1;
    o.seconds = 30;
    o.progress = 100;
    o.out_dir = "build/netfuzz";
    o.wait_ms = 2000;
    o.assume_body = 65536;
    o.max_actions = 40;
    o.session_ms = 2500;
    o.max_violations = 10;
    o.minimize_seconds = 300;
    const char **inputs = nf_xmalloc((size_t)argc * sizeof *inputs);
    int ninputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = num_opt(&o, a, v), val = 1;
        if (rc < 0) {
            return 2;
        } else if (rc == 0) {
            /* a numeric option, parsed with its value */
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("busrt-netfuzz %s (BUS/RT wire protocol v1)\n", BUSRT_VERSION_STRING);
            return 0;
        } else if (strcmp(a, "--target") == 0 && v != NULL) {
            o.target = v;
        } else if (strcmp(a, "--spawn") == 0 && v != NULL) {
            o.spawn = v;
        } else if (strcmp(a, "--input") == 0 && v != NULL) {
            inputs[ninputs++] = v;
        } else if (strcmp(a, "--out") == 0 && v != NULL) {
            o.out_dir = v;
        } else if (strcmp(a, "--minimize") == 0 && v != NULL) {
            o.minimize = v;
        } else if (strcmp(a, "--verbose") == 0) {
            o.verbose = 1;
            val = 0;
        } else {
            fprintf(stderr, "busrt-netfuzz: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
        i += val;
    }
    if (o.target == NULL && o.spawn == NULL) {
        fprintf(stderr, "busrt-netfuzz: --target or --spawn is required\n");
        usage(stderr);
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

    struct nf_broker br;
    memset(&br, 0, sizeof br);
    snprintf(br.log, sizeof br.log, "%s/broker.log", o.out_dir);
    if (o.target != NULL) {
        snprintf(br.addr, sizeof br.addr, "%s", o.target);
    } else {
        snprintf(br.dir, sizeof br.dir, "/tmp/busrt-netfuzz.XXXXXX");
        if (mkdtemp(br.dir) == NULL) {
            perror("busrt-netfuzz: mkdtemp");
            return 2;
        }
        snprintf(br.addr, sizeof br.addr, "%s/bus.sock", br.dir);
    }
    if (o.spawn != NULL) {
        int fd = open(br.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            close(fd);
        }
    }
    if (nf_broker_start(&br, &o) != 0) {
        nf_broker_cleanup(&br);
        printf("0 sessions, 1 violations\n");
        return 1;
    }

    if (o.minimize != NULL) {
        size_t n = 0;
        uint8_t *in = NULL;
        if (ninputs > 1) {
            fprintf(stderr, "busrt-netfuzz: --minimize takes at most one --input\n");
            nf_broker_cleanup(&br);
            free(inputs);
            return 2;
        }
        if (ninputs == 1 && (in = read_file(inputs[0], &n)) == NULL) {
            fprintf(stderr, "busrt-netfuzz: cannot read %s\n", inputs[0]);
            nf_broker_cleanup(&br);
            free(inputs);
            return 2;
        }
        int rc = nf_minimize(&o, &br, in, n);
        free(in);
        free(inputs);
        if (o.spawn != NULL && br.pid > 0) {
            (void)nf_broker_stop(&br);
        }
        nf_broker_cleanup(&br);
        return rc;
    }

    struct nf_sess S;
    memset(&S, 0, sizeof S);
    S.o = &o;
    S.broker = &br;
    long sessions = 0, violations = 0, frames_sent = 0, frames_recv = 0;
    int64_t t0 = nf_now_ms();
    uint8_t *input = NULL;
    for (long k = o.first_session; !stop_flag; k++) {
        double el = (double)(nf_now_ms() - t0) / 1000.0;
        if (ninputs == 0 && ((o.seconds > 0 && el >= o.seconds) ||
                             (o.sessions > 0 && sessions >= o.sessions))) {
            break;
        }
        if (ninputs > 0 && k - o.first_session >= ninputs) {
            break;
        }
        if (o.spawn != NULL && br.pid == 0) { /* died: start it again */
            fprintf(stderr, "busrt-netfuzz: restarting the broker (%s)\n", br.why);
            if (nf_broker_start(&br, &o) != 0) {
                violations++;
                break;
            }
            br.why[0] = 0;
        }
        S.index = k;
        if (ninputs > 0) {
            size_t n = 0;
            free(input);
            input = read_file(inputs[k - o.first_session], &n);
            if (input == NULL) {
                fprintf(stderr, "busrt-netfuzz: cannot read %s\n", inputs[k - o.first_session]);
                continue;
            }
            nf_src_data(&S.src, input, n);
        } else {
            nf_src_prng(&S.src, o.seed, (uint64_t)k);
        }
        char path[1200];
        S.frames_sent = S.frames_recv = 0;
        int v = nf_session_run(&S, path, sizeof path);
        sessions++;
        if (o.verbose) {
            fprintf(stderr, "busrt-netfuzz: session %ld (prefix %s): %d actions, %ld frames "
                            "sent, %ld received%s\n", k, S.prefix, S.actions, S.frames_sent,
                    S.frames_recv, v != 0 ? ", VIOLATION" : "");
        }
        frames_sent += S.frames_sent;
        frames_recv += S.frames_recv;
        if (v != 0) {
            violations++;
            fprintf(stderr, "busrt-netfuzz: VIOLATION in session %ld [%s]: %s\n  case: %s\n", k,
                    S.vreq, S.vmsg, path[0] != 0 ? path : "(not written)");
            if (o.max_violations > 0 && violations >= o.max_violations) {
                fprintf(stderr, "busrt-netfuzz: stopping after %ld violations\n", violations);
                break;
            }
            if (br.pid > 0) {
                (void)nf_broker_alive(&br, br.why, sizeof br.why); /* restarted above */
            }
            if (v == 2 && (o.spawn == NULL || br.pid > 0)) {
                fprintf(stderr, "busrt-netfuzz: the broker is unreachable; stopping\n");
                break;
            }
        }
        if (sessions % o.progress == 0) {
            fprintf(stderr, "busrt-netfuzz: %ld sessions, %ld violations, %.1f s, %ld frames "
                            "sent, %ld received\n", sessions, violations,
                    (double)(nf_now_ms() - t0) / 1000.0, frames_sent, frames_recv);
        }
    }
    free(input);
    free(inputs);
    free(S.act_off);
    free(S.pay);
    free(S.frm);
    nf_trace_free(&S.tr);
    if (o.spawn != NULL && br.pid > 0) {
        int st = nf_broker_stop(&br);
        if (st != 0) {
            violations++;
            fprintf(stderr, "busrt-netfuzz: VIOLATION: the broker exited with status %d when "
                            "stopped with SIGTERM (log: %s)\n", st, br.log);
        }
    }
    nf_broker_cleanup(&br);
    const long *st = S.stat;
    fprintf(stderr, "busrt-netfuzz: %.1f s, %ld frames sent, %ld received; actions: %ld op "
                    "batches, %ld concurrent, %ld partial frames, %ld garbage (%ld closed by "
                    "the broker, %ld by us), %ld disconnects (%ld half-closed), %ld handshake "
                    "junk; registrations: %ld ok, %ld refused; checked: %ld deliveries, %ld "
                    "ACKs (%ld foreign frames ignored)\n",
            (double)(nf_now_ms() - t0) / 1000.0, frames_sent, frames_recv, st[NS_OPS],
            st[NS_CONC], st[NS_PARTIAL], st[NS_GARBAGE], st[NS_BROKER_CLOSED], st[NS_WE_CLOSED],
            st[NS_DISCONNECT], st[NS_HALF_CLOSE], st[NS_HS_JUNK], st[NS_REG_OK],
            st[NS_REG_REFUSED], st[NS_DELIVERIES], st[NS_ACKS], st[NS_FOREIGN]);
    printf("%ld sessions, %ld violations\n", sessions, violations);
    return violations > 0 ? 1 : 0;
}
