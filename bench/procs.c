/* busrt-bench: the bench process's forked children (peer, load process,
 * holders, --hook commands) and the signal handling that stops them and the
 * spawned brokers. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* The run the signal handler stops: a handler gets no arguments. */
static struct bench *sig_bench;

void remove_tmpdir(const struct bench *b)
{
    /* only async-signal-safe calls: also used from the signal handler */
    if (b->tmpdir[0] == '\0') {
        return;
    }
    char p[96];
    for (int i = 0; i < MAX_TARGETS; i++) {
        /* tmpdir "/t" digit ".sock" (".log"), built without stdio */
        size_t l = strlen(b->tmpdir);
        memcpy(p, b->tmpdir, l);
        memcpy(p + l, "/t0.sock", 9);
        p[l + 2] = (char)('0' + i);
        (void)unlink(p);
        memcpy(p + l + 3, ".log", 5);
        (void)unlink(p);
    }
    (void)rmdir(b->tmpdir);
}

void stop_everything_now(struct bench *b)
{
    for (int i = 0; i < MAX_TARGETS; i++) {
        if (b->placed[i] > 0) {
            (void)pin_restore_main(b->placed[i], i);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (b->kids[i] > 0) {
            (void)kill(b->kids[i], SIGKILL);
        }
    }
    struct timespec tick = {0, 5000000};
    for (int i = 0; i < 4; i++) {
        for (int k = 0; b->kids[i] > 0 && k < 200; k++) {
            if (waitpid(b->kids[i], NULL, WNOHANG) != 0) {
                break;
            }
            (void)nanosleep(&tick, NULL);
        }
    }
    for (int i = 0; i < MAX_TARGETS; i++) {
        if (b->brokers[i] > 0) {
            (void)kill(-b->brokers[i], SIGTERM);
        }
    }
    struct timespec ts = {0, 20000000};
    for (int k = 0; k < 150; k++) {
        int alive = 0;
        for (int i = 0; i < MAX_TARGETS; i++) {
            if (b->brokers[i] > 0) {
                if (waitpid(b->brokers[i], NULL, WNOHANG) == 0) {
                    alive = 1;
                } else {
                    b->brokers[i] = 0;
                }
            }
        }
        if (!alive) {
            break;
        }
        (void)nanosleep(&ts, NULL);
    }
    for (int i = 0; i < MAX_TARGETS; i++) {
        if (b->brokers[i] > 0) {
            (void)kill(-b->brokers[i], SIGKILL);
        }
    }
    remove_tmpdir(b);
}

static void on_fatal_signal(int sig)
{
    static const char watchdog_msg[] =
        "busrt-bench: watchdog: the run exceeded --max-time; stopping\n";
    if (sig == SIGALRM) {
        (void)write(STDERR_FILENO, watchdog_msg, sizeof watchdog_msg - 1u);
    }
    stop_everything_now(sig_bench);
    _exit(sig == SIGALRM ? 3 : 128 + sig);
}

void signals_install(struct bench *b)
{
    sig_bench = b;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_fatal_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGALRM, &sa, NULL);
}

void child_signals_default(void)
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

pid_t fork_child(struct bench *b, int *parent_fd, int slot)
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
    b->kids[slot] = pid;
    return pid;
}

void reap_child(struct bench *b, pid_t *pid, struct ctl *k, int slot)
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
    b->kids[slot] = 0;
}

char (*child_addrs(const struct bench *b, const int *in))[ADDR_CAP]
{
    char(*addrs)[ADDR_CAP] = xmalloc((size_t)b->nt * ADDR_CAP);
    for (int i = 0; i < b->nt; i++) {
        int use = !b->t[i].dead && (in == NULL || in[i]);
        memcpy(addrs[i], use ? b->t[i].addr : "", use ? ADDR_CAP : 1u);
    }
    return addrs;
}

int peer_start(struct bench *b)
{
    int fd;
    pid_t pid = fork_child(b, &fd, KID_PEER);
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        peer_main(fd, b->timeout);
    }
    b->peer = pid;
    ctl_init(&b->ctl, fd);
    return 0;
}

int load_start(struct bench *b)
{
    if (b->load > 0) {
        return 0;
    }
    int fd;
    pid_t pid = fork_child(b, &fd, KID_LOAD);
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        load_main(fd, child_addrs(b, NULL), b->nt, b->o.window, b->timeout);
    }
    b->load = pid;
    ctl_init(&b->lctl, fd);
    struct ctl_args a;
    int rc = ctl_wait(&b->lctl, CTL_READY, 0, &a, b->timeout + 2000000000LL);
    if (rc != CTL_READY) {
        msg("load process: %s", rc == CTL_ERR ? a.text : "no answer");
        reap_child(b, &b->load, &b->lctl, KID_LOAD);
        return -1;
    }
    return 0;
}

/* --hook: runs CMD with /bin/sh before ("begin") and after ("end") every
 * measurement block that involves a broker, e.g. to zero and dump a
 * profiler's counters (callgrind_control) around exactly that block. */
void hook(struct bench *b, const char *event, const struct target *t)
{
    if (b->o.hook == NULL) {
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
        execl("/bin/sh", "sh", "-c", b->o.hook, (char *)NULL);
        _exit(127);
    }
    if (h < 0) {
        return;
    }
    int64_t deadline = now_ns() + b->timeout;
    int st;
    pid_t w;
    while ((w = waitpid(h, &st, WNOHANG)) == 0 && now_ns() < deadline) {
        (void)poll(NULL, 0, 5);
        ka_tick(now_ns());
    }
    if (w == 0) {
        msg("--hook did not finish within %.0f s; killed", b->o.timeout);
        (void)kill(h, SIGKILL);
        (void)waitpid(h, &st, 0);
    }
}
