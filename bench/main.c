/* busrt-bench: options, broker processes, the measurement phases.
 *
 * Every figure is measured the same way on every target, in interleaved
 * blocks (floor, A, B, floor, A, B, ... with the order rotated each repeat),
 * so that noise from the rest of the machine hits all of them alike, and the
 * floor (the same ping-pong over a bare socketpair between the same two
 * processes) is measured in the same run as the broker figures. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "busrt/codes.h"
#include "busrt/frame.h"

enum { ONLY_LAT = 1, ONLY_LOAD = 2, ONLY_TPUT = 4, ONLY_FANOUT = 8, ONLY_SCALE = 16 };

static struct {
    int only;
    size_t rounds;
    int repeats;
    double duration;
    int tput_repeats;
    int quick;
    uint64_t window;
    size_t payloads[8];
    int npayloads;
    int qos[4];
    int nqos;
    size_t scale_k[4];
    int nscale;
    size_t scale_rounds;
    double scale_duration;
    const char *csv, *json, *plot, *broker_log;
    double timeout;
    double max_time;
    double ping;
    int quiet;
    int no_place;
    int probe_qos; /* QoS of the placement probe's broker rows */
    const char *hook;
    int pin; /* 0 none, 1 one CPU, 2 split */
} O;

static struct target g_t[MAX_TARGETS];
static int g_nt;
static struct ctl g_ctl; /* to the peer (B); also the floor */
static uint8_t *g_payload;
static int64_t g_timeout;
static char g_tmpdir[64];
static struct result *g_res;
static size_t g_nres, g_rescap;
static int g_failed;

/* Processes to stop from a signal handler. */
static volatile pid_t g_kids[4];       /* peer, load, holder */
static volatile pid_t g_brokers[MAX_TARGETS];
static volatile pid_t g_placed[MAX_TARGETS]; /* brokers whose CPU mask we changed */
static const char *g_watchdog_msg =
    "busrt-bench: watchdog: the run exceeded --max-time; stopping\n";

/* Removes the temporary directory of spawned brokers' sockets and logs
 * (only async-signal-safe calls: also used from the signal handler). */
static void remove_tmpdir(void)
{
    if (g_tmpdir[0] == '\0') {
        return;
    }
    char p[96];
    for (int i = 0; i < MAX_TARGETS; i++) {
        /* g_tmpdir "/t" digit ".sock" (".log"), built without stdio */
        size_t l = strlen(g_tmpdir);
        memcpy(p, g_tmpdir, l);
        memcpy(p + l, "/t0.sock", 9);
        p[l + 2] = (char)('0' + i);
        (void)unlink(p);
        memcpy(p + l + 3, ".log", 5);
        (void)unlink(p);
    }
    (void)rmdir(g_tmpdir);
}

static void stop_everything_now(void)
{
    for (int i = 0; i < MAX_TARGETS; i++) {
        if (g_placed[i] > 0) {
            (void)pin_restore_main(g_placed[i], i);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (g_kids[i] > 0) {
            (void)kill(g_kids[i], SIGKILL);
        }
    }
    struct timespec tick = {0, 5000000};
    for (int i = 0; i < 4; i++) {
        for (int k = 0; g_kids[i] > 0 && k < 200; k++) {
            if (waitpid(g_kids[i], NULL, WNOHANG) != 0) {
                break;
            }
            (void)nanosleep(&tick, NULL);
        }
    }
    for (int i = 0; i < MAX_TARGETS; i++) {
        if (g_brokers[i] > 0) {
            (void)kill(-g_brokers[i], SIGTERM);
        }
    }
    struct timespec ts = {0, 20000000};
    for (int k = 0; k < 150; k++) {
        int alive = 0;
        for (int i = 0; i < MAX_TARGETS; i++) {
            if (g_brokers[i] > 0) {
                if (waitpid(g_brokers[i], NULL, WNOHANG) == 0) {
                    alive = 1;
                } else {
                    g_brokers[i] = 0;
                }
            }
        }
        if (!alive) {
            break;
        }
        (void)nanosleep(&ts, NULL);
    }
    for (int i = 0; i < MAX_TARGETS; i++) {
        if (g_brokers[i] > 0) {
            (void)kill(-g_brokers[i], SIGKILL);
        }
    }
    remove_tmpdir();
}

static void on_fatal_signal(int sig)
{
    if (sig == SIGALRM) {
        (void)write(STDERR_FILENO, g_watchdog_msg, strlen(g_watchdog_msg));
    }
    stop_everything_now();
    _exit(sig == SIGALRM ? 3 : 128 + sig);
}

static struct result *res_new(enum section sec, const char *test, int target)
{
    /* Allocated once: callers keep pointers to their rows while adding more.
     * The count is bounded (sections x cells x MAX_TARGETS + 1, well below). */
    if (g_res == NULL) {
        g_rescap = 4096u;
        g_res = calloc(g_rescap, sizeof *g_res);
        if (g_res == NULL) {
            msg("out of memory");
            _exit(3);
        }
    }
    if (g_nres == g_rescap) {
        msg("too many results (%zu)", g_nres);
        _exit(3);
    }
    struct result *r = &g_res[g_nres++];
    memset(r, 0, sizeof *r);
    r->sec = sec;
    (void)snprintf(r->test, sizeof r->test, "%s", test);
    r->target = target;
    r->ok = 1;
    return r;
}

static void res_fail(struct result *r, const char *why)
{
    if (r->ok) {
        g_failed++;
    }
    r->ok = 0;
    if (r->note[0] == '\0') {
        copy_str(r->note, sizeof r->note, why);
    }
}

/* Sleeps while keeping connections alive. */
static void nap(int ms)
{
    int64_t end = now_ns() + (int64_t)ms * 1000000;
    while (now_ns() < end) {
        (void)poll(NULL, 0, ms_left(end, 50));
        ka_tick(now_ns());
    }
}

static void child_signals_default(void);

/* --hook: runs CMD with /bin/sh before ("begin") and after ("end") every
 * measurement block that involves a broker, e.g. to zero and dump a
 * profiler's counters (callgrind_control) around exactly that block. */
static void hook(const char *event, const struct target *t)
{
    if (O.hook == NULL) {
        return;
    }
    char pid[24] = "";
    if (t->bpid > 0) {
        (void)snprintf(pid, sizeof pid, "%ld", (long)t->bpid);
    }
    fflush(stdout);
    pid_t h = fork();
    if (h == 0) {
        (void)setenv("BENCH_EVENT", event, 1);
        (void)setenv("BENCH_WHAT", progress_text(), 1);
        (void)setenv("BENCH_TARGET", t->label, 1);
        (void)setenv("BENCH_ADDR", t->addr, 1);
        (void)setenv("BENCH_PID", pid, 1);
        child_signals_default();
        execl("/bin/sh", "sh", "-c", O.hook, (char *)NULL);
        _exit(127);
    }
    if (h < 0) {
        return;
    }
    int64_t deadline = now_ns() + g_timeout;
    int st;
    pid_t w;
    while ((w = waitpid(h, &st, WNOHANG)) == 0 && now_ns() < deadline) {
        (void)poll(NULL, 0, 5);
        ka_tick(now_ns());
    }
    if (w == 0) {
        msg("--hook did not finish within %.0f s; killed", O.timeout);
        (void)kill(h, SIGKILL);
        (void)waitpid(h, &st, 0);
    }
}

/* ==== brokers ======================================================================= */

static char *replace_addr(const char *cmd, const char *addr)
{
    size_t n = 0;
    for (const char *p = cmd; (p = strstr(p, "{addr}")) != NULL; p += 6) {
        n++;
    }
    char *out = xmalloc(strlen(cmd) + n * strlen(addr) + 8);
    char *o = out;
    const char *p = cmd;
    const char *q;
    while ((q = strstr(p, "{addr}")) != NULL) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, addr, strlen(addr));
        o += strlen(addr);
        p = q + 6;
    }
    strcpy(o, p);
    return out;
}

static int try_connect(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    (void)close(fd);
    return rc;
}

static void child_signals_default(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGALRM, &sa, NULL);
    (void)sigaction(SIGPIPE, &sa, NULL);
    (void)alarm(0);
}

/* The last non-empty line the broker wrote to its log after offset `from`
 * (its complaint when it exits at start-up), or "". */
static void log_tail(const char *path, off_t from, char *out, size_t cap)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char buf[4096];
    off_t end = lseek(fd, 0, SEEK_END);
    off_t at = end - from > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : from;
    ssize_t n = at >= 0 ? pread(fd, buf, sizeof buf - 1u, at) : -1;
    (void)close(fd);
    if (n <= 0) {
        return;
    }
    size_t len = (size_t)n;
    while (len > 0 && (buf[len - 1u] == '\n' || buf[len - 1u] == '\r' || buf[len - 1u] == ' ')) {
        len--;
    }
    buf[len] = '\0';
    char *line = strrchr(buf, '\n');
    copy_str(out, cap, line != NULL ? line + 1 : buf);
}

/* Starts a --spawn target and waits until it accepts connections. Returns 0,
 * or -1 with why set (the broker is stopped). */
static int spawn_broker(struct target *t, int idx, char *why, size_t whylen)
{
    (void)snprintf(t->addr, sizeof t->addr, "%s/t%d.sock", g_tmpdir, idx);
    char logpath[96] = "";
    if (O.broker_log == NULL) {
        (void)snprintf(logpath, sizeof logpath, "%s/t%d.log", g_tmpdir, idx);
    }
    const char *log = O.broker_log != NULL ? O.broker_log : logpath;
    char *cmd = replace_addr(t->cmd, t->addr);
    size_t l = strlen(cmd) + 8;
    char *full = xmalloc(l);
    (void)snprintf(full, l, "exec %s", cmd);
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    off_t log_from = 0;
    if (logfd < 0) {
        msg("target %d (%s): cannot open the broker log %s: %s; its output is lost", idx,
            t->label, log, strerror(errno));
    } else {
        log_from = lseek(logfd, 0, SEEK_END);
        log_from = log_from < 0 ? 0 : log_from;
    }
    pid_t pid = fork();
    if (pid < 0) {
        (void)snprintf(why, whylen, "fork: %s", strerror(errno));
        if (logfd >= 0) {
            (void)close(logfd);
        }
        free(cmd);
        free(full);
        return -1;
    }
    if (pid == 0) {
        (void)setpgid(0, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        child_signals_default();
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            (void)dup2(nul, STDIN_FILENO);
        }
        if (logfd >= 0) {
            (void)dup2(logfd, STDOUT_FILENO);
            (void)dup2(logfd, STDERR_FILENO);
        }
        close_fds_except(-1);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    (void)setpgid(pid, pid);
    if (logfd >= 0) {
        (void)close(logfd);
    }
    t->pid = pid;
    g_brokers[idx] = pid;
    msg("target %d (%s): started `%s` (pid %ld)", idx, t->label, cmd, (long)pid);
    free(cmd);
    free(full);
    int64_t deadline = now_ns() + g_timeout;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            char tail[120];
            log_tail(log, log_from, tail, sizeof tail);
            (void)snprintf(why, whylen, "the broker exited before accepting connections "
                           "(status %d)%s%s", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                           tail[0] != '\0' ? ": " : "", tail);
            t->pid = 0;
            g_brokers[idx] = 0;
            return -1;
        }
        if (try_connect(t->addr) == 0) {
            return 0;
        }
        if (now_ns() >= deadline) {
            (void)snprintf(why, whylen, "no connection accepted on %.100s within %.0f s",
                           t->addr, O.timeout);
            return -1;
        }
        (void)poll(NULL, 0, 20);
    }
}

