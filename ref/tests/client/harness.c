/* Test helpers; see harness.h. */
#define _DEFAULT_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "busrt/le.h"

#include <cmocka.h>
#ifdef BUSRT_TH_INPROC
#include "busrt/busrtd.h"
#endif

void th_init(void)
{
    signal(SIGPIPE, SIG_IGN);
}

int th_slow(void)
{
    const char *v = getenv("BUSRT_TEST_SLOW");
    return v != NULL && strcmp(v, "1") == 0;
}

int th_inproc(void)
{
    const char *v = getenv("BUSRT_TEST_INPROC");
#ifdef BUSRT_TH_INPROC
    return v != NULL && strcmp(v, "1") == 0;
#else
    if (v != NULL && strcmp(v, "1") == 0) {
        fprintf(stderr, "harness: BUSRT_TEST_INPROC=1 ignored: this test binary is not the "
                        "in-process build (the *_inproc programs); testing over sockets\n");
    }
    return 0;
#endif
}

int th_ms(int ms)
{
    return th_slow() ? ms * 5 : ms;
}

int64_t th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

void th_sleep_ms(int ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int th_free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return (int)ntohs(sa.sin_port);
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

/* Waits up to timeout_ms for pid. Returns its status code or -1. */
static int wait_pid(pid_t pid, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return status_code(st);
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (th_now_ms() >= deadline) {
            return -1;
        }
        th_sleep_ms(5);
    }
}

static void close_fds_from(int first)
{
    for (int fd = first; fd < 4096; fd++) {
        (void)close(fd);
    }
}

static int probe_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    return r;
}

static int probe_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    return r;
}

/* Brokers still running, by pid and dir: a failed assertion longjmps past
 * th_broker_stop, so whatever is left is stopped and removed at exit. */
#define TH_MAX_LIVE 32
static struct {
    pid_t pid;
    char dir[64];
    char sock[100];
    void *emb; /* in-process mode: the embedded broker */
} live[TH_MAX_LIVE];
static int live_hooked;

static void rm_dir(const char *dir);

static void live_cleanup(void)
{
    for (int i = 0; i < TH_MAX_LIVE; i++) {
#ifdef BUSRT_TH_INPROC
        if (live[i].emb != NULL) {
            busrtd_destroy(live[i].emb);
            live[i].emb = NULL;
        }
#endif
        if (live[i].pid > 0) {
            kill(live[i].pid, SIGKILL);
            (void)waitpid(live[i].pid, NULL, 0);
            live[i].pid = 0;
        }
        if (live[i].dir[0] != '\0') {
            rm_dir(live[i].dir);
            live[i].dir[0] = '\0';
        }
    }
}

static void live_add(const struct th_broker *b)
{
    if (!live_hooked) {
        live_hooked = 1;
        atexit(live_cleanup);
    }
    for (int i = 0; i < TH_MAX_LIVE; i++) {
        if (live[i].pid == 0 && live[i].dir[0] == '\0') {
            live[i].pid = b->pid;
            live[i].emb = b->emb;
            snprintf(live[i].dir, sizeof live[i].dir, "%s", b->dir);
            snprintf(live[i].sock, sizeof live[i].sock, "%s", b->sock);
            return;
        }
    }
}

static void live_remove(const char *dir)
{
    for (int i = 0; i < TH_MAX_LIVE; i++) {
        if (live[i].dir[0] != '\0' && strcmp(live[i].dir, dir) == 0) {
            live[i].pid = 0;
            live[i].emb = NULL;
            live[i].dir[0] = '\0';
            live[i].sock[0] = '\0';
        }
    }
}

/* In-process mode: the same options to busrtd_create, the broker on a
 * thread of its own; ready once its listeners accept. */
