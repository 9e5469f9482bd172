/* A tiny synchronous BUS/RT test client and broker launcher; see wire.h. */
#define _DEFAULT_SOURCE
#include "wire.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "busrt/le.h"

#if defined(__SANITIZE_ADDRESS__)
/* In the sanitized test programs (not in the broker they start, which is a
 * separate executable): a failed cmocka assertion jumps out of a test and
 * leaks its buffers; that is not what these tests are about. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
#endif

/* Delivered frames larger than this are treated as garbage. */
#define WC_MAX_BODY (64u * 1024u * 1024u)

/* ---- Time and environment ------------------------------------------------ */

void wc_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* The brokers under test talk to no service manager the tests may run
     * under; test_notify sets these for the brokers it starts. */
    (void)unsetenv("NOTIFY_SOCKET");
    (void)unsetenv("WATCHDOG_USEC");
    (void)unsetenv("WATCHDOG_PID");
    /* A last-resort watchdog: no test executable may run this long; the
     * broker children die with us (PR_SET_PDEATHSIG). */
    alarm(wc_under_valgrind() ? 900u : 300u);
}

int wc_under_valgrind(void)
{
    const char *v = getenv("BUSRT_TEST_UNDER_VALGRIND");
    return (v != NULL && strcmp(v, "1") == 0) ? 1 : 0;
}

int wc_ms(int ms)
{
    return wc_under_valgrind() ? ms * 5 : ms;
}

int64_t wc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

void wc_sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long wc_raise_nofile(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }
    rlim_t w = (rlim_t)want;
    if (rl.rlim_cur < w) {
        rl.rlim_cur = (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < w) ? rl.rlim_max : w;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (rl.rlim_cur == RLIM_INFINITY) ? want : (long)rl.rlim_cur;
}

int wc_free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return WC_ERR;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return WC_ERR;
    }
    close(fd);
    return (int)ntohs(sa.sin_port);
}

/* ---- Broker process -------------------------------------------------------- */

int wc_broker_init(struct wc_broker *b)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/busrt-it-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        perror("mkdtemp");
        return WC_ERR;
    }
    snprintf(b->sock, sizeof b->sock, "%s/bus.sock", b->dir);
    snprintf(b->pidfile, sizeof b->pidfile, "%s/busrtd.pid", b->dir);
    snprintf(b->out_log, sizeof b->out_log, "%s/stdout.log", b->dir);
    snprintf(b->err_log, sizeof b->err_log, "%s/stderr.log", b->dir);
    return 0;
}

/* Appends the space-separated words of environment variable var to argv
 * from index n, up to index max; returns the new count. (In the forked
 * child just before exec: the copy is never freed.) */
static size_t split_env_words(const char *var, char **argv, size_t n, size_t max)
{
    const char *v = getenv(var);
    char *copy = (v != NULL) ? strdup(v) : NULL;
    char *save = NULL;
    for (char *w = copy != NULL ? strtok_r(copy, " ", &save) : NULL; w != NULL && n < max;
         w = strtok_r(NULL, " ", &save)) {
        argv[n++] = w;
    }
    return n;
}