static void stop_broker(struct target *t, int idx)
{
    if (t->pid <= 0) {
        return;
    }
    (void)kill(-t->pid, SIGTERM);
    int64_t deadline = now_ns() + g_timeout;
    int st = 0;
    pid_t w = 0;
    while ((w = waitpid(t->pid, &st, WNOHANG)) == 0 && now_ns() < deadline) {
        (void)poll(NULL, 0, 20);
    }
    if (w == 0) {
        msg("target %d (%s): broker did not stop within %.0f s of SIGTERM; killing it", idx,
            t->label, O.timeout);
        (void)kill(-t->pid, SIGKILL);
        (void)waitpid(t->pid, &st, 0);
    } else if (w == t->pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        msg("target %d (%s): broker exit status %d after SIGTERM", idx, t->label,
            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    t->pid = 0;
    g_brokers[idx] = 0;
}

/* ==== child processes ================================================================ */

static pid_t fork_child(int *parent_fd, int slot)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        msg("socketpair: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        msg("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        child_signals_default();
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        (void)sigaction(SIGPIPE, &sa, NULL);
        (void)sigaction(SIGINT, &sa, NULL); /* the bench process decides */
        close_fds_except(sv[1]);
        ka_reset();
        (void)set_nonblock(sv[1]);
        *parent_fd = sv[1];
        return 0;
    }
    (void)close(sv[1]);
    (void)set_nonblock(sv[0]);
    *parent_fd = sv[0];
    g_kids[slot] = pid;
    return pid;
}

static void reap_child(pid_t *pid, struct ctl *k, int slot)
{
    if (*pid <= 0) {
        return;
    }
    (void)ctl_send(k, CTL_QUIT, NULL, 0);
    int64_t deadline = now_ns() + 3000000000LL;
    pid_t w;
    while ((w = waitpid(*pid, NULL, WNOHANG)) == 0 && now_ns() < deadline) {
        (void)poll(NULL, 0, 10);
        ka_tick(now_ns());
    }
    if (w == 0) {
        (void)kill(*pid, SIGKILL);
        (void)waitpid(*pid, NULL, 0);
    }
    ctl_free(k);
    *pid = -1;
    g_kids[slot] = 0;
}

/* ==== round trips ==================================================================== */

/* A target that stopped answering is not waited for again. */
static void mark_dead(struct target *t, const char *why)
{
    if (!t->dead) {
        t->dead = 1;
        copy_str(t->dead_why, sizeof t->dead_why, why);
        msg("target %s failed: %s; its remaining measurements are skipped", t->label, why);
    }
}

static int rtt_bus_run(struct conn *c, uint8_t op, const char *dest, size_t dlen, uint8_t qos,
                       size_t payload, size_t warm, size_t n, struct samples *out,
                       uint64_t *errors, char *why, size_t whylen);

/* One block of round trips A -> broker -> B -> broker -> A through target
 * t. op/dest: a message to B, or a publication / broadcast B receives; B
 * answers every one with a message. The first `warm` are not recorded.
 * Returns 0, or -1 (why set). */
static int rtt_bus(struct target *t, uint8_t op, const char *dest, uint8_t qos,
                   size_t payload, size_t warm, size_t n, struct samples *out,
                   uint64_t *errors, char *why, size_t whylen)
{
    struct conn *c = &t->a;
    size_t dlen = strlen(dest);
    if (t->dead) {
        (void)snprintf(why, whylen, "skipped: %.140s", t->dead_why);
        return -1;
    }
    hook("begin", t);
    int rc = rtt_bus_run(c, op, dest, dlen, qos, payload, warm, n, out, errors, why, whylen);
    hook("end", t);
    if (rc != 0) {
        mark_dead(t, why);
    }
    return rc;
}

static int rtt_bus_run(struct conn *c, uint8_t op, const char *dest, size_t dlen, uint8_t qos,
                       size_t payload, size_t warm, size_t n, struct samples *out,
                       uint64_t *errors, char *why, size_t whylen)
{
    for (size_t i = 0; i < warm + n; i++) {
        uint32_t id = c->next_op++;
        uint64_t seq = ((uint64_t)id << 8) ^ 0xbe;
        if (payload >= 8) {
            put_u64(g_payload, seq);
        }
        struct iovec pl = {g_payload, payload};
        int64_t t0 = now_ns();
        if (conn_send(c, op, qos, id, dest, dlen, &pl, payload > 0 ? 1 : 0) != 0) {
            (void)snprintf(why, whylen, "send failed: %s", strerror(errno));
            return -1;
        }
        int got_echo = 0, got_ack = (qos & 1u) == 0;
        int64_t deadline = t0 + g_timeout;
        for (;;) {
            struct dframe f;
            int k;
            while ((k = conn_next(c, &f)) == 1) {
                if (f.kind == BUSRT_ACK_MARKER) {
                    if (f.op_id == id) {
                        got_ack = 1;
                        if (f.code != BUSRT_RC_OK) {
                            (*errors)++;
                        }
                    }
                    continue;
                }
                struct busrt_frame_body b;
                if (f.kind != BUSRT_KIND_MESSAGE ||
                    busrt_frame_body_split(f.kind, f.body, f.len, &b) != 0) {
                    continue; /* e.g. a .broker/warn announcement */
                }
                if (b.payload.len == payload &&
                    (payload < 8 || get_u64(f.body + b.payload.off) == seq)) {
                    got_echo = 1;
                } else {
                    (*errors)++; /* a stray or damaged echo */
                }
            }
            if (k < 0) {
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
                               got_echo ? "ACK" : "echo", O.timeout, i);
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
        int64_t t1 = now_ns();
        if (i >= warm) {
            samples_add(out, t1 - t0);
        }
        ka_tick(t1);
    }
    return 0;
}

/* The floor: the same ping-pong over the socketpair between the same two
 * processes, frames of the same size as the broker's. */
static int rtt_floor(size_t frame_len, size_t warm, size_t n, struct samples *out,
                     uint64_t *errors, char *why, size_t whylen)
{
    struct ctl *k = &g_ctl;
    for (size_t i = 0; i < warm + n; i++) {
        uint64_t seq = (uint64_t)i * 7919u + 1u;
        put_u64(g_payload, seq);
        int64_t t0 = now_ns();
        if (ctl_send(k, CTL_FLOOR, g_payload, frame_len) != 0) {
            (void)snprintf(why, whylen, "floor: send failed");
            return -1;
        }
        int64_t deadline = t0 + g_timeout;
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
                (void)snprintf(why, whylen, "floor: no echo within %.0f s", O.timeout);
                return -1;
            }
            if (ctl_fill(k) < 0) {
                (void)snprintf(why, whylen, "floor: the peer process is gone");
                return -1;
            }
        }
        int64_t t1 = now_ns();
        if (i >= warm) {
            samples_add(out, t1 - t0);
        }
        ka_tick(t1);
    }
    return 0;
}

static double block_p50(const struct samples *s, size_t from)
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

static void fill_lat(struct result *r, struct samples *s, double *rep, size_t nrep)
{
    samples_sort(s);
    r->n = s->n;
    if (s->n == 0) {
        res_fail(r, "no samples");
        return;
    }
    r->p50 = (double)samples_pct(s, 0.5) / 1000.0;
    r->p90 = (double)samples_pct(s, 0.9) / 1000.0;
    r->p99 = (double)samples_pct(s, 0.99) / 1000.0;
    r->p999 = (double)samples_pct(s, 0.999) / 1000.0;
    r->max = (double)s->v[s->n - 1u] / 1000.0;
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

/* ==== background load ================================================================ */

static pid_t g_load = -1;
static struct ctl g_lctl;

/* In a forked child: the targets' addresses to hand to its main function,
 * "" for a failed target and for one not in in[] (NULL: every target). */
static char (*child_addrs(const int *in))[ADDR_CAP]
{
    char(*addrs)[ADDR_CAP] = xmalloc((size_t)g_nt * ADDR_CAP);
    for (int i = 0; i < g_nt; i++) {
        int use = !g_t[i].dead && (in == NULL || in[i]);
        memcpy(addrs[i], use ? g_t[i].addr : "", use ? ADDR_CAP : 1u);
    }
    return addrs;
}

static int load_start(void)
{
    if (g_load > 0) {
        return 0;
    }
    int fd;
    pid_t pid = fork_child(&fd, 1);
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        load_main(fd, child_addrs(NULL), g_nt, O.window, g_timeout);
    }
    g_load = pid;
    ctl_init(&g_lctl, fd);
    struct ctl_args a;
    int rc = ctl_wait(&g_lctl, CTL_READY, 0, &a, g_timeout + 2000000000LL);
    if (rc != CTL_READY) {
        msg("load process: %s", rc == CTL_ERR ? a.text : "no answer");
        reap_child(&g_load, &g_lctl, 1);
        return -1;
    }
    return 0;
}

/* ==== throughput runs =================================================================== */

struct tspec {
    const char *name;
    int mode;
    uint8_t qos;
    size_t payload;
    int nsenders;
    int nsubs;
};

struct trun {
    double rate;
    uint64_t sent, received, errors;
    int ok;
    char note[200];
};

struct sender {
    struct conn *c; /* NULL for the floor */
    int fd;
    uint8_t *batch;
    size_t fsize, seq_off, bs, be, per_batch;
    uint64_t seq;
};

/* One flow-controlled run of `duration` seconds: the bench process sends,
 * the peer receives and returns credit every window/8 frames, so at most
 * `window` frames are in flight and no queue can overflow. The rate is
 * taken from the credit reports after a warm-up fifth of the run. */