static int start_embedded(struct th_broker *b, const char *const *argv, int argc, int tcp)
{
#ifdef BUSRT_TH_INPROC
    busrtd *d = NULL;
    int r = busrtd_create(&d, argc, argv);
    if (r == 0) {
        r = busrtd_spawn(d);
        if (r != 0) {
            busrtd_destroy(d);
        }
    }
    if (r != 0) {
        fprintf(stderr, "harness: embedded broker not started: %s\n", busrt_client_strerror(r));
        rm_dir(b->dir);
        return -1;
    }
    b->emb = d;
    live_add(b);
    int64_t deadline = th_now_ms() + th_ms(5000);
    while (th_now_ms() < deadline) {
        if (probe_unix(b->sock) == 0 && (!tcp || probe_tcp(b->port) == 0)) {
            return 0;
        }
        th_sleep_ms(10);
    }
    fprintf(stderr, "harness: embedded broker not ready on %s\n", b->sock);
    return -1;
#else
    (void)b;
    (void)argv;
    (void)argc;
    (void)tcp;
    return -1;
#endif
}

static int start(struct th_broker *b, const char *const *extra, int tcp)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/busrt-ct-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(b->sock, sizeof b->sock, "%s/bus.sock", b->dir);
    snprintf(b->log, sizeof b->log, "%s/busrtd.log", b->dir);
    if (tcp) {
        b->port = th_free_tcp_port();
        snprintf(b->tcp, sizeof b->tcp, "127.0.0.1:%d", b->port);
    }
    const char *bin = getenv("BUSRTD");
    if (bin == NULL || bin[0] == '\0') {
        bin = "build/obj/busrtd";
    }
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    static char more[256]; /* BUSRTD_ARGS words, e.g. "--io select" */
    const char *env = getenv("BUSRTD_ARGS");
    snprintf(more, sizeof more, "%s", env != NULL ? env : "");
    char *save = NULL;
    for (char *w = strtok_r(more, " ", &save); w != NULL && n < 40;
         w = strtok_r(NULL, " ", &save)) {
        argv[n++] = w;
    }
    argv[n++] = "-B";
    argv[n++] = b->sock;
    if (tcp) {
        argv[n++] = "-B";
        argv[n++] = b->tcp;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 62; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    if (th_inproc()) {
        return start_embedded(b, argv, n, tcp);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_DFL);
        int in = open("/dev/null", O_RDONLY);
        int out = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0) {
            _exit(126);
        }
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        close_fds_from(3);
        execv(bin, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    b->pid = pid;
    live_add(b);
    int64_t deadline = th_now_ms() + th_ms(5000);
    while (th_now_ms() < deadline) {
        if (probe_unix(b->sock) == 0 && (!tcp || probe_tcp(b->port) == 0)) {
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            b->pid = 0;
            fprintf(stderr, "harness: broker %s exited at start-up\n", bin);
            return -1;
        }
        th_sleep_ms(10);
    }
    fprintf(stderr, "harness: broker not ready on %s\n", b->sock);
    return -1;
}

int th_broker_start(struct th_broker *b, const char *const *extra)
{
    return start(b, extra, 0);
}

int th_broker_start_tcp(struct th_broker *b, const char *const *extra)
{
    return start(b, extra, 1);
}

void th_broker_signal(const struct th_broker *b, int sig)
{
    if (b->pid > 0) {
        kill(b->pid, sig);
    }
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                (void)unlink(p);
            }
        }
        closedir(d);
    }
    (void)rmdir(dir);
}

struct th_broker th_group;

int th_group_setup(void **state)
{
    (void)state;
    return th_broker_start(&th_group, NULL);
}

int th_group_setup_tcp(void **state)
{
    (void)state;
    return th_broker_start_tcp(&th_group, NULL);
}

int th_group_teardown(void **state)
{
    (void)state;
    th_broker_stop(&th_group);
    return 0;
}

int th_broker_stop(struct th_broker *b)
{
    int r = -1;
    if (getenv("BUSRT_TEST_BROKER_LOG") != NULL) {
        static char log[1 << 16];
        if (th_read_file(b->log, log, sizeof log) > 0) {
            fprintf(stderr, "---- busrtd log (%s) ----\n%s---- end ----\n", b->log, log);
        }
    }
#ifdef BUSRT_TH_INPROC
    if (b->emb != NULL) {
        live_remove(b->dir); /* before its socket file is gone */
        busrtd_destroy(b->emb);
        b->emb = NULL;
        r = 0;
    }
#endif
    if (b->pid > 0) {
        kill(b->pid, SIGCONT);
        kill(b->pid, SIGTERM);
        r = wait_pid(b->pid, th_ms(10000));
        if (r < 0) {
            kill(b->pid, SIGKILL);
            (void)wait_pid(b->pid, 5000);
        }
        b->pid = 0;
    }
    if (b->dir[0] != '\0') {
        live_remove(b->dir);
        rm_dir(b->dir);
        b->dir[0] = '\0';
    }
    return r;
}