static void child_exec(const struct wc_broker *b, const char *cwd, const char *const *args)
{
    /* Runs in the forked child: only async-signal-safe-ish work and exec. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    int in = open("/dev/null", O_RDONLY);
    int out = open(b->out_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open(b->err_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || err < 0) {
        _exit(126);
    }
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    struct rlimit rl;
    long maxfd = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < 65536u) {
        maxfd = (long)rl.rlim_cur;
    }
    for (long fd = 3; fd < maxfd; fd++) {
        close((int)fd);
    }

    const char *nofile = getenv("BUSRTD_NOFILE"); /* a descriptor limit for the broker */
    if (nofile != NULL && nofile[0] != '\0') {
        struct rlimit lim;
        lim.rlim_cur = lim.rlim_max = (rlim_t)strtoul(nofile, NULL, 10);
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            dprintf(2, "wire: setrlimit(RLIMIT_NOFILE, %s): %s\n", nofile, strerror(errno));
            _exit(126);
        }
    }
    const char *bin = getenv("BUSRTD");
    if (bin == NULL || bin[0] == '\0') {
        bin = "build/obj/busrtd";
    }
    if (cwd != NULL) {
        /* A relative binary path names a file under the current directory. */
        static char abs_bin[4096];
        char here[2048];
        if (bin[0] != '/' && strchr(bin, '/') != NULL) {
            if (getcwd(here, sizeof here) == NULL) {
                dprintf(2, "wire: getcwd: %s\n", strerror(errno));
                _exit(126);
            }
            snprintf(abs_bin, sizeof abs_bin, "%s/%s", here, bin);
            bin = abs_bin;
        }
        if (chdir(cwd) != 0) {
            dprintf(2, "wire: chdir %s: %s\n", cwd, strerror(errno));
            _exit(126);
        }
    }
    char *argv[256];
    size_t n = split_env_words("BUSRTD_WRAPPER", argv, 0, 200);
    argv[n++] = (char *)(uintptr_t)bin;
    n = split_env_words("BUSRTD_ARGS", argv, n, 230); /* e.g. "--io select" */
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 254; i++) {
        argv[n++] = (char *)(uintptr_t)args[i];
    }
    argv[n] = NULL;
    execvp(argv[0], argv);
    dprintf(2, "wire: exec %s failed: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int wc_broker_spawn(struct wc_broker *b, const char *const *args)
{
    return wc_broker_spawn_in(b, NULL, args);
}

int wc_broker_spawn_in(struct wc_broker *b, const char *cwd, const char *const *args)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return WC_ERR;
    }
    if (pid == 0) {
        child_exec(b, cwd, args);
        _exit(127);
    }
    b->pid = pid;
    return 0;
}

static int status_code(int st)
{
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return 255;
}

int wc_broker_wait_exit(struct wc_broker *b, int timeout_ms)
{
    if (b->pid <= 0) {
        return WC_ERR;
    }
    int64_t deadline = wc_now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(b->pid, &st, WNOHANG);
        if (r == b->pid) {
            b->pid = 0;
            return status_code(st);
        }
        if (r < 0 && errno != EINTR) {
            b->pid = 0;
            return WC_ERR;
        }
        if (wc_now_ms() >= deadline) {
            return WC_TIMEOUT;
        }
        wc_sleep_ms(5);
    }
}

int wc_broker_wait_ready(struct wc_broker *b, const char *addr, int timeout_ms)
{
    int64_t deadline = wc_now_ms() + timeout_ms;
    for (;;) {
        int fd = wc_connect(addr, 100);
        if (fd >= 0) {
            wc_close(fd);
            return 0;
        }
        if (b->pid > 0) {
            int st = 0;
            pid_t r = waitpid(b->pid, &st, WNOHANG);
            if (r == b->pid) {
                b->pid = 0;
                fprintf(stderr, "wire: broker exited during start-up, status %d\n",
                        status_code(st));
                return WC_EOF;
            }
        }
        if (wc_now_ms() >= deadline) {
            return WC_TIMEOUT;
        }
        wc_sleep_ms(20);
    }
}

int wc_broker_start(struct wc_broker *b, const char *const *extra)
{
    if (wc_broker_init(b) != 0) {
        return WC_ERR;
    }
    const char *args[64];
    size_t n = 0;
    args[n++] = "-B";
    args[n++] = b->sock;
    args[n++] = "-P";
    args[n++] = b->pidfile;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 63; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    if (wc_broker_spawn(b, args) != 0) {
        return WC_ERR;
    }
    int r = wc_broker_wait_ready(b, b->sock, wc_under_valgrind() ? 30000 : 5000);
    if (r != 0) {
        fprintf(stderr, "wire: broker not ready on %s (%d)\n", b->sock, r);
        wc_broker_dump_log(b);
    }
    return r;
}

int wc_broker_stop(struct wc_broker *b)
{
    if (b->pid <= 0) {
        return WC_ERR;
    }
    kill(b->pid, SIGTERM);
    int r = wc_broker_wait_exit(b, 20000);
    if (r == WC_TIMEOUT) {
        fprintf(stderr, "wire: broker did not exit after SIGTERM; killing it\n");
        kill(b->pid, SIGKILL);
        (void)wc_broker_wait_exit(b, 5000);
        b->pid = 0;
    }
    if (r != 0) {
        fprintf(stderr, "wire: broker exit status %d; its stderr follows\n", r);
        wc_broker_dump_log(b);
    }
    return r;
}