static void tput_run(int tidx, const struct tspec *sp, double duration, struct trun *out)
{
    /* tidx < 0: the floor, the same flow from A to B over the socketpair,
     * frames of the same size as target 0's, credit on the same socketpair */
    int floor = tidx < 0;
    struct target *t = &g_t[floor ? 0 : tidx];
    memset(out, 0, sizeof *out);
    if (t->dead && !floor) {
        (void)snprintf(out->note, sizeof out->note, "skipped: %.160s", t->dead_why);
        return;
    }
    char dest[NAME_CAP];
    uint8_t op = 0;
    switch (floor ? RM_FLOOR : sp->mode) {
    case RM_FLOOR:
        (void)snprintf(dest, sizeof dest, "%s", t->bname);
        break;
    case RM_MSG:
        (void)snprintf(dest, sizeof dest, "%s", t->bname);
        op = BUSRT_OP_MESSAGE;
        break;
    case RM_FANOUT:
        topic_fanout(dest, tidx);
        op = BUSRT_OP_PUBLISH;
        break;
    case RM_PUB:
        topic_scale(dest, tidx);
        op = BUSRT_OP_PUBLISH;
        break;
    default:
        mask_scale(dest, tidx);
        op = BUSRT_OP_BROADCAST;
        break;
    }
    int ns = sp->nsenders > 0 && !floor ? sp->nsenders : 1;
    struct conn extra[MAX_SENDERS];
    struct sender snd[MAX_SENDERS];
    memset(snd, 0, sizeof snd);
    int nextra = 0;
    if (ns > 1) {
        char(*names)[NAME_CAP] = xmalloc((size_t)ns * NAME_CAP);
        for (int i = 0; i < ns; i++) {
            name_sender(names[i], tidx, i);
        }
        char err[200];
        size_t ok = conn_open_many(extra, (size_t)ns, t->addr, names, g_timeout, err, sizeof err);
        free(names);
        nextra = (int)ok;
        if (ok < (size_t)ns) {
            (void)snprintf(out->note, sizeof out->note, "senders: %.160s", err);
            goto done;
        }
    }
    /* the peer becomes the receiver */
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    size_t dlen = strlen(dest);
    size_t fsize = BUSRT_CLIENT_HEADER_LEN + dlen + 1u + sp->payload;
    a.tidx = tidx;
    a.mode = floor ? RM_FLOOR : sp->mode;
    a.nsubs = sp->nsubs;
    a.nsenders = ns;
    a.count2 = floor ? fsize - 8u : sp->payload; /* floor: the message body length */
    a.report_every = O.window / 8u > 0 ? O.window / 8u : 1u;
    if (ctl_send_args(&g_ctl, CTL_RECV_START, &a) != 0 ||
        ctl_wait(&g_ctl, CTL_OK, 0, &a, g_timeout * 2) != CTL_OK) {
        (void)snprintf(out->note, sizeof out->note, "receiver set-up failed: %.150s", a.text);
        goto done;
    }
    size_t per = 65536u / fsize;
    per = per < 1u ? 1u : per > 256u ? 256u : per;
    for (int s = 0; s < ns; s++) {
        struct sender *x = &snd[s];
        x->c = floor ? NULL : ns > 1 ? &extra[s] : &t->a;
        x->fd = floor ? g_ctl.fd : x->c->fd;
        if (x->c != NULL) {
            (void)conn_drain_out(x->c, now_ns() + g_timeout);
        }
        x->fsize = fsize;
        x->per_batch = per;
        x->seq_off = floor ? 8u : BUSRT_CLIENT_HEADER_LEN + dlen + 1u;
        x->batch = xmalloc(per * fsize);
        for (size_t i = 0; i < per && floor; i++) {
            uint8_t *p = x->batch + i * fsize;
            put_u32(p, CTL_TDATA);
            put_u32(p + 4, (uint32_t)(fsize - 8u));
            memset(p + 8, 0xa5, fsize - 8u);
            put_u32(p + 16, 0);
        }
        for (size_t i = 0; i < per && !floor; i++) {
            uint8_t *p = x->batch + i * fsize;
            struct busrt_client_header h = {0, op, sp->qos, (uint32_t)(dlen + 1u + sp->payload)};
            (void)busrt_client_header_encode(&h, p, BUSRT_CLIENT_HEADER_LEN);
            memcpy(p + BUSRT_CLIENT_HEADER_LEN, dest, dlen);
            p[BUSRT_CLIENT_HEADER_LEN + dlen] = 0;
            memset(p + x->seq_off, 0xa5, sp->payload);
            put_u32(p + x->seq_off + 8, (uint32_t)s);
        }
    }
    uint64_t total = 0, credit = 0, c0 = 0;
    if (!floor) {
        hook("begin", t);
    }
    int64_t t_start = now_ns();
    int64_t t_end = t_start + (int64_t)(duration * 1e9);
    int64_t t_warm = t_start + (int64_t)(duration * 0.2e9);
    int64_t t0 = t_start;
    int have0 = 0, failed = 0;
    int rr = 0;
    while (!failed) {
        int64_t now = now_ns();
        if (now >= t_end) {
            break;
        }
        int progress = 0;
        for (int j = 0; j < ns; j++) {
            struct sender *x = &snd[(rr + j) % ns];
            if (x->bs == x->be) {
                uint64_t room = O.window - (total - credit);
                uint64_t k = room < x->per_batch ? room : x->per_batch;
                if (k > 0) {
                    for (uint64_t i = 0; i < k; i++) {
                        put_u64(x->batch + i * fsize + x->seq_off, x->seq++);
                    }
                    x->bs = 0;
                    x->be = (size_t)k * fsize;
                    total += k;
                }
            }
            if (x->bs < x->be) {
                ssize_t w = write(x->fd, x->batch + x->bs, x->be - x->bs);
                if (w > 0) {
                    x->bs += (size_t)w;
                    if (x->c != NULL) {
                        x->c->last_tx = now;
                    }
                    progress = 1;
                } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    (void)snprintf(out->note, sizeof out->note, "write: %s", strerror(errno));
                    failed = 1;
                    break;
                }
            }
        }
        rr++;
        /* credit */
        if (ctl_fill(&g_ctl) < 0) {
            (void)snprintf(out->note, sizeof out->note, "the peer process is gone");
            failed = 1;
            break;
        }
        uint32_t type;
        const uint8_t *body;
        size_t len;
        while (ctl_next(&g_ctl, &type, &body, &len) == 1) {
            struct ctl_args cr;
            memset(&cr, 0, sizeof cr);
            if (len == sizeof cr) {
                memcpy(&cr, body, sizeof cr);
            }
            if (type == CTL_CREDIT) {
                if (cr.count > credit) {
                    credit = cr.count;
                    progress = 1;
                }
                if (!have0 && cr.t_ns >= t_warm) {
                    have0 = 1;
                    c0 = cr.count;
                    t0 = cr.t_ns;
                }
            } else {
                (void)snprintf(out->note, sizeof out->note, "receiver: %.160s",
                               cr.text[0] ? cr.text : "unexpected message");
                failed = 1;
            }
        }
        if (!progress && !failed) {
            struct pollfd pf[1 + MAX_SENDERS];
            nfds_t np = 0;
            pf[np].fd = g_ctl.fd;
            pf[np++].events = POLLIN;
            for (int s = 0; s < ns; s++) {
                if (snd[s].bs < snd[s].be) {
                    pf[np].fd = snd[s].fd;
                    pf[np++].events = POLLOUT;
                }
            }
            (void)poll(pf, np, ms_left(t_end, 50));
        }
        ka_tick(now);
    }
    /* finish the frames already counted as sent */
    for (int s = 0; s < ns && !failed; s++) {
        struct sender *x = &snd[s];
        int64_t dl = now_ns() + g_timeout;
        while (x->bs < x->be) {
            ssize_t w = write(x->fd, x->batch + x->bs, x->be - x->bs);
            if (w > 0) {
                x->bs += (size_t)w;
                if (x->c != NULL) {
                    x->c->last_tx = now_ns();
                }
                continue;
            }
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || now_ns() >= dl) {
                (void)snprintf(out->note, sizeof out->note, "could not finish writing");
                failed = 1;
                break;
            }
            struct pollfd pf = {x->fd, POLLOUT, 0};
            (void)poll(&pf, 1, ms_left(dl, 50));
            /* keep credit flowing so the peer never blocks on us */
            (void)ctl_fill(&g_ctl);
        }
    }
    memset(&a, 0, sizeof a);
    a.count = total;
    if (ctl_send_args(&g_ctl, CTL_RECV_END, &a) != 0) {
        failed = 1;
    }
    struct ctl_args res;
    int rc = ctl_wait(&g_ctl, CTL_RESULT, 0, &res, g_timeout + 5000000000LL);
    if (!floor) {
        hook("end", t);
    }
    out->sent = total;
    if (rc != CTL_RESULT) {
        (void)snprintf(out->note, sizeof out->note, "no result from the receiver%s%.150s",
                       rc == CTL_ERR ? ": " : "", rc == CTL_ERR ? res.text : "");
        goto done;
    }
    out->received = res.count;
    out->errors = res.errors;
    if (!have0) {
        c0 = 0;
        t0 = t_start;
    }
    double secs = (double)(res.t_ns - t0) / 1e9;
    out->rate = secs > 0 && res.count > c0 ? (double)(res.count - c0) / secs : 0.0;
    if (res.text[0] != '\0' && out->note[0] == '\0') {
        copy_str(out->note, sizeof out->note, res.text);
    }
    out->ok = !failed && out->received == out->sent && out->errors == 0 && out->rate > 0;
    if (!out->ok && out->note[0] == '\0') {
        (void)snprintf(out->note, sizeof out->note, "%llu sent, %llu received, %llu errors",
                       (unsigned long long)out->sent, (unsigned long long)out->received,
                       (unsigned long long)out->errors);
    }
done:
    if (!out->ok && out->received == 0 && !floor) {
        /* does the target still answer at all? (rtt_bus marks it dead if not) */
        struct samples probe = {0};
        uint64_t perr = 0;
        char pwhy[200];
        (void)rtt_bus(t, BUSRT_OP_MESSAGE, t->bname, 0, 0, 0, 1, &probe, &perr, pwhy,
                      sizeof pwhy);
        samples_free(&probe);
    }
    for (int s = 0; s < ns; s++) {
        free(snd[s].batch);
    }
    for (int i = 0; i < nextra; i++) {
        conn_close(&extra[i]);
    }
}

