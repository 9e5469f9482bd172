/* Broker lifecycle and the event loop. Each turn: housekeeping (keep-alive,
 * timeouts), announcements, write queued output, close dropped clients,
 * wait in pselect(), then accept, read and route. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "broker.h"
#include "registry.h"
#include "fifo.h"
#include "listener.h"
#include "log.h"

static int setup_internal(struct broker *b)
{
    static const char name[] = ".broker";
    struct client *c = client_new(b, -1, KIND_INTERNAL);
    if (c == NULL || (c->name = (uint8_t *)strdup(name)) == NULL) {
        return -1;
    }
    c->name_len = sizeof name - 1u;
    c->primary_len = c->name_len;
    c->st = ST_HEADER;
    uint8_t code = 0;
    if (registry_add(b, c, &code) != 0) {
        return -1;
    }
    b->internal = c;
    return 0;
}

void broker_due(struct broker *b, int64_t t)
{
    if (t < b->next_due) {
        b->next_due = t;
    }
}

int broker_init(struct broker *b, const struct config *cfg)
{
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    b->events_tail = &b->events;
    b->flush_tail = &b->flush_list;
    b->started_ns = now_ns();
    b->now = b->started_ns;
    b->next_due = INT64_MAX;
    return setup_internal(b);
}

int broker_listen(struct broker *b)
{
    b->listeners = calloc(b->cfg.nbinds, sizeof *b->listeners);
    if (b->listeners == NULL) {
        return -1;
    }
    for (size_t i = 0; i < b->cfg.nbinds; i++) {
        const char *a = b->cfg.binds[i];
        if (strncmp(a, "fifo:", 5) == 0) {
            if (b->fifo != NULL) {
                log_error("only one fifo: listener is supported");
                return -1;
            }
            if ((b->fifo = fifo_open(a + 5)) == NULL) {
                return -1;
            }
        } else {
            if (listener_open(&b->listeners[b->nlisteners], a, &b->cfg) != 0) {
                return -1;
            }
            b->nlisteners++;
        }
    }
    return 0;
}

static void keepalive(struct broker *b)
{
    struct outbuf *nop = outbuf_new(BUSRT_FRAME_HEADER_LEN);
    if (nop == NULL) {
        return;
    }
    struct busrt_frame_header h = {BUSRT_KIND_NOP, 0u, 0u};
    (void)busrt_frame_header_encode(&h, nop->data, BUSRT_FRAME_HEADER_LEN);
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        if (c->registered && c->fd >= 0 && !c->dead) {
            (void)router_deliver(b, c, nop, 0);
        }
    }
    outbuf_unref(nop);
}

/* Keep-alive and timeouts; returns the next instant something is due. */
static int64_t housekeeping(struct broker *b, int64_t now)
{
    b->now = now;
    if (now >= b->next_keepalive) {
        keepalive(b);
        b->next_keepalive = now + b->cfg.timeout_ns / 2;
    }
    if (now < b->next_due) { /* nothing can have expired: skip the scan */
        return b->next_due < b->next_keepalive ? b->next_due : b->next_keepalive;
    }
    int64_t due = INT64_MAX;
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        if (c->dead || c->fd < 0) {
            continue;
        }
        if (now >= c->read_deadline) {
            log_warn("client %s: %s timed out; dropping it", client_label(c),
                     c->st == ST_HEADER ? "no frame header or ping"
                     : c->st == ST_BODY ? "frame body"
                                        : "handshake");
            client_kill(b, c, "read timeout");
            continue;
        }
        int64_t wdue = c->write_stalled_since + b->cfg.timeout_ns;
        if (c->write_stalled_since != 0 && now >= wdue) {
            log_warn("client %s: write blocked for longer than the timeout; dropping it",
                     client_label(c));
            client_kill(b, c, "write timeout");
            continue;
        }
        if (c->read_deadline < due) {
            due = c->read_deadline;
        }
        if (c->write_stalled_since != 0 && wdue < due) {
            due = wdue;
        }
    }
    b->next_due = due;
    return due < b->next_keepalive ? due : b->next_keepalive;
}

void broker_reap(struct broker *b)
{
    if (b->ndead == 0) {
        return;
    }
    b->ndead = 0;
    struct client *c = b->clients;
    while (c != NULL) {
        struct client *next = c->next;
        if (c->dead) {
            if (c->linger && c->linger_until == 0) {
                c->linger_until = b->now + b->cfg.timeout_ns;
                broker_due(b, c->linger_until);
            }
            if (c->linger && c->q.count > 0 && b->now < c->linger_until) {
                b->ndead++; /* still writing out its queue */
            } else {
                client_destroy(b, c);
            }
        }
        c = next;
    }
}

static void flush_all(struct broker *b)
{
    while (b->flush_list != NULL) {
        struct client *c = b->flush_list;
        b->flush_list = c->next_flush;
        if (b->flush_list == NULL) {
            b->flush_tail = &b->flush_list;
        }
        c->want_flush = 0;
        if (!c->dead || c->linger) {
            client_flush(b, c);
        }
    }
}

static void watch(int fd, fd_set *set, int *maxfd)
{
    FD_SET(fd, set); /* every fd here was checked against FD_SETSIZE */
    if (fd > *maxfd) {
        *maxfd = fd;
    }
}