const char *th_path(const struct th_broker *b, const char *file, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", b->dir, file);
    return buf;
}

int th_connect(const char *addr, const char *name, busrt_client **out)
{
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, name);
    cfg.connect_timeout_ms = th_ms(5000);
    cfg.io_timeout_ms = th_ms(5000);
#ifdef BUSRT_TH_INPROC
    for (int i = 0; addr != NULL && i < TH_MAX_LIVE; i++) {
        if (live[i].emb != NULL && strcmp(live[i].sock, addr) == 0) {
            return busrtd_connect(live[i].emb, out, &cfg);
        }
    }
#endif
    return busrt_client_connect(out, addr, &cfg);
}

busrt_client *th_connect_ok(const char *addr, const char *name)
{
    busrt_client *c = NULL;
    int r = th_connect(addr, name, &c);
    if (r != 0) {
        fprintf(stderr, "connect %s as '%s': %d %s\n", addr, name, r, busrt_client_strerror(r));
    }
    assert_int_equal(r, 0);
    assert_non_null(c);
    return c;
}

/* ---- CLI ------------------------------------------------------------------- */

static void exec_cli(const char *const *args)
{
    const char *cli = getenv("BUSRT_CLI");
    if (cli == NULL || cli[0] == '\0') {
        cli = "build/busrt";
    }
    char *argv[128];
    int n = 0;
    const char *wrap = getenv("BUSRT_CLI_WRAPPER");
    char *w = wrap != NULL ? strdup(wrap) : NULL;
    if (w != NULL) {
        char *save = NULL;
        for (char *t = strtok_r(w, " ", &save); t != NULL && n < 60;
             t = strtok_r(NULL, " ", &save)) {
            argv[n++] = t;
        }
    }
    argv[n++] = (char *)(uintptr_t)cli;
    for (int i = 0; args[i] != NULL && n < 126; i++) {
        argv[n++] = (char *)(uintptr_t)args[i];
    }
    argv[n] = NULL;
    execvp(argv[0], argv);
    _exit(127);
}

static pid_t spawn(const char *const *args, const char *in_path, const char *out_path,
                   const char *err_path)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
    int in = open(in_path != NULL ? in_path : "/dev/null", O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) {
        _exit(126);
    }
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    close_fds_from(3);
    exec_cli(args);
    _exit(127);
}