/* Median of repeated runs into a result. */
static void fill_rate(struct result *r, struct trun *runs, int n)
{
    double v[64];
    int k = 0;
    r->runs = n;
    for (int i = 0; i < n; i++) {
        r->sent += runs[i].sent;
        r->received += runs[i].received;
        r->errors += runs[i].errors;
        if (!runs[i].ok) {
            res_fail(r, runs[i].note);
        } else if (k < 64) {
            v[k++] = runs[i].rate;
        }
    }
    r->lost = r->sent > r->received ? r->sent - r->received : 0u;
    if (k == 0) {
        res_fail(r, "no successful run");
        return;
    }
    r->rate_min = r->rate_max = v[0];
    for (int i = 0; i < k; i++) {
        r->rate_min = v[i] < r->rate_min ? v[i] : r->rate_min;
        r->rate_max = v[i] > r->rate_max ? v[i] : r->rate_max;
    }
    r->rate = median_d(v, (size_t)k);
    r->per_op_ns = r->rate > 0 ? 1e9 / r->rate : 0;
}

/* ==== phases ============================================================================ */

static double est_rtt_s(size_t payload)
{
    return 60e-6 + (double)payload * 3e-9;
}

static int g_echo_qos;

static int set_echo_qos(int q)
{
    g_echo_qos = -1;
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.qos = q;
    if (ctl_send_args(&g_ctl, CTL_ECHO_QOS, &a) != 0 ||
        ctl_wait(&g_ctl, CTL_OK, 0, &a, g_timeout) != CTL_OK) {
        msg("the peer process does not answer");
        return -1;
    }
    g_echo_qos = q;
    return 0;
}

/* Latency cells of one payload size: every QoS on every target and the
 * floor, in interleaved blocks (QoS and endpoints rotated each repeat), so
 * that a change of the machine's state hits every cell alike and cells are
 * comparable with each other. loaded: a flood at half the target's capacity
 * runs on the target being measured, and its floor blocks run under it. */
struct cell {
    struct result *row[MAX_TARGETS + 1]; /* [0] floor, [1 + t] target t */
    struct samples s[MAX_TARGETS + 1];
    double *rep[MAX_TARGETS + 1];
    size_t nrep[MAX_TARGETS + 1];
    uint64_t errors[MAX_TARGETS + 1];
};

static int echo_qos(int q)
{
    if (q == g_echo_qos) {
        return 0;
    }
    if (set_echo_qos(q) != 0) {
        return -1;
    }
    g_echo_qos = q;
    return 0;
}

/* One block on endpoint e (-1: floor) of cell x. */
static void lat_block(struct cell *x, int e, int q, size_t payload, size_t warm, size_t nb,
                      size_t maxrep)
{
    char why[200];
    struct result *row = x->row[e + 1];
    struct samples *sm = &x->s[e + 1];
    if (!row->ok) {
        return;
    }
    size_t from = sm->n;
    int rc;
    if (e < 0) {
        /* floor frames as long as the broker's: name, NUL, payload, header */
        size_t floor_len = strlen(g_t[0].bname) + 2u + payload;
        rc = rtt_floor(floor_len, warm, nb, sm, &x->errors[0], why, sizeof why);
    } else if (echo_qos(q) != 0) {
        (void)snprintf(why, sizeof why, "the peer process does not answer");
        rc = -1;
    } else {
        rc = rtt_bus(&g_t[e], BUSRT_OP_MESSAGE, g_t[e].bname, (uint8_t)q, payload, warm, nb, sm,
                     &x->errors[e + 1], why, sizeof why);
    }
    if (rc != 0) {
        res_fail(row, why);
    } else if (x->nrep[e + 1] < maxrep) {
        x->rep[e + 1][x->nrep[e + 1]++] = block_p50(sm, from);
    }
    progress_add((double)(nb + warm) * est_rtt_s(payload));
}

static void lat_cells(int loaded, size_t payload)
{
    int nt = g_nt, nq = O.nqos;
    size_t nrep = (size_t)O.repeats;
    size_t nb = O.rounds / nrep;
    nb = nb < 1 ? 1 : nb;
    size_t warm = nb / 10u < 5u ? 5u : nb / 10u;
    size_t maxrep = nrep * (size_t)nt; /* floor: one block per target under load */
    enum section sec = loaded ? SEC_LOAD : SEC_LAT;
    struct cell *cells = calloc((size_t)nq, sizeof *cells);
    double load_sum[MAX_TARGETS] = {0};
    int load_n[MAX_TARGETS] = {0};
    for (int qi = 0; qi < nq; qi++) {
        struct cell *x = &cells[qi];
        for (int e = -1; e < nt; e++) {
            x->row[e + 1] = res_new(sec, e < 0 ? "rtt floor (socketpair)" : "rtt message", e);
            x->row[e + 1]->qos = O.qos[qi];
            x->row[e + 1]->payload = payload;
            x->rep[e + 1] = xmalloc(maxrep * sizeof(double));
        }
    }
    for (size_t r = 0; r < nrep; r++) {
        if (!loaded) {
            for (int k = 0; k < nq; k++) {
                int qi = (int)(((size_t)k + r) % (size_t)nq);
                int q = O.qos[qi];
                for (int m = 0; m <= nt; m++) {
                    int e = (int)(((size_t)m + r) % (size_t)(nt + 1)) - 1;
                    progress_phase("latency idle: %zu B, QoS %d, repeat %zu/%zu, %s", payload, q,
                                   r + 1, nrep, e < 0 ? "floor" : g_t[e].label);
                    lat_block(&cells[qi], e, q, payload, warm, nb, maxrep);
                }
            }
            continue;
        }
        for (int m = 0; m < nt; m++) {
            int tt = (int)(((size_t)m + r) % (size_t)nt);
            struct ctl_args a;
            memset(&a, 0, sizeof a);
            a.tidx = tt;
            a.rate = g_t[tt].capacity / 2.0;
            if (g_t[tt].dead || ctl_send_args(&g_lctl, CTL_FLOOD, &a) != 0 ||
                ctl_wait(&g_lctl, CTL_OK, 0, &a, g_timeout) != CTL_OK) {
                const char *why = g_t[tt].dead ? "skipped: the target failed"
                                               : "the load process does not answer";
                for (int qi = 0; qi < nq; qi++) {
                    res_fail(cells[qi].row[tt + 1], why);
                }
                continue;
            }
            nap(30); /* let the flood reach its pace */
            for (int k = 0; k < nq; k++) {
                int qi = (int)(((size_t)k + r) % (size_t)nq);
                int q = O.qos[qi];
                for (int h = 0; h < 2; h++) {
                    int e = ((size_t)h + r + (size_t)k) % 2u == 0 ? -1 : tt;
                    progress_phase("latency under load: 100 B, QoS %d, repeat %zu/%zu, %s, "
                                   "load on %s", q, r + 1, nrep, e < 0 ? "floor" : g_t[e].label,
                                   g_t[tt].label);
                    lat_block(&cells[qi], e, q, payload, warm, nb, maxrep);
                }
            }
            memset(&a, 0, sizeof a);
            if (ctl_send(&g_lctl, CTL_PAUSE, NULL, 0) != 0 ||
                ctl_wait(&g_lctl, CTL_RESULT, 0, &a, g_timeout + 2000000000LL) != CTL_RESULT) {
                for (int qi = 0; qi < nq; qi++) {
                    res_fail(cells[qi].row[tt + 1], "the load process does not report");
                }
                continue;
            }
            load_sum[tt] += a.rate;
            load_n[tt]++;
            /* the background frames count once, on the first QoS row */
            cells[0].row[tt + 1]->sent += a.count;
            cells[0].row[tt + 1]->received += a.count2;
            if (a.errors > 0) {
                char t2[120];
                (void)snprintf(t2, sizeof t2, "background load: %llu frames lost or damaged",
                               (unsigned long long)a.errors);
                res_fail(cells[0].row[tt + 1], t2);
            }
        }
    }
    for (int qi = 0; qi < nq; qi++) {
        struct cell *x = &cells[qi];
        struct result *fl = x->row[0];
        fill_lat(fl, &x->s[0], x->rep[0], x->nrep[0]);
        fl->errors = x->errors[0];
        if (x->errors[0] > 0) {
            res_fail(fl, "damaged or stray floor echoes");
        }
        for (int i = 0; i < nt; i++) {
            struct result *y = x->row[i + 1];
            fill_lat(y, &x->s[i + 1], x->rep[i + 1], x->nrep[i + 1]);
            y->errors += x->errors[i + 1];
            if (x->errors[i + 1] > 0) {
                res_fail(y, "stray echoes or ACK errors");
            }
            y->floor_p50 = fl->p50;
            y->floor_p999 = fl->p999;
            y->ratio = fl->p50 > 0 ? y->p50 / (2.0 * fl->p50) : 0;
            y->load_rate = load_n[i] > 0 ? load_sum[i] / load_n[i] : 0;
            if (loaded) {
                y->lost = y->sent > y->received ? y->sent - y->received : 0;
            }
        }
        for (int e = 0; e <= nt; e++) {
            samples_free(&x->s[e]);
            free(x->rep[e]);
        }
    }
    free(cells);
}

static void phase_latency(int loaded)
{
    if (loaded) {
        lat_cells(1, 100);
        return;
    }
    for (int j = 0; j < O.npayloads; j++) {
        lat_cells(0, O.payloads[j]);
    }
}

static int g_cpus[4], g_ncpus;

static const char *pin_name(void)
{
    static char buf[96];
    if (O.pin == 0 || g_ncpus < 1) {
        return "unpinned (the scheduler places the processes; see the placement probe)";
    }
    if (O.pin == 1 || g_ncpus < 2) {
        (void)snprintf(buf, sizeof buf, "pinned: the bench processes and the brokers on CPU %d",
                       g_cpus[0]);
    } else {
        (void)snprintf(buf, sizeof buf, "pinned: the bench processes on CPU %d, brokers on CPU %d",
                       g_cpus[0], g_cpus[1]);
    }
    return buf;
}

/* Applies the --pin policy to this process, the peer and every broker whose
 * process is known (restores the original masks for --pin none). */