void wc_broker_dump_log(const struct wc_broker *b)
{
    static char buf[65536];
    long n = wc_read_file(b->err_log, buf, sizeof buf);
    if (n > 0) {
        fprintf(stderr, "---- busrtd stderr (%s) ----\n%s---- end ----\n", b->err_log, buf);
    }
}

long wc_read_file(const char *path, char *buf, size_t cap)
{
    if (cap == 0) {
        return WC_ERR;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        buf[0] = '\0';
        return WC_ERR;
    }
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    return (long)got;
}

static void rm_dir_files(const char *dir)
{
    /* The temp dir is flat: remove every entry, then the dir. */
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            (void)unlink(p);
        }
        closedir(d);
    }
    (void)rmdir(dir);
}

void wc_broker_cleanup(struct wc_broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        (void)wc_broker_wait_exit(b, 5000);
        b->pid = 0;
    }
    if (b->dir[0] != '\0') {
        rm_dir_files(b->dir);
        b->dir[0] = '\0';
    }
}

/* ---- Connections -------------------------------------------------------- */

static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - wc_now_ms();
        if (left < 0) {
            left = 0;
        }
        struct pollfd p;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        int r = poll(&p, 1, (int)left);
        if (r > 0) {
            return 0;
        }
        if (r == 0) {
            return WC_TIMEOUT;
        }
        if (errno != EINTR) {
            return WC_ERR;
        }
    }
}

static int finish_connect(int fd, const struct sockaddr *sa, socklen_t sl,
                          int timeout_ms)
{
    int64_t deadline = wc_now_ms() + timeout_ms;
    for (;;) {
        if (connect(fd, sa, sl) == 0) {
            return fd;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EINPROGRESS) {
            if (wait_fd(fd, POLLOUT, deadline) != 0) {
                close(fd);
                return WC_TIMEOUT;
            }
            int err = 0;
            socklen_t el = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
                close(fd);
                return WC_EOF;
            }
            return fd;
        }
        if (errno == EAGAIN) {
            /* UNIX socket backlog full: retry until the deadline. */
            if (wc_now_ms() >= deadline) {
                close(fd);
                return WC_TIMEOUT;
            }
            wc_sleep_ms(5);
            continue;
        }
        close(fd);
        return WC_EOF;
    }
}

int wc_connect_unix(const char *path, int timeout_ms)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        return WC_ERR;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return WC_ERR;
    }
    return finish_connect(fd, (const struct sockaddr *)&sa, sizeof sa, timeout_ms);
}

int wc_connect_tcp(const char *host, int port, int timeout_ms)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return WC_ERR;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return WC_ERR;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return finish_connect(fd, (const struct sockaddr *)&sa, sizeof sa, timeout_ms);
}

static int is_unix_addr(const char *a)
{
    size_t n = strlen(a);
    const char *const sfx[] = {".sock", ".socket", ".ipc"};
    if (a[0] == '/') {
        return 1;
    }
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(sfx[i]);
        if (n >= k && strcmp(a + n - k, sfx[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int wc_connect(const char *addr, int timeout_ms)
{
    if (is_unix_addr(addr)) {
        return wc_connect_unix(addr, timeout_ms);
    }
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        return WC_ERR;
    }
    char host[64];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) {
        return WC_ERR;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    return wc_connect_tcp(host, atoi(colon + 1), timeout_ms);
}

void wc_close(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}

/* ---- Raw I/O -------------------------------------------------------------- */

static int send_until(int fd, const void *buf, size_t n, int64_t deadline)
{
    const uint8_t *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t r = send(fd, p + done, n - done, MSG_NOSIGNAL);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w != 0) {
                return w;
            }
            continue;
        }
        if (r < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            return WC_EOF;
        }
        return WC_ERR;
    }
    return 0;
}

int wc_send_all(int fd, const void *buf, size_t n, int timeout_ms)
{
    return send_until(fd, buf, n, wc_now_ms() + timeout_ms);
}

static int read_until(int fd, void *buf, size_t n, int64_t deadline)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, p + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            return got == 0 ? WC_EOF : WC_SHORT;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(fd, POLLIN, deadline);
            if (w != 0) {
                return w;
            }
            continue;
        }
        return WC_ERR;
    }
    return 0;
}

int wc_read_exact(int fd, void *buf, size_t n, int timeout_ms)
{
    return read_until(fd, buf, n, wc_now_ms() + timeout_ms);
}

