/* Service manager notifications (notify.c): READY=1, WATCHDOG=1,
 * STATUS=..., STOPPING=1 as datagrams to $NOTIFY_SOCKET. */
#ifndef BUSRTD_NOTIFY_H
#define BUSRTD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Shortest spacing of two STATUS= messages. */
#define NOTIFY_STATUS_MIN_NS 1000000000LL

struct notify {
    int fd;                   /* -1: no service manager to notify */
    struct sockaddr_un addr;  /* $NOTIFY_SOCKET ('@' turned into a NUL) */
    socklen_t addr_len;
    int64_t wd_interval_ns;   /* half of WATCHDOG_USEC; 0: no watchdog pings */
    int64_t wd_next;          /* monotonic ns of the next WATCHDOG=1 */
    size_t st_clients, st_listeners; /* what the last STATUS= said */
    int st_sent;              /* a STATUS= was sent */
    int64_t st_next;          /* monotonic ns before which no STATUS= goes */
    int st_pending;           /* the counts changed since the last STATUS= */
    int warned;               /* a send error was logged (once per process) */
};

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (left in the
 * environment) and opens the datagram socket. Without NOTIFY_SOCKET, or
 * when it cannot be used (logged), n->fd is -1 and every other call does
 * nothing. Call it in the process that runs the loop (after daemonizing):
 * WATCHDOG_PID is compared with its pid. Never fails. */
void notify_open(struct notify *n);
/* READY=1 with the first STATUS= (and MAINPID= when daemonized, since the
 * service manager started another process); now is monotonic ns. */
void notify_ready(struct notify *n, int64_t now, size_t clients, size_t listeners,
                  int daemonized);
/* Sends what is due at now: WATCHDOG=1 every wd_interval_ns, and STATUS=
 * when the counts changed, at most once per NOTIFY_STATUS_MIN_NS. */
void notify_tick(struct notify *n, int64_t now, size_t clients, size_t listeners);
/* The monotonic ns when notify_tick has something to send next, or
 * INT64_MAX: the event loop waits no longer than that. */
int64_t notify_deadline(const struct notify *n);
/* STOPPING=1 (shutdown begins). */
void notify_stopping(struct notify *n);
void notify_close(struct notify *n);

#endif