static void apply_pin(void)
{
    int ca = g_ncpus > 0 ? g_cpus[0] : -1;
    int cb = O.pin == 2 && g_ncpus > 1 ? g_cpus[1] : ca;
    int mode = g_ncpus > 0 ? O.pin : 0;
    (void)pin_to(0, mode == 0 ? -1 : ca);
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.qos = mode == 0 ? -1 : ca;
    if (ctl_send_args(&g_ctl, CTL_PIN, &a) != 0 ||
        ctl_wait(&g_ctl, CTL_OK, 0, &a, g_timeout) != CTL_OK) {
        msg("the peer could not set its CPU affinity");
    }
    for (int t = 0; t < g_nt; t++) {
        if (g_t[t].bpid <= 0) {
            continue;
        }
        int rc = mode == 0 ? pin_restore(g_t[t].bpid, t) : pin_to(g_t[t].bpid, cb);
        if (rc != 0 && mode != 0) {
            msg("target %s: cannot set the broker's CPU affinity", g_t[t].label);
        }
    }
}

/* Placement probe (QoS 2, 100 B): the floor with A and B on one CPU and on
 * two CPUs, and each spawned broker with every process on one CPU, with the
 * broker on the other CPU, and with B on the other CPU. On machines where a
 * wake-up on another CPU is expensive (virtual machines), placement
 * dominates the round trip; the scheduler picks one of these placements at
 * random in the normal (unpinned) measurements. */

static void phase_placement(void)
{
    if (g_ncpus < 2) {
        msg("placement probe skipped: fewer than two CPUs available");
        return;
    }
    int c0 = g_cpus[0], c1 = g_cpus[1];
    enum { P_MAX = 2 + 3 * MAX_TARGETS };
    struct place {
        int a, b, broker; /* CPUs; broker -1: not pinned */
        int target;       /* -1: floor */
        char test[64];
        struct result *row;
        struct samples s;
        double rep[64];
        size_t nrep;
        uint64_t errors;
    } *pl = calloc(P_MAX, sizeof *pl);
    int np = 0;
    pl[np] = (struct place){c0, c0, -1, -1, "", NULL, {0}, {0}, 0, 0};
    (void)snprintf(pl[np++].test, sizeof pl[0].test, "floor: A+B on CPU %d", c0);
    pl[np] = (struct place){c0, c1, -1, -1, "", NULL, {0}, {0}, 0, 0};
    (void)snprintf(pl[np++].test, sizeof pl[0].test, "floor: A on CPU %d, B on CPU %d", c0, c1);
    for (int t = 0; t < g_nt; t++) {
        if (g_t[t].bpid <= 0 || g_t[t].dead) {
            continue; /* the broker's process is unknown (TCP to another host?) or failed */
        }
        pl[np] = (struct place){c0, c0, c0, t, "", NULL, {0}, {0}, 0, 0};
        (void)snprintf(pl[np++].test, sizeof pl[0].test, "A+B+broker on CPU %d", c0);
        pl[np] = (struct place){c0, c0, c1, t, "", NULL, {0}, {0}, 0, 0};
        (void)snprintf(pl[np++].test, sizeof pl[0].test, "A+B on CPU %d, broker on CPU %d", c0,
                       c1);
        pl[np] = (struct place){c0, c1, c0, t, "", NULL, {0}, {0}, 0, 0};
        (void)snprintf(pl[np++].test, sizeof pl[0].test, "A+broker on CPU %d, B on CPU %d", c0,
                       c1);
    }
    for (int i = 0; i < np; i++) {
        pl[i].row = res_new(SEC_PLACE, pl[i].test, pl[i].target);
        pl[i].row->qos = O.probe_qos;
        pl[i].row->payload = 100;
    }
    if (set_echo_qos((uint8_t)O.probe_qos) != 0) {
        g_failed++;
        free(pl);
        return;
    }
    size_t nrep = (size_t)(O.repeats / 2 > 0 ? O.repeats / 2 : 1);
    nrep = nrep > 64 ? 64 : nrep;
    size_t nb = O.rounds / (size_t)O.repeats;
    nb = nb < 1 ? 1 : nb;
    size_t warm = nb / 10u < 5u ? 5u : nb / 10u;
    size_t floor_len = strlen(g_t[0].bname) + 2u + 100u;
    char why[200];
    struct ctl_args a;
    for (size_t r = 0; r < nrep; r++) {
        for (int k = 0; k < np; k++) {
            struct place *p = &pl[((size_t)k + r) % (size_t)np];
            if (!p->row->ok) {
                continue;
            }
            progress_phase("placement probe: %s%s%s, repeat %zu/%zu", p->test,
                           p->target >= 0 ? ", " : "", p->target >= 0 ? g_t[p->target].label : "",
                           r + 1, nrep);
            memset(&a, 0, sizeof a);
            a.qos = p->b;
            int ok = pin_to(0, p->a) == 0 && ctl_send_args(&g_ctl, CTL_PIN, &a) == 0 &&
                     ctl_wait(&g_ctl, CTL_OK, 0, &a, g_timeout) == CTL_OK;
            if (ok && p->target >= 0) {
                ok = pin_to(g_t[p->target].bpid, p->broker) == 0;
            }
            if (!ok) {
                res_fail(p->row, "could not set the CPU affinity");
            } else {
                size_t from = p->s.n;
                int rc = p->target < 0
                             ? rtt_floor(floor_len, warm, nb, &p->s, &p->errors, why, sizeof why)
                             : rtt_bus(&g_t[p->target], BUSRT_OP_MESSAGE, g_t[p->target].bname,
                                       (uint8_t)O.probe_qos, 100, warm, nb, &p->s, &p->errors,
                                       why, sizeof why);
                if (rc != 0) {
                    res_fail(p->row, why);
                } else if (p->nrep < 64) {
                    p->rep[p->nrep++] = block_p50(&p->s, from);
                }
            }
            if (p->target >= 0) {
                (void)pin_restore(g_t[p->target].bpid, p->target);
            }
            progress_add((double)(nb + warm) * est_rtt_s(100));
        }
    }
    apply_pin(); /* back to the run's placement */
    for (int i = 0; i < np; i++) {
        struct place *p = &pl[i];
        fill_lat(p->row, &p->s, p->rep, p->nrep);
        p->row->errors = p->errors;
        if (p->errors > 0) {
            res_fail(p->row, "stray echoes or ACK errors");
        }
        if (p->target >= 0 && pl[0].row->n > 0) {
            p->row->floor_p50 = pl[0].row->p50;
            p->row->floor_p999 = pl[0].row->p999;
            p->row->ratio = p->row->p50 / (2.0 * pl[0].row->p50);
        }
        samples_free(&p->s);
    }
    free(pl);
}

static const struct tspec TPUT[] = {
    {"1->1 message", RM_MSG, 0, 100, 1, 0},
    {"1->1 message", RM_MSG, 0, 1024, 1, 0},
    {"1->1 message", RM_MSG, 2, 100, 1, 0},
    {"1->1 message", RM_MSG, 2, 1024, 1, 0},
    {"8->1 message", RM_MSG, 0, 100, 8, 0},
};
static const struct tspec FAN[] = {
    {"1->10 publish", RM_FANOUT, 0, 100, 1, 10},
    {"1->100 publish", RM_FANOUT, 0, 100, 1, 100},
};

static void run_specs(enum section sec, const struct tspec *specs, size_t nspecs, double dur)
{
    for (size_t s = 0; s < nspecs; s++) {
        const struct tspec *sp = &specs[s];
        struct trun runs[MAX_TARGETS + 1][16]; /* [0] the floor, [1 + t] target t */
        int n = O.tput_repeats > 16 ? 16 : O.tput_repeats;
        for (int r = 0; r < n; r++) {
            for (int k = 0; k <= g_nt; k++) {
                int t = (k + r) % (g_nt + 1) - 1; /* -1: the floor */
                progress_phase("%s: %s QoS %d %zu B, run %d/%d, %s",
                               sec == SEC_TPUT ? "throughput" : "fan-out", sp->name, sp->qos,
                               sp->payload, r + 1, n, t < 0 ? "floor" : g_t[t].label);
                tput_run(t, sp, dur, &runs[t + 1][r]);
                progress_add(dur + 0.1);
            }
        }
        struct result *fl = res_new(sec, sp->name, -1);
        fl->qos = sp->qos;
        fl->payload = sp->payload;
        fill_rate(fl, runs[0], n);
        fl->deliveries = fl->rate;
        for (int t = 0; t < g_nt; t++) {
            struct result *res = res_new(sec, sp->name, t);
            res->qos = sp->qos;
            res->payload = sp->payload;
            res->others_got = (size_t)(sp->mode == RM_FANOUT ? sp->nsubs : sp->nsenders);
            fill_rate(res, runs[t + 1], n);
            res->deliveries = res->rate * (sp->mode == RM_FANOUT ? (double)sp->nsubs : 1.0);
            res->floor_rate = fl->rate;
            res->rate_ratio = fl->rate > 0 ? res->deliveries / fl->rate : 0;
            if (sec == SEC_TPUT && s == 0) {
                g_t[t].capacity = res->rate;
            }
        }
    }
}

static void ensure_capacity(void)
{
    for (int t = 0; t < g_nt; t++) {
        if (g_t[t].capacity > 0 || g_t[t].dead) {
            continue;
        }
        struct trun r;
        progress_phase("capacity for the background load: %s", g_t[t].label);
        tput_run(t, &TPUT[0], O.quick ? 0.25 : 1.0, &r);
        if (r.ok) {
            g_t[t].capacity = r.rate;
        } else {
            msg("target %d: capacity run failed (%s); background load of 100000 frames/s", t,
                r.note);
            g_t[t].capacity = 200000.0;
        }
    }
}

/* Scale: the cost of a publish and of a broadcast with N non-matching
 * entries held by a forked holder: (a) N subscriptions on 10 clients per
 * target, one holder for every target, the targets interleaved as
 * elsewhere; (b) N other clients, one holder per target and one target at a
 * time: a process holds at most its descriptor limit (about what one broker
 * can hold), and the idle clients of one broker (their keep-alive pings,
 * the broker's work on them) would load the machine while another broker is
 * measured. With the N other clients of (b) held the broker's resident set
 * is read (the process is known for spawned brokers and UNIX sockets), and
 * the holder times their connects and registrations. (b) runs first: freed
 * memory stays resident, so its smallest point must come before (a) grows
 * the broker's heap. */
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

static double est_setup_s(size_t clients)
{
    return (double)clients * 60e-6;
}

/* Starts a holder of kk other clients (clients = 1) or subscriptions on the
 * targets with in[t] set and waits until it has reported every target. Each
 * wait is bounded by one set-up step of the holder (CTL_SETUP), so a slow
 * broker that keeps accepting is waited for, one that stops is not.
 * Returns 0, or -1 when the holder failed or went silent. */
