/* Broker instances of the conformance runner: the --target address, or
 * brokers started from the --spawn template, one per distinct option set
 * (README section "Broker options and spawning"). */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int addr_is_unix(const char *addr)
{
    return addr[0] == '/' || ends_with(addr, ".sock") || ends_with(addr, ".socket") ||
           ends_with(addr, ".ipc");
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int finish_connect(int fd, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            errno = ETIMEDOUT;
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
}

int net_connect(const char *addr, int rcvbuf, int64_t deadline)
{
    if (addr_is_unix(addr)) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        if (strlen(addr) >= sizeof sa.sun_path) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(sa.sun_path, addr, strlen(addr));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return -1;
        }
        if (rcvbuf > 0) {
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        }
        if (set_nonblock(fd) != 0) {
            close(fd);
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
            (errno != EINPROGRESS || finish_connect(fd, deadline) != 0)) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        return fd;
    }
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr) {
        errno = EINVAL;
        return -1;
    }
    char host[256];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1u] == ']') {
        memmove(host, host + 1, hl - 2u);
        host[hl - 2u] = '\0';
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = -1, e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (rcvbuf > 0) {
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        }
        if (set_nonblock(fd) == 0 &&
            (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
             (errno == EINPROGRESS && finish_connect(fd, deadline) == 0))) {
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

int target_probe(const char *addr, int timeout_ms)
{
    int fd = net_connect(addr, 0, now_ms() + timeout_ms);
    if (fd < 0) {
        return errno != 0 ? errno : ECONNREFUSED;
    }
    close(fd);
    return 0;
}

/* ---- instances ------------------------------------------------------------ */

static int free_port(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        sl = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *s4;
    }
    int port = -1;
    if (bind(fd, (struct sockaddr *)&ss, sl) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        port = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                  : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    close(fd);
    return port;
}

static const char *opt_template(struct run *r, const char *key)
{
    for (size_t i = 0; i < r->nopts; i++) {
        if (strcmp(r->opts[i].key, key) == 0) {
            return r->opts[i].tmpl;
        }
    }
    return NULL;
}

/* Appends tmpl with every "{}" replaced by val (already quoted). */
static void render_tmpl(struct buf *cmd, const char *tmpl, const char *val)
{
    buf_addc(cmd, ' ');
    for (const char *p = tmpl; *p != '\0'; p++) {
        if (p[0] == '{' && p[1] == '}') {
            buf_adds(cmd, val);
            p++;
        } else {
            buf_addc(cmd, (uint8_t)*p);
        }
    }
}

static void read_log_tail(const char *path, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return;
    }
    if (fseek(f, -600, SEEK_END) != 0) {
        rewind(f);
    }
    size_t n = fread(out, 1, cap - 1u, f);
    out[n] = '\0';
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '\n') {
            out[i] = ' ';
        }
    }
}

static int child_exited(struct instance *in, int *status)
{
    if (in->pid <= 0) {
        return 1;
    }
    pid_t w = waitpid(in->pid, status, WNOHANG);
    if (w == in->pid) {
        in->pid = 0;
        return 1;
    }
    return 0;
}

static int wait_ready(struct instance *in)
{
    int64_t deadline = now_ms() + START_TIMEOUT_MS;
    int status = 0;
    while (now_ms() < deadline) {
        if (child_exited(in, &status)) {
            char tail[640];
            read_log_tail(in->log, tail, sizeof tail);
            snprintf(in->err, sizeof in->err, "the broker exited (status %d) before accepting "
                     "connections on %s; its log: %s", WIFEXITED(status) ? WEXITSTATUS(status)
                     : 128 + WTERMSIG(status), in->addr, tail);
            return -1;
        }
        int fd = net_connect(in->addr, 0, now_ms() + 500);
        if (fd >= 0) {
            /* Read the greeting so that the broker has certainly accepted. */
            uint8_t g[3];
            size_t got = 0;
            int64_t gd = now_ms() + 5000;
            while (got < 3 && now_ms() < gd) {
                struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
                if (poll(&p, 1, 100) > 0) {
                    ssize_t n = read(fd, g + got, 3 - got);
                    if (n <= 0) {
                        break;
                    }
                    got += (size_t)n;
                }
            }
            close(fd);
            if (got == 3) {
                if (in->fifo[0] != '\0') {
                    struct stat st;
                    while (stat(in->fifo, &st) != 0 && now_ms() < deadline) {
                        sleep_ms(20);
                    }
                }
                return 0;
            }
        }
        sleep_ms(20);
    }
    snprintf(in->err, sizeof in->err, "the broker did not accept connections on %s within %d "
             "ms", in->addr, START_TIMEOUT_MS);
    return -1;
}

