/* busrt-bench --inproc: an embedded broker (libbusrtd, busrt/busrtd.h)
 * reached by in-process clients, beside the same broker reached over its
 * UNIX socket, beside the floor, all in one process and one run.
 *
 * Every path is driven by two threads of this process with the same code:
 *   floor       a bare socketpair between the two threads (no broker);
 *   unix        two libbusrt clients connected to the broker's UNIX socket;
 *   in-process  two libbusrt clients connected with busrtd_connect().
 * Round trip: A sends a message to B, B sends it back, A receives it
 * (realtime QoS 2 and QoS 3 by default, both ways). Throughput: A sends
 * to B with QoS 0, at most a window of messages ahead of what B has
 * received (so that no queue overflows), for a fixed count. Blocks of
 * rounds are interleaved (floor, unix, in-process, floor, ...), so a busy
 * moment of the shared machine falls on every path alike. Reported:
 * percentiles over every round, the median over repeats for throughput,
 * and each figure as a ratio to the UNIX path and to the floor. Timing is
 * never pass/fail: the exit status says whether every measurement
 * completed with nothing lost. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "run.h"
#include "busrt/busrtd.h"
#include "busrt/client.h"

enum path { P_FLOOR, P_UNIX, P_INPROC, P_COUNT };
static const char *const path_name[P_COUNT] = {"floor (socketpair)", "UNIX socket via broker",
                                               "in-process via broker"};

struct ip_opts {
    int quick;
    size_t rounds;   /* round trips per block */
    int repeats;     /* blocks per path */
    size_t payload;
    size_t count;    /* throughput: messages per run */
    size_t window;
    int runs;        /* throughput runs per path */
    const char *io;  /* --io of the embedded broker */
    int spin_us;     /* busrt_client_config.spin_us of the broker clients */
    const char *csv;
};

/* One side of a path: a client, or a socket of the floor pair. */
struct side {
    busrt_client *c;
    int fd;
};

struct pair {
    enum path p;
    struct side a, b;
    char na[32], nb[32]; /* the clients' names: one pair per path */
};

/* The echo thread's job for one block. */
struct job {
    struct pair *pr;
    unsigned qos;
    size_t rounds; /* round trips to echo, or messages to receive */
    int tput;      /* 1: count instead of echoing */
    atomic_size_t got;
    int err;
    const uint8_t *payload;
    size_t len;
};

static int fd_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fd_read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Sends one message from s to the other side's name; 0 or -1. */
static int side_send(struct side *s, const char *to, const uint8_t *p, size_t n, unsigned qos)
{
    if (s->c == NULL) {
        return fd_write_all(s->fd, p, n);
    }
    return busrt_send(s->c, to, p, n, qos, NULL) == 0 ? 0 : -1;
}

/* Receives one message (its length must be n) within 10 s; 0 or -1. */
static int side_recv(struct side *s, uint8_t *buf, size_t n)
{
    if (s->c == NULL) {
        return fd_read_all(s->fd, buf, n);
    }
    struct busrt_frame f;
    int r = busrt_recv(s->c, &f, 10000);
    if (r != 0 || f.payload_len != n) {
        return -1;
    }
    memcpy(buf, f.payload, n);
    return 0;
}

static void *echo_thread(void *arg)
{
    struct job *j = arg;
    uint8_t *buf = xmalloc(j->len);
    for (size_t i = 0; i < j->rounds; i++) {
        if (side_recv(&j->pr->b, buf, j->len) != 0) {
            j->err = 1;
            break;
        }
        if (j->tput) {
            atomic_fetch_add(&j->got, 1u);
        } else if (side_send(&j->pr->b, j->pr->na, buf, j->len, j->qos) != 0) {
            j->err = 1;
            break;
        }
    }
    free(buf);
    return NULL;
}

/* One block of round trips on pr; samples in ns. Returns 0 or -1. */
static int ip_rtt_block(struct pair *pr, unsigned qos, size_t rounds, const uint8_t *payload,
                     size_t len, struct samples *out)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.pr = pr;
    j.qos = qos;
    j.rounds = rounds;
    j.payload = payload;
    j.len = len;
    pthread_t th;
    if (pthread_create(&th, NULL, echo_thread, &j) != 0) {
        msg("cannot start a thread: %s", strerror(errno));
        return -1;
    }
    uint8_t *buf = xmalloc(len);
    int rc = 0;
    for (size_t i = 0; i < rounds; i++) {
        int64_t t0 = now_ns();
        if (side_send(&pr->a, pr->nb, payload, len, qos) != 0 ||
            side_recv(&pr->a, buf, len) != 0) {
            rc = -1;
            break;
        }
        samples_add(out, now_ns() - t0);
    }
    free(buf);
    if (rc != 0 && pr->a.c == NULL) {
        (void)shutdown(pr->a.fd, SHUT_RDWR); /* the echo thread stops */
    }
    (void)pthread_join(th, NULL);
    return rc != 0 || j.err ? -1 : 0;
}