int wc_read_byte(int fd, int timeout_ms)
{
    uint8_t c = 0;
    int r = wc_read_exact(fd, &c, 1, timeout_ms);
    return r == 0 ? (int)c : r;
}

/* ---- Handshake -------------------------------------------------------------- */

int wc_hs_read_greeting(int fd, uint8_t out[3], int timeout_ms)
{
    return wc_read_exact(fd, out, 3, timeout_ms);
}

int wc_hs_send_greeting(int fd, uint8_t g0, uint16_t version)
{
    uint8_t g[3];
    g[0] = g0;
    busrt_put_le16(g + 1, version);
    return wc_send_all(fd, g, 3, wc_ms(2000));
}

int wc_hs_send_name(int fd, const void *name, size_t len)
{
    uint8_t l[2];
    if (busrt_name_len_encode(len, l, sizeof l) != 2) {
        return WC_ERR;
    }
    int r = wc_send_all(fd, l, 2, wc_ms(2000));
    if (r == 0 && len > 0) {
        r = wc_send_all(fd, name, len, wc_ms(5000));
    }
    return r;
}

int wc_handshake(int fd, const void *name, size_t len, int timeout_ms)
{
    uint8_t g[3];
    int r = wc_hs_read_greeting(fd, g, timeout_ms);
    if (r != 0) {
        return r == WC_SHORT ? WC_EOF : r;
    }
    if (busrt_greeting_decode(g, 3) != 3) {
        return WC_PROTO;
    }
    r = wc_send_all(fd, g, 3, timeout_ms);
    if (r != 0) {
        return r;
    }
    r = wc_read_byte(fd, timeout_ms);
    if (r != (int)BUSRT_RC_OK) {
        return r;
    }
    r = wc_hs_send_name(fd, name, len);
    if (r != 0) {
        return r;
    }
    return wc_read_byte(fd, timeout_ms);
}

int wc_register(const char *addr, const char *name)
{
    int fd = wc_connect(addr, wc_ms(3000));
    if (fd < 0) {
        return fd;
    }
    int r = wc_handshake(fd, name, strlen(name), wc_ms(3000));
    if (r != (int)BUSRT_RC_OK) {
        close(fd);
        return r < 0 ? r : WC_UNEXPECTED;
    }
    return fd;
}

/* ---- Client frames -------------------------------------------------------- */

int wc_send_header_raw(int fd, uint32_t op_id, uint8_t flags, uint32_t len)
{
    uint8_t h[9];
    busrt_put_le32(h, op_id);
    h[4] = flags;
    busrt_put_le32(h + 5, len);
    return wc_send_all(fd, h, 9, wc_ms(3000));
}

int wc_send_frame(int fd, uint8_t op, uint8_t qos, uint32_t op_id,
                  const void *body, size_t len)
{
    if (len > UINT32_MAX) {
        return WC_ERR;
    }
    struct busrt_client_header h;
    h.op_id = op_id;
    h.op = op;
    h.qos = qos;
    h.body_len = (uint32_t)len;
    uint8_t small[9 + 512];
    if (busrt_client_header_encode(&h, small, 9) != 9) {
        return WC_ERR;
    }
    /* One write for small frames, so header and body arrive together. */
    if (len <= 512) {
        if (len > 0) {
            memcpy(small + 9, body, len);
        }
        return wc_send_all(fd, small, 9 + len, wc_ms(5000));
    }
    int r = wc_send_all(fd, small, 9, wc_ms(5000));
    if (r == 0) {
        r = wc_send_all(fd, body, len, wc_ms(10000));
    }
    return r;
}

int wc_send_frame_parts(int fd, uint8_t op, uint8_t qos, uint32_t op_id,
                        const char *const *parts, size_t nparts,
                        const void *payload, size_t plen)
{
    size_t total = plen;
    for (size_t i = 0; i < nparts; i++) {
        total += strlen(parts[i]) + 1;
    }
    uint8_t *body = malloc(total + 1);
    if (body == NULL) {
        return WC_ERR;
    }
    size_t off = 0;
    for (size_t i = 0; i < nparts; i++) {
        size_t k = strlen(parts[i]);
        memcpy(body + off, parts[i], k);
        off += k;
        body[off++] = 0;
    }
    if (plen > 0) {
        memcpy(body + off, payload, plen);
    }
    int r = wc_send_frame(fd, op, qos, op_id, body, total);
    free(body);
    return r;
}