static void spawn_instance(struct run *r, struct instance *in)
{
    in->started = 1;
    snprintf(in->dir, sizeof in->dir, "/tmp/busrt-cf-XXXXXX");
    if (mkdtemp(in->dir) == NULL) {
        snprintf(in->err, sizeof in->err, "mkdtemp: %s", strerror(errno));
        in->failed = 1;
        in->dir[0] = '\0';
        return;
    }
    snprintf(in->log, sizeof in->log, "%s/broker.log", in->dir);
    char spawn_addr[160];
    const char *tr = in->transport;
    if (strcmp(tr, "tcp") == 0 || strcmp(tr, "tcp_localhost") == 0 || strcmp(tr, "tcp6") == 0) {
        int port = free_port(strcmp(tr, "tcp6") == 0 ? AF_INET6 : AF_INET);
        if (port < 0) {
            snprintf(in->err, sizeof in->err, "no free TCP port for transport %s", tr);
            in->failed = 1;
            return;
        }
        const char *host = strcmp(tr, "tcp") == 0 ? "127.0.0.1"
                           : strcmp(tr, "tcp6") == 0 ? "[::1]" : "localhost";
        snprintf(spawn_addr, sizeof spawn_addr, "%s:%d", host, port);
        snprintf(in->addr, sizeof in->addr, "%s", spawn_addr);
    } else if (strncmp(tr, "unix_relative_", 14) == 0) {
        /* A path relative to the runner's working directory (which the
         * broker inherits), so that it does not start with '/'. */
        char cwd[512];
        struct buf rel;
        buf_init(&rel);
        if (getcwd(cwd, sizeof cwd) != NULL) {
            for (const char *p = cwd; *p != '\0'; p++) {
                if (*p == '/' && p[1] != '\0') {
                    buf_adds(&rel, "../");
                }
            }
        }
        buf_adds(&rel, in->dir + 1);
        snprintf(spawn_addr, sizeof spawn_addr, "%s/bus.%s", buf_str(&rel), tr + 14);
        buf_free(&rel);
        snprintf(in->addr, sizeof in->addr, "%s/bus.%s", in->dir, tr + 14);
    } else if (strcmp(tr, "unix_abs_noext") == 0) {
        snprintf(spawn_addr, sizeof spawn_addr, "%s/bus", in->dir);
        snprintf(in->addr, sizeof in->addr, "%s", spawn_addr);
    } else {
        snprintf(spawn_addr, sizeof spawn_addr, "%s/bus.sock", in->dir);
        snprintf(in->addr, sizeof in->addr, "%s", spawn_addr);
    }
    struct buf opts, cmd, q;
    buf_init(&opts);
    buf_init(&cmd);
    buf_init(&q);
    const char *key;
    json_t *val;
    json_object_foreach(in->opts, key, val) {
        if (strcmp(key, "transport") == 0 || strcmp(key, "private") == 0) {
            continue;
        }
        const char *t = opt_template(r, key);
        buf_reset(&q);
        if (strcmp(key, "fifo") == 0) {
            snprintf(in->fifo, sizeof in->fifo, "%s/bus.fifo", in->dir);
            shell_quote(&q, in->fifo);
        } else if (strcmp(key, "acl") == 0) {
            snprintf(in->acl, sizeof in->acl, "%s/acl.json", in->dir);
            if (acl_write(in->acl, val, "") != 0) {
                snprintf(in->err, sizeof in->err, "cannot write %s", in->acl);
                in->failed = 1;
            }
            shell_quote(&q, in->acl);
        } else if (strcmp(key, "extra_listener") == 0) {
            if (strcmp(json_string_value(val), "tcp") == 0) {
                snprintf(in->extra_addr, sizeof in->extra_addr, "127.0.0.1:%d",
                         free_port(AF_INET));
            } else {
                snprintf(in->extra_addr, sizeof in->extra_addr, "%s/extra.sock", in->dir);
            }
            shell_quote(&q, in->extra_addr);
        } else if (json_is_boolean(val)) {
            if (!json_is_true(val)) {
                continue;
            }
            buf_adds(&q, "true");
        } else if (json_is_integer(val)) {
            buf_printf(&q, "%lld", (long long)json_integer_value(val));
        } else {
            shell_quote(&q, json_string_value(val));
        }
        render_tmpl(&opts, t, buf_str(&q));
    }
    if (in->failed) {
        buf_free(&opts);
        buf_free(&cmd);
        buf_free(&q);
        return;
    }
    buf_reset(&q);
    shell_quote(&q, spawn_addr);
    int have_opts = 0;
    for (const char *p = r->spawn; *p != '\0'; p++) {
        if (strncmp(p, "{addr}", 6) == 0) {
            buf_adds(&cmd, buf_str(&q));
            p += 5;
        } else if (strncmp(p, "{opts}", 6) == 0) {
            buf_adds(&cmd, buf_str(&opts));
            have_opts = 1;
            p += 5;
        } else {
            buf_addc(&cmd, (uint8_t)*p);
        }
    }
    if (!have_opts) {
        buf_adds(&cmd, buf_str(&opts));
    }
    buf_reset(&q);
    buf_adds(&q, "exec ");
    buf_adds(&q, buf_str(&cmd));
    const char *shcmd = buf_str(&q);
    if (r->verbose) {
        fprintf(stderr, "# starting broker: %s\n", shcmd);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(in->err, sizeof in->err, "fork: %s", strerror(errno));
        in->failed = 1;
    } else if (pid == 0) {
        (void)setpgid(0, 0);
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        int nul = open("/dev/null", O_RDONLY);
        int lg = open(in->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (nul < 0 || lg < 0) {
            _exit(126);
        }
        dup2(nul, 0);
        dup2(lg, 1);
        dup2(lg, 2);
        for (int fd = 3; fd < 1024; fd++) {
            close(fd);
        }
        execl("/bin/sh", "sh", "-c", shcmd, (char *)NULL);
        _exit(127);
    } else {
        in->pid = pid;
        (void)setpgid(pid, pid);
        if (wait_ready(in) != 0) {
            in->failed = 1;
        }
    }
    buf_free(&opts);
    buf_free(&cmd);
    buf_free(&q);
}

/* A deep copy of v with ${p} replaced in every string (keys included). */
static json_t *subst_json(const json_t *v, const char *prefix)
{
    if (json_is_string(v)) {
        char *s = subst(json_string_value(v), prefix, 0);
        json_t *r = json_string(s);
        free(s);
        return r;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach((json_t *)v, i, x) {
            json_array_append_new(a, subst_json(x, prefix));
        }
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            char *ks = subst(k, prefix, 0);
            json_object_set_new(o, ks, subst_json(x, prefix));
            free(ks);
        }
        return o;
    }
    return json_deep_copy(v);
}