static int hold_start(struct hold *h, int clients, size_t kk, const int *in)
{
    memset(h, 0, sizeof *h);
    h->pid = -1;
    for (int t = 0; t < g_nt; t++) {
        h->rss[t] = -1;
        h->fds[t] = in[t] && g_t[t].mpid > 0 ? proc_fd_count(g_t[t].mpid) : -1;
    }
    int fd;
    pid_t pid = fork_child(&fd, 2);
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        holder_main(fd, child_addrs(in), g_nt, clients, kk, g_timeout);
    }
    h->pid = pid;
    ctl_init(&h->k, fd);
    const char *what = clients ? "clients" : "subscriptions";
    for (int nready = 0; nready < g_nt;) {
        struct ctl_args a;
        int rc = ctl_wait(&h->k, CTL_READY, CTL_SETUP, &a, g_timeout * 2 + 5000000000LL);
        if (rc == CTL_SETUP && a.tidx >= 0 && a.tidx < g_nt) {
            progress_phase("scale: setting up %zu other %s on %s: %llu/%llu", kk, what,
                           g_t[a.tidx].label, (unsigned long long)a.count,
                           (unsigned long long)a.count2);
            continue;
        }
        if (rc != CTL_READY || a.tidx < 0 || a.tidx >= g_nt) {
            msg("scale: the holder of %zu other %s %s", kk, what,
                rc == CTL_ERR ? a.text : rc < 0 ? "stopped answering" : "sent a bad message");
            return -1;
        }
        nready++;
        int t = a.tidx;
        if (!in[t]) {
            continue;
        }
        h->got[t] = clients ? (size_t)a.count : (size_t)a.count2;
        h->rate[t] = clients ? a.rate : 0.0;
        if (clients && a.count < kk) {
            (void)snprintf(h->note[t], sizeof h->note[t],
                           "capped: %llu of %zu other clients held (%.110s)",
                           (unsigned long long)a.count, kk, a.text);
            if (g_t[t].clients_cap == 0 || a.count < g_t[t].clients_cap) {
                g_t[t].clients_cap = (size_t)a.count;
            }
        } else if (clients && a.count2 < a.count) {
            (void)snprintf(h->note[t], sizeof h->note[t],
                           "only %llu of %llu other clients subscribed (%.120s)",
                           (unsigned long long)a.count2, (unsigned long long)a.count, a.text);
        } else if (!clients && a.count2 < kk) {
            (void)snprintf(h->note[t], sizeof h->note[t],
                           "only %llu of %zu subscriptions accepted (%.120s)",
                           (unsigned long long)a.count2, kk, a.text);
        }
    }
    nap(O.quick ? 50 : 300); /* registration announcements, logging */
    for (int t = 0; t < g_nt && clients; t++) {
        /* (b) only: (a) runs after (b), on a heap (b) has grown */
        if (in[t] && g_t[t].mpid > 0) {
            h->rss[t] = proc_rss_kb(g_t[t].mpid);
        }
    }
    h->ready = 1;
    return 0;
}

/* Stops the holder and lets the brokers process the disconnections (their
 * descriptor count back where it was, bounded) before anything else runs. */
static void hold_stop(struct hold *h, const int *in)
{
    pid_t hp = h->pid;
    if (hp > 0) {
        reap_child(&hp, &h->k, 2);
    }
    h->pid = -1;
    int64_t deadline = now_ns() + g_timeout;
    int waited = 0;
    for (int t = 0; t < g_nt; t++) {
        if (!in[t] || h->fds[t] < 0) {
            continue;
        }
        long n;
        while ((n = proc_fd_count(g_t[t].mpid)) > h->fds[t] + 8 && now_ns() < deadline) {
            nap(20);
            waited = 1;
        }
        if (n > h->fds[t] + 8) {
            msg("scale: %s still has %ld descriptors open (%ld before the set-up) %.0f s after "
                "its other clients left", g_t[t].label, n, h->fds[t], O.timeout);
        }
    }
    nap(waited ? (O.quick ? 50 : 200) : (O.quick ? 100 : 400));
}

/* The rate runs and round trips of one scale point on the targets with
 * in[t] set, into rows[publish / broadcast][t]. */
static void scale_measure(int clients, size_t kk, int ki, const int *in, const struct hold *h,
                          struct result *rows[2][MAX_TARGETS],
                          struct result *base[4][MAX_TARGETS])
{
    for (int sidx = 0; sidx < 2; sidx++) {
        int si = clients * 2 + sidx;
        struct tspec sp = {SCALE_SERIES[si], sidx == 0 ? RM_PUB : RM_BCAST, 0, 100, 1, 0};
        struct trun runs[MAX_TARGETS][16];
        struct samples lat[MAX_TARGETS];
        uint64_t lerr[MAX_TARGETS] = {0};
        char lwhy[MAX_TARGETS][200];
        memset(lat, 0, sizeof lat);
        memset(lwhy, 0, sizeof lwhy);
        int n = O.tput_repeats > 16 ? 16 : O.tput_repeats;
        for (int r = 0; r < n && h->ready; r++) {
            for (int k = 0; k < g_nt; k++) {
                int t = (k + r) % g_nt;
                if (!in[t]) {
                    continue;
                }
                progress_phase("scale: %s, %zu, run %d/%d, %s", SCALE_SERIES[si], kk, r + 1, n,
                               g_t[t].label);
                tput_run(t, &sp, O.scale_duration, &runs[t][r]);
                char dest[NAME_CAP];
                if (sidx == 0) {
                    topic_scale(dest, t);
                } else {
                    mask_scale(dest, t);
                }
                size_t nb = O.scale_rounds / (size_t)n;
                if (lwhy[t][0] == '\0' &&
                    rtt_bus(&g_t[t], sidx == 0 ? BUSRT_OP_PUBLISH : BUSRT_OP_BROADCAST, dest,
                            BUSRT_QOS_REALTIME, 100, nb / 10u + 5u, nb, &lat[t], &lerr[t],
                            lwhy[t], sizeof lwhy[t]) != 0 &&
                    lwhy[t][0] == '\0') {
                    (void)snprintf(lwhy[t], sizeof lwhy[t], "round trips failed");
                }
                progress_add(O.scale_duration + 0.1 + (double)nb * est_rtt_s(100));
            }
        }
        for (int t = 0; t < g_nt; t++) {
            if (!in[t]) {
                continue;
            }
            struct result *res = rows[sidx][t];
            res->others_got = h->got[t];
            res->rss_kb = h->rss[t] > 0 ? h->rss[t] : 0;
            res->setup_rate = h->rate[t];
            if (!h->ready) {
                char why[200];
                (void)snprintf(why, sizeof why, "skipped: %.160s", g_t[t].dead_why);
                res_fail(res, g_t[t].dead ? why
                                          : "the holder of the other entries did not get ready");
                continue;
            }
            fill_rate(res, runs[t], n);
            if (h->note[t][0] != '\0' && res->note[0] == '\0') {
                copy_str(res->note, sizeof res->note, h->note[t]);
            }
            if (lwhy[t][0] != '\0') {
                res_fail(res, lwhy[t]);
            }
            struct samples *s = &lat[t];
            samples_sort(s);
            res->n = s->n;
            if (s->n > 0) {
                res->p50 = (double)samples_pct(s, 0.5) / 1000.0;
                res->p90 = (double)samples_pct(s, 0.9) / 1000.0;
                res->p99 = (double)samples_pct(s, 0.99) / 1000.0;
                res->p999 = (double)samples_pct(s, 0.999) / 1000.0;
                res->max = (double)s->v[s->n - 1u] / 1000.0;
            }
            res->errors += lerr[t];
            if (lerr[t] > 0) {
                res_fail(res, "stray echoes in the round trips");
            }
            samples_free(s);
            if (ki == 0) {
                base[si][t] = res;
            }
            if (base[si][t] != NULL && base[si][t]->per_op_ns > 0) {
                res->base_ratio = res->per_op_ns / base[si][t]->per_op_ns;
            }
        }
    }
}

static void phase_scale(void)
{
    struct result *base[4][MAX_TARGETS];
    memset(base, 0, sizeof base);
    int live = 0;
    for (int t = 0; t < g_nt; t++) {
        live += !g_t[t].dead;
    }
    if (live == 0) {
        msg("scale skipped: no target answers");
        g_failed++;
        return;
    }
    /* rows in the table's order: (a) then (b), each by N, series, target */
    struct result *rows[2][4][2][MAX_TARGETS];
    for (int clients = 0; clients < 2; clients++) {
        for (int ki = 0; ki < O.nscale; ki++) {
            for (int sidx = 0; sidx < 2; sidx++) {
                for (int t = 0; t < g_nt; t++) {
                    struct result *res = res_new(SEC_SCALE, SCALE_SERIES[clients * 2 + sidx], t);
                    res->qos = 0;
                    res->payload = 100;
                    res->others_req = O.scale_k[ki];
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
        for (int ki = 0; ki < O.nscale; ki++) {
            size_t kk = O.scale_k[ki];
            /* (a): one group of every target; (b): one group per target */
            int ngroups = clients ? g_nt : 1;
            for (int gi = 0; gi < ngroups; gi++) {
                int in[MAX_TARGETS];
                for (int t = 0; t < g_nt; t++) {
                    in[t] = clients ? t == gi : 1;
                }
                struct hold h;
                if (clients && g_t[gi].dead) {
                    memset(&h, 0, sizeof h); /* not ready: its rows say why */
                    scale_measure(clients, kk, ki, in, &h, rows[clients][ki], base);
                    continue;
                }
                progress_phase("scale: setting up %zu other %s%s%s", kk,
                               clients ? "clients" : "subscriptions", clients ? " on " : "",
                               clients ? g_t[gi].label : "");
                if (hold_start(&h, clients, kk, in) != 0) {
                    h.ready = 0;
                }
                progress_add(clients ? est_setup_s(kk) : 0.0);
                scale_measure(clients, kk, ki, in, &h, rows[clients][ki], base);
                hold_stop(&h, in);
            }
        }
    }
    /* KB per other client: the broker's growth from the smallest point */
    for (size_t i = 0; i < g_nres; i++) {
        struct result *x = &g_res[i];
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

/* ==== machine load ======================================================================== */

static int read_cpu(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) {
        return -1;
    }
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4) {
        return -1;
    }
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *total = *busy + v[3] + v[4];
    return 0;
}

static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1) {
            l = -1;
        }
        fclose(f);
    }
    return l;
}

static double cpu_seconds(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0) {
        return 0;
    }
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ==== options ============================================================================== */

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

