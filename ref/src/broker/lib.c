/* libbusrtd (busrt/busrtd.h): a broker object around struct broker, its
 * memory context, log settings and lock (the hub of inproc.c), and the
 * thread that may run its loop. */
#define _GNU_SOURCE /* eventfd flags */
#include "busrt/busrtd.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "broker.h"
#include "busrt/transport.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "ev.h"
#include "inproc.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "rt.h"

enum lib_state { LIB_CREATED, LIB_STARTED, LIB_RUNNING, LIB_STOPPED };

struct busrtd {
    struct broker b;
    struct mem_ctx *mem;
    struct log_cfg log;
    struct inproc_hub *hub;
    char **argv; /* owned copies: the configuration points into them */
    int argc;
    char *added[CONFIG_MAX_BINDS]; /* busrtd_listen addresses */
    size_t nadded;
    atomic_int stop, reload;
    atomic_int state;
    pthread_t thread;
    int has_thread;
    int thread_rc;
};

/* Takes the broker for the calling thread (lock, memory, log). */
static struct broker *enter(busrtd *d)
{
    return inproc_enter(d->hub);
}

static void leave(busrtd *d)
{
    inproc_leave(d->hub);
}

static void free_args(busrtd *d)
{
    for (int i = 0; i < d->argc; i++) {
        free(d->argv[i]);
    }
    free(d->argv);
    for (size_t i = 0; i < d->nadded; i++) {
        free(d->added[i]);
    }
}

static int copy_args(busrtd *d, int argc, const char *const *argv)
{
    d->argv = calloc((size_t)argc + 1u, sizeof *d->argv);
    if (d->argv == NULL) {
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        d->argv[i] = strdup(argv[i] != NULL ? argv[i] : "");
        if (d->argv[i] == NULL) {
            return -1;
        }
        d->argc = i + 1;
    }
    return 0;
}

/* --max-clients: what the descriptor limit allows, unless given. The
 * process's limits are the application's: they are read, not raised. */
static void limit_clients(struct config *cfg)
{
    struct rlimit rl;
    size_t fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (size_t)rl.rlim_cur : 1024u;
    if (cfg->max_clients == 0u) {
        cfg->max_clients = config_clients_fit(cfg, fds);
    }
}

/* The part of busrtd_create that runs with the broker's memory and log
 * settings selected. */
static int init_broker(busrtd *d, struct config *cfg)
{
    if (mem_init(cfg->memory_limit, cfg->preallocate) != 0) {
        log_error("--preallocate: cannot reserve %zu bytes: %s", cfg->memory_limit,
                  strerror(errno));
        return BUSRT_E_SYS;
    }
    if (broker_init(&d->b, cfg) != 0) {
        broker_teardown(&d->b);
        return BUSRT_E_SYS;
    }
    if (cfg->acl_file != NULL && broker_load_acl(&d->b, 1) != 0) {
        broker_teardown(&d->b);
        return BUSRT_E_INVAL;
    }
    d->b.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->b.wake_fd < 0 || ev_set(&d->b.ev, d->b.wake_fd, EV_READ) != 0) {
        log_error("cannot create the broker's wake-up descriptor: %s", strerror(errno));
        if (d->b.wake_fd >= 0) {
            (void)close(d->b.wake_fd);
            d->b.wake_fd = -1;
        }
        broker_teardown(&d->b);
        return BUSRT_E_SYS;
    }
    return 0;
}

