/* The event loop. One turn, top to bottom:
 *   1. publish queued announcements (.broker/info reg/unreg);
 *   2. write the output of every client on the flush list (the clients
 *      that got frames since their last write, in the order they got them:
 *      deliveries before the ACKs that follow them);
 *   3. free the clients dropped so far (broker_reap);
 *   4. send the service manager what is due (notify.c: WATCHDOG=1 every
 *      half watchdog period, STATUS= when the client count changed), then
 *      wait on the multiplexer (ev.c) until a descriptor is ready, the
 *      earliest deadline of the timer heap (timer.c) comes, or the next
 *      notification is due (so an idle loop still pings the watchdog, and
 *      a loop stuck in a turn stops pinging);
 *   5. for each ready descriptor: accept on a listener, read the FIFO, or
 *      write (EV_WRITE: a queue that had stalled) and read a client;
 *   6. handle the deadlines that have come (client_on_timer).
 * Nothing in a turn walks every client: work is proportional to the
 * ready descriptors, the clients with output and the expired deadlines.
 *
 * conn.c, router.c, registry.c and coreapi.c call one another in a circle
 * (conn -> router -> registry or coreapi -> router -> conn; registry ->
 * conn to drop a replaced client). It is safe because:
 *   - dropping a client only marks it: client_kill takes it out of routing
 *     and the registry at once, and code that holds a client checks
 *     c->dead after any call that may drop it;
 *   - only broker_reap frees clients (teardown aside), at step 3, so no
 *     pointer held while a frame is handled dangles;
 *   - the router collects a frame's receivers before delivering to any, so
 *     a receiver dropped during delivery (full queue) changes no index
 *     being walked;
 *   - announcements are queued (coreapi_announce) and published later,
 *     between frames (coreapi_flush_events), never from inside routing. */
#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "conn.h"
#include "coreapi.h"
#include "ev.h"
#include "fifo.h"
#include "inproc.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "mem.h"
#include "timer.h"

#ifdef BUSRTD_TEST_HOOKS
/* Test builds only (busrtd-hooks, built for the integration tests and never
 * installed; the production busrtd has none of this): SIGUSR2 makes the
 * loop sleep BUSRTD_TEST_STALL_MS milliseconds (default 1000) right after
 * its wait, before it handles what is ready, as a loop stuck in a turn
 * would, so that a test can see the watchdog pings stop and resume. */
#include <stdlib.h>
#include <time.h>

static volatile sig_atomic_t g_stall;

static void on_stall_signal(int sig)
{
    (void)sig;
    g_stall = 1;
}

/* Installs the SIGUSR2 handler; SIGUSR2 is blocked except while waiting,
 * like the other signals (main.c). Returns the mask to wait with. */
static sigset_t hooks_init(const sigset_t *waitmask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stall_signal;
    sigset_t usr2, mask = *waitmask;
    (void)sigemptyset(&usr2);
    (void)sigaddset(&usr2, SIGUSR2);
    if (sigaction(SIGUSR2, &sa, NULL) != 0 || sigprocmask(SIG_BLOCK, &usr2, NULL) != 0) {
        log_error("test hooks: cannot install the SIGUSR2 handler: %s; no stalls",
                  strerror(errno));
    }
    (void)sigdelset(&mask, SIGUSR2);
    log_info("test hooks compiled in: SIGUSR2 stalls the loop");
    return mask;
}