int wc_send_msg(int fd, uint8_t qos, uint32_t op_id, const char *target,
                const void *payload, size_t plen)
{
    const char *parts[1] = {target};
    return wc_send_frame_parts(fd, BUSRT_OP_MESSAGE, qos, op_id, parts, 1, payload, plen);
}

int wc_send_bcast(int fd, uint8_t qos, uint32_t op_id, const char *mask,
                  const void *payload, size_t plen)
{
    const char *parts[1] = {mask};
    return wc_send_frame_parts(fd, BUSRT_OP_BROADCAST, qos, op_id, parts, 1, payload, plen);
}

int wc_send_pub(int fd, uint8_t qos, uint32_t op_id, const char *topic,
                const void *payload, size_t plen)
{
    const char *parts[1] = {topic};
    return wc_send_frame_parts(fd, BUSRT_OP_PUBLISH, qos, op_id, parts, 1, payload, plen);
}

int wc_send_pub_for(int fd, uint8_t qos, uint32_t op_id, const char *topic,
                    const char *receiver, const void *payload, size_t plen)
{
    const char *parts[2] = {topic, receiver};
    return wc_send_frame_parts(fd, BUSRT_OP_PUBLISH_FOR, qos, op_id, parts, 2, payload, plen);
}

int wc_send_topics(int fd, uint8_t op, uint8_t qos, uint32_t op_id,
                   const char *const *topics, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += strlen(topics[i]) + (i > 0 ? 1u : 0u);
    }
    uint8_t *body = malloc(total + 1);
    if (body == NULL) {
        return WC_ERR;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            body[off++] = 0;
        }
        size_t k = strlen(topics[i]);
        memcpy(body + off, topics[i], k);
        off += k;
    }
    int r = wc_send_frame(fd, op, qos, op_id, body, total);
    free(body);
    return r;
}

