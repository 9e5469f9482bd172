/* Notifications to a service manager (systemd's sd_notify protocol, see
 * sd_notify(3) and systemd.service(5), Type=notify): each message is one
 * datagram of newline-separated VARIABLE=value lines, sent over an
 * AF_UNIX SOCK_DGRAM socket to the address in $NOTIFY_SOCKET (a file
 * path, or an abstract socket name when it starts with '@').
 *
 * Written here rather than linked from libsystemd: the protocol is a
 * documented, stable datagram format that takes one sendto() per message,
 * so a library would add a build and run-time dependency (and a start-up
 * cost) for about a hundred lines; the broker also builds where there is
 * no systemd at all.
 *
 * What busrtd sends: READY=1 (with STATUS=, and MAINPID= when it
 * daemonized) once every listener is open; WATCHDOG=1 from the event loop
 * every half of $WATCHDOG_USEC when $WATCHDOG_PID is unset or names this
 * process; STATUS=N clients, M listeners when the counts change, at most
 * once a second; STOPPING=1 when shutdown begins. Nothing is removed from
 * the environment.
 *
 * Sending never blocks the loop and never stops the broker: messages from
 * the loop use MSG_DONTWAIT (a full queue at the receiver drops that one
 * ping or status); READY=1 and STOPPING=1, sent outside the loop, may wait
 * up to a second (SO_SNDTIMEO). The first failed send is logged, later
 * ones are not. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

/* Text of $NOTIFY_SOCKET for log lines. */
static char g_where[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

static void send_text(struct notify *n, const char *text, int dontwait)
{
    if (n->fd < 0) {
        return;
    }
    size_t len = strlen(text);
    ssize_t r;
    do {
        r = sendto(n->fd, text, len, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0),
                   (const struct sockaddr *)&n->addr, n->addr_len);
    } while (r < 0 && errno == EINTR);
    if (r < 0 && !n->warned) {
        n->warned = 1;
        log_warn("service manager notification '%.*s' to %s not sent: %s; the broker "
                 "carries on (further notification errors are not logged)",
                 (int)strcspn(text, "\n"), text, g_where, strerror(errno));
    }
}

/* The watchdog interval from WATCHDOG_USEC / WATCHDOG_PID, or 0. */
static int64_t watchdog_interval(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    if (usec == NULL) {
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0' || usec[0] == '-' || v == 0u) {
        log_warn("WATCHDOG_USEC='%s' is not a positive number of microseconds; no watchdog "
                 "pings are sent",
                 usec);
        return 0;
    }
    const char *pid = getenv("WATCHDOG_PID");
    if (pid != NULL) {
        errno = 0;
        long p = strtol(pid, &end, 10);
        if (errno != 0 || end == pid || *end != '\0' || p <= 0) {
            log_warn("WATCHDOG_PID='%s' is not a process id; no watchdog pings are sent", pid);
            return 0;
        }
        if ((pid_t)p != getpid()) {
            log_info("WATCHDOG_PID=%ld is another process (this one is %ld); no watchdog "
                     "pings from this one",
                     p, (long)getpid());
            return 0;
        }
    }
    if (v > (unsigned long long)(INT64_MAX / 1000)) {
        v = (unsigned long long)(INT64_MAX / 1000);
    }
    return (int64_t)v * 1000 / 2;
}

void notify_open(struct notify *n)
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    const char *s = getenv("NOTIFY_SOCKET");
    if (s == NULL || s[0] == '\0') {
        return;
    }
    size_t len = strlen(s);
    if ((s[0] != '/' && s[0] != '@') || len < 2u || len >= sizeof n->addr.sun_path) {
        log_warn("NOTIFY_SOCKET='%s' is not an absolute socket path or an abstract name "
                 "(@NAME) shorter than %zu bytes; service manager notifications are off",
                 s, sizeof n->addr.sun_path);
        return;
    }
    (void)snprintf(g_where, sizeof g_where, "%s", s);
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, s, len);
    if (s[0] == '@') {
        n->addr.sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL */
        n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1u);
    }
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0) {
        log_warn("NOTIFY_SOCKET=%s: cannot create a datagram socket: %s; service manager "
                 "notifications are off",
                 s, strerror(errno));
        return;
    }
    struct timeval tv = {1, 0}; /* bounds READY=1 and STOPPING=1 */
    if (setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
        log_warn("NOTIFY_SOCKET=%s: SO_SNDTIMEO: %s; READY=1 and STOPPING=1 are sent "
                 "without waiting",
                 s, strerror(errno));
    }
    n->wd_interval_ns = watchdog_interval();
    if (n->wd_interval_ns > 0) {
        log_info("service manager notifications to %s; watchdog ping every %.3f s", s,
                 (double)n->wd_interval_ns / 1e9);
    } else {
        log_info("service manager notifications to %s; no watchdog", s);
    }
}

static void status_line(char *buf, size_t cap, size_t clients, size_t listeners)
{
    (void)snprintf(buf, cap, "STATUS=%zu client%s, %zu listener%s", clients,
                   clients == 1u ? "" : "s", listeners, listeners == 1u ? "" : "s");
}

void notify_ready(struct notify *n, int64_t now, size_t clients, size_t listeners,
                  int daemonized)
{
    if (n->fd < 0) {
        return;
    }
    char st[96], msg[160];
    status_line(st, sizeof st, clients, listeners);
    if (daemonized) {
        (void)snprintf(msg, sizeof msg, "READY=1\n%s\nMAINPID=%ld", st, (long)getpid());
    } else {
        (void)snprintf(msg, sizeof msg, "READY=1\n%s", st);
    }
    send_text(n, msg, 0);
    n->st_clients = clients;
    n->st_listeners = listeners;
    n->st_sent = 1;
    n->st_next = now + NOTIFY_STATUS_MIN_NS;
    n->wd_next = now; /* the loop's first turn pings */
}

void notify_tick(struct notify *n, int64_t now, size_t clients, size_t listeners)
{
    if (n->fd < 0) {
        return;
    }
    if (n->wd_interval_ns > 0 && now >= n->wd_next) {
        send_text(n, "WATCHDOG=1", 1);
        n->wd_next = now + n->wd_interval_ns;
    }
    n->st_pending = !n->st_sent || clients != n->st_clients || listeners != n->st_listeners;
    if (n->st_pending && now >= n->st_next) {
        char st[96];
        status_line(st, sizeof st, clients, listeners);
        send_text(n, st, 1);
        n->st_clients = clients;
        n->st_listeners = listeners;
        n->st_sent = 1;
        n->st_pending = 0;
        n->st_next = now + NOTIFY_STATUS_MIN_NS;
    }
}

int64_t notify_deadline(const struct notify *n)
{
    int64_t d = INT64_MAX;
    if (n->fd < 0) {
        return d;
    }
    if (n->wd_interval_ns > 0) {
        d = n->wd_next;
    }
    if (n->st_pending && n->st_next < d) {
        d = n->st_next;
    }
    return d;
}

void notify_stopping(struct notify *n)
{
    send_text(n, "STOPPING=1", 0);
}

void notify_close(struct notify *n)
{
    if (n->fd >= 0) {
        (void)close(n->fd);
        n->fd = -1;
    }
}