int busrtd_create(busrtd **out, int argc, const char *const *argv)
{
    if (out == NULL || argc < 1 || argv == NULL) {
        return BUSRT_E_INVAL;
    }
    *out = NULL;
    busrtd *d = calloc(1, sizeof *d);
    if (d == NULL || copy_args(d, argc, argv) != 0 || (d->mem = mem_ctx_new()) == NULL) {
        if (d != NULL) {
            free_args(d);
            free(d);
        }
        return BUSRT_E_NOMEM;
    }
    struct config cfg;
    int rc = config_parse_for(&cfg, d->argc, d->argv, 1);
    if (rc == 0 && config_resolve_paths(&cfg) != 0) {
        rc = -1;
    }
    if (rc != 0) {
        config_free(&cfg);
        mem_ctx_free(d->mem);
        free_args(d);
        free(d);
        return BUSRT_E_INVAL;
    }
    limit_clients(&cfg);
    d->log.verbose = cfg.verbose;
    d->log.syslog = cfg.log_syslog;
    (void)strncpy(d->log.ident, argv[0] != NULL && argv[0][0] != '\0' ? argv[0] : "busrtd",
                  sizeof d->log.ident - 1u);
    struct mem_ctx *pm = mem_use(d->mem);
    struct log_cfg *pl = log_use(&d->log);
    log_setup(cfg.verbose, cfg.log_syslog);
    rc = init_broker(d, &cfg);
    if (rc == 0 && (d->hub = inproc_hub_new(&d->b, d->mem, &d->log)) == NULL) {
        broker_teardown(&d->b);
        rc = BUSRT_E_NOMEM;
    }
    if (rc != 0) {
        mem_shutdown();
        config_free(&cfg);
    }
    (void)mem_use(pm);
    (void)log_use(pl);
    if (rc != 0) {
        mem_ctx_free(d->mem);
        free_args(d);
        free(d);
        return rc;
    }
    d->b.hub = d->hub;
    atomic_init(&d->stop, 0);
    atomic_init(&d->reload, 0);
    atomic_init(&d->state, LIB_CREATED);
    *out = d;
    return 0;
}

int busrtd_listen(busrtd *d, const char *addr)
{
    if (d == NULL || addr == NULL || addr[0] == '\0') {
        return BUSRT_E_INVAL;
    }
    struct broker *b = enter(d);
    int rc = 0;
    if (atomic_load(&d->state) != LIB_CREATED) {
        log_error("listener %s: listeners must be added before the broker starts; not added", addr);
        rc = BUSRT_E_INVAL;
    } else if (b->cfg.nbinds >= CONFIG_MAX_BINDS || d->nadded >= CONFIG_MAX_BINDS) {
        log_error("listener %s: at most %d listeners", addr, CONFIG_MAX_BINDS);
        rc = BUSRT_E_INVAL;
    } else if ((d->added[d->nadded] = strdup(addr)) == NULL) {
        rc = BUSRT_E_NOMEM;
    } else {
        const char *a = d->added[d->nadded++];
        size_t k = b->cfg.nbinds++;
        b->cfg.binds[k] = a;
        b->cfg.bind_args[k] = a;
        if (config_resolve_paths(&b->cfg) != 0) { /* a relative path: made absolute */
            b->cfg.nbinds--;
            rc = BUSRT_E_INVAL;
        }
    }
    leave(d);
    return rc;
}

int busrtd_start(busrtd *d)
{
    if (d == NULL) {
        return BUSRT_E_INVAL;
    }
    struct broker *b = enter(d);
    int rc = 0;
    if (atomic_load(&d->state) == LIB_CREATED) {
        if (broker_listen(b) != 0 || broker_activate(b) != 0) {
            rc = BUSRT_E_SYS;
        } else {
            atomic_store(&d->state, LIB_STARTED);
            log_info("busrtd %s started (embedded; timeout %.3f s, queue %zu frames, payload "
                     "limit %lu bytes, %zu listeners)",
                     BUSRT_VERSION_STRING, (double)b->cfg.timeout_ns / 1e9, b->cfg.queue_size,
                     (unsigned long)b->cfg.payload_limit, b->cfg.nbinds);
        }
    } else if (atomic_load(&d->state) != LIB_STARTED) {
        rc = BUSRT_E_INVAL;
    }
    leave(d);
    return rc;
}