int wc_ping(int fd)
{
    static const uint8_t z[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    return wc_send_all(fd, z, 9, wc_ms(2000));
}

int wc_topics_sync(int fd, uint8_t op, const char *const *topics, size_t n)
{
    int r = wc_send_topics(fd, op, BUSRT_QOS_PROCESSED, 0x5EBu, topics, n);
    if (r != 0) {
        return r;
    }
    return wc_expect_ack(fd, 0x5EBu, wc_ms(3000));
}

int wc_subscribe(int fd, const char *topic)
{
    const char *t[1] = {topic};
    return wc_topics_sync(fd, BUSRT_OP_SUBSCRIBE, t, 1);
}

/* ---- Broker frames ---------------------------------------------------------- */

void wc_frame_free(struct wc_frame *f)
{
    free(f->body);
    f->body = NULL;
    f->body_len = 0;
}

static int read_one_until(int fd, struct wc_frame *f, int64_t deadline)
{
    wc_frame_free(f);
    f->type = 0;
    f->kind = 0;
    f->realtime = 0;
    f->ack_id = 0;
    f->ack_code = 0;
    f->sender = "";
    f->sender_len = 0;
    f->topic = "";
    f->topic_len = 0;
    f->payload = (const uint8_t *)"";
    f->payload_len = 0;
    int r = read_until(fd, f->header, 1, deadline);
    if (r != 0) {
        return r;
    }
    r = read_until(fd, f->header + 1, 5, deadline);
    if (r != 0) {
        return r == WC_EOF ? WC_SHORT : r;
    }
    if (f->header[0] == BUSRT_ACK_MARKER) {
        struct busrt_ack a;
        if (busrt_ack_decode(f->header, 6, &a) != 6) {
            return WC_PROTO;
        }
        f->type = WC_ACK;
        f->ack_id = a.op_id;
        f->ack_code = a.code;
        return WC_ACK;
    }
    struct busrt_frame_header h;
    if (busrt_frame_header_decode(f->header, 6, WC_MAX_BODY, &h) != 6) {
        return WC_PROTO;
    }
    f->kind = h.kind;
    f->realtime = h.realtime;
    if (h.kind == BUSRT_KIND_NOP) {
        static const uint8_t zero[6] = {0, 0, 0, 0, 0, 0};
        if (memcmp(f->header, zero, 6) != 0) {
            return WC_PROTO;
        }
        f->type = WC_NOP;
        return WC_NOP;
    }
    f->body = malloc((size_t)h.body_len + 1u);
    if (f->body == NULL) {
        return WC_ERR;
    }
    f->body_len = h.body_len;
    f->body[h.body_len] = 0;
    r = read_until(fd, f->body, h.body_len, deadline);
    if (r != 0) {
        return r == WC_EOF ? WC_SHORT : r;
    }
    struct busrt_frame_body sp;
    if (busrt_frame_body_split(h.kind, f->body, f->body_len, &sp) != 0) {
        return WC_PROTO;
    }
    f->sender = (const char *)f->body + sp.sender.off;
    f->sender_len = sp.sender.len;
    if (h.kind == BUSRT_KIND_PUBLISH) {
        f->topic = (const char *)f->body + sp.topic.off;
        f->topic_len = sp.topic.len;
    }
    f->payload = f->body + sp.payload.off;
    f->payload_len = sp.payload.len;
    f->type = WC_FRAME;
    return WC_FRAME;
}

int wc_read_one(int fd, struct wc_frame *f, int timeout_ms)
{
    f->nops = 0;
    return read_one_until(fd, f, wc_now_ms() + timeout_ms);
}

int wc_read_next(int fd, struct wc_frame *f, int timeout_ms)
{
    int64_t deadline = wc_now_ms() + timeout_ms;
    unsigned nops = 0;
    for (;;) {
        int r = read_one_until(fd, f, deadline);
        if (r != WC_NOP) {
            f->nops = nops;
            return r;
        }
        nops++;
    }
}

int wc_expect_ack(int fd, uint32_t op_id, int timeout_ms)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int r = wc_read_next(fd, &f, timeout_ms);
    if (r == WC_ACK) {
        r = (f.ack_id == op_id) ? (int)f.ack_code : WC_UNEXPECTED;
        if (r == WC_UNEXPECTED) {
            fprintf(stderr, "wire: ACK for op id %u, expected %u\n", f.ack_id, op_id);
        }
    } else if (r == WC_FRAME) {
        fprintf(stderr, "wire: frame kind 0x%02x from '%s' where an ACK was expected\n",
                f.kind, f.sender);
        r = WC_UNEXPECTED;
    }
    wc_frame_free(&f);
    return r;
}

int wc_expect_eof(int fd, int timeout_ms)
{
    int64_t deadline = wc_now_ms() + timeout_ms;
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    for (;;) {
        int r = read_one_until(fd, &f, deadline);
        if (r == WC_NOP) {
            continue;
        }
        if (r == WC_FRAME || r == WC_ACK) {
            fprintf(stderr, "wire: got %s (header %02x %02x %02x %02x %02x %02x) where EOF was expected\n",
                    r == WC_ACK ? "an ACK" : "a frame", f.header[0], f.header[1],
                    f.header[2], f.header[3], f.header[4], f.header[5]);
            wc_frame_free(&f);
            return WC_UNEXPECTED;
        }
        wc_frame_free(&f);
        if (r == WC_EOF) {
            return 0;
        }
        if (r == WC_TIMEOUT) {
            return WC_TIMEOUT;
        }
        return WC_UNEXPECTED; /* partial frame or garbage before EOF */
    }
}

int wc_drain_to_eof(int fd, int timeout_ms, size_t *nbytes)
{
    int64_t deadline = wc_now_ms() + timeout_ms;
    static uint8_t buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            total += (size_t)r;
            continue;
        }
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            if (nbytes != NULL) {
                *nbytes = total;
            }
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = wait_fd(fd, POLLIN, deadline);
            if (w != 0) {
                if (nbytes != NULL) {
                    *nbytes = total;
                }
                return w;
            }
            continue;
        }
        return WC_ERR;
    }
}

