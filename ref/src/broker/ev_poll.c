/* poll() backend: no descriptor limit beyond the process's; the kernel
 * still walks every watched descriptor on each wait. A dense pollfd array
 * with a descriptor -> slot table makes set() O(1). */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "mem.h"

struct pl {
    struct pollfd *fds;
    size_t n, cap;
    size_t *slot; /* by descriptor: index in fds + 1, 0 when not watched */
    size_t slot_cap;
    size_t next; /* where the next scan of ready entries starts */
};

static void *pl_create(void)
{
    return mem_calloc(1, sizeof(struct pl));
}

static void pl_destroy(void *st)
{
    struct pl *p = st;
    mem_free(p->fds);
    mem_free(p->slot);
    mem_free(p);
}

static short pl_events(unsigned mask)
{
    return (short)(((mask & EV_READ) != 0u ? POLLIN : 0) | ((mask & EV_WRITE) != 0u ? POLLOUT : 0));
}

static int pl_set(void *st, int fd, unsigned old, unsigned mask)
{
    struct pl *p = st;
    size_t d = (size_t)fd;
    if (old == 0u) { /* add */
        if (d >= p->slot_cap) {
            size_t nc = p->slot_cap == 0u ? 64u : p->slot_cap;
            while (nc <= d) {
                nc *= 2u;
            }
            size_t *ns = mem_realloc(p->slot, nc * sizeof *ns);
            if (ns == NULL) {
                return -1;
            }
            memset(ns + p->slot_cap, 0, (nc - p->slot_cap) * sizeof *ns);
            p->slot = ns;
            p->slot_cap = nc;
        }
        if (p->n == p->cap) {
            size_t nc = p->cap == 0u ? 64u : p->cap * 2u;
            struct pollfd *nf = mem_realloc(p->fds, nc * sizeof *nf);
            if (nf == NULL) {
                return -1;
            }
            p->fds = nf;
            p->cap = nc;
        }
        p->fds[p->n].fd = fd;
        p->fds[p->n].events = pl_events(mask);
        p->fds[p->n].revents = 0;
        p->n++;
        p->slot[d] = p->n;
        return 0;
    }
    size_t i = p->slot[d] - 1u;
    if (mask != 0u) { /* modify */
        p->fds[i].events = pl_events(mask);
        return 0;
    }
    p->n--; /* remove: the last entry takes the slot */
    if (i != p->n) {
        p->fds[i] = p->fds[p->n];
        p->slot[(size_t)p->fds[i].fd] = i + 1u;
    }
    p->slot[d] = 0;
    return 0;
}

static int pl_wait(void *st, const struct timespec *timeout, const sigset_t *sigmask,
                   struct ev_ready *out, int max)
{
    struct pl *p = st;
    int n = ppoll(p->fds, (nfds_t)p->n, timeout, sigmask);
    if (n <= 0) {
        return n;
    }
    int k = 0;
    size_t start = p->next < p->n ? p->next : 0u;
    for (size_t j = 0; j < p->n && k < max && k < n; j++) {
        size_t i = (start + j) % p->n;
        short r = p->fds[i].revents;
        if (r == 0) {
            continue;
        }
        unsigned ev = 0u;
        if ((r & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0) {
            ev |= EV_READ;
        }
        if ((r & (POLLOUT | POLLHUP | POLLERR | POLLNVAL)) != 0) {
            ev |= EV_WRITE;
        }
        out[k].fd = p->fds[i].fd;
        out[k].events = ev;
        k++;
        p->next = i + 1u;
    }
    return k;
}

const struct ev_ops ev_poll_ops = {"poll", INT_MAX, pl_create, pl_destroy, pl_set, pl_wait};
