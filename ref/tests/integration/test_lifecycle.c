/* Integration: the broker process (protocol facts section 9 and the busrtd
 * command line): signals and clean exit, pid and socket files, stale and
 * live sockets, TCP next to UNIX, the FIFO command channel, bad options.
 * Each test starts its own broker(s). */
#define _DEFAULT_SOURCE
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static struct wc_broker g_b;
static struct wc_broker g_b2;
static pid_t g_daemon = 0;

static int setup(void **state)
{
    (void)state;
    memset(&g_b, 0, sizeof g_b);
    memset(&g_b2, 0, sizeof g_b2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_daemon > 0) {
        kill(g_daemon, SIGKILL);
        g_daemon = 0;
    }
    wc_broker_cleanup(&g_b);
    wc_broker_cleanup(&g_b2);
    return 0;
}

static int start_timeout(void)
{
    return wc_under_valgrind() ? 30000 : 5000;
}

/* Expects the .broker/warn shutdown publication, then EOF. */
static void expect_shutdown_then_eof(int fd)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int r = wc_read_next(fd, &f, IT_T);
    int ok = r == WC_FRAME && wc_frame_is(&f, BUSRT_KIND_PUBLISH, ".broker", ".broker/warn",
                                          NULL, 0);
    char s[32] = "";
    if (ok) {
        ok = wc_mp_map_str(f.payload, f.payload_len, "s", s, sizeof s) >= 0 &&
             strcmp(s, "shutdown") == 0;
    }
    if (!ok) {
        it_print_frame("expected the shutdown publication", r, &f);
    }
    wc_frame_free(&f);
    assert_true(ok);
    it_expect_eof(fd, IT_T);
}

static void t_sigterm_clean_exit(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_start(&g_b, NULL), 0);
    /* The pid file holds the broker's pid. */
    char buf[64];
    assert_true(wc_read_file(g_b.pidfile, buf, sizeof buf) > 0);
    assert_int_equal(strtol(buf, NULL, 10), (long)g_b.pid);
    int a = it_reg(g_b.sock, "lc.a");
    int b = it_reg(g_b.sock, "lc.b");
    assert_int_equal(wc_subscribe(b, "lc/#"), BUSRT_RC_OK);
    it_roundtrip(a, "lc.a", b, "lc.b", "before", 1);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(g_b.pidfile));
    expect_shutdown_then_eof(a);
    expect_shutdown_then_eof(b);
    wc_close(a);
    wc_close(b);
}

static void t_sigint_clean_exit(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_start(&g_b, NULL), 0);
    int a = it_reg(g_b.sock, "lc.int");
    kill(g_b.pid, SIGINT);
    int st = wc_broker_wait_exit(&g_b, wc_ms(20000));
    if (st != 0) {
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 0);
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(g_b.pidfile));
    expect_shutdown_then_eof(a);
    wc_close(a);
}

static void t_sigterm_idle_no_clients(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_start(&g_b, NULL), 0);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(g_b.pidfile));
}

static void t_sigterm_with_stuck_clients(void **state)
{
    (void)state;
    /* Shutdown does not hang on a client that never reads (megabytes
     * queued for it) nor on one stuck mid-handshake. */
    const char *extra[] = {"-t", "2", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int stuck = it_reg(g_b.sock, "lc.stuck");
    int snd = it_reg(g_b.sock, "lc.flood");
    int half = wc_connect(g_b.sock, IT_T);
    assert_true(half >= 0);
    size_t plen = 256u * 1024u;
    uint8_t *p = malloc(plen);
    assert_non_null(p);
    memset(p, 'Q', plen);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(wc_send_msg(snd, 0, 0, "lc.stuck", p, plen), 0);
    }
    free(p);
    it_roundtrip(snd, "lc.flood", snd, "lc.flood", "queued", 1);
    int64_t t0 = wc_now_ms();
    assert_int_equal(wc_broker_stop(&g_b), 0);
    int64_t el = wc_now_ms() - t0;
    fprintf(stderr, "it: stopped with a stuck client in %lld ms\n", (long long)el);
    assert_true(el < wc_ms(8000));
    assert_false(it_exists(g_b.sock));
    expect_shutdown_then_eof(snd);
    size_t n = 0;
    assert_int_equal(wc_drain_to_eof(stuck, IT_T, &n), 0);
    assert_int_equal(wc_drain_to_eof(half, IT_T, NULL), 0);
    wc_close(stuck);
    wc_close(snd);
    wc_close(half);
}