int wc_expect_silence(int fd, int ms)
{
    int64_t deadline = wc_now_ms() + ms;
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    for (;;) {
        int r = read_one_until(fd, &f, deadline);
        if (r == WC_NOP) {
            continue;
        }
        if (r == WC_FRAME || r == WC_ACK) {
            if (r == WC_ACK) {
                fprintf(stderr, "wire: unexpected ACK id %u code 0x%02x\n", f.ack_id, f.ack_code);
            } else {
                fprintf(stderr, "wire: unexpected frame kind 0x%02x from '%s' topic '%s' payload '%.*s'\n",
                        f.kind, f.sender, f.topic, (int)(f.payload_len > 64 ? 64 : f.payload_len),
                        (const char *)f.payload);
            }
            wc_frame_free(&f);
            return WC_UNEXPECTED;
        }
        wc_frame_free(&f);
        if (r == WC_TIMEOUT) {
            return 0;
        }
        return r == WC_SHORT ? WC_EOF : r;
    }
}

int wc_frame_is(const struct wc_frame *f, uint8_t kind, const char *sender,
                const char *topic, const void *payload, size_t plen)
{
    if (f->type != WC_FRAME || f->kind != kind) {
        return 0;
    }
    if (sender != NULL && (strlen(sender) != f->sender_len ||
                           memcmp(sender, f->sender, f->sender_len) != 0)) {
        return 0;
    }
    if (topic != NULL && (strlen(topic) != f->topic_len ||
                          memcmp(topic, f->topic, f->topic_len) != 0)) {
        return 0;
    }
    if (payload != NULL && (plen != f->payload_len ||
                            (plen > 0 && memcmp(payload, f->payload, plen) != 0))) {
        return 0;
    }
    return 1;
}

/* ---- msgpack ------------------------------------------------------------------ */

static int mp_be(const uint8_t *mp, size_t len, size_t p, size_t n, uint64_t *v)
{
    if (p > len || n > len - p) {
        return -1;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = (x << 8) | mp[p + i];
    }
    *v = x;
    return 0;
}

int wc_mp_read_str(const uint8_t *mp, size_t len, size_t *pos, const uint8_t **s, size_t *n)
{
    size_t p = *pos;
    if (p >= len) {
        return -1;
    }
    uint8_t t = mp[p++];
    uint64_t l;
    size_t w;
    if (t >= 0xA0u && t <= 0xBFu) {
        l = (uint64_t)(t - 0xA0u);
        w = 0;
    } else if (t >= 0xD9u && t <= 0xDBu) {
        w = (size_t)1u << (t - 0xD9u);
        if (mp_be(mp, len, p, w, &l) != 0) {
            return -1;
        }
    } else {
        return -1;
    }
    p += w;
    if (l > len - p) {
        return -1;
    }
    *s = mp + p;
    *n = (size_t)l;
    *pos = p + (size_t)l;
    return 0;
}

int wc_mp_read_uint(const uint8_t *mp, size_t len, size_t *pos, uint64_t *v)
{
    size_t p = *pos;
    if (p >= len) {
        return -1;
    }
    uint8_t t = mp[p];
    if (t <= 0x7Fu) {
        *v = t;
        *pos = p + 1;
        return 0;
    }
    if (t >= 0xCCu && t <= 0xCFu) {
        size_t w = (size_t)1u << (t - 0xCCu);
        if (mp_be(mp, len, p + 1, w, v) != 0) {
            return -1;
        }
        *pos = p + 1 + w;
        return 0;
    }
    return -1;
}

/* Array (is_map 0) or map (is_map 1) header. */
static int mp_container(const uint8_t *mp, size_t len, size_t *pos, size_t *count, int is_map)
{
    size_t p = *pos;
    if (p >= len) {
        return -1;
    }
    uint8_t t = mp[p];
    uint8_t fix = is_map ? 0x80u : 0x90u;
    uint8_t c16 = is_map ? 0xDEu : 0xDCu;
    uint64_t c;
    size_t w;
    if (t >= fix && t <= fix + 15u) {
        c = (uint64_t)(t - fix);
        w = 0;
    } else if (t == c16 || t == c16 + 1u) {
        w = (t == c16) ? 2u : 4u;
        if (mp_be(mp, len, p + 1, w, &c) != 0) {
            return -1;
        }
    } else {
        return -1;
    }
    *count = (size_t)c;
    *pos = p + 1 + w;
    return 0;
}

int wc_mp_read_array(const uint8_t *mp, size_t len, size_t *pos, size_t *count)
{
    return mp_container(mp, len, pos, count, 0);
}

int wc_mp_read_map(const uint8_t *mp, size_t len, size_t *pos, size_t *count)
{
    return mp_container(mp, len, pos, count, 1);
}