/* One throughput run: messages per second, or -1. */
static double ip_tput_run(struct pair *pr, size_t count, size_t window, const uint8_t *payload,
                       size_t len)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.pr = pr;
    j.rounds = count;
    j.tput = 1;
    j.len = len;
    atomic_init(&j.got, 0u);
    pthread_t th;
    if (pthread_create(&th, NULL, echo_thread, &j) != 0) {
        return -1;
    }
    int64_t t0 = now_ns();
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        int64_t limit = now_ns() + 10000000000LL;
        while (i - atomic_load(&j.got) >= window) { /* keep queues bounded */
            if (j.err || now_ns() > limit) {
                rc = -1;
                break;
            }
            if (pr->a.c != NULL) {
                (void)busrt_poll(pr->a.c); /* pings, takes ACKs */
            }
            (void)sched_yield();
        }
        if (rc == 0 && side_send(&pr->a, pr->nb, payload, len, BUSRT_QOS_NO) != 0) {
            rc = -1;
        }
    }
    if (rc != 0 && pr->a.c == NULL) {
        (void)shutdown(pr->a.fd, SHUT_RDWR);
    }
    (void)pthread_join(th, NULL);
    int64_t dt = now_ns() - t0;
    if (rc != 0 || j.err || atomic_load(&j.got) != count || dt <= 0) {
        return -1;
    }
    return (double)count * 1e9 / (double)dt;
}

static int open_pair(struct pair *pr, enum path p, busrtd *d, const char *sock, int spin_us)
{
    memset(pr, 0, sizeof *pr);
    pr->p = p;
    pr->a.fd = pr->b.fd = -1;
    if (p == P_FLOOR) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            msg("socketpair: %s", strerror(errno));
            return -1;
        }
        pr->a.fd = sv[0];
        pr->b.fd = sv[1];
        return 0;
    }
    struct busrt_client_config cfg;
    (void)snprintf(pr->na, sizeof pr->na, "bench.%d.a", (int)p);
    (void)snprintf(pr->nb, sizeof pr->nb, "bench.%d.b", (int)p);
    const char *names[2] = {pr->na, pr->nb};
    busrt_client **cs[2] = {&pr->a.c, &pr->b.c};
    for (int k = 0; k < 2; k++) {
        busrt_client_config_init(&cfg, names[k]);
        cfg.spin_us = spin_us;
        int r = p == P_UNIX ? busrt_client_connect(cs[k], sock, &cfg)
                            : busrtd_connect(d, cs[k], &cfg);
        if (r != 0) {
            msg("%s: cannot connect %s: %s", path_name[p], names[k], busrt_client_strerror(r));
            return -1;
        }
    }
    return 0;
}

static void close_pair(struct pair *pr)
{
    busrt_client_close(pr->a.c);
    busrt_client_close(pr->b.c);
    if (pr->a.fd >= 0) {
        (void)close(pr->a.fd);
    }
    if (pr->b.fd >= 0) {
        (void)close(pr->b.fd);
    }
    memset(pr, 0, sizeof *pr);
}

static double us(int64_t ns)
{
    return (double)ns / 1000.0;
}

static void usage(void)
{
    printf("usage: busrt-bench --inproc [--quick] [--rounds N] [--repeats N] [--payload BYTES]\n"
           "                           [--count N] [--window N] [--runs N] [--io BACKEND]\n"
           "                           [--spin USEC] [--csv FILE]\n"
           "An embedded broker (libbusrtd) in this process: round trips (QoS 2 and 3) and\n"
           "QoS 0 throughput of two in-process clients, of two clients on the broker's UNIX\n"
           "socket, and of a bare socketpair (the floor), interleaved in one run. --spin:\n"
           "the broker clients of both paths look for bytes for up to USEC before they\n"
           "sleep (busrt_client_config.spin_us; default 0).\n");
}

