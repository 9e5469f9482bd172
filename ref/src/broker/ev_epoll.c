/* epoll backend (Linux, the default): a wait costs O(ready descriptors),
 * whatever the number of clients. Deadlines are rounded up to whole
 * milliseconds (epoll_pwait), so a timeout never fires early. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ev.h"
#include "mem.h"

#define EP_BATCH 256

struct ep {
    int fd;
    struct epoll_event evs[EP_BATCH];
};

static void *ep_create(void)
{
    struct ep *p = mem_alloc(sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    if (p->fd < 0) {
        mem_free(p);
        return NULL;
    }
    return p;
}

static void ep_destroy(void *st)
{
    struct ep *p = st;
    (void)close(p->fd);
    mem_free(p);
}

static int ep_set(void *st, int fd, unsigned old, unsigned mask)
{
    struct ep *p = st;
    struct epoll_event e;
    e.events = ((mask & EV_READ) != 0u ? (uint32_t)EPOLLIN : 0u) |
               ((mask & EV_WRITE) != 0u ? (uint32_t)EPOLLOUT : 0u);
    e.data.u64 = 0;
    e.data.fd = fd;
    int op = old == 0u ? EPOLL_CTL_ADD : mask == 0u ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    return epoll_ctl(p->fd, op, fd, &e);
}

static int ep_wait(void *st, const struct timespec *timeout, const sigset_t *sigmask,
                   struct ev_ready *out, int max)
{
    struct ep *p = st;
    int ms = -1;
    if (timeout != NULL) {
        int64_t t = ((int64_t)timeout->tv_sec * 1000000000LL + timeout->tv_nsec + 999999LL) /
                    1000000LL;
        ms = t > 86400000LL ? 86400000 : (int)t;
    }
    int n = epoll_pwait(p->fd, p->evs, max < EP_BATCH ? max : EP_BATCH, ms, sigmask);
    for (int i = 0; i < n; i++) {
        uint32_t r = p->evs[i].events;
        unsigned ev = 0u;
        if ((r & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0u) {
            ev |= EV_READ;
        }
        if ((r & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0u) {
            ev |= EV_WRITE;
        }
        out[i].fd = p->evs[i].data.fd;
        out[i].events = ev;
    }
    return n;
}

const struct ev_ops ev_epoll_ops = {"epoll", INT_MAX, ep_create, ep_destroy, ep_set, ep_wait};