static json_t *subst_opts(const json_t *broker, const char *prefix)
{
    return broker == NULL ? json_object() : subst_json(broker, prefix);
}

int acl_write(const char *path, const json_t *acl, const char *prefix)
{
    json_t *a = subst_json(acl, prefix);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = json_dump_file(a, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(a);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
    }
    return rc;
}

struct instance *instance_for(struct run *r, const json_t *broker, const char *prefix,
                              int force_private, char *why, size_t whylen)
{
    json_t *opts = subst_opts(broker, prefix);
    json_t *tr = json_object_get(opts, "transport");
    const char *transport = json_is_string(tr) ? json_string_value(tr) : NULL;
    int priv = force_private || json_is_true(json_object_get(opts, "private"));
    if (r->target != NULL) {
        const char *k;
        json_t *v;
        if (force_private) {
            snprintf(why, whylen, "needs a broker instance of its own (only with --spawn)");
            json_decref(opts);
            return NULL;
        }
        json_object_foreach(opts, k, v) {
            if (strcmp(k, "transport") != 0) {
                char *d = json_dumps(broker, JSON_COMPACT | JSON_SORT_KEYS);
                snprintf(why, whylen, "needs a broker started with %s (only with --spawn)",
                         d != NULL ? d : "options");
                free(d);
                json_decref(opts);
                return NULL;
            }
        }
        const char *have = addr_is_unix(r->target) ? "unix" : "tcp";
        if (transport != NULL && strcmp(transport, have) != 0) {
            snprintf(why, whylen, "needs transport %s; the target is %s", transport, have);
            json_decref(opts);
            return NULL;
        }
        for (size_t i = 0; i < r->ninst; i++) {
            if (strcmp(r->inst[i]->key, "target") == 0) {
                json_decref(opts);
                return r->inst[i];
            }
        }
        struct instance *in = xmalloc(sizeof *in);
        memset(in, 0, sizeof *in);
        snprintf(in->key, sizeof in->key, "target");
        snprintf(in->addr, sizeof in->addr, "%s", r->target);
        snprintf(in->transport, sizeof in->transport, "%s", have);
        in->opts = opts;
        in->started = 1;
        r->inst[r->ninst++] = in;
        return in;
    }
    const char *k;
    json_t *v;
    json_object_foreach(opts, k, v) {
        if (strcmp(k, "transport") == 0 || strcmp(k, "private") == 0) {
            continue;
        }
        if (json_is_false(v)) {
            continue;
        }
        if (opt_template(r, k) == NULL) {
            snprintf(why, whylen, "broker option %s has no --spawn-opt mapping", k);
            json_decref(opts);
            return NULL;
        }
    }
    if (transport != NULL && strcmp(transport, "tcp6") == 0 && free_port(AF_INET6) < 0) {
        snprintf(why, whylen, "IPv6 loopback is not available on this host");
        json_decref(opts);
        return NULL;
    }
    char *key = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
    if (!priv) {
        for (size_t i = 0; i < r->ninst; i++) {
            if (!r->inst[i]->is_private && strcmp(r->inst[i]->key, key) == 0) {
                free(key);
                json_decref(opts);
                return r->inst[i];
            }
        }
    }
    if (r->ninst >= sizeof r->inst / sizeof r->inst[0]) {
        /* Reap finished private instances to make room. */
        size_t j = 0;
        for (size_t i = 0; i < r->ninst; i++) {
            if (r->inst[i]->is_private && r->inst[i]->pid == 0) {
                json_decref(r->inst[i]->opts);
                free(r->inst[i]);
            } else {
                r->inst[j++] = r->inst[i];
            }
        }
        r->ninst = j;
        if (r->ninst >= sizeof r->inst / sizeof r->inst[0]) {
            die("too many broker instances");
        }
    }
    struct instance *in = xmalloc(sizeof *in);
    memset(in, 0, sizeof *in);
    snprintf(in->key, sizeof in->key, "%s", key);
    free(key);
    in->opts = opts;
    in->is_private = priv;
    snprintf(in->transport, sizeof in->transport, "%s", transport != NULL ? transport : "unix");
    r->inst[r->ninst++] = in;
    spawn_instance(r, in);
    return in;
}

int instance_signal_stop(struct instance *in)
{
    if (in->pid <= 0) {
        return -1;
    }
    return kill(-in->pid, SIGTERM) == 0 || kill(in->pid, SIGTERM) == 0 ? 0 : -1;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char p[700];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        (void)unlink(p);
    }
    closedir(d);
    (void)rmdir(dir);
}

void instance_stop(struct instance *in)
{
    if (in->pid > 0) {
        int status = 0;
        (void)instance_signal_stop(in);
        int64_t deadline = now_ms() + STOP_TIMEOUT_MS;
        while (!child_exited(in, &status) && now_ms() < deadline) {
            sleep_ms(10);
        }
        if (in->pid > 0) {
            (void)kill(-in->pid, SIGKILL);
            (void)kill(in->pid, SIGKILL);
            (void)waitpid(in->pid, &status, 0);
            in->pid = 0;
        }
    }
    if (in->dir[0] != '\0') {
        remove_dir(in->dir);
        in->dir[0] = '\0';
    }
}

void instances_stop_all(struct run *r)
{
    for (size_t i = 0; i < r->ninst; i++) {
        instance_stop(r->inst[i]);
        json_decref(r->inst[i]->opts);
        free(r->inst[i]);
    }
    r->ninst = 0;
}