long th_read_file(const char *path, char *buf, size_t cap)
{
    if (cap == 0) {
        return -1;
    }
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t got = 0;
    while (got + 1u < cap) {
        ssize_t r = read(fd, buf + got, cap - 1u - got);
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

static int counter;

int th_cli_run(const struct th_broker *b, const char *const *args, const void *in, size_t in_len,
               char *out, size_t out_cap, char *err, size_t err_cap, int timeout_ms)
{
    char ip[192], op[192], ep[192];
    int k = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(ip, sizeof ip, "%s/run%d.in", b->dir, k);
    snprintf(op, sizeof op, "%s/run%d.out", b->dir, k);
    snprintf(ep, sizeof ep, "%s/run%d.err", b->dir, k);
    if (in != NULL) {
        int fd = open(ip, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, in, in_len) != (ssize_t)in_len) {
            if (fd >= 0) {
                close(fd);
            }
            return -1;
        }
        close(fd);
    }
    pid_t pid = spawn(args, in != NULL ? ip : NULL, op, ep);
    if (pid < 0) {
        return -1;
    }
    int r = wait_pid(pid, timeout_ms);
    if (r < 0) {
        fprintf(stderr, "harness: CLI run timed out; killing it\n");
        kill(pid, SIGKILL);
        (void)wait_pid(pid, 5000);
    }
    if (out != NULL) {
        (void)th_read_file(op, out, out_cap);
    }
    if (err != NULL) {
        (void)th_read_file(ep, err, err_cap);
    }
    return r;
}

pid_t th_cli_spawn(const struct th_broker *b, const char *const *args, const char *out_path,
                   const char *err_path)
{
    (void)b;
    return spawn(args, NULL, out_path, err_path);
}

int th_wait_file(const char *path, const char *needle, int timeout_ms)
{
    static char buf[1 << 16];
    int64_t deadline = th_now_ms() + timeout_ms;
    for (;;) {
        if (th_read_file(path, buf, sizeof buf) >= 0 && strstr(buf, needle) != NULL) {
            return 0;
        }
        if (th_now_ms() >= deadline) {
            return -1;
        }
        th_sleep_ms(10);
    }
}

int th_cli_stop(pid_t pid, int timeout_ms)
{
    kill(pid, SIGTERM);
    int r = wait_pid(pid, timeout_ms);
    if (r < 0) {
        kill(pid, SIGKILL);
        (void)wait_pid(pid, 5000);
    }
    return r;
}

/* ---- Fake broker ------------------------------------------------------------- */

int th_fake_read(int fd, void *buf, size_t n, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0) {
            return -1;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
        int64_t left = deadline - th_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        (void)poll(&p, 1, (int)left);
    }
    return 0;
}

int th_fake_write(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = send(fd, (const uint8_t *)buf + done, n - done, MSG_NOSIGNAL);
        if (r > 0) {
            done += (size_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {fd, POLLOUT, 0};
            (void)poll(&p, 1, 1000);
        } else {
            return -1;
        }
    }
    return 0;
}

int th_fake_wait_eof(int fd, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    uint8_t b[256];
    for (;;) {
        ssize_t r = read(fd, b, sizeof b);
        if (r == 0) {
            return 0;
        }
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return 0; /* reset counts as closed */
        }
        int64_t left = deadline - th_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        (void)poll(&p, 1, (int)left);
    }
}

int th_fake_handshake(struct th_fake *f, int fd)
{
    static const uint8_t greet[3] = {0xEB, 0x01, 0x00};
    static const uint8_t ok = 0x01;
    uint8_t b[3], l[2];
    int t = th_ms(3000);
    if (th_fake_write(fd, greet, 3) != 0 || th_fake_read(fd, b, 3, t) != 0) {
        return -1;
    }
    memcpy(f->got + f->ngot, b, 3);
    f->ngot += 3;
    if (th_fake_write(fd, &ok, 1) != 0 || th_fake_read(fd, l, 2, t) != 0) {
        return -1;
    }
    memcpy(f->got + f->ngot, l, 2);
    f->ngot += 2;
    size_t n = busrt_get_le16(l);
    if (n >= sizeof f->name || th_fake_read(fd, f->name, n, t) != 0) {
        return -1;
    }
    f->name[n] = '\0';
    memcpy(f->got + f->ngot, f->name, n);
    f->ngot += n;
    return th_fake_write(fd, &ok, 1);
}

static void *fake_main(void *arg)
{
    struct th_fake *f = arg;
    struct pollfd p = {f->lfd, POLLIN, 0};
    if (poll(&p, 1, th_ms(5000)) == 1) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd >= 0) {
            (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            f->fn(f, fd);
            close(fd);
        }
    }
    return NULL;
}

int th_fake_start(struct th_fake *f, th_fake_fn fn, void *ctx)
{
    memset(f, 0, sizeof *f);
    f->fn = fn;
    f->ctx = ctx;
    snprintf(f->dir, sizeof f->dir, "/tmp/busrt-fake-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/fake.sock", f->dir);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
    f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(f->lfd, 4) != 0) {
        return -1;
    }
    return pthread_create(&f->th, NULL, fake_main, f) == 0 ? 0 : -1;
}

void th_fake_join(struct th_fake *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
    unlink(f->path);
    rmdir(f->dir);
}
