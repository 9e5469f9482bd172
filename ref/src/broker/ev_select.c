/* select() backend: the minimal reference. It can only watch descriptors
 * below FD_SETSIZE; set() refuses the others (ERANGE) and the listener
 * closes such connections before the greeting. A turn costs
 * O(highest descriptor). */
#include <errno.h>
#include <stdlib.h>
#include <sys/select.h>

#include "ev.h"
#include "mem.h"

struct sel {
    fd_set rd, wr; /* the interest */
    int maxfd;     /* highest watched descriptor, or -1 */
    int next;      /* where the next scan of ready descriptors starts */
};

static void *sel_create(void)
{
    struct sel *s = mem_calloc(1, sizeof *s);
    if (s != NULL) {
        FD_ZERO(&s->rd);
        FD_ZERO(&s->wr);
        s->maxfd = -1;
    }
    return s;
}

static void sel_destroy(void *st)
{
    mem_free(st);
}

static int sel_set(void *st, int fd, unsigned old, unsigned mask)
{
    struct sel *s = st;
    (void)old;
    if (fd >= FD_SETSIZE) {
        errno = ERANGE;
        return -1;
    }
    if ((mask & EV_READ) != 0u) {
        FD_SET(fd, &s->rd);
    } else {
        FD_CLR(fd, &s->rd);
    }
    if ((mask & EV_WRITE) != 0u) {
        FD_SET(fd, &s->wr);
    } else {
        FD_CLR(fd, &s->wr);
    }
    if (mask != 0u && fd > s->maxfd) {
        s->maxfd = fd;
    }
    while (s->maxfd >= 0 && !FD_ISSET(s->maxfd, &s->rd) && !FD_ISSET(s->maxfd, &s->wr)) {
        s->maxfd--;
    }
    return 0;
}

static int sel_wait(void *st, const struct timespec *timeout, const sigset_t *sigmask,
                    struct ev_ready *out, int max)
{
    struct sel *s = st;
    fd_set rd = s->rd, wr = s->wr;
    int n = pselect(s->maxfd + 1, &rd, &wr, NULL, timeout, sigmask);
    if (n <= 0) {
        return n;
    }
    /* Start where the last scan stopped, so that with more ready
     * descriptors than max the high ones are not starved. */
    int k = 0, span = s->maxfd + 1;
    int start = s->next < span ? s->next : 0;
    for (int j = 0; j < span && k < max; j++) {
        int fd = (start + j) % span;
        unsigned ev = (FD_ISSET(fd, &rd) ? (unsigned)EV_READ : 0u) |
                      (FD_ISSET(fd, &wr) ? (unsigned)EV_WRITE : 0u);
        if (ev != 0u) {
            out[k].fd = fd;
            out[k].events = ev;
            k++;
            s->next = fd + 1;
        }
    }
    return k;
}

const struct ev_ops ev_select_ops = {"select", FD_SETSIZE, sel_create, sel_destroy,
                                     sel_set, sel_wait};
