/* libbusrt: addresses, connecting, waiting on a descriptor (poll, never
 * select, so descriptors above FD_SETSIZE work). */
#define _DEFAULT_SOURCE
#include "client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t bc_now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

int64_t bc_now_ms(void)
{
    return bc_now_ns() / 1000000;
}

int64_t bc_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : bc_now_ms() + timeout_ms;
}

int bc_net_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - bc_now_ms();
            if (left < 0) {
                left = 0;
            }
            wait = left > 86400000 ? 86400000 : (int)left;
        }
        struct pollfd p;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        int r = poll(&p, 1, wait);
        if (r > 0) {
            return 1;
        }
        if (r == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return BUSRT_E_SYS;
        }
    }
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int addr_is_unix(const char *addr)
{
    size_t n = strlen(addr);
    return addr[0] == '/' || ends_with(addr, n, ".sock") || ends_with(addr, n, ".socket") ||
           ends_with(addr, n, ".ipc");
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) ? -1 : 0;
}

static void close_keep_errno(int fd)
{
    int e = errno;
    (void)close(fd);
    errno = e;
}

/* Non-blocking connect finished within the deadline. Returns 0 or a
 * negative code; fd is left open. */
static int finish_connect(int fd, const struct sockaddr *sa, socklen_t sl, int64_t deadline)
{
    for (;;) {
        if (connect(fd, sa, sl) == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EINPROGRESS) {
            return BUSRT_E_SYS;
        }
        break;
    }
    int w = bc_net_wait(fd, POLLOUT, deadline);
    if (w == 0) {
        return BUSRT_E_TIMEOUT;
    }
    if (w < 0) {
        return w;
    }
    int so = 0;
    socklen_t len = sizeof so;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0) {
        return BUSRT_E_SYS;
    }
    if (so != 0) {
        errno = so;
        return BUSRT_E_SYS;
    }
    return 0;
}

static int connect_unix(const char *path, int64_t deadline)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path) {
        return BUSRT_E_ADDR;
    }
    memcpy(sa.sun_path, path, n);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return BUSRT_E_SYS;
    }
    if (set_nonblock(fd) != 0) {
        close_keep_errno(fd);
        return BUSRT_E_SYS;
    }
    int r = finish_connect(fd, (const struct sockaddr *)&sa, sizeof sa, deadline);
    if (r != 0) {
        close_keep_errno(fd);
        return r;
    }
    return fd;
}

/* HOST:PORT, HOST possibly [IPv6]. PORT: decimal 1..65535. */
static int split_host_port(const char *addr, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr) {
        return BUSRT_E_ADDR;
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    if (pl == 0 || pl >= pcap) {
        return BUSRT_E_ADDR;
    }
    unsigned long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return BUSRT_E_ADDR;
        }
        v = v * 10u + (unsigned long)(p[i] - '0');
        if (v > 65535u) {
            return BUSRT_E_ADDR;
        }
    }
    if (v == 0) {
        return BUSRT_E_ADDR;
    }
    memcpy(port, p, pl + 1u);
    size_t hl = (size_t)(colon - addr);
    const char *h = addr;
    if (hl >= 2u && h[0] == '[' && h[hl - 1u] == ']') {
        h++;
        hl -= 2u;
    }
    if (hl == 0 || hl >= hcap || memchr(h, '[', hl) != NULL || memchr(h, ']', hl) != NULL) {
        return BUSRT_E_ADDR;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    return 0;
}

static int connect_tcp(const char *addr, int64_t deadline)
{
    char host[256], port[8];
    int r = split_host_port(addr, host, sizeof host, port, sizeof port);
    if (r != 0) {
        return r;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
        return BUSRT_E_ADDR;
    }
    int result = BUSRT_E_ADDR;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            result = BUSRT_E_SYS;
            continue;
        }
        int one = 1;
        if (set_nonblock(fd) != 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            result = BUSRT_E_SYS;
            close_keep_errno(fd);
            continue;
        }
        r = finish_connect(fd, ai->ai_addr, ai->ai_addrlen, deadline);
        if (r == 0) {
            freeaddrinfo(res);
            return fd;
        }
        result = r;
        close_keep_errno(fd);
        if (r == BUSRT_E_TIMEOUT) {
            break;
        }
    }
    int e = errno;
    freeaddrinfo(res);
    errno = e;
    return result;
}

int bc_net_connect(const char *addr, int64_t deadline)
{
    if (addr == NULL || addr[0] == '\0') {
        return BUSRT_E_ADDR;
    }
    return addr_is_unix(addr) ? connect_unix(addr, deadline) : connect_tcp(addr, deadline);
}