static int parse(struct ip_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->payload = 100;
    o->io = "epoll";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        unsigned long long n = 0;
        int num = strcmp(a, "--rounds") == 0 || strcmp(a, "--repeats") == 0 ||
                  strcmp(a, "--payload") == 0 || strcmp(a, "--count") == 0 ||
                  strcmp(a, "--window") == 0 || strcmp(a, "--runs") == 0 ||
                  strcmp(a, "--spin") == 0;
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "busrt-bench: --inproc: unknown option or missing value '%s'\n", a);
            return -1;
        }
        if (num) {
            errno = 0;
            n = strtoull(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n == 0 || n > 100000000ull) {
                fprintf(stderr, "busrt-bench: --inproc: %s '%s': expected a number from 1 to "
                                "100000000\n", a, v);
                return -1;
            }
        }
        if (strcmp(a, "--rounds") == 0) {
            o->rounds = (size_t)n;
        } else if (strcmp(a, "--repeats") == 0) {
            o->repeats = n > 1000 ? 1000 : (int)n;
        } else if (strcmp(a, "--payload") == 0) {
            o->payload = (size_t)n;
        } else if (strcmp(a, "--count") == 0) {
            o->count = (size_t)n;
        } else if (strcmp(a, "--window") == 0) {
            o->window = (size_t)n;
        } else if (strcmp(a, "--runs") == 0) {
            o->runs = n > 100 ? 100 : (int)n;
        } else if (strcmp(a, "--spin") == 0) {
            o->spin_us = n > 10000 ? 10000 : (int)n;
        } else if (strcmp(a, "--io") == 0) {
            o->io = v;
        } else if (strcmp(a, "--csv") == 0) {
            o->csv = v;
        } else {
            fprintf(stderr, "busrt-bench: --inproc: unknown option '%s' (see --inproc --help)\n",
                    a);
            return -1;
        }
        i++;
    }
    o->rounds = o->rounds > 0 ? o->rounds : o->quick ? 300u : 5000u;
    o->repeats = o->repeats > 0 ? o->repeats : o->quick ? 2 : 10;
    o->count = o->count > 0 ? o->count : o->quick ? 20000u : 300000u;
    o->window = o->window > 0 ? o->window : 1000u;
    o->runs = o->runs > 0 ? o->runs : o->quick ? 1 : 5;
    if (o->payload > 1024u * 1024u) {
        fprintf(stderr, "busrt-bench: --inproc: --payload %zu: at most 1048576 bytes\n",
                o->payload);
        return -1;
    }
    return 0;
}