int busrtd_run(busrtd *d)
{
    if (d == NULL) {
        return BUSRT_E_INVAL;
    }
    if (atomic_load(&d->state) == LIB_CREATED) {
        int rc = busrtd_start(d);
        if (rc != 0) {
            return rc;
        }
    }
    int expect = LIB_STARTED;
    if (!atomic_compare_exchange_strong(&d->state, &expect, LIB_RUNNING)) {
        return BUSRT_E_INVAL; /* running elsewhere, or stopped */
    }
    struct broker *b = enter(d);
    b->foreign = 0; /* this is the loop's thread */
    int rc = 0;
    if (rt_apply(&b->cfg) != 0) { /* realtime options: this thread */
        rc = BUSRT_E_SYS;
    } else {
        b->now = now_ns();
        broker_run(b, NULL, &d->stop, &d->reload);
        log_info("shutting down");
        broker_drain(b);
    }
    /* In-process clients may still read what was queued for them; then
     * they see the end. */
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        if (c->link != NULL) {
            client_close(b, c, "the broker stopped");
        }
    }
    atomic_store(&d->state, LIB_STOPPED);
    leave(d);
    return rc;
}

static void *run_thread(void *arg)
{
    busrtd *d = arg;
    d->thread_rc = busrtd_run(d);
    return NULL;
}

int busrtd_spawn(busrtd *d)
{
    if (d == NULL || d->has_thread) {
        return BUSRT_E_INVAL;
    }
    int rc = busrtd_start(d);
    if (rc != 0) {
        return rc;
    }
    int e = pthread_create(&d->thread, NULL, run_thread, d);
    if (e != 0) {
        errno = e;
        return BUSRT_E_SYS;
    }
    d->has_thread = 1;
    return 0;
}

void busrtd_stop(busrtd *d)
{
    if (d == NULL) {
        return;
    }
    atomic_store(&d->stop, 1);
    inproc_fd_signal(d->b.wake_fd);
}

int busrtd_join(busrtd *d)
{
    if (d == NULL || !d->has_thread) {
        return BUSRT_E_INVAL;
    }
    int e = pthread_join(d->thread, NULL);
    d->has_thread = 0;
    if (e != 0) {
        errno = e;
        return BUSRT_E_SYS;
    }
    return d->thread_rc;
}

void busrtd_destroy(busrtd *d)
{
    if (d == NULL) {
        return;
    }
    if (d->has_thread) {
        busrtd_stop(d);
        (void)busrtd_join(d);
    }
    struct broker *b = enter(d);
    int wake_fd = b->wake_fd;
    b->wake_fd = -1;
    broker_teardown(b);
    log_info("stopped");
    mem_shutdown();
    config_free(&b->cfg);
    inproc_hub_close(d->hub); /* leaves; open links now see the end */
    if (wake_fd >= 0) {
        (void)close(wake_fd);
    }
    mem_ctx_free(d->mem);
    free_args(d);
    free(d);
}

int busrtd_stats(busrtd *d, struct busrtd_stats *st)
{
    if (d == NULL || st == NULL) {
        return BUSRT_E_INVAL;
    }
    struct broker *b = enter(d);
    st->clients = b->nconns;
    st->r_frames = b->r_frames;
    st->r_bytes = b->r_bytes;
    st->w_frames = b->w_frames;
    st->w_bytes = b->w_bytes;
    st->memory_used = mem_used();
    st->memory_high_water = mem_high_water();
    st->memory_limit = mem_limit();
    st->uptime_ms = (uint64_t)((now_ns() - b->started_ns) / 1000000);
    leave(d);
    return 0;
}

int busrtd_connect(busrtd *d, busrt_client **out, const struct busrt_client_config *cfg)
{
    if (out != NULL) {
        *out = NULL;
    }
    if (d == NULL || out == NULL || cfg == NULL) {
        return BUSRT_E_INVAL;
    }
    int fd = -1, err = 0;
    struct inproc_link *l = inproc_connect(d->hub, &fd, &err);
    if (l == NULL) {
        return err;
    }
    return busrt_client_connect_transport(out, &inproc_transport, l, fd, cfg);
}