static void add_target(const char *spec, int spawn)
{
    if (g_nt == MAX_TARGETS) {
        fprintf(stderr, "busrt-bench: at most %d targets\n", MAX_TARGETS);
        exit(2);
    }
    struct target *t = &g_t[g_nt];
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
            /* the program's base name */
            size_t l = strcspn(val, " \t");
            const char *b = val;
            for (size_t i = 0; i < l; i++) {
                if (val[i] == '/') {
                    b = val + i + 1;
                }
            }
            size_t bl = (size_t)(val + l - b);
            if (bl >= sizeof t->label) {
                bl = sizeof t->label - 1u;
            }
            memcpy(t->label, b, bl);
            t->label[bl] = '\0';
        }
    } else {
        (void)snprintf(t->addr, sizeof t->addr, "%s", val);
        if (t->label[0] == '\0') {
            (void)snprintf(t->label, sizeof t->label, "%s", val);
        }
    }
    for (int i = 0; i < g_nt; i++) {
        if (strcmp(g_t[i].label, t->label) == 0) {
            size_t l = strlen(t->label);
            (void)snprintf(t->label + (l > 50 ? 50 : l), sizeof t->label - 50, "#%d", g_nt);
        }
    }
    g_nt++;
}

static void parse_args(int argc, char **argv)
{
    O.only = ONLY_LAT | ONLY_LOAD | ONLY_TPUT | ONLY_FANOUT | ONLY_SCALE;
    int no_load = 0;
    size_t rounds = 0, repeats = 0, runs = 0, scale_rounds = 0;
    double duration = 0, scale_duration = 0, window = 0;
    O.timeout = 10;
    O.ping = 1;
    O.npayloads = -1;
    O.nqos = -1;
    O.nscale = -1;
    O.probe_qos = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        size_t tmp[8];
        int n;
#define NEED()                                                                  \
    do {                                                                        \
        if (v == NULL) {                                                        \
            fprintf(stderr, "busrt-bench: %s needs a value\n", a);              \
            exit(2);                                                            \
        }                                                                       \
        i++;                                                                    \
    } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("busrt-bench %s (BUS/RT wire protocol v1)\n", BENCH_VERSION);
            exit(0);
        } else if (strcmp(a, "--target") == 0) {
            NEED();
            add_target(v, 0);
        } else if (strcmp(a, "--spawn") == 0) {
            NEED();
            add_target(v, 1);
        } else if (strcmp(a, "--broker-log") == 0) {
            NEED();
            O.broker_log = v;
        } else if (strcmp(a, "--only") == 0) {
            NEED();
            O.only = 0;
            char *dup = strdup(v), *save = NULL;
            for (char *w = strtok_r(dup, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
                if (strcmp(w, "latency") == 0) {
                    O.only |= ONLY_LAT | ONLY_LOAD;
                } else if (strcmp(w, "load") == 0) {
                    O.only |= ONLY_LOAD;
                } else if (strcmp(w, "throughput") == 0) {
                    O.only |= ONLY_TPUT;
                } else if (strcmp(w, "fanout") == 0) {
                    O.only |= ONLY_FANOUT;
                } else if (strcmp(w, "scale") == 0) {
                    O.only |= ONLY_SCALE;
                } else if (strcmp(w, "all") == 0) {
                    O.only |= ONLY_LAT | ONLY_LOAD | ONLY_TPUT | ONLY_FANOUT | ONLY_SCALE;
                } else {
                    fprintf(stderr, "busrt-bench: --only: unknown '%s' (latency, load, "
                                    "throughput, fanout, scale)\n", w);
                    exit(2);
                }
            }
            free(dup);
        } else if (strcmp(a, "--no-load") == 0) {
            no_load = 1;
        } else if (strcmp(a, "--pin") == 0) {
            NEED();
            if (strcmp(v, "none") == 0) {
                O.pin = 0;
            } else if (strcmp(v, "one") == 0) {
                O.pin = 1;
            } else if (strcmp(v, "split") == 0) {
                O.pin = 2;
            } else {
                fprintf(stderr, "busrt-bench: --pin: none, one or split\n");
                exit(2);
            }
        } else if (strcmp(a, "--hook") == 0) {
            NEED();
            O.hook = v;
        } else if (strcmp(a, "--no-placement") == 0) {
            O.no_place = 1;
        } else if (strcmp(a, "--probe-qos") == 0) {
            NEED();
            if (parse_num(a, v, 0, 3, &d) != 0 || d != (double)(int)d) {
                fprintf(stderr, "busrt-bench: --probe-qos: 0, 1, 2 or 3\n");
                exit(2);
            }
            O.probe_qos = (int)d;
        } else if (strcmp(a, "--quick") == 0) {
            O.quick = 1;
        } else if (strcmp(a, "--rounds") == 0) {
            NEED();
            if (parse_num(a, v, 1, 1e8, &d) != 0) {
                exit(2);
            }
            rounds = (size_t)d;
        } else if (strcmp(a, "--repeats") == 0) {
            NEED();
            if (parse_num(a, v, 1, 1000, &d) != 0) {
                exit(2);
            }
            repeats = (size_t)d;
        } else if (strcmp(a, "--runs") == 0) {
            NEED();
            if (parse_num(a, v, 1, 16, &d) != 0) {
                exit(2);
            }
            runs = (size_t)d;
        } else if (strcmp(a, "--duration") == 0) {
            NEED();
            if (parse_num(a, v, 0.05, 3600, &duration) != 0) {
                exit(2);
            }
        } else if (strcmp(a, "--scale-duration") == 0) {
            NEED();
            if (parse_num(a, v, 0.05, 3600, &scale_duration) != 0) {
                exit(2);
            }
        } else if (strcmp(a, "--scale-rounds") == 0) {
            NEED();
            if (parse_num(a, v, 1, 1e8, &d) != 0) {
                exit(2);
            }
            scale_rounds = (size_t)d;
        } else if (strcmp(a, "--window") == 0) {
            NEED();
            if (parse_num(a, v, 8, 1e7, &window) != 0) {
                exit(2);
            }
        } else if (strcmp(a, "--payloads") == 0) {
            NEED();
            n = parse_list(v, tmp, 8, 0, 16u * 1024u * 1024u);
            if (n <= 0) {
                fprintf(stderr, "busrt-bench: --payloads: a list of up to 8 sizes\n");
                exit(2);
            }
            memcpy(O.payloads, tmp, (size_t)n * sizeof *tmp);
            O.npayloads = n;
        } else if (strcmp(a, "--qos") == 0) {
            NEED();
            n = parse_list(v, tmp, 4, 0, 3);
            if (n <= 0) {
                fprintf(stderr, "busrt-bench: --qos: a list of values 0..3\n");
                exit(2);
            }
            for (int k = 0; k < n; k++) {
                O.qos[k] = (int)tmp[k];
            }
            O.nqos = n;
        } else if (strcmp(a, "--scale") == 0) {
            NEED();
            n = parse_list(v, tmp, 4, 1, 1000000);
            if (n <= 0) {
                fprintf(stderr, "busrt-bench: --scale: a list of up to 4 counts\n");
                exit(2);
            }
            /* ascending, without repeats: the first point is the smallest
             * (the base of "x vs min" and of KB per client), and the broker's
             * heap only grows from point to point */
            O.nscale = 0;
            for (int k = 0; k < n; k++) {
                int at = 0;
                while (at < O.nscale && O.scale_k[at] < tmp[k]) {
                    at++;
                }
                if (at < O.nscale && O.scale_k[at] == tmp[k]) {
                    continue;
                }
                memmove(&O.scale_k[at + 1], &O.scale_k[at],
                        (size_t)(O.nscale - at) * sizeof O.scale_k[0]);
                O.scale_k[at] = tmp[k];
                O.nscale++;
            }
        } else if (strcmp(a, "--csv") == 0) {
            NEED();
            O.csv = v;
        } else if (strcmp(a, "--json") == 0) {
            NEED();
            O.json = v;
        } else if (strcmp(a, "--plot") == 0) {
            NEED();
            O.plot = v;
        } else if (strcmp(a, "--timeout") == 0) {
            NEED();
            if (parse_num(a, v, 0.5, 600, &O.timeout) != 0) {
                exit(2);
            }
        } else if (strcmp(a, "--max-time") == 0) {
            NEED();
            if (parse_num(a, v, 1, 1e6, &O.max_time) != 0) {
                exit(2);
            }
        } else if (strcmp(a, "--ping") == 0) {
            NEED();
            if (parse_num(a, v, 0.05, 60, &O.ping) != 0) {
                exit(2);
            }
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            O.quiet = 1;
        } else {
            fprintf(stderr, "busrt-bench: unknown option '%s' (try --help)\n", a);
            exit(2);
        }
#undef NEED
    }
    if (g_nt == 0) {
        fprintf(stderr, "busrt-bench: give at least one --target or --spawn (try --help)\n");
        exit(2);
    }
    if (no_load) {
        O.only &= ~ONLY_LOAD;
    }
    O.rounds = rounds > 0 ? rounds : O.quick ? 400u : 20000u;
    O.repeats = (int)(repeats > 0 ? repeats : O.quick ? 2u : 10u);
    if ((size_t)O.repeats > O.rounds) {
        O.repeats = (int)O.rounds;
    }
    O.tput_repeats = (int)(runs > 0 ? runs : O.quick ? 1u : 3u);
    O.duration = duration > 0 ? duration : O.quick ? 0.25 : 2.0;
    O.scale_duration = scale_duration > 0 ? scale_duration : O.quick ? 0.15 : 1.0;
    O.scale_rounds = scale_rounds > 0 ? scale_rounds : O.quick ? 200u : 4000u;
    O.window = window > 0 ? (uint64_t)window : 4096u;
    if (O.npayloads < 0) {
        static const size_t def[5] = {0, 100, 1024, 16384, 65536};
        memcpy(O.payloads, def, sizeof def);
        O.npayloads = 5;
    }
    if (O.nqos < 0) {
        for (int k = 0; k < 4; k++) {
            O.qos[k] = k;
        }
        O.nqos = 4;
    }
    if (O.nscale < 0) {
        /* full: up to about what one process may hold (RLIMIT_NOFILE 20000
         * here); quick: below FD_SETSIZE, so that every backend holds them */
        static const size_t full[4] = {10, 1000, 10000, 19000};
        static const size_t quick[3] = {10, 100, 1000};
        O.nscale = O.quick ? 3 : 4;
        memcpy(O.scale_k, O.quick ? quick : full, (size_t)O.nscale * sizeof O.scale_k[0]);
    }
}

