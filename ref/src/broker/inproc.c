/* In-process connections (see inproc.h).
 *
 * Writing: the client's thread takes the lock and hands its bytes to the
 * connection's parser (client_feed) as if the loop had read them from a
 * socket, so the frame is checked, routed and queued at once, by the same
 * code. Receivers on sockets are written to as the loop would; receivers
 * in the process are only woken.
 *
 * Reading: the client's thread takes the lock and copies what its queue
 * holds (client_take). A queue holds references to the frame buffers that
 * every receiver's queue shares (outq.c), so a frame is copied once: into
 * the reader's own buffer. Nothing is copied through the kernel.
 *
 * Waking: each link has an eventfd, the descriptor libbusrt waits on.
 * A reader that found its queue empty arms the link; the broker signals
 * an armed link when it queues output or drops the connection, so an
 * exchange costs one signal per direction, and none while the reader is
 * busy. The loop has an eventfd too (broker.wake_fd), signalled only when
 * a client's thread left it work. */
#define _GNU_SOURCE /* eventfd flags */
#include "inproc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "broker.h"
#include "busrt/client.h"
#include "clock.h"
#include "conn.h"
#include "coreapi.h"
#include "log.h"
#include "mem.h"
#include "timer.h"

struct inproc_hub {
    pthread_mutex_t lock;
    struct broker *b; /* NULL once the broker is gone */
    struct mem_ctx *mem;
    struct log_cfg *log;
    size_t refs; /* the broker and each link; under lock */
    /* What the thread holding the lock had selected before. */
    struct mem_ctx *saved_mem;
    struct log_cfg *saved_log;
};

struct inproc_link {
    struct inproc_hub *hub;
    struct client *c; /* NULL once the broker freed the connection */
    int efd;
    int armed;  /* the reader found nothing and may wait: signal it */
    int refs;   /* the client and the broker; under the hub's lock */
};

struct inproc_hub *inproc_hub_new(struct broker *b, struct mem_ctx *mem, struct log_cfg *log)
{
    struct inproc_hub *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h);
        return NULL;
    }
    h->b = b;
    h->mem = mem;
    h->log = log;
    h->refs = 1;
    return h;
}

/* Drops a reference; the caller holds the lock, which is given back. */
static void hub_unref_unlock(struct inproc_hub *h)
{
    int last = --h->refs == 0u;
    (void)pthread_mutex_unlock(&h->lock);
    if (last) {
        (void)pthread_mutex_destroy(&h->lock);
        free(h);
    }
}

void inproc_hub_close(struct inproc_hub *h)
{
    (void)mem_use(h->saved_mem);
    (void)log_use(h->saved_log);
    h->b = NULL;
    hub_unref_unlock(h);
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    /* A full counter (never, at one signal per wait) is still readable. */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

static void drain_fd(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
}

struct broker *inproc_enter(struct inproc_hub *h)
{
    (void)pthread_mutex_lock(&h->lock);
    if (h->b == NULL) {
        return NULL;
    }
    h->saved_mem = mem_use(h->mem);
    h->saved_log = log_use(h->log);
    h->b->foreign = 1;
    h->b->now = now_ns();
    return h->b;
}

/* 1 when the loop must run a turn for what a client's thread did. */
static int loop_needed(const struct broker *b)
{
    const struct timer *t = timers_first(&b->timers);
    return b->rewatch != NULL || b->dead != NULL || b->flush_list != NULL ||
           b->events != NULL || (t != NULL && t->at < b->wake_at);
}

/* inproc_leave without giving the lock back. */
static void leave_broker(struct inproc_hub *h)
{
    struct broker *b = h->b;
    if (b != NULL) {
        if (b->wake_fd >= 0 && loop_needed(b)) {
            signal_fd(b->wake_fd);
        }
        b->foreign = 0;
        (void)mem_use(h->saved_mem);
        (void)log_use(h->saved_log);
    }
}

void inproc_leave(struct inproc_hub *h)
{
    leave_broker(h);
    (void)pthread_mutex_unlock(&h->lock);
}

void inproc_loop_release(struct inproc_hub *h)
{
    (void)pthread_mutex_unlock(&h->lock);
}

void inproc_loop_acquire(struct inproc_hub *h)
{
    (void)pthread_mutex_lock(&h->lock);
    h->b->foreign = 0;
}

/* Drops the client's reference to l; the caller entered the hub, which
 * is left. */
static void link_unref_leave(struct inproc_link *l)
{
    struct inproc_hub *h = l->hub;
    leave_broker(h);
    if (--l->refs > 0) {
        (void)pthread_mutex_unlock(&h->lock);
        return;
    }
    (void)close(l->efd);
    free(l);
    hub_unref_unlock(h);
}

/* Clients killed but not yet freed still count in nconns and nhandshakes
 * until the loop's next turn (broker_reap). A socket connection is only
 * accepted after that, so an in-process one must not count them either:
 * a client refused at its handshake must not make the next one BUSY. */
static void live_counts(const struct broker *b, size_t *conns, size_t *handshakes)
{
    *conns = b->nconns;
    *handshakes = b->nhandshakes;
    for (const struct client *c = b->dead; c != NULL; c = c->next_dead) {
        /* Internal ones are not counted; lingering ones are not freed yet. */
        if ((c->kind != KIND_INTERNAL) && ((c->linger == 0) || (c->q.count == 0u))) {
            if (*conns > 0u) {
                *conns -= 1u;
            }
            if ((c->in_handshake != 0) && (*handshakes > 0u)) {
                *handshakes -= 1u;
            }
        }
    }
}

struct inproc_link *inproc_connect(struct inproc_hub *h, int *fd, int *err)
{
    struct inproc_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        *err = BUSRT_E_NOMEM;
        return NULL;
    }
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0) {
        free(l);
        *err = BUSRT_E_SYS;
        return NULL;
    }
    struct broker *b = inproc_enter(h);
    const char *why = NULL;
    size_t conns = 0;
    size_t handshakes = 0;
    if (b != NULL) {
        live_counts(b, &conns, &handshakes);
    }
    if (b == NULL || b->draining) {
        why = "the broker is stopping";
        *err = BUSRT_E_CLOSED;
    } else if (conns >= b->cfg.max_clients) {
        why = "--max-clients reached";
        *err = BUSRT_E_BUSY;
    } else if (handshakes >= b->cfg.max_handshakes) {
        why = "--max-handshakes reached";
        *err = BUSRT_E_BUSY;
    }
    struct client *c = NULL;
    if (why == NULL && (c = client_new(b, -1, KIND_INPROC)) == NULL) {
        why = "out of memory";
        *err = BUSRT_E_NOMEM;
    }
    if (why != NULL) {
        if (b != NULL) {
            log_warn("in-process connection refused: %s (%zu clients connected)", why,
                     b->nconns);
        }
        inproc_leave(h);
        (void)close(l->efd);
        free(l);
        return NULL;
    }
    /* The process's own credentials, as a UNIX socket from it would show. */
    c->peer.has_cred = 1;
    c->peer.uid = getuid();
    c->peer.gid = getgid();
    c->link = l;
    l->c = c;
    l->hub = h;
    l->refs = 2;
    h->refs++;
    (void)client_start(b, c); /* queues the greeting, or drops c */
    *fd = l->efd;
    inproc_leave(h);
    return l;
}

