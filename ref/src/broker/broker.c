/* Broker lifecycle: set-up (the internal client, listeners, the FIFO, the
 * multiplexer), access control loading, freeing dropped clients, teardown.
 * The event loop itself is loop.c. */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "bmap.h"
#include "busrt/frame.h"
#include "clock.h"
#include "conn.h"
#include "coreapi.h"
#include "ev.h"
#include "fifo.h"
#include "index.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "outq.h"
#include "registry.h"
#include "timer.h"
#include "mem.h"

static int setup_internal(struct broker *b)
{
    static const char name[] = ".broker";
    struct client *c = client_new(b, -1, KIND_INTERNAL);
    if (c == NULL || (c->name = (uint8_t *)mem_strdup(name)) == NULL) {
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

int broker_init(struct broker *b, const struct config *cfg)
{
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    b->spare_fd = -1;
    b->wake_fd = -1;
    b->wake_at = INT64_MAX;
    b->reclaim_fruitless_at = -1;
    b->notify.fd = -1;
    b->events_tail = &b->events;
    b->flush_tail = &b->flush_list;
    b->started_ns = now_ns();
    b->now = b->started_ns;
    if (ev_open(&b->ev, cfg->io) != 0) {
        log_error("cannot open the %s multiplexer: %s", cfg->io->name, strerror(errno));
        return -1;
    }
    b->rbuf = mem_alloc(cfg->buf_size);
    b->nop = outbuf_new(BUSRT_FRAME_HEADER_LEN);
    if (b->rbuf == NULL || b->nop == NULL) {
        log_error("out of memory at start-up");
        return -1;
    }
    struct busrt_frame_header h = {BUSRT_KIND_NOP, 0u, 0u};
    (void)busrt_frame_header_encode(&h, b->nop->data, BUSRT_FRAME_HEADER_LEN);
    return setup_internal(b);
}

int broker_listen(struct broker *b)
{
    b->listeners = mem_calloc(b->cfg.nbinds, sizeof *b->listeners);
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
            const char *arg = b->cfg.bind_args[i] != NULL ? b->cfg.bind_args[i] : a;
            if (listener_open(&b->listeners[b->nlisteners], a, arg, &b->cfg) != 0) {
                return -1;
            }
            b->nlisteners++;
        }
    }
    return 0;
}

void broker_reap(struct broker *b)
{
    struct client **pp = &b->dead;
    while (*pp != NULL) {
        struct client *c = *pp;
        if (c->linger && c->q.count > 0) {
            pp = &c->next_dead; /* still writing out its queue (its timer ends it) */
        } else {
            *pp = c->next_dead;
            client_destroy(b, c);
        }
    }
}

/* Watches a listener's or the FIFO's descriptor for reading. */
static int watch_fixed(struct broker *b, int fd, const char *what)
{
    if (ev_set(&b->ev, fd, EV_READ) != 0) {
        log_error("%s: the %s backend cannot watch descriptor %d: %s", what, b->ev.ops->name,
                  fd, errno == ERANGE ? "beyond FD_SETSIZE" : strerror(errno));
        return -1;
    }
    return 0;
}

int broker_activate(struct broker *b)
{
    b->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (b->spare_fd < 0) {
        log_error("cannot open /dev/null: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < b->nlisteners; i++) {
        if (watch_fixed(b, b->listeners[i].fd, b->listeners[i].addr) != 0 ||
            listener_activate(&b->listeners[i]) != 0) {
            return -1;
        }
    }
    if (b->fifo != NULL && watch_fixed(b, fifo_fd(b->fifo), "fifo") != 0) {
        return -1;
    }
    return 0;
}

int broker_load_acl(struct broker *b, int initial)
{
    char err[512];
    struct acl *a = acl_load(b->cfg.acl_file, err, sizeof err);
    if (a == NULL) {
        if (initial) {
            log_startup_error("--acl %s: %s; not starting", b->cfg.acl_file, err);
        } else {
            log_error("--acl %s: %s; keeping the previous policy", b->cfg.acl_file, err);
            b->acl_reload_failures++;
            (void)snprintf(b->acl_last_error, sizeof b->acl_last_error, "--acl %s: %s",
                           b->cfg.acl_file, err);
        }
        return -1;
    }
    if (!initial) {
        b->acl_reloads++;
        b->acl_last_error[0] = '\0';
    }
    acl_free(b->acl);
    b->acl = a;
    log_info("--acl %s: %s, %zu %s", b->cfg.acl_file, initial ? "loaded" : "reloaded",
             acl_entries(a), acl_entries(a) == 1u ? "entry" : "entries");
    /* Re-check every connected client against the new rules. */
    for (struct client *c = b->clients; c != NULL; c = c->next) {
        if (!c->registered || c->dead || c->kind == KIND_INTERNAL) {
            continue;
        }
        if (registry_recheck_acl(b, c) != 0) {
            log_warn("client %s: no longer allowed by the access control file; dropping it",
                     client_label(c));
            client_close(b, c, "access revoked");
        }
    }
    return 0;
}

void broker_teardown(struct broker *b)
{
    b->internal = NULL; /* no more announcements */
    b->rewatch = NULL;  /* every client goes */
    while (b->clients != NULL) {
        registry_remove(b, b->clients);
        client_destroy(b, b->clients);
    }
    b->dead = NULL;
    b->flush_list = NULL;
    b->flush_tail = &b->flush_list;
    for (size_t i = 0; i < b->nlisteners; i++) {
        listener_close(&b->listeners[i]);
    }
    mem_free(b->listeners);
    fifo_close(b->fifo);
    coreapi_flush_events(b); /* frees what unregistration queued */
    topic_index_free(&b->topics);
    name_index_free(&b->bnames);
    bmap_free(&b->names);
    mem_free(b->rcpt);
    mem_free(b->byfd);
    mem_free(b->rbuf);
    outbuf_unref(b->nop);
    timers_free(&b->timers);
    ev_close(&b->ev);
    if (b->spare_fd >= 0) {
        (void)close(b->spare_fd);
    }
    acl_free(b->acl);
    notify_close(&b->notify);
    if (b->cfg.pidfile != NULL) {
        (void)unlink(b->cfg.pidfile);
    }
}

