#define _GNU_SOURCE /* struct ucred, SO_PEERCRED */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "budget.h"
#include "conn.h"
#include "log.h"
#include "mem.h"

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* 1 when something accepts connections on the UNIX socket at path. */
static int unix_alive(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    int alive = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
    (void)close(fd);
    return alive;
}

/* Applies --socket-mode and --socket-group to a new socket file. */
static int socket_perms(const struct config *cfg, const char *path)
{
    if (cfg->socket_group != NULL) {
        char *end = NULL;
        unsigned long gid = strtoul(cfg->socket_group, &end, 10);
        if (end == cfg->socket_group || *end != '\0') {
            const struct group *g = getgrnam(cfg->socket_group);
            if (g == NULL) {
                log_error("listener %s: --socket-group: no group '%s'", path, cfg->socket_group);
                return -1;
            }
            gid = g->gr_gid;
        }
        if (chown(path, (uid_t)-1, (gid_t)gid) != 0) {
            log_error("listener %s: cannot set group %s: %s", path, cfg->socket_group,
                      strerror(errno));
            return -1;
        }
    }
    if (cfg->socket_mode >= 0 && chmod(path, (mode_t)cfg->socket_mode) != 0) {
        log_error("listener %s: cannot set mode %o: %s", path, (unsigned)cfg->socket_mode,
                  strerror(errno));
        return -1;
    }
    return 0;
}

/* path: the socket file, absolute once config_resolve_paths ran; arg: the
 * -B text as given. When the absolute path does not fit in sun_path but
 * the relative one does, the socket is bound by the relative one (the
 * directory is still the one it is relative to) and removed at exit by the
 * absolute one. */
static int open_unix(struct listener *l, const char *path, const char *arg,
                     const struct config *cfg)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    const char *use = path;
    if (strlen(path) >= sizeof sa.sun_path && strcmp(arg, path) != 0 &&
        strlen(arg) < sizeof sa.sun_path) {
        use = arg;
    }
    if (strlen(use) >= sizeof sa.sun_path) {
        log_error("listener %s: path longer than %zu bytes", path, sizeof sa.sun_path - 1u);
        return -1;
    }
    memcpy(sa.sun_path, use, strlen(use));
    struct stat st;
    if (lstat(use, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("listener %s: the path exists and is not a socket; not replacing it",
                      path);
            return -1;
        }
        if (unix_alive(&sa)) {
            log_error("listener %s: another broker is answering on this socket", path);
            return -1;
        }
        log_info("listener %s: replacing a stale socket file", path);
        if (unlink(use) != 0 && errno != ENOENT) {
            log_error("listener %s: cannot remove the stale socket file: %s", path,
                      strerror(errno));
            return -1;
        }
    }
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        log_error("listener %s: %s", path, strerror(errno));
        return -1;
    }
    l->path = mem_strdup(path);
    l->kind = KIND_UNIX;
    if (l->path == NULL) {
        log_error("listener %s: out of memory", path);
        return -1;
    }
    return socket_perms(cfg, use);
}

/* Writes the numeric address and port of a bound TCP socket as HOST:PORT
 * ([HOST]:PORT for IPv6). */
static int bound_name(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char text[INET6_ADDRSTRLEN] = "";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) == NULL) {
            return -1;
        }
        (void)snprintf(out, cap, "%s:%u", text, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) == NULL) {
            return -1;
        }
        (void)snprintf(out, cap, "[%s]:%u", text, (unsigned)ntohs(in6->sin6_port));
    } else {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return 0;
}