int bench_inproc(int argc, char **argv)
{
    struct ip_opts o;
    if (parse(&o, argc, argv) != 0) {
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char dir[] = "/tmp/busrt-bench-inproc-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        msg("mkdtemp: %s", strerror(errno));
        return 1;
    }
    char sock[128];
    (void)snprintf(sock, sizeof sock, "%s/bus.sock", dir);
    const char *args[] = {"busrtd-embedded", "-B", sock, "--io", o.io, NULL};
    busrtd *d = NULL;
    int rc = busrtd_create(&d, 5, args);
    if (rc == 0) {
        rc = busrtd_spawn(d);
    }
    if (rc != 0) {
        msg("cannot start the embedded broker: %s", busrt_client_strerror(rc));
        busrtd_destroy(d);
        (void)rmdir(dir);
        return 1;
    }
    uint8_t *payload = xmalloc(o.payload);
    memset(payload, 0xa5, o.payload);
    static const unsigned qos_list[2] = {BUSRT_QOS_REALTIME, BUSRT_QOS_REALTIME_PROCESSED};
    struct samples s[2][P_COUNT];
    memset(s, 0, sizeof s);
    int failed = 0;
    struct pair pr[P_COUNT];
    for (int p = 0; p < P_COUNT; p++) {
        if (open_pair(&pr[p], (enum path)p, d, sock, o.spin_us) != 0) {
            failed++;
        }
    }
    printf("busrt-bench --inproc %s: payload %zu B, %zu rounds x %d repeats per path and QoS, "
           "throughput %zu messages x %d runs (window %zu), broker --io %s, client spin %d us\n",
           BENCH_VERSION, o.payload, o.rounds, o.repeats, o.count, o.runs, o.window, o.io,
           o.spin_us);
    for (int q = 0; q < 2 && failed == 0; q++) {
        for (int r = 0; r < o.repeats && failed == 0; r++) {
            for (int p = 0; p < P_COUNT; p++) {
                if (ip_rtt_block(&pr[p], qos_list[q], o.rounds, payload, o.payload, &s[q][p]) !=
                    0) {
                    msg("%s: QoS %u: a round trip failed", path_name[p], qos_list[q]);
                    failed++;
                    break;
                }
            }
        }
    }
    double tp[P_COUNT][100];
    memset(tp, 0, sizeof tp);
    for (int r = 0; r < o.runs && failed == 0; r++) {
        for (int p = 0; p < P_COUNT; p++) {
            tp[p][r] = ip_tput_run(&pr[p], o.count, o.window, payload, o.payload);
            if (tp[p][r] < 0) {
                msg("%s: throughput run %d lost messages or failed", path_name[p], r + 1);
                failed++;
                break;
            }
        }
    }
    FILE *csv = NULL;
    if (o.csv != NULL && (csv = fopen(o.csv, "w")) == NULL) {
        msg("--csv %s: %s", o.csv, strerror(errno));
        failed++;
    }
    if (csv != NULL) {
        fprintf(csv, "test,path,qos,payload,n,p50_us,p90_us,p99_us,p999_us,ratio_to_unix,"
                     "ratio_to_floor\n");
    }
    if (failed == 0) {
        printf("\nround trip, microseconds       QoS      n      p50      p90      p99    "
               "p99.9   p50 / UNIX  p50 / floor\n");
        for (int q = 0; q < 2; q++) {
            double p50[P_COUNT];
            for (int p = 0; p < P_COUNT; p++) {
                samples_sort(&s[q][p]);
                p50[p] = us(samples_pct(&s[q][p], 0.5));
            }
            for (int p = 0; p < P_COUNT; p++) {
                const struct samples *x = &s[q][p];
                printf("  %-28s %3u %6zu %8.1f %8.1f %8.1f %8.1f %11.2fx %11.2fx\n",
                       path_name[p], qos_list[q], x->n, p50[p], us(samples_pct(x, 0.9)),
                       us(samples_pct(x, 0.99)), us(samples_pct(x, 0.999)),
                       p50[p] / p50[P_UNIX], p50[p] / p50[P_FLOOR]);
                if (csv != NULL) {
                    fprintf(csv, "rtt,%s,%u,%zu,%zu,%.2f,%.2f,%.2f,%.2f,%.3f,%.3f\n",
                            path_name[p], qos_list[q], o.payload, x->n, p50[p],
                            us(samples_pct(x, 0.9)), us(samples_pct(x, 0.99)),
                            us(samples_pct(x, 0.999)), p50[p] / p50[P_UNIX],
                            p50[p] / p50[P_FLOOR]);
                }
            }
        }
        double med[P_COUNT];
        for (int p = 0; p < P_COUNT; p++) {
            med[p] = median_d(tp[p], (size_t)o.runs);
        }
        printf("\nthroughput QoS 0, messages/s (median of %d)          rate   "
               "   / UNIX      / floor\n", o.runs);
        for (int p = 0; p < P_COUNT; p++) {
            printf("  %-28s %24.0f %10.2fx %10.2fx\n", path_name[p], med[p], med[p] / med[P_UNIX],
                   med[p] / med[P_FLOOR]);
            if (csv != NULL) {
                fprintf(csv, "tput,%s,0,%zu,%d,%.0f,,,,%.3f,%.3f\n", path_name[p], o.payload,
                        o.runs, med[p], med[p] / med[P_UNIX], med[p] / med[P_FLOOR]);
            }
        }
    }
    if (csv != NULL && fclose(csv) != 0) {
        msg("--csv %s: %s", o.csv, strerror(errno));
        failed++;
    }
    for (int p = 0; p < P_COUNT; p++) {
        close_pair(&pr[p]);
        for (int q = 0; q < 2; q++) {
            samples_free(&s[q][p]);
        }
    }
    struct busrtd_stats st;
    if (busrtd_stats(d, &st) == 0) {
        printf("\nbroker: %llu frames in, %llu frames out\n", (unsigned long long)st.r_frames,
               (unsigned long long)st.w_frames);
    }
    busrtd_destroy(d);
    (void)rmdir(dir);
    free(payload);
    if (failed != 0) {
        printf("\nFAILED: %d measurement(s) incomplete (see the messages above)\n", failed);
        return 1;
    }
    printf("\nOK: every round trip completed and every message arrived\n");
    return 0;
}
