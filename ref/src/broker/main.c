/* busrtd: the process around the broker (broker.c, loop.c): options, the
 * descriptor limit, signals, daemonizing, the pid file. Signals are blocked
 * except while the loop waits on the multiplexer, so SIGINT/SIGTERM end the
 * loop between two turns. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "mem.h"

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        g_reload = 1;
    } else {
        g_stop = 1;
    }
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
        log_error("pid file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        _exit(0);
    }
    if (setsid() < 0) {
        return -1;
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        (void)dup2(fd, STDIN_FILENO);
        (void)dup2(fd, STDOUT_FILENO);
        (void)dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO) {
            (void)close(fd);
        }
    }
    return chdir("/");
}

/* Descriptors kept for the process itself: standard streams, listeners,
 * the FIFO, the multiplexer, the spare one, the pid file, syslog. */
#define FD_RESERVE 32u

/* Raises the soft descriptor limit to the hard one, or beyond it to the
 * kernel's fs.nr_open where the process is permitted to; logs and returns
 * what it obtained. */
static size_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn("getrlimit(RLIMIT_NOFILE): %s; assuming 1024 descriptors", strerror(errno));
        return 1024u;
    }
    rlim_t before = rl.rlim_cur, ceiling = 1048576u;
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (f != NULL) {
        unsigned long v = 0;
        if (fscanf(f, "%lu", &v) == 1 && v > 0u) {
            ceiling = (rlim_t)v;
        }
        (void)fclose(f);
    }
    /* RLIM_INFINITY is the largest rlim_t: it is never below the ceiling. */
    struct rlimit up = {ceiling, ceiling};
    if (rl.rlim_max < ceiling && setrlimit(RLIMIT_NOFILE, &up) == 0) {
        rl = up; /* beyond the hard limit: the process is permitted to */
    } else {
        rl.rlim_cur = rl.rlim_max < ceiling ? rl.rlim_max : ceiling;
        if (rl.rlim_cur > before && setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_warn("cannot raise the descriptor limit from %lu to %lu: %s",
                     (unsigned long)before, (unsigned long)rl.rlim_cur, strerror(errno));
            rl.rlim_cur = before;
        }
    }
    log_info("descriptor limit %lu (was %lu; hard limit %lu)", (unsigned long)rl.rlim_cur,
             (unsigned long)before, (unsigned long)rl.rlim_max);
    return (size_t)rl.rlim_cur;
}

/* --max-clients: what the descriptors allow, unless given; a larger value
 * given is kept, with a warning, and the excess is refused at accept. */
static void size_clients(struct config *cfg)
{
    size_t fds = raise_nofile();
    if ((size_t)cfg->io->fd_limit < fds) {
        fds = (size_t)cfg->io->fd_limit;
    }
    size_t fit = fds > FD_RESERVE ? fds - FD_RESERVE : 1u;
    if (fit > 1000000u) {
        fit = 1000000u;
    }
    if (cfg->max_clients == 0u) {
        cfg->max_clients = fit;
    } else if (cfg->max_clients > fit) {
        log_warn("--max-clients %zu: the %s backend and the descriptor limit allow about %zu; "
                 "connections beyond that are refused",
                 cfg->max_clients, cfg->io->name, fit);
    }
    log_info("multiplexer %s, at most %zu clients", cfg->io->name, cfg->max_clients);
}

int main(int argc, char **argv)
{
    static struct broker b;
    struct config cfg;
    int rc = config_parse(&cfg, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    log_setup(cfg.verbose, cfg.log_syslog);
    size_clients(&cfg);
    if (mem_init(cfg.memory_limit, cfg.preallocate) != 0) {
        log_error("--preallocate: cannot reserve %zu bytes: %s; exiting", cfg.memory_limit,
                  strerror(errno));
        return 1;
    }
    if (cfg.memory_limit != 0u) {
        log_info("memory limit %zu bytes%s", cfg.memory_limit,
                 cfg.preallocate ? ", reserved at start (--preallocate)" : "");
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    (void)sigprocmask(SIG_BLOCK, &block, &waitmask);

    int ok = broker_init(&b, &cfg) == 0 &&
             (cfg.acl_file == NULL || broker_load_acl(&b, 1) == 0) && broker_listen(&b) == 0;
    if (ok && b.cfg.daemonize && daemonize() != 0) {
        ok = 0;
    }
    if (ok && b.cfg.pidfile != NULL && write_pidfile(b.cfg.pidfile) != 0) {
        b.cfg.pidfile = NULL; /* not ours to remove */
        ok = 0;
    }
    ok = ok && broker_activate(&b) == 0; /* clients connect only from here on */
    if (!ok) {
        log_error("start-up failed; exiting");
        broker_teardown(&b);
        mem_shutdown();
        return 1;
    }
    log_info("busrtd %s started (timeout %.3f s, queue %zu frames, payload limit %lu bytes)",
             BUSRT_VERSION_STRING, (double)b.cfg.timeout_ns / 1e9, b.cfg.queue_size,
             (unsigned long)b.cfg.payload_limit);
    broker_run(&b, &waitmask, &g_stop, &g_reload);
    log_info("shutting down");
    broker_drain(&b);
    broker_teardown(&b);
    mem_shutdown();
    log_info("stopped");
    return 0;
}