static int mp_skip_depth(const uint8_t *mp, size_t len, size_t *pos, int depth)
{
    size_t p = *pos;
    if (p >= len || depth > 32) {
        return -1;
    }
    uint8_t t = mp[p];
    const uint8_t *s;
    size_t n;
    uint64_t v;
    if (t <= 0x7Fu || t >= 0xE0u || t == 0xC0u || t == 0xC2u || t == 0xC3u) {
        *pos = p + 1;
        return 0;
    }
    if ((t >= 0xA0u && t <= 0xBFu) || (t >= 0xD9u && t <= 0xDBu)) {
        return wc_mp_read_str(mp, len, pos, &s, &n);
    }
    if ((t >= 0x80u && t <= 0x9Fu) || (t >= 0xDCu && t <= 0xDFu)) {
        int is_map = (t <= 0x8Fu || t >= 0xDEu) ? 1 : 0;
        size_t c;
        if (mp_container(mp, len, pos, &c, is_map) != 0) {
            return -1;
        }
        size_t items = is_map ? 2u * c : c;
        for (size_t i = 0; i < items; i++) {
            if (mp_skip_depth(mp, len, pos, depth + 1) != 0) {
                return -1;
            }
        }
        return 0;
    }
    size_t sz;
    size_t lenw = 0; /* bin/ext length field width */
    switch (t) {
    case 0xCCu: case 0xD0u: sz = 1; break;
    case 0xCDu: case 0xD1u: sz = 2; break;
    case 0xCEu: case 0xD2u: case 0xCAu: sz = 4; break;
    case 0xCFu: case 0xD3u: case 0xCBu: sz = 8; break;
    case 0xD4u: sz = 2; break;
    case 0xD5u: sz = 3; break;
    case 0xD6u: sz = 5; break;
    case 0xD7u: sz = 9; break;
    case 0xD8u: sz = 17; break;
    case 0xC4u: lenw = 1; sz = 0; break;
    case 0xC5u: lenw = 2; sz = 0; break;
    case 0xC6u: lenw = 4; sz = 0; break;
    case 0xC7u: lenw = 1; sz = 1; break;
    case 0xC8u: lenw = 2; sz = 1; break;
    case 0xC9u: lenw = 4; sz = 1; break;
    default: return -1;
    }
    p += 1;
    if (lenw > 0) {
        if (mp_be(mp, len, p, lenw, &v) != 0) {
            return -1;
        }
        p += lenw;
        if (v > len) {
            return -1;
        }
        sz += (size_t)v;
    }
    if (p > len || sz > len - p) {
        return -1;
    }
    *pos = p + sz;
    return 0;
}

int wc_mp_skip(const uint8_t *mp, size_t len, size_t *pos)
{
    return mp_skip_depth(mp, len, pos, 0);
}

int wc_mp_map_find(const uint8_t *mp, size_t len, size_t map_pos, const char *key,
                   size_t *vpos)
{
    size_t pos = map_pos;
    size_t count;
    if (wc_mp_read_map(mp, len, &pos, &count) != 0) {
        return -1;
    }
    size_t kl = strlen(key);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *s = NULL;
        size_t n = 0;
        size_t kpos = pos;
        int is_str = wc_mp_read_str(mp, len, &pos, &s, &n) == 0;
        if (!is_str) {
            pos = kpos;
            if (wc_mp_skip(mp, len, &pos) != 0) {
                return -1;
            }
        }
        if (is_str && n == kl && memcmp(s, key, kl) == 0) {
            *vpos = pos;
            return 0;
        }
        if (wc_mp_skip(mp, len, &pos) != 0) {
            return -1;
        }
    }
    return -1;
}

int wc_mp_map_str(const uint8_t *mp, size_t len, const char *key, char *out, size_t cap)
{
    size_t pos = 0;
    if (wc_mp_map_find(mp, len, 0, key, &pos) != 0) {
        return -1;
    }
    const uint8_t *s;
    size_t n;
    if (wc_mp_read_str(mp, len, &pos, &s, &n) != 0 || n >= cap) {
        return -1;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return (int)n;
}

int wc_mp_map_has(const uint8_t *mp, size_t len, const char *key)
{
    size_t pos = 0;
    return wc_mp_map_find(mp, len, 0, key, &pos) == 0 ? 1 : 0;
}