static long link_writev(void *ctx, const struct iovec *iov, int iovcnt)
{
    struct inproc_link *l = ctx;
    struct broker *b = inproc_enter(l->hub);
    if (b == NULL || l->c == NULL || l->c->dead) {
        inproc_leave(l->hub);
        return BUSRT_E_CLOSED;
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
        if (!l->c->dead && !b->draining) { /* a stopping broker reads nothing */
            client_feed(b, l->c, iov[i].iov_base, iov[i].iov_len);
        }
    }
    coreapi_flush_events(b);
    client_flush_list(b);
    inproc_leave(l->hub);
    return total > (size_t)LONG_MAX ? LONG_MAX : (long)total;
}

static long link_read(void *ctx, void *buf, size_t n)
{
    struct inproc_link *l = ctx;
    struct broker *b = inproc_enter(l->hub);
    if (b == NULL) {
        inproc_leave(l->hub);
        return BUSRT_E_CLOSED;
    }
    struct client *c = l->c;
    size_t got = c != NULL ? client_take(b, c, buf, n) : 0u;
    long r = (long)got;
    if (got == 0u) {
        if (c == NULL || (c->dead && (!c->linger || c->q.count == 0u))) {
            r = BUSRT_E_CLOSED;
        } else {
            drain_fd(l->efd);
            l->armed = 1;
        }
    } else if (b->draining && c->q.count == 0u && b->wake_fd >= 0) {
        signal_fd(b->wake_fd); /* the loop waits for queues to empty */
    }
    inproc_leave(l->hub);
    return r;
}

static void link_close(void *ctx)
{
    struct inproc_link *l = ctx;
    struct broker *b = inproc_enter(l->hub);
    if (b != NULL && l->c != NULL) {
        l->c->linger = 0;
        client_kill(b, l->c, "the in-process client closed the connection");
    }
    link_unref_leave(l);
}

const struct busrt_transport inproc_transport = {link_writev, link_read, link_close};

void inproc_wake(struct inproc_link *l)
{
    if (l->armed) {
        l->armed = 0;
        signal_fd(l->efd);
    }
}

void inproc_detach(struct inproc_link *l)
{
    l->c = NULL;
    l->armed = 0;
    signal_fd(l->efd); /* a waiting reader sees the end */
    /* The broker's reference; the lock is held by whoever frees clients. */
    if (--l->refs == 0) {
        struct inproc_hub *h = l->hub;
        (void)close(l->efd);
        free(l);
        h->refs--; /* never the last: the broker still holds one */
    }
}
