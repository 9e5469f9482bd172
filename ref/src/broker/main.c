/* busrtd: the process around the broker (broker.c, loop.c): options, the
 * descriptor limit, signals, daemonizing, the pid file. Signals are blocked
 * except while the loop waits on the multiplexer, so SIGINT/SIGTERM end the
 * loop between two turns. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "rt.h"
#include "mem.h"

/* Lock-free atomics: safe to set from a signal handler. */
static atomic_int g_stop;
static atomic_int g_reload;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        atomic_store(&g_reload, 1);
    } else {
        atomic_store(&g_stop, 1);
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

/* Detaches: the parent exits 0, the child starts a session, points the
 * standard streams at /dev/null and changes directory to / (every path
 * option is absolute by then: config_resolve_paths). Standard error then
 * goes nowhere, so the child logs to syslog unless --log-syslog already
 * did. Returns 0 in the child, or -1 after logging why. */
static int daemonize(const struct config *cfg)
{
    if (!cfg->log_syslog) {
        log_info("detaching (-D): logging to syslog from now on (facility daemon, ident "
                 "busrtd)");
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_error("-D: cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        _exit(0);
    }
    log_setup(cfg->verbose, 1);
    if (setsid() < 0) {
        log_error("-D: setsid: %s", strerror(errno));
        return -1;
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0) {
        log_error("-D: cannot open /dev/null: %s", strerror(errno));
        return -1;
    }
    if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
        dup2(fd, STDERR_FILENO) < 0) {
        log_error("-D: cannot point the standard streams at /dev/null: %s", strerror(errno));
        (void)close(fd);
        return -1;
    }
    if (fd > STDERR_FILENO) {
        (void)close(fd);
    }
    if (chdir("/") != 0) {
        log_error("-D: cannot change directory to /: %s", strerror(errno));
        return -1;
    }
    return 0;
}

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
    size_t fit = config_clients_fit(cfg, raise_nofile());
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
    if (config_resolve_paths(&cfg) != 0) {
        config_free(&cfg);
        return 1;
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

    /* The pid file is the broker's to remove only once it has written it:
     * a start-up that fails earlier leaves a running broker's file alone. */
    const char *pidfile = cfg.pidfile;
    cfg.pidfile = NULL;
    int ok = broker_init(&b, &cfg) == 0;
    if (ok && cfg.acl_file != NULL && broker_load_acl(&b, 1) != 0) {
        broker_teardown(&b); /* the reason and "not starting" are logged */
        config_free(&cfg);
        mem_shutdown();
        return 1;
    }
    ok = ok && broker_listen(&b) == 0;
    if (ok && b.cfg.daemonize && daemonize(&b.cfg) != 0) {
        ok = 0;
    }
    if (ok && pidfile != NULL) {
        if (write_pidfile(pidfile) != 0) {
            ok = 0;
        } else {
            b.cfg.pidfile = pidfile; /* removed by broker_teardown */
        }
    }
    /* Realtime options (rt.c): the listeners are bound, no client can
     * connect yet, and a refusal stops the broker with status 2. */
    if (ok && rt_apply(&b.cfg) != 0) {
        broker_teardown(&b);
        config_free(&cfg);
        mem_shutdown();
        return 2;
    }
    ok = ok && broker_activate(&b) == 0; /* clients connect only from here on */
    if (!ok) {
        log_error("start-up failed; exiting");
        broker_teardown(&b);
        config_free(&cfg);
        mem_shutdown();
        return 1;
    }
    /* READY=1 once every listener accepts connections (notify.c). */
    notify_open(&b.notify);
    notify_ready(&b.notify, now_ns(), b.nconns, b.cfg.nbinds, b.cfg.daemonize);
    log_info("busrtd %s started (timeout %.3f s, queue %zu frames, payload limit %lu bytes)",
             BUSRT_VERSION_STRING, (double)b.cfg.timeout_ns / 1e9, b.cfg.queue_size,
             (unsigned long)b.cfg.payload_limit);
    broker_run(&b, &waitmask, &g_stop, &g_reload);
    log_info("shutting down");
    broker_drain(&b);
    broker_teardown(&b);
    mem_shutdown();
    log_info("stopped");
    config_free(&cfg);
    return 0;
}