static void t_stale_socket_replaced(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    /* A leftover socket file with no listener. */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t pl = strlen(g_b.sock);
    assert_true(pl < sizeof sa.sun_path);
    memcpy(sa.sun_path, g_b.sock, pl + 1);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    assert_true(it_exists(g_b.sock));
    assert_true(wc_connect(g_b.sock, 200) < 0);
    const char *args[] = {"-B", g_b.sock, "-P", g_b.pidfile, NULL};
    assert_int_equal(wc_broker_spawn(&g_b, args), 0);
    int r = wc_broker_wait_ready(&g_b, g_b.sock, start_timeout());
    if (r != 0) {
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(r, 0);
    int a = it_reg(g_b.sock, "lc.stale");
    it_roundtrip(a, "lc.stale", a, "lc.stale", "works", 1);
    wc_close(a);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_false(it_exists(g_b.sock));
}

static void t_second_broker_on_live_socket(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_start(&g_b, NULL), 0);
    int a = it_reg(g_b.sock, "lc.first");
    assert_int_equal(wc_broker_init(&g_b2), 0);
    const char *args[] = {"-B", g_b.sock, "-P", g_b2.pidfile, NULL};
    assert_int_equal(wc_broker_spawn(&g_b2, args), 0);
    int st = wc_broker_wait_exit(&g_b2, start_timeout());
    char err[4096];
    long n = wc_read_file(g_b2.err_log, err, sizeof err);
    fprintf(stderr, "it: second broker exit status %d, stderr: %s", st, n > 0 ? err : "(empty)\n");
    assert_true(st > 0);
    assert_true(n > 0);
    /* The first broker is untouched: socket still there and serving. */
    assert_true(it_exists(g_b.sock));
    it_roundtrip(a, "lc.first", a, "lc.first", "still-mine", 1);
    int b = it_reg(g_b.sock, "lc.newcomer");
    it_roundtrip(b, "lc.newcomer", a, "lc.first", "hello", 2);
    wc_close(b);
    wc_close(a);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

/* A broker that cannot start (its socket is taken) leaves the running
 * broker's pid file alone, even when given the same one. */
static void t_failed_start_keeps_pid_file(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_start(&g_b, NULL), 0);
    assert_int_equal(wc_broker_init(&g_b2), 0);
    const char *args[] = {"-B", g_b.sock, "-P", g_b.pidfile, NULL};
    assert_int_equal(wc_broker_spawn(&g_b2, args), 0);
    int st = wc_broker_wait_exit(&g_b2, start_timeout());
    assert_int_equal(st, 1);
    char buf[64] = "";
    assert_true(wc_read_file(g_b.pidfile, buf, sizeof buf) > 0);
    assert_int_equal(strtol(buf, NULL, 10), (long)g_b.pid);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_false(it_exists(g_b.pidfile));
}