static int open_tcp(struct listener *l, const char *addr)
{
    char host[CONFIG_HOST_MAX], why[160], serv[8];
    uint16_t port = 0;
    if (config_split_hostport(addr, host, &port, why, sizeof why) != 0) {
        log_error("listener %s: %s", addr, why);
        return -1;
    }
    (void)snprintf(serv, sizeof serv, "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, serv, &hints, &res);
    if (gai != 0) {
        log_error("listener %s: host %s: %s", addr, host, gai_strerror(gai));
        return -1;
    }
    int one = 1;
    l->fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int ok = l->fd >= 0 &&
             setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
             bind(l->fd, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!ok) {
        log_error("listener %s: %s", addr, strerror(errno));
        return -1;
    }
    if (bound_name(l->fd, l->bound, sizeof l->bound) != 0) {
        log_error("listener %s: cannot read the address bound: %s", addr, strerror(errno));
        return -1;
    }
    l->addr = l->bound;
    l->kind = KIND_TCP;
    return 0;
}

int listener_open(struct listener *l, const char *addr, const char *arg,
                  const struct config *cfg)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    l->addr = addr;
    l->arg = arg;
    int rc = addr_is_unix(addr) ? open_unix(l, addr, arg, cfg) : open_tcp(l, addr);
    if (rc == 0 && set_nonblock(l->fd) != 0) {
        log_error("listener %s: %s", addr, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        listener_close(l);
        return -1;
    }
    return 0;
}

int listener_activate(struct listener *l)
{
    if (listen(l->fd, 128) != 0) {
        log_error("listener %s: listen: %s", l->addr, strerror(errno));
        return -1;
    }
    if (strcmp(l->addr, l->arg) != 0) {
        log_info("listening on %s (-B %s)", l->addr, l->arg);
    } else {
        log_info("listening on %s", l->addr);
    }
    return 0;
}

void listener_close(struct listener *l)
{
    if (l->fd >= 0) {
        (void)close(l->fd);
        l->fd = -1;
    }
    if (l->path != NULL) {
        (void)unlink(l->path);
        mem_free(l->path);
        l->path = NULL;
    }
}

/* accept() failed for want of a descriptor: free the spare one, take the
 * connection off the queue and close it, so the peer sees the refusal and
 * the level-triggered listener does not spin. Returns 1 when one was. */
static int refuse_at_fd_limit(struct broker *b, struct listener *l)
{
    if (b->spare_fd < 0) {
        return 0;
    }
    (void)close(b->spare_fd);
    int fd = accept(l->fd, NULL, NULL);
    if (fd >= 0) {
        (void)close(fd);
    }
    b->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (b->now - b->fd_limit_logged >= 1000000000LL || b->fd_limit_logged == 0) {
        b->fd_limit_logged = b->now; /* at most one line a second */
        log_warn("listener %s: connection refused: no descriptor left (RLIMIT_NOFILE; %zu "
                 "clients connected)",
                 l->addr, b->nconns);
    }
    return fd >= 0;
}

int listener_accept(struct broker *b, struct listener *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept(l->fd, (struct sockaddr *)&ss, &sl);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            return refuse_at_fd_limit(b, l);
        }
        if (errno == EINTR || errno == ECONNABORTED) {
            return 1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            log_warn("listener %s: accept: %s", l->addr, strerror(errno));
        }
        return 0;
    }
    const char *why = NULL;
    if (b->nconns >= b->cfg.max_clients) {
        why = "--max-clients reached";
    } else if (b->nhandshakes >= b->cfg.max_handshakes) {
        why = "--max-handshakes reached";
    } else if (set_nonblock(fd) != 0) {
        why = "cannot make the socket non-blocking";
    }
    if (why != NULL) {
        log_warn("listener %s: connection refused: %s (%zu clients connected)", l->addr, why,
                 b->nconns);
        (void)close(fd);
        return 1;
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    struct client *c = client_new(b, fd, l->kind);
    if (c == NULL) {
        if (errno == ERANGE) {
            log_warn("listener %s: connection refused: the %s backend cannot watch "
                     "descriptor %d (%zu clients connected)",
                     l->addr, b->ev.ops->name, fd, b->nconns);
        } else {
            struct budget_note *note = &b->notes[NOTE_ACCEPT];
            budget_oom(b, note, "accepting on %s; connection closed", l->addr);
        }
        (void)close(fd);
        return 1;
    }
    memcpy(&c->peer.addr, &ss, sizeof ss);
    c->peer.is_tcp = l->kind == KIND_TCP;
    if (l->kind == KIND_UNIX) {
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
            c->peer.has_cred = 1;
            c->peer.uid = cred.uid;
            c->peer.gid = cred.gid;
        }
    }
    if (l->kind == KIND_TCP) {
        int one = 1;
        char text[INET6_ADDRSTRLEN] = "";
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            (void)inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
            c->port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            (void)inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
            c->port = ntohs(in6->sin6_port);
        }
        if ((c->source = mem_strdup(text)) == NULL) {
            struct budget_note *note = &b->notes[NOTE_ACCEPT_CLIENT];
            budget_oom(b, note, "accepting on %s; connection closed", l->addr);
            client_kill(b, c, "out of memory");
            return 1;
        }
    }
    (void)client_start(b, c);
    return 1;
}
