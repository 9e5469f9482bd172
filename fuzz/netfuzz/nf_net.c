/* Connections (UNIX and TCP addresses, spec REQ-ADDR-2) and the broker
 * process started with --spawn. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nf.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int is_unix_addr(const char *a)
{
    return a[0] == '/' || ends_with(a, ".sock") || ends_with(a, ".socket") ||
           ends_with(a, ".ipc");
}

/* Waits for a non-blocking connect to finish. */
static int finish_connect(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLOUT, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) {
        errno = r == 0 ? ETIMEDOUT : errno;
        return -1;
    }
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
        return -1;
    }
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

static int connect_unix(const char *path, int timeout_ms)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int64_t end = nf_now_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) {
            return -1;
        }
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            return fd;
        }
        int e = errno;
        if (e == EINPROGRESS && finish_connect(fd, timeout_ms) == 0) {
            return fd;
        }
        close(fd);
        /* a full listen backlog: try again until the timeout */
        if (e != EAGAIN || nf_now_ms() >= end) {
            errno = e;
            return -1;
        }
        nf_sleep_ms(2);
    }
}

static int connect_tcp(const char *addr, int timeout_ms)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = 0;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || res == NULL) {
        errno = EINVAL;
        return -1;
    }
    int fd = -1, e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* REQ-ADDR-3 */
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && finish_connect(fd, timeout_ms) == 0)) {
            break;
        }
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        errno = e;
    }
    return fd;
}

int nf_connect(const char *addr, int timeout_ms)
{
    return is_unix_addr(addr) ? connect_unix(addr, timeout_ms) : connect_tcp(addr, timeout_ms);
}

/* cmd with every "{addr}" replaced by addr. */
static char *expand(const char *cmd, const char *addr)
{
    struct nf_buf b = {0};
    nf_expand_addr(&b, cmd, addr);
    return (char *)b.p;
}

int nf_broker_start(struct nf_broker *b, const struct nf_opts *o)
{
    if (o->spawn != NULL) {
        char *cmd = expand(o->spawn, b->addr);
        struct nf_buf sh = {0};
        nf_buf_adds(&sh, "exec ");
        nf_buf_adds(&sh, cmd);
        free(cmd);
        if (is_unix_addr(b->addr)) {
            (void)unlink(b->addr); /* a stale socket of a crashed run */
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            nf_buf_free(&sh);
            return -1;
        }
        if (pid == 0) {
            (void)setpgid(0, 0);
            int in = open("/dev/null", O_RDONLY);
            int out = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (in >= 0) {
                (void)dup2(in, 0);
            }
            if (out >= 0) {
                (void)dup2(out, 1);
                (void)dup2(out, 2);
            }
            execl("/bin/sh", "sh", "-c", (const char *)sh.p, (char *)NULL);
            _exit(127);
        }
        nf_buf_free(&sh);
        b->pid = pid;
        b->spawns++;
    }
    int64_t end = nf_now_ms() + 15000;
    while (nf_now_ms() < end) {
        int fd = nf_connect(b->addr, 1000);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        char why[128];
        if (!nf_broker_alive(b, why, sizeof why)) {
            fprintf(stderr, "busrt-netfuzz: broker %s before accepting connections (log: %s)\n",
                    why, b->log);
            return -1;
        }
        nf_sleep_ms(20);
    }
    fprintf(stderr, "busrt-netfuzz: %s does not accept connections\n", b->addr);
    return -1;
}

int nf_broker_alive(struct nf_broker *b, char *why, size_t cap)
{
    if (b->pid <= 0) {
        return 1;
    }
    int st = 0;
    pid_t r = waitpid(b->pid, &st, WNOHANG);
    if (r == 0) {
        return 1;
    }
    if (r == b->pid && WIFSIGNALED(st)) {
        snprintf(why, cap, "was killed by signal %d", WTERMSIG(st));
    } else if (r == b->pid && WIFEXITED(st)) {
        snprintf(why, cap, "exited with status %d", WEXITSTATUS(st));
    } else {
        snprintf(why, cap, "is gone");
    }
    b->pid = 0;
    return 0;
}

int nf_broker_stop(struct nf_broker *b)
{
    if (b->pid <= 0) {
        return 0;
    }
    (void)kill(b->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(b->pid, &st, WNOHANG);
        if (r == b->pid) {
            b->pid = 0;
            return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
        }
        nf_sleep_ms(10);
    }
    (void)kill(b->pid, SIGKILL);
    (void)waitpid(b->pid, &st, 0);
    b->pid = 0;
    return -1;
}

void nf_broker_cleanup(struct nf_broker *b)
{
    if (b->pid > 0) {
        (void)nf_broker_stop(b);
    }
    if (b->dir[0] != 0) {
        (void)unlink(b->addr);
        (void)rmdir(b->dir);
        b->dir[0] = 0;
    }
}
