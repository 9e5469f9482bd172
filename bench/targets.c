/* busrt-bench: the targets: brokers started for --spawn (their socket and
 * log in a temporary directory), the bench's and the peer's connections to
 * every target, the broker processes found for placement and /proc
 * readings. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run.h"

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

/* In the forked broker: its own process group (stopped as a whole), gone
 * with the bench process, output to the log. Never returns. */
static void broker_exec(const char *full, int logfd) __attribute__((noreturn));
static void broker_exec(const char *full, int logfd)
{
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

/* Waits until the started broker accepts connections on t->addr. Returns
 * 0, or -1 with why set (t->pid cleared when it exited). */
static int broker_wait(struct bench *b, struct target *t, int idx, const char *log,
                       off_t log_from, char *why, size_t whylen)
{
    int64_t deadline = now_ns() + b->timeout;
    for (;;) {
        int st;
        if (waitpid(t->pid, &st, WNOHANG) == t->pid) {
            char tail[300];
            log_tail(log, log_from, tail, sizeof tail);
            t->start_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            (void)snprintf(why, whylen, "the broker exited before accepting connections "
                           "(status %d)%s%s", t->start_status,
                           tail[0] != '\0' ? ": " : "", tail);
            t->pid = 0;
            b->brokers[idx] = 0;
            return -1;
        }
        if (try_connect(t->addr) == 0) {
            return 0;
        }
        if (now_ns() >= deadline) {
            (void)snprintf(why, whylen, "no connection accepted on %.100s within %.0f s",
                           t->addr, b->o.timeout);
            return -1;
        }
        (void)poll(NULL, 0, 20);
    }
}

/* Starts a --spawn target and waits until it accepts connections. Returns 0,
 * or -1 with why set. */
static int spawn_broker(struct bench *b, struct target *t, int idx, char *why, size_t whylen)
{
    t->start_status = -1;
    (void)snprintf(t->addr, sizeof t->addr, "%s/t%d.sock", b->tmpdir, idx);
    char logpath[96] = "";
    if (b->o.broker_log == NULL) {
        (void)snprintf(logpath, sizeof logpath, "%s/t%d.log", b->tmpdir, idx);
    }
    const char *log = b->o.broker_log != NULL ? b->o.broker_log : logpath;
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
        broker_exec(full, logfd);
    }
    (void)setpgid(pid, pid);
    if (logfd >= 0) {
        (void)close(logfd);
    }
    t->pid = pid;
    b->brokers[idx] = pid;
    msg("target %d (%s): started `%s` (pid %ld)", idx, t->label, cmd, (long)pid);
    free(cmd);
    free(full);
    return broker_wait(b, t, idx, log, log_from, why, whylen);
}