static double estimate_seconds(void)
{
    double s = 0;
    double nt = (double)g_nt;
    if ((O.only & ONLY_LAT) != 0) {
        for (int j = 0; j < O.npayloads; j++) {
            s += (double)O.nqos * (nt + 1) * (double)O.rounds * 1.1 * est_rtt_s(O.payloads[j]);
        }
    }
    if ((O.only & ONLY_LAT) != 0 && !O.no_place) {
        s += (2 + 3 * nt) * (double)O.rounds / 2 * 1.1 * est_rtt_s(100);
    }
    if ((O.only & ONLY_LOAD) != 0) {
        s += (double)O.nqos * 2 * nt * (double)O.rounds * 1.1 * est_rtt_s(100) * 2;
    }
    if ((O.only & ONLY_TPUT) != 0) {
        s += 5 * (nt + 1) * O.tput_repeats * (O.duration + 0.1);
    }
    if ((O.only & ONLY_FANOUT) != 0) {
        s += 2 * (nt + 1) * O.tput_repeats * (O.duration + 0.1);
    }
    if ((O.only & ONLY_SCALE) != 0) {
        s += 2 * O.nscale * 2 * nt * O.tput_repeats *
             (O.scale_duration + 0.1 + (double)O.scale_rounds / O.tput_repeats * est_rtt_s(100));
        for (int k = 0; k < O.nscale; k++) {
            s += nt * est_setup_s(O.scale_k[k]);
        }
    }
    return s;
}

/* ==== main ==================================================================================== */

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    g_tag = (unsigned long)getpid();
    g_timeout = (int64_t)(O.timeout * 1e9);
    ka_set_interval((int64_t)(O.ping * 1e9));
    setvbuf(stdout, NULL, _IOLBF, 0);

    char lim_err[160];
    (void)nofile_raise(lim_err, sizeof lim_err); /* children inherit it */
    if (lim_err[0] != '\0') {
        msg("%s", lim_err);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_fatal_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGALRM, &sa, NULL);
    double est = estimate_seconds();
    double max_time = O.max_time > 0 ? O.max_time : est * 3 + 120 + 30 * g_nt;
    (void)alarm((unsigned)max_time);

    g_ncpus = affinity_init(g_cpus, 4);
    g_payload = xmalloc(16u * 1024u * 1024u + 4096u);
    memset(g_payload, 0xa5, 16u * 1024u * 1024u + 4096u);
    progress_init(O.quiet);
    progress_set_total(est);

    struct machine m;
    memset(&m, 0, sizeof m);
    m.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    m.load1_start = loadavg1();
    unsigned long long busy0 = 0, total0 = 0, busy1 = 0, total1 = 0;
    (void)read_cpu(&busy0, &total0);
    int64_t run_start = now_ns();
    double own0 = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
    {
        time_t now = time(NULL);
        struct tm tm;
        (void)gmtime_r(&now, &tm);
        (void)strftime(m.date, sizeof m.date, "%Y-%m-%dT%H:%M:%SZ", &tm);
        struct utsname u;
        if (uname(&u) == 0) {
            (void)snprintf(m.uname, sizeof m.uname, "%.40s %.60s %.30s", u.sysname, u.release,
                           u.machine);
        }
    }

    /* the peer first: it must not inherit broker connections */
    int pfd;
    pid_t peer = fork_child(&pfd, 0);
    if (peer < 0) {
        return 1;
    }
    if (peer == 0) {
        peer_main(pfd, g_timeout);
    }
    ctl_init(&g_ctl, pfd);

    int spawned = 0;
    for (int i = 0; i < g_nt; i++) {
        if (g_t[i].cmd != NULL) {
            if (!spawned) {
                (void)snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/busrt-bench.XXXXXX");
                if (mkdtemp(g_tmpdir) == NULL) {
                    msg("mkdtemp: %s", strerror(errno));
                    g_tmpdir[0] = '\0';
                    stop_everything_now();
                    return 1;
                }
                spawned = 1;
            }
            /* a broker that does not start (an unknown option, say) fails
             * its own target; the others are measured */
            char why[200];
            if (spawn_broker(&g_t[i], i, why, sizeof why) != 0) {
                mark_dead(&g_t[i], why);
                stop_broker(&g_t[i], i);
            }
        }
    }
    int fatal = 0;
    for (int i = 0; i < g_nt; i++) {
        struct target *t = &g_t[i];
        char name[NAME_CAP], err[200], why[240];
        name_main_a(name, i);
        name_main_b(t->bname, i);
        if (t->dead) {
            continue;
        }
        int rc = conn_open(&t->a, t->addr, name, g_timeout, err, sizeof err);
        if (rc != 0) {
            (void)snprintf(why, sizeof why, "cannot connect: %.200s", err);
            mark_dead(t, why);
            continue;
        }
        t->a.rcap = 1u << 18;
        ka_add(&t->a);
        struct ctl_args a;
        memset(&a, 0, sizeof a);
        a.tidx = i;
        (void)snprintf(a.addr, sizeof a.addr, "%s", t->addr);
        (void)snprintf(a.name, sizeof a.name, "%s", t->bname);
        if (ctl_send_args(&g_ctl, CTL_CONNECT, &a) != 0 ||
            ctl_wait(&g_ctl, CTL_OK, 0, &a, g_timeout * 2) != CTL_OK) {
            (void)snprintf(why, sizeof why, "the peer cannot connect: %.200s",
                           a.text[0] != '\0' ? a.text : "no answer");
            mark_dead(t, why);
        }
    }
    int live = 0;
    for (int i = 0; i < g_nt; i++) {
        struct target *t = &g_t[i];
        t->bpid = t->mpid = -1;
        if (t->dead) {
            continue;
        }
        live++;
        t->bpid = peer_pid(t->a.fd);
        if (t->bpid <= 0) {
            t->bpid = t->pid > 0 ? t->pid : -1;
        }
        t->mpid = t->bpid;
        if (t->bpid > 0 && pin_save(t->bpid, i) != 0) {
            t->bpid = -1; /* not ours to place */
        }
        g_placed[i] = t->bpid > 0 ? t->bpid : 0;
    }
    if (live == 0) {
        msg("no target answers; nothing to measure");
        g_failed++;
        fatal = 1;
    }
    if (!fatal && O.pin != 0) {
        apply_pin();
    }
    if (!fatal) {
        msg("%d target(s); estimated %.0f s (watchdog %.0f s); %s", g_nt, est, max_time,
            pin_name());
        if ((O.only & ONLY_LAT) != 0) {
            phase_latency(0);
            if (!O.no_place) {
                phase_placement();
            }
        }
        if ((O.only & ONLY_TPUT) != 0) {
            (void)set_echo_qos(0);
            run_specs(SEC_TPUT, TPUT, sizeof TPUT / sizeof TPUT[0], O.duration);
        }
        if ((O.only & ONLY_LOAD) != 0) {
            ensure_capacity();
            if (load_start() == 0) {
                phase_latency(1);
                reap_child(&g_load, &g_lctl, 1);
            } else {
                g_failed++;
            }
        }
        if ((O.only & ONLY_FANOUT) != 0) {
            run_specs(SEC_FANOUT, FAN, sizeof FAN / sizeof FAN[0], O.duration);
        }
        if ((O.only & ONLY_SCALE) != 0) {
            (void)set_echo_qos(2); /* the scale round trips are QoS 2 both ways */
            phase_scale();
        }
        /* errors seen by the echo side */
        struct ctl_args a;
        memset(&a, 0, sizeof a);
        if (ctl_send(&g_ctl, CTL_PAUSE, NULL, 0) != 0 ||
            ctl_wait(&g_ctl, CTL_RESULT, 0, &a, g_timeout) != CTL_RESULT) {
            msg("the peer process does not report");
            g_failed++;
        } else if (a.errors > 0 || a.count > 0) {
            msg("the peer saw %llu errors and %llu lost connections",
                (unsigned long long)a.errors, (unsigned long long)a.count);
            g_failed++;
        }
    }
    progress_done();
    for (int i = 0; i < g_nt; i++) {
        if (g_t[i].bpid > 0) {
            (void)pin_restore(g_t[i].bpid, i); /* a --target broker keeps running */
        }
        g_placed[i] = 0;
        if (g_t[i].a.proto_err > 0) {
            msg("target %d: %llu malformed frames", i, (unsigned long long)g_t[i].a.proto_err);
            g_failed++;
        }
        conn_close(&g_t[i].a);
    }
    reap_child(&peer, &g_ctl, 0);
    for (int i = 0; i < g_nt; i++) {
        stop_broker(&g_t[i], i);
    }
    if (spawned) {
        remove_tmpdir();
    }
    (void)alarm(0);

    m.seconds = (double)(now_ns() - run_start) / 1e9;
    m.load1_end = loadavg1();
    if (read_cpu(&busy1, &total1) == 0 && total1 > total0) {
        m.busy_cores = (double)(busy1 - busy0) / (double)(total1 - total0) * (double)m.ncpu;
    }
    m.own_cores = (cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN) - own0) / m.seconds;

    char line[1024];
    size_t off = 0;
    for (int i = 1; i < argc && off < sizeof line - 2; i++) {
        int w = snprintf(line + off, sizeof line - off, "%s%s", i > 1 ? " " : "", argv[i]);
        off += w > 0 ? (size_t)w : 0u;
    }
    struct report rep = {g_t, g_nt, g_res, g_nres, m, line, O.rounds, O.repeats,
                         O.tput_repeats, O.duration, O.window, O.quick, pin_name()};
    report_table(&rep, stdout);
    report_goals(&rep, stdout);
    int out_failed = 0;
    if (O.csv != NULL && report_csv(&rep, O.csv) != 0) {
        out_failed = 1;
    }
    if (O.json != NULL && report_json(&rep, O.json) != 0) {
        out_failed = 1;
    }
    if (O.plot != NULL && report_plot(&rep, O.plot) != 0) {
        out_failed = 1;
    }
    size_t bad = 0;
    for (size_t i = 0; i < g_nres; i++) {
        bad += g_res[i].ok ? 0u : 1u;
    }
    int dead = 0;
    for (int i = 0; i < g_nt; i++) {
        dead += g_t[i].dead;
    }
    if (bad > 0 || g_failed > 0 || dead > 0) {
        printf("\nFAILED: %zu of %zu measurements incomplete or lost frames, %d of %d targets "
               "failed (see the notes above)\n", bad, g_nres, dead, g_nt);
        return 1;
    }
    printf("\nOK: %zu measurements, every one produced numbers, no frame lost\n", g_nres);
    return out_failed;
}
