/* The multiplexer under the event loop (loop.c): which descriptors the
 * broker waits on, and for what. One backend per file behind struct
 * ev_ops: ev_select.c (the minimal reference, descriptors below
 * FD_SETSIZE only), ev_poll.c and ev_epoll.c (the Linux default). This
 * layer remembers each descriptor's interest, so a backend is only asked
 * to change what really changes. Interest is level-triggered: a
 * descriptor stays ready until the broker has read or written it. */
#ifndef BUSRTD_EV_H
#define BUSRTD_EV_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum { EV_READ = 1u, EV_WRITE = 2u };

/* One ready descriptor. */
struct ev_ready {
    int fd;
    unsigned events; /* EV_READ and/or EV_WRITE; errors and hang-ups are
                        reported as both, so the next read or write sees them */
};

struct ev_ops {
    const char *name;
    int fd_limit; /* descriptors at or above this cannot be watched */
    /* The backend's state, or NULL (errno set). */
    void *(*create)(void);
    void (*destroy)(void *st);
    /* Changes fd's interest from old to mask (either may be 0). Returns 0,
     * or -1 with errno: ERANGE when the backend cannot watch fd at all. */
    int (*set)(void *st, int fd, unsigned old, unsigned mask);
    /* Waits until a watched descriptor is ready or timeout (NULL: none)
     * passes; signals are unblocked to sigmask only while waiting. Fills at
     * most max entries of out; returns their count, or -1 with errno. */
    int (*wait)(void *st, const struct timespec *timeout, const sigset_t *sigmask,
                struct ev_ready *out, int max);
};

extern const struct ev_ops ev_select_ops;
extern const struct ev_ops ev_poll_ops;
extern const struct ev_ops ev_epoll_ops;

struct ev {
    const struct ev_ops *ops;
    void *st;
    uint8_t *mask; /* current interest, indexed by descriptor */
    size_t cap;
};

/* The backend called name ("select", "poll", "epoll"), or NULL. */
const struct ev_ops *ev_find(const char *name);
/* The default backend of this platform. */
const struct ev_ops *ev_default(void);
/* Opens a multiplexer with the given backend; 0, or -1 (errno set). */
int ev_open(struct ev *e, const struct ev_ops *ops);
void ev_close(struct ev *e);
/* Sets fd's interest to mask (0 removes fd). Returns 0, or -1 with errno;
 * on a failed change the previous interest stays in force, while a removal
 * is always recorded (the caller closes the descriptor next). */
int ev_set(struct ev *e, int fd, unsigned mask);
/* Waits for at most timeout_ns (negative: no limit); see ev_ops.wait. */
int ev_wait(struct ev *e, int64_t timeout_ns, const sigset_t *sigmask, struct ev_ready *out,
            int max);

#endif