static void t_tcp_and_unix(void **state)
{
    (void)state;
    int port = wc_free_tcp_port();
    assert_true(port > 0);
    char tcp[64];
    snprintf(tcp, sizeof tcp, "127.0.0.1:%d", port);
    const char *extra[] = {"-B", tcp, NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    assert_int_equal(wc_broker_wait_ready(&g_b, tcp, start_timeout()), 0);
    int t = it_reg(tcp, "lc.tcp");
    int u = it_reg(g_b.sock, "lc.unix");
    it_roundtrip(t, "lc.tcp", u, "lc.unix", "tcp-to-unix", 1);
    it_roundtrip(u, "lc.unix", t, "lc.tcp", "unix-to-tcp", 2);
    assert_int_equal(wc_subscribe(t, "lc/t"), BUSRT_RC_OK);
    assert_int_equal(wc_send_pub(u, 0, 0, "lc/t", "pub", 3), 0);
    it_expect_pub(t, "lc.unix", "lc/t", "pub");
    assert_int_equal(wc_send_bcast(t, 0, 0, "lc.*", "bc", 2), 0);
    it_expect_frame(t, BUSRT_KIND_BROADCAST, "lc.tcp", NULL, "bc", 2, 0);
    it_expect_frame(u, BUSRT_KIND_BROADCAST, "lc.tcp", NULL, "bc", 2, 0);
    /* Names are shared across listeners. */
    int dup = wc_connect(tcp, IT_T);
    assert_true(dup >= 0);
    assert_int_equal(wc_handshake(dup, "lc.unix", 7, IT_T), BUSRT_RC_BUSY);
    wc_close(dup);
    /* A large frame over TCP. */
    size_t big = 256u * 1024u;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++) {
        p[i] = (uint8_t)(i % 251u);
    }
    assert_int_equal(wc_send_msg(u, 1, 3, "lc.tcp", p, big), 0);
    it_expect_ack(u, 3, BUSRT_RC_OK);
    it_expect_frame(t, BUSRT_KIND_MESSAGE, "lc.unix", NULL, p, big, 0);
    free(p);
    wc_close(t);
    wc_close(u);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_true(wc_connect(tcp, 300) < 0);
}

static int open_fifo(const char *path)
{
    int64_t deadline = wc_now_ms() + start_timeout();
    for (;;) {
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            return fd;
        }
        if (wc_now_ms() >= deadline) {
            fprintf(stderr, "it: cannot open FIFO %s for writing: %s\n", path, strerror(errno));
            return -1;
        }
        wc_sleep_ms(20);
    }
}

static void fifo_write(int fd, const char *s)
{
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    assert_int_equal((long)w, (long)n);
}