static void hooks_turn(void)
{
    if (!g_stall) {
        return;
    }
    g_stall = 0;
    const char *v = getenv("BUSRTD_TEST_STALL_MS");
    long ms = v != NULL ? strtol(v, NULL, 10) : 1000L;
    if (ms <= 0 || ms > 60000L) {
        ms = 1000L;
    }
    log_info("test hooks: stalling the loop for %ld ms", ms);
    struct timespec ts = {ms / 1000L, (ms % 1000L) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    log_info("test hooks: the loop resumes");
}
#endif

/* Applies the interest changes a client's thread left (inproc.c). */
static void apply_rewatch(struct broker *b)
{
    struct client *c;
    while ((c = b->rewatch) != NULL) {
        b->rewatch = c->next_rewatch;
        c->rewatch = 0;
        client_watch(b, c);
    }
}

static struct client *timer_owner(struct timer *t)
{
    return (struct client *)(void *)((char *)t - offsetof(struct client, timer));
}

/* Handles every deadline up to now. */
static void expire(struct broker *b)
{
    struct timer *t;
    while ((t = timers_first(&b->timers)) != NULL && t->at <= b->now) {
        client_on_timer(b, timer_owner(t));
    }
}

/* Nanoseconds until the earliest deadline or notification: 0 when one
 * has passed, -1 when there is none. */
static int64_t wait_ns(const struct broker *b)
{
    const struct timer *t = timers_first(&b->timers);
    int64_t at = notify_deadline(&b->notify);
    if (t != NULL && t->at < at) {
        at = t->at;
    }
    if (at == INT64_MAX) {
        return -1;
    }
    return at > b->now ? at - b->now : 0;
}

static void on_ready(struct broker *b, const struct ev_ready *r)
{
    for (size_t i = 0; i < b->nlisteners; i++) {
        if (r->fd == b->listeners[i].fd) {
            for (int k = 0; k < 64; k++) { /* bounded: others get their turn */
                if (!listener_accept(b, &b->listeners[i])) {
                    break;
                }
            }
            return;
        }
    }
    if (r->fd == b->wake_fd) {
        inproc_fd_drain(b->wake_fd);
        return; /* the turn does what a client's thread left */
    }
    if (b->fifo != NULL && r->fd == fifo_fd(b->fifo)) {
        fifo_on_readable(b, b->fifo);
        return;
    }
    struct client *c = (size_t)r->fd < b->byfd_cap ? b->byfd[r->fd] : NULL;
    if (c == NULL || (c->dead && !c->linger)) {
        return;
    }
    if ((r->events & EV_WRITE) != 0u) {
        client_flush(b, c);
    }
    if (!c->dead && !b->draining && (r->events & EV_READ) != 0u) {
        (void)client_on_readable(b, c);
        coreapi_flush_events(b);
    }
}

/* The multiplexer's wait, with the lock given up when embedded. */
static int wait_ready(struct broker *b, int64_t ns, const sigset_t *waitmask)
{
    if (b->hub == NULL) {
        return ev_wait(&b->ev, ns, waitmask, b->ready, BROKER_READY_MAX);
    }
    b->wake_at = ns < 0 ? INT64_MAX : b->now + ns;
    inproc_loop_release(b->hub);
    int n = ev_wait(&b->ev, ns, waitmask, b->ready, BROKER_READY_MAX);
    int e = errno;
    inproc_loop_acquire(b->hub);
    b->wake_at = INT64_MAX; /* a client's thread wakes nobody during a turn */
    errno = e;
    return n;
}

void broker_run(struct broker *b, const sigset_t *waitmask, const atomic_int *stop,
                atomic_int *reload)
{
#ifdef BUSRTD_TEST_HOOKS
    sigset_t hooked = hooks_init(waitmask);
    waitmask = &hooked;
#endif
    b->now = now_ns();
    expire(b);
    while (!atomic_load(stop)) {
        if (atomic_exchange(reload, 0) != 0) {
            if (b->cfg.acl_file != NULL) {
                (void)broker_load_acl(b, 0);
            } else {
                log_info("SIGHUP: no --acl file to reload");
            }
        }
        apply_rewatch(b);
        coreapi_flush_events(b);
        client_flush_list(b);
        broker_reap(b);
        b->now = now_ns();
        notify_tick(&b->notify, b->now, b->nconns, b->cfg.nbinds);
        int n = wait_ready(b, wait_ns(b), waitmask);
        b->now = now_ns();
        if (n < 0 && errno != EINTR) {
            log_error("waiting on the %s multiplexer: %s; retrying", b->ev.ops->name,
                      strerror(errno));
        }
#ifdef BUSRTD_TEST_HOOKS
        hooks_turn();
#endif
        for (int i = 0; i < n; i++) {
            on_ready(b, &b->ready[i]);
        }
        /* Deadlines are checked after reading, so a ping that waited in a
         * socket while the broker was starved of CPU still counts. */
        b->now = now_ns();
        expire(b);
    }
}

void broker_drain(struct broker *b)
{
    notify_stopping(&b->notify);
    log_info("memory: %zu bytes held at shutdown, high-water %zu bytes (--memory-limit %zu; 0: "
             "none)", mem_used(), mem_high_water(), mem_limit());
    coreapi_shutdown(b);
    b->draining = 1; /* nobody is read any more; only queues are written */
    for (size_t i = 0; i < b->nlisteners; i++) {
        (void)ev_set(&b->ev, b->listeners[i].fd, 0u);
    }
    if (b->fifo != NULL) {
        (void)ev_set(&b->ev, fifo_fd(b->fifo), 0u);
    }
    apply_rewatch(b);
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        client_watch(b, c);
    }
    int64_t end = now_ns() + b->cfg.timeout_ns;
    for (;;) {
        coreapi_flush_events(b);
        client_flush_list(b); /* what is left after this waits for EV_WRITE */
        size_t pending = 0;
        for (struct client *c = b->clients; c != NULL; c = c->next) {
            /* An in-process client's queue stays readable after the loop
             * ends (lib.c), as a socket's buffer holds what was written. */
            pending += c->fd >= 0 && (!c->dead || c->linger) && c->q.count > 0;
        }
        b->now = now_ns();
        if (pending == 0 || b->now >= end) {
            return;
        }
        int n = wait_ready(b, end - b->now, NULL);
        if (n < 0 && errno != EINTR) {
            log_error("waiting on the %s multiplexer: %s; %zu queues not written out",
                      b->ev.ops->name, strerror(errno), pending);
            return;
        }
        b->now = now_ns();
        for (int i = 0; i < n; i++) {
            on_ready(b, &b->ready[i]);
        }
    }
}