static void stop_broker(struct bench *b, struct target *t, int idx)
{
    if (t->pid <= 0) {
        return;
    }
    (void)kill(-t->pid, SIGTERM);
    int64_t deadline = now_ns() + b->timeout;
    int st = 0;
    pid_t w = 0;
    while ((w = waitpid(t->pid, &st, WNOHANG)) == 0 && now_ns() < deadline) {
        (void)poll(NULL, 0, 20);
    }
    if (w == 0) {
        msg("target %d (%s): broker did not stop within %.0f s of SIGTERM; killing it", idx,
            t->label, b->o.timeout);
        (void)kill(-t->pid, SIGKILL);
        (void)waitpid(t->pid, &st, 0);
    } else if (w == t->pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        msg("target %d (%s): broker exit status %d after SIGTERM", idx, t->label,
            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    t->pid = 0;
    b->brokers[idx] = 0;
}

/* The command of a --broker-rt twin: its base's, with the realtime options. */
static void rt_command(struct bench *b, struct target *t)
{
    char last[16];
    const char *cpus = b->o.rt_cpus;
    if (cpus == NULL) {
        (void)snprintf(last, sizeof last, "%d", b->ncpus > 0 ? b->cpus[b->ncpus - 1] : 0);
        cpus = last;
    }
    const char *base = b->t[t->rt_base].cmd;
    size_t l = strlen(base) + strlen(cpus) + 64u;
    t->cmd = xmalloc(l);
    (void)snprintf(t->cmd, l, "%s --rt-priority %d --cpu %s --mlockall", base, b->o.rt_prio,
                   cpus);
}

/* A --broker-rt twin whose broker refused its realtime options: noted in
 * rt_skipped, and removed from the targets (twins come last, and the ones
 * after it are not started yet). */
static void rt_skip(struct bench *b, int i, const char *why)
{
    struct target *t = &b->t[i];
    const char *reason = strstr(why, " ERROR ");
    reason = reason != NULL ? reason + 7 : why;
    size_t l = strlen(b->rt_skipped);
    (void)snprintf(b->rt_skipped + l, sizeof b->rt_skipped - l,
                   "%s%s not measured: its broker refused the realtime options here (exit "
                   "status 2): %s", l > 0 ? "; " : "", t->label, reason);
    msg("target %d (%s): the broker refused its realtime options (exit status 2); not "
        "measured: %s", i, t->label, reason);
    free(t->cmd);
    for (int k = i; k + 1 < b->nt; k++) {
        b->t[k] = b->t[k + 1];
        b->brokers[k] = b->brokers[k + 1];
    }
    b->nt--;
    b->brokers[b->nt] = 0;
}

int targets_spawn(struct bench *b)
{
    for (int i = 0; i < b->nt; i++) {
        if (b->t[i].rt && b->t[i].cmd == NULL) {
            rt_command(b, &b->t[i]);
        }
        if (b->t[i].cmd == NULL) {
            continue;
        }
        if (b->tmpdir[0] == '\0') {
            (void)snprintf(b->tmpdir, sizeof b->tmpdir, "/tmp/busrt-bench.XXXXXX");
            if (mkdtemp(b->tmpdir) == NULL) {
                msg("mkdtemp: %s", strerror(errno));
                b->tmpdir[0] = '\0';
                stop_everything_now(b);
                return -1;
            }
        }
        /* a broker that does not start (an unknown option, say) fails its
         * own target; the others are measured */
        char why[400];
        if (spawn_broker(b, &b->t[i], i, why, sizeof why) != 0) {
            if (b->t[i].rt && b->t[i].start_status == 2) {
                rt_skip(b, i, why);
                i--;
                continue;
            }
            mark_dead(&b->t[i], why);
            stop_broker(b, &b->t[i], i);
        }
    }
    return 0;
}

/* Connects A to target i and has the peer connect B. */
static void target_connect(struct bench *b, int i)
{
    struct target *t = &b->t[i];
    char name[NAME_CAP], err[200], why[240];
    name_main_a(name, i);
    name_main_b(t->bname, i);
    if (t->dead) {
        return;
    }
    int rc = conn_open(&t->a, t->addr, name, b->timeout, err, sizeof err);
    if (rc != 0) {
        (void)snprintf(why, sizeof why, "cannot connect: %.200s", err);
        mark_dead(t, why);
        return;
    }
    t->a.rcap = 1u << 18;
    ka_add(&t->a);
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.tidx = i;
    (void)snprintf(a.addr, sizeof a.addr, "%s", t->addr);
    (void)snprintf(a.name, sizeof a.name, "%s", t->bname);
    if (ctl_send_args(&b->ctl, CTL_CONNECT, &a) != 0 ||
        ctl_wait(&b->ctl, CTL_OK, 0, &a, b->timeout * 2) != CTL_OK) {
        (void)snprintf(why, sizeof why, "the peer cannot connect: %.200s",
                       a.text[0] != '\0' ? a.text : "no answer");
        mark_dead(t, why);
    }
}

int targets_connect(struct bench *b)
{
    for (int i = 0; i < b->nt; i++) {
        target_connect(b, i);
    }
    int live = 0;
    for (int i = 0; i < b->nt; i++) {
        struct target *t = &b->t[i];
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
        b->placed[i] = t->bpid > 0 ? t->bpid : 0;
    }
    return live;
}

void targets_close(struct bench *b)
{
    for (int i = 0; i < b->nt; i++) {
        if (b->t[i].bpid > 0) {
            (void)pin_restore(b->t[i].bpid, i); /* a --target broker keeps running */
        }
        b->placed[i] = 0;
        if (b->t[i].a.proto_err > 0) {
            msg("target %d: %llu malformed frames", i, (unsigned long long)b->t[i].a.proto_err);
            b->failed++;
        }
        conn_close(&b->t[i].a);
    }
}

void targets_stop(struct bench *b)
{
    for (int i = 0; i < b->nt; i++) {
        stop_broker(b, &b->t[i], i);
    }
    remove_tmpdir(b);
}
