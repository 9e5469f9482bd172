#include "ev.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct ev_ops *const backends[] = {&ev_epoll_ops, &ev_poll_ops, &ev_select_ops};

const struct ev_ops *ev_find(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(backends[i]->name, name) == 0) {
            return backends[i];
        }
    }
    return NULL;
}

const struct ev_ops *ev_default(void)
{
    return &ev_epoll_ops;
}

int ev_open(struct ev *e, const struct ev_ops *ops)
{
    memset(e, 0, sizeof *e);
    e->ops = ops;
    e->st = ops->create();
    return e->st == NULL ? -1 : 0;
}

void ev_close(struct ev *e)
{
    if (e->st != NULL) {
        e->ops->destroy(e->st);
    }
    mem_free(e->mask);
    memset(e, 0, sizeof *e);
}

int ev_set(struct ev *e, int fd, unsigned mask)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    size_t i = (size_t)fd;
    if (i >= e->cap) {
        if (mask == 0u) {
            return 0; /* never watched */
        }
        size_t ncap = e->cap == 0u ? 64u : e->cap;
        while (ncap <= i) {
            ncap *= 2u;
        }
        uint8_t *m = mem_realloc(e->mask, ncap);
        if (m == NULL) {
            return -1;
        }
        memset(m + e->cap, 0, ncap - e->cap);
        e->mask = m;
        e->cap = ncap;
    }
    unsigned old = e->mask[i];
    if (old == mask) {
        return 0;
    }
    int rc = e->ops->set(e->st, fd, old, mask);
    if (rc == 0 || mask == 0u) {
        /* A removal is always recorded: the descriptor is about to be
         * closed, which takes it out of any kernel interest list anyway. */
        e->mask[i] = (uint8_t)mask;
    }
    return rc;
}

int ev_wait(struct ev *e, int64_t timeout_ns, const sigset_t *sigmask, struct ev_ready *out,
            int max)
{
    struct timespec ts;
    const struct timespec *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        tp = &ts;
    }
    return e->ops->wait(e->st, tp, sigmask, out, max);
}