static void t_fifo_commands(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    char fifo[256];
    char fifo_arg[300];
    snprintf(fifo, sizeof fifo, "%s/cmd.fifo", g_b.dir);
    snprintf(fifo_arg, sizeof fifo_arg, "fifo:%s", fifo);
    const char *args[] = {"-B", g_b.sock, "-B", fifo_arg, "-P", g_b.pidfile, NULL};
    assert_int_equal(wc_broker_spawn(&g_b, args), 0);
    int r = wc_broker_wait_ready(&g_b, g_b.sock, start_timeout());
    if (r != 0) {
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(r, 0);
    /* Listeners are set up in turn: the FIFO may come just after the
     * socket accepts connections. */
    struct stat st;
    int64_t deadline = wc_now_ms() + start_timeout();
    while (stat(fifo, &st) != 0 && wc_now_ms() < deadline) {
        wc_sleep_ms(10);
    }
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    fprintf(stderr, "it: FIFO mode %03o\n", (unsigned)(st.st_mode & 0777u));
    assert_true((st.st_mode & S_IWUSR) != 0);
    int tgt = it_reg(g_b.sock, "ff.target");
    int oth = it_reg(g_b.sock, "ff.other");
    assert_int_equal(wc_subscribe(oth, "ff/topic"), BUSRT_RC_OK);
    int wfd = open_fifo(fifo);
    assert_true(wfd >= 0);
    /* TARGET PAYLOAD: a message from .broker, QoS 0. */
    fifo_write(wfd, "ff.target hello\n");
    it_expect_frame(tgt, BUSRT_KIND_MESSAGE, ".broker", NULL, "hello", 5, 0);
    /* =TOPIC PAYLOAD: a publication. */
    fifo_write(wfd, "=ff/topic data1\n");
    it_expect_frame(oth, BUSRT_KIND_PUBLISH, ".broker", "ff/topic", "data1", 5, 0);
    /* A target with '*' or '?' is a broadcast mask. */
    fifo_write(wfd, "ff.* bc1\n");
    it_expect_frame(tgt, BUSRT_KIND_BROADCAST, ".broker", NULL, "bc1", 3, 0);
    it_expect_frame(oth, BUSRT_KIND_BROADCAST, ".broker", NULL, "bc1", 3, 0);
    fifo_write(wfd, "ff.? bc2\n");
    it_expect_frame(tgt, BUSRT_KIND_BROADCAST, ".broker", NULL, "bc2", 3, 0);
    it_expect_frame(oth, BUSRT_KIND_BROADCAST, ".broker", NULL, "bc2", 3, 0);
    /* Several commands in one write, in order. */
    fifo_write(wfd, "ff.target a1\nff.target a2\n=ff/topic p1\n");
    it_expect_frame(tgt, BUSRT_KIND_MESSAGE, ".broker", NULL, "a1", 2, 0);
    it_expect_frame(tgt, BUSRT_KIND_MESSAGE, ".broker", NULL, "a2", 2, 0);
    it_expect_frame(oth, BUSRT_KIND_PUBLISH, ".broker", "ff/topic", "p1", 2, 0);
    /* A command to nobody, then a good one: the channel keeps working. */
    fifo_write(wfd, "ff.nobody x\nff.target after\n");
    it_expect_frame(tgt, BUSRT_KIND_MESSAGE, ".broker", NULL, "after", 5, 0);
    /* The writer closes and a new one opens: still served. */
    close(wfd);
    wc_sleep_ms(100);
    wfd = open_fifo(fifo);
    assert_true(wfd >= 0);
    fifo_write(wfd, "ff.target reopened\n");
    it_expect_frame(tgt, BUSRT_KIND_MESSAGE, ".broker", NULL, "reopened", 8, 0);
    close(wfd);
    it_expect_silence(tgt, 200);
    it_expect_silence(oth, 50);
    wc_close(tgt);
    wc_close(oth);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_daemonize(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    const char *args[] = {"-B", g_b.sock, "-P", g_b.pidfile, "-D", NULL};
    assert_int_equal(wc_broker_spawn(&g_b, args), 0);
    pid_t fg = g_b.pid;
    /* The foreground process exits 0 and leaves a daemon behind. */
    int st = wc_broker_wait_exit(&g_b, start_timeout());
    if (st != 0) {
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 0);
    assert_int_equal(wc_broker_wait_ready(&g_b, g_b.sock, start_timeout()), 0);
    char buf[64] = "";
    int64_t deadline = wc_now_ms() + start_timeout();
    while (wc_read_file(g_b.pidfile, buf, sizeof buf) <= 0 && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    long pid = strtol(buf, NULL, 10);
    fprintf(stderr, "it: daemon pid %ld (foreground was %ld)\n", pid, (long)fg);
    assert_true(pid > 1);
    assert_true(pid != (long)fg);
    g_daemon = (pid_t)pid;
    assert_int_equal(kill(g_daemon, 0), 0);
    int a = it_reg(g_b.sock, "lc.daemon");
    it_roundtrip(a, "lc.daemon", a, "lc.daemon", "served", 1);
    assert_int_equal(kill(g_daemon, SIGTERM), 0);
    expect_shutdown_then_eof(a);
    wc_close(a);
    /* It cleans up after itself (it is not our child: watch the files). */
    deadline = wc_now_ms() + wc_ms(20000);
    while ((it_exists(g_b.sock) || it_exists(g_b.pidfile)) && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(g_b.pidfile));
    g_daemon = 0;
}

/* -D changes the directory to /: relative -B, fifo: and -P paths still name
 * files in the directory busrtd was started from, and those are the files
 * removed at exit. */
static void t_daemonize_relative_paths(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    char sock[256], pid[256], fifo[256];
    snprintf(sock, sizeof sock, "%s/rel.sock", g_b.dir);
    snprintf(pid, sizeof pid, "%s/rel.pid", g_b.dir);
    snprintf(fifo, sizeof fifo, "%s/rel.fifo", g_b.dir);
    const char *args[] = {"-B", "rel.sock", "-B", "fifo:rel.fifo", "-P", "rel.pid", "-D", NULL};
    assert_int_equal(wc_broker_spawn_in(&g_b, g_b.dir, args), 0);
    int st = wc_broker_wait_exit(&g_b, start_timeout());
    if (st != 0) {
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 0);
    assert_int_equal(wc_broker_wait_ready(&g_b, sock, start_timeout()), 0);
    char buf[64] = "";
    int64_t deadline = wc_now_ms() + start_timeout();
    while (wc_read_file(pid, buf, sizeof buf) <= 0 && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    long dpid = strtol(buf, NULL, 10);
    fprintf(stderr, "it: daemon pid %ld, pid file %s\n", dpid, pid);
    assert_true(dpid > 1);
    g_daemon = (pid_t)dpid;
    assert_int_equal(kill(g_daemon, 0), 0);
    assert_true(it_exists(fifo));
    int a = it_reg(sock, "lc.reldaemon");
    it_roundtrip(a, "lc.reldaemon", a, "lc.reldaemon", "served", 1);
    assert_int_equal(kill(g_daemon, SIGTERM), 0);
    expect_shutdown_then_eof(a);
    wc_close(a);
    deadline = wc_now_ms() + wc_ms(20000);
    while ((it_exists(sock) || it_exists(pid) || it_exists(fifo)) && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    assert_false(it_exists(sock));
    assert_false(it_exists(pid));
    assert_false(it_exists(fifo));
    g_daemon = 0;
}

/* -B HOST:0: the kernel picks the port, and the log names the one bound
 * (REQ-ADDR-5: port 0 is allowed when a broker binds). */
static void t_tcp_port_zero(void **state)
{
    (void)state;
    const char *extra[] = {"-B", "127.0.0.1:0", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    static char log[1 << 16];
    const char *key = "listening on 127.0.0.1:";
    const char *at = NULL;
    int64_t deadline = wc_now_ms() + start_timeout();
    while (at == NULL && wc_now_ms() < deadline) {
        if (wc_read_file(g_b.err_log, log, sizeof log) > 0) {
            at = strstr(log, key);
        }
        if (at == NULL) {
            wc_sleep_ms(20);
        }
    }
    assert_non_null(at);
    char *end = NULL;
    long port = strtol(at + strlen(key), &end, 10);
    fprintf(stderr, "it: -B 127.0.0.1:0 bound port %ld\n", port);
    assert_true(port > 0 && port <= 65535);
    assert_true(strncmp(end, " (-B 127.0.0.1:0)", 17) == 0);
    char tcp[64];
    snprintf(tcp, sizeof tcp, "127.0.0.1:%ld", port);
    int t = it_reg(tcp, "lc.port0");
    it_roundtrip(t, "lc.port0", t, "lc.port0", "via-port-0", 1);
    wc_close(t);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static int run_cli(const char *const *args, char *out, size_t outcap, char *err, size_t errcap)
{
    assert_int_equal(wc_broker_init(&g_b2), 0);
    assert_int_equal(wc_broker_spawn(&g_b2, args), 0);
    int st = wc_broker_wait_exit(&g_b2, start_timeout());
    (void)wc_read_file(g_b2.out_log, out, outcap);
    (void)wc_read_file(g_b2.err_log, err, errcap);
    wc_broker_cleanup(&g_b2);
    return st;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++) {
        if (*s == '\n') {
            n++;
        }
    }
    return n;
}

static void t_bad_options(void **state)
{
    (void)state;
    char out[4096];
    char err[4096];
    const char *a1[] = {"--no-such-option", NULL};
    int st = run_cli(a1, out, sizeof out, err, sizeof err);
    fprintf(stderr, "it: --no-such-option: status %d, stderr: %s", st, err);
    assert_int_equal(st, 2);
    assert_int_equal(count_lines(err), 1);
    const char *a2[] = {"-B", "/tmp/busrt-it-unused.sock", "--bogus", NULL};
    st = run_cli(a2, out, sizeof out, err, sizeof err);
    assert_int_equal(st, 2);
    assert_int_equal(count_lines(err), 1);
    assert_false(it_exists("/tmp/busrt-it-unused.sock"));
    const char *a3[] = {"-Z", NULL};
    st = run_cli(a3, out, sizeof out, err, sizeof err);
    assert_int_equal(st, 2);
    assert_true(strlen(err) > 0);
    /* Below the 12 bytes of .broker/warn no client could register. */
    const char *a4[] = {"-B", "/tmp/busrt-it-unused.sock", "--max-topic-len", "11", NULL};
    st = run_cli(a4, out, sizeof out, err, sizeof err);
    fprintf(stderr, "it: --max-topic-len 11: status %d, stderr: %s", st, err);
    assert_int_equal(st, 2);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "--max-topic-len: 11 is shorter than the 12 bytes"));
    assert_false(it_exists("/tmp/busrt-it-unused.sock"));
}

/* -B HOST:PORT takes a decimal port from 0 to 65535 and nothing else: one
 * line naming the address, exit status 2, nothing started (REQ-ADDR-5). */
static void t_bad_tcp_ports(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        const char *why;
    } bad[] = {
        {"127.0.0.1:99999", "port '99999' is not a decimal number from 0 to 65535"},
        {"127.0.0.1:65536", "port '65536' is not a decimal number from 0 to 65535"},
        {"127.0.0.1:-1", "port '-1' is not a decimal number from 0 to 65535"},
        {"127.0.0.1:1x", "port '1x' is not a decimal number from 0 to 65535"},
        {"127.0.0.1:+80", "port '+80' is not a decimal number from 0 to 65535"},
        {"127.0.0.1:http", "port 'http' is not a decimal number from 0 to 65535"},
        {"127.0.0.1:", "the port after ':' is empty"},
        {":7777", "the host before ':' is empty"},
        {"[::1]", "expected [IPV6-ADDRESS]:PORT"},
        {"nowhere", "expected a UNIX socket path"},
    };
    char out[4096];
    char err[4096];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"-B", bad[i].addr, NULL};
        int st = run_cli(args, out, sizeof out, err, sizeof err);
        char want[256];
        snprintf(want, sizeof want, "busrtd: -B %s: %s", bad[i].addr, bad[i].why);
        fprintf(stderr, "it: -B %s: status %d, stderr: %s", bad[i].addr, st, err);
        assert_int_equal(st, 2);
        assert_int_equal(count_lines(err), 1);
        assert_true(strncmp(err, want, strlen(want)) == 0);
        assert_non_null(strstr(err, "; not starting\n"));
        assert_null(strstr(err, "listening"));
    }
}

static void t_help_and_version(void **state)
{
    (void)state;
    char out[8192];
    char err[8192];
    const char *a1[] = {"--version", NULL};
    int st = run_cli(a1, out, sizeof out, err, sizeof err);
    fprintf(stderr, "it: --version: status %d, stdout: %s", st, out);
    assert_int_equal(st, 0);
    assert_true(strlen(out) + strlen(err) > 0);
    const char *a2[] = {"--help", NULL};
    st = run_cli(a2, out, sizeof out, err, sizeof err);
    assert_int_equal(st, 0);
    assert_true(strlen(out) + strlen(err) > 0);
    /* The usage text names the main option. */
    assert_true(strstr(out, "-B") != NULL || strstr(err, "-B") != NULL);
}

int main(void)
{
    wc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_sigterm_clean_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(t_sigint_clean_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(t_sigterm_idle_no_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(t_sigterm_with_stuck_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(t_stale_socket_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(t_second_broker_on_live_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(t_failed_start_keeps_pid_file, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tcp_and_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(t_fifo_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(t_daemonize, setup, teardown),
        cmocka_unit_test_setup_teardown(t_daemonize_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(t_tcp_port_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(t_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(t_bad_tcp_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(t_help_and_version, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