int broker_activate(struct broker *b)
{
    for (size_t i = 0; i < b->nlisteners; i++) {
        if (listener_activate(&b->listeners[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

int broker_load_acl(struct broker *b, int initial)
{
    char err[512];
    struct acl *a = acl_load(b->cfg.acl_file, err, sizeof err);
    if (a == NULL) {
        log_error("access control file rejected: %s%s", err,
                  initial ? "" : "; the previous rules stay in force");
        return -1;
    }
    acl_free(b->acl);
    b->acl = a;
    log_info("access control file %s loaded: %zu entries", b->cfg.acl_file, acl_entries(a));
    /* Re-check every connected client against the new rules. */
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        if (!c->registered || c->dead || c->kind == KIND_INTERNAL) {
            continue;
        }
        c->acl = acl_find(a, c->name, c->primary_len);
        if (c->acl == NULL || !acl_peer_ok(c->acl, &c->peer)) {
            log_warn("client %s: no longer allowed by the access control file; dropping it",
                     client_label(c));
            client_close(b, c, "access revoked");
            continue;
        }
        void *v;
        for (size_t i = 0; bmap_next(&c->subs, &i, &v);) {
            const uint8_t *p = sub_pattern(v);
            size_t n = sub_pattern_len(v);
            static const char warn[] = ".broker/warn";
            int automatic = n == sizeof warn - 1u && memcmp(p, warn, n) == 0;
            if (!automatic && !acl_allows(c->acl, ACL_SUBSCRIBE, p, n)) {
                log_warn("client %s: subscription '%.*s' no longer allowed; removed",
                         client_label(c), n > 128u ? 128 : (int)n, (const char *)p);
                sub_del(b, c, p, n); /* tombstones keep the iteration valid */
            }
        }
    }
    return 0;
}

void broker_run(struct broker *b, const sigset_t *waitmask, volatile sig_atomic_t *stop,
                volatile sig_atomic_t *reload)
{
    b->next_keepalive = now_ns() + b->cfg.timeout_ns / 2;
    int64_t due = housekeeping(b, now_ns());
    while (!*stop) {
        if (*reload) {
            *reload = 0;
            if (b->cfg.acl_file != NULL) {
                (void)broker_load_acl(b, 0);
            } else {
                log_info("SIGHUP: no --acl file to reload");
            }
        }
        coreapi_flush_events(b);
        flush_all(b);
        broker_reap(b);
        fd_set rd, wr;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        int maxfd = -1;
        for (size_t i = 0; i < b->nlisteners; i++) {
            watch(b->listeners[i].fd, &rd, &maxfd);
        }
        if (b->fifo != NULL) {
            watch(fifo_fd(b->fifo), &rd, &maxfd);
        }
        for (struct client *c = b->clients; c != NULL; c = c->next) {
            if (c->fd >= 0) {
                if (!c->dead) {
                    watch(c->fd, &rd, &maxfd);
                }
                if (c->q.count > 0) {
                    watch(c->fd, &wr, &maxfd);
                }
            }
        }
        int64_t wait = due - now_ns();
        if (wait < 0) {
            wait = 0;
        }
        struct timespec ts = {(time_t)(wait / 1000000000LL), (long)(wait % 1000000000LL)};
        int n = pselect(maxfd + 1, &rd, &wr, NULL, &ts, waitmask);
        b->now = now_ns();
        if (n < 0) {
            if (errno != EINTR) {
                log_error("pselect: %s", strerror(errno));
            }
            due = housekeeping(b, now_ns());
            continue;
        }
        for (size_t i = 0; i < b->nlisteners; i++) {
            if (FD_ISSET(b->listeners[i].fd, &rd)) {
                for (int k = 0; k < 64; k++) { /* bounded: others get their turn */
                    size_t before = b->nconns;
                    listener_accept(b, &b->listeners[i]);
                    if (b->nconns == before) {
                        break;
                    }
                }
            }
        }
        if (b->fifo != NULL && FD_ISSET(fifo_fd(b->fifo), &rd)) {
            fifo_on_readable(b, b->fifo);
        }
        for (struct client *c = b->clients; c != NULL; c = c->next) {
            if (c->fd < 0 || (c->dead && !c->linger)) {
                continue;
            }
            if (FD_ISSET(c->fd, &wr)) {
                client_flush(b, c);
            }
            if (!c->dead && FD_ISSET(c->fd, &rd)) {
                (void)client_on_readable(b, c);
                coreapi_flush_events(b);
            }
        }
        /* Deadlines are checked after reading, so a ping that waited in a
         * socket while the broker was starved of CPU still counts. */
        due = housekeeping(b, now_ns());
    }
}

void broker_drain(struct broker *b)
{
    coreapi_shutdown(b);
    int64_t end = now_ns() + b->cfg.timeout_ns;
    for (;;) {
        flush_all(b);
        fd_set wr;
        FD_ZERO(&wr);
        int maxfd = -1;
        for (struct client *c = b->clients; c != NULL; c = c->next) {
            if (c->fd >= 0 && (!c->dead || c->linger) && c->q.count > 0) {
                watch(c->fd, &wr, &maxfd);
                client_mark_flush(b, c);
            }
        }
        int64_t left = end - now_ns();
        if (maxfd < 0 || left <= 0) {
            return;
        }
        struct timeval tv = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL) / 1000};
        if (select(maxfd + 1, NULL, &wr, NULL, &tv) < 0 && errno != EINTR) {
            return;
        }
    }
}

void broker_teardown(struct broker *b)
{
    b->internal = NULL; /* no more announcements */
    while (b->clients != NULL) {
        registry_remove(b, b->clients);
        client_destroy(b, b->clients);
    }
    for (size_t i = 0; i < b->nlisteners; i++) {
        listener_close(&b->listeners[i]);
    }
    free(b->listeners);
    fifo_close(b->fifo);
    coreapi_flush_events(b); /* frees what unregistration queued */
    topic_index_free(&b->topics);
    name_index_free(&b->bnames);
    bmap_free(&b->names);
    free(b->rcpt);
    acl_free(b->acl);
    if (b->cfg.pidfile != NULL) {
        (void)unlink(b->cfg.pidfile);
    }
}

