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
#include <stdatomic.h>
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
    atomic_size_t refs; /* the broker and each link */
    /* What the thread holding the lock had selected before. */
    struct mem_ctx *saved_mem;
    struct log_cfg *saved_log;
    /* Links to signal once the lock is given back (so that the woken
     * reader does not find it still taken); each holds a reference. */
    struct inproc_link *sig;
};

struct inproc_link {
    struct inproc_hub *hub;
    struct client *c; /* NULL once the broker freed the connection */
    int efd;
    /* The client's thread reads both without the lock (link_read):
     * armed: it found nothing and may wait, so signal it (set by the
     * reader, cleared by the writer that signals); avail: output may be
     * waiting, or the connection ended (set by writers under the lock,
     * cleared by the reader under the lock once its queue is empty). */
    atomic_int armed;
    atomic_int avail;
    atomic_int refs; /* the client, the broker, and a pending signal */
    int on_sig;      /* on hub.sig (under the lock) */
    struct inproc_link *next_sig;
};

struct inproc_hub *inproc_hub_new(struct broker *b, struct mem_ctx *mem, struct log_cfg *log)
{
    struct inproc_hub *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return NULL;
    }
    /* Adaptive: a thread finding the lock taken spins a little before it
     * sleeps, as critical sections here are short (one frame). */
    pthread_mutexattr_t attr;
    int ok = pthread_mutexattr_init(&attr) == 0;
    if (ok && (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP) != 0 ||
               pthread_mutex_init(&h->lock, &attr) != 0)) {
        ok = 0;
    }
    if (!ok) {
        free(h);
        return NULL;
    }
    (void)pthread_mutexattr_destroy(&attr);
    h->b = b;
    h->mem = mem;
    h->log = log;
    atomic_init(&h->refs, 1u);
    return h;
}

void inproc_fd_signal(int fd)
{
    uint64_t one = 1;
    /* A full counter (never, at one signal per wait) is still readable. */
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void inproc_fd_drain(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
}

/* Drops a reference, without the lock: the last one (no broker, no
 * link) is nobody's to take it. */
static void hub_unref(struct inproc_hub *h)
{
    if (atomic_fetch_sub(&h->refs, 1u) == 1u) {
        (void)pthread_mutex_destroy(&h->lock);
        free(h);
    }
}

static void link_unref(struct inproc_link *l)
{
    if (atomic_fetch_sub(&l->refs, 1) == 1) {
        struct inproc_hub *h = l->hub;
        (void)close(l->efd);
        free(l);
        hub_unref(h);
    }
}

/* Gives the lock back, then signals the links queued for it. */
static void unlock_and_signal(struct inproc_hub *h)
{
    struct inproc_link *l = h->sig;
    h->sig = NULL;
    for (struct inproc_link *k = l; k != NULL; k = k->next_sig) {
        k->on_sig = 0;
    }
    (void)pthread_mutex_unlock(&h->lock);
    while (l != NULL) {
        struct inproc_link *next = l->next_sig; /* read before it may go */
        inproc_fd_signal(l->efd);
        link_unref(l);
        l = next;
    }
}

void inproc_hub_close(struct inproc_hub *h)
{
    (void)mem_use(h->saved_mem);
    (void)log_use(h->saved_log);
    h->b = NULL;
    unlock_and_signal(h);
    hub_unref(h);
}

/* Under the lock: l is signalled when the lock is given back. */
static void queue_signal(struct inproc_hub *h, struct inproc_link *l)
{
    if (!l->on_sig) {
        l->on_sig = 1;
        (void)atomic_fetch_add(&l->refs, 1);
        l->next_sig = h->sig;
        h->sig = l;
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

void inproc_leave(struct inproc_hub *h)
{
    struct broker *b = h->b;
    if (b != NULL) {
        if (b->wake_fd >= 0 && loop_needed(b)) {
            inproc_fd_signal(b->wake_fd);
        }
        b->foreign = 0;
        (void)mem_use(h->saved_mem);
        (void)log_use(h->saved_log);
    }
    unlock_and_signal(h);
}

void inproc_loop_release(struct inproc_hub *h)
{
    unlock_and_signal(h);
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
    inproc_leave(l->hub);
    link_unref(l);
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
    atomic_init(&l->armed, 0);
    atomic_init(&l->avail, 0);
    atomic_init(&l->refs, 2); /* the client and the broker */
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
    (void)atomic_fetch_add(&h->refs, 1u);
    (void)client_start(b, c); /* queues the greeting, or drops c */
    client_flush_list(b);      /* the greeting is readable at once */
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
    /* Nothing queued since the reader emptied its queue: no lock. It arms
     * the link first (after clearing the descriptor), then looks again: a
     * writer sets avail before it tests armed, so one of the two sees the
     * other and the reader is either signalled or sees the output. A
     * reader that looks again and again (busrt_client_config.spin_us)
     * thus never holds up the writers. */
    if (atomic_load(&l->avail) == 0) {
        if (atomic_load(&l->armed) == 0) {
            inproc_fd_drain(l->efd);
            atomic_store(&l->armed, 1);
        }
        if (atomic_load(&l->avail) == 0) {
            return 0;
        }
    }
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
        } else { /* woken for output already taken */
            inproc_fd_drain(l->efd);
            atomic_store(&l->avail, 0);
            atomic_store(&l->armed, 1);
        }
    } else if (c->q.count == 0u && !c->dead) {
        atomic_store(&l->avail, 0); /* the next read arms without the lock */
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
    atomic_store(&l->avail, 1);
    if (atomic_exchange(&l->armed, 0) != 0) {
        queue_signal(l->hub, l);
    }
}

void inproc_detach(struct inproc_link *l)
{
    l->c = NULL;
    atomic_store(&l->avail, 1);
    atomic_store(&l->armed, 0);
    queue_signal(l->hub, l); /* a waiting reader sees the end */
    link_unref(l); /* the broker's reference; never the last (the signal's) */
}
