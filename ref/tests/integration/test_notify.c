/* Integration: busrtd and a service manager (systemd's notify protocol,
 * busrtd(8) SYSTEMD). The test plays the service manager: it binds a
 * datagram socket in the broker's temp dir (or in the abstract namespace),
 * passes it as NOTIFY_SOCKET with WATCHDOG_USEC / WATCHDOG_PID, and records
 * every datagram with its arrival time and its sender's pid
 * (SCM_CREDENTIALS, what NotifyAccess=main checks).
 *
 * The stalled-loop test needs busrtd-hooks, the broker built with
 * -DBUSRTD_TEST_HOOKS (SIGUSR2 stalls its loop; see loop.c): $BUSRTD_HOOKS,
 * or $BUSRTD with "-hooks" appended. */
#define _GNU_SOURCE /* struct ucred, SCM_CREDENTIALS */
#include "itest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static struct wc_broker g_b;
static pid_t g_daemon;

/* The fake service manager's socket and what it received. */
#define MAX_NOTES 1024
struct note {
    int64_t at; /* wc_now_ms() on arrival */
    pid_t pid;  /* sender (SCM_CREDENTIALS), 0 when unknown */
    char text[256];
};
static struct note g_notes[MAX_NOTES];
static int g_nnotes;
static int g_nfd = -1;
static char g_nname[160]; /* the NOTIFY_SOCKET value */

static int start_timeout(void)
{
    return wc_under_valgrind() ? 30000 : 5000;
}

static int setup(void **state)
{
    (void)state;
    memset(&g_b, 0, sizeof g_b);
    g_nnotes = 0;
    g_nfd = -1;
    g_daemon = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (g_daemon > 0) {
        kill(g_daemon, SIGKILL);
        g_daemon = 0;
    }
    if (g_nfd >= 0) {
        close(g_nfd);
        g_nfd = -1;
    }
    wc_broker_cleanup(&g_b);
    return 0;
}

/* Binds the receiving socket: <dir>/notify, or an abstract name. */
static void nsock_open(int abstract)
{
    g_nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(g_nfd >= 0);
    int one = 1;
    assert_int_equal(setsockopt(g_nfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    socklen_t len;
    if (abstract) {
        snprintf(g_nname, sizeof g_nname, "@busrt-it-notify-%ld", (long)getpid());
        memcpy(sa.sun_path, g_nname, strlen(g_nname));
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(g_nname));
    } else {
        snprintf(g_nname, sizeof g_nname, "%s/notify", g_b.dir);
        memcpy(sa.sun_path, g_nname, strlen(g_nname));
        len = (socklen_t)sizeof sa;
    }
    if (bind(g_nfd, (struct sockaddr *)&sa, len) != 0) {
        fprintf(stderr, "it: bind %s: %s\n", g_nname, strerror(errno));
        fail();
    }
}

/* Receives datagrams for up to ms milliseconds, or until one starting with
 * want arrives (want NULL: the whole time). Returns the index of that one,
 * or -1. */
static int nsock_collect(int ms, const char *want)
{
    int64_t end = wc_now_ms() + ms;
    for (;;) {
        int64_t left = end - wc_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {g_nfd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r <= 0) {
            continue;
        }
        struct note *n = &g_notes[g_nnotes < MAX_NOTES ? g_nnotes : MAX_NOTES - 1];
        memset(n, 0, sizeof *n);
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(struct ucred))];
        } ctl;
        struct iovec iov = {n->text, sizeof n->text - 1u};
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof ctl.buf;
        ssize_t got = recvmsg(g_nfd, &m, MSG_DONTWAIT);
        if (got < 0) {
            continue;
        }
        n->text[got] = '\0';
        n->at = wc_now_ms();
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                struct ucred u;
                memcpy(&u, CMSG_DATA(c), sizeof u);
                n->pid = u.pid;
            }
        }
        int idx = g_nnotes < MAX_NOTES ? g_nnotes++ : MAX_NOTES - 1;
        if (want != NULL && strncmp(n->text, want, strlen(want)) == 0) {
            return idx;
        }
    }
}

/* Received notes starting with prefix, from index from on. */
static int count_notes(const char *prefix, int from)
{
    int n = 0;
    for (int i = from; i < g_nnotes; i++) {
        n += strncmp(g_notes[i].text, prefix, strlen(prefix)) == 0;
    }
    return n;
}

static void dump_notes(void)
{
    int64_t t0 = g_nnotes > 0 ? g_notes[0].at : 0;
    for (int i = 0; i < g_nnotes; i++) {
        fprintf(stderr, "it: note %d at +%lld ms from pid %ld: '%s'\n", i,
                (long long)(g_notes[i].at - t0), (long)g_notes[i].pid, g_notes[i].text);
    }
}

/* Sets the service manager's variables (NULL: unset) for the next spawn. */
static void set_env(const char *var, const char *val)
{
    if (val != NULL) {
        assert_int_equal(setenv(var, val, 1), 0);
    } else {
        assert_int_equal(unsetenv(var), 0);
    }
}

/* Starts the broker (-B sock -P pidfile extra...) with NOTIFY_SOCKET set
 * to our socket and the watchdog variables given (NULL: unset); does not
 * wait. The environment is restored afterwards. */
static void spawn_notified(const char *wd_usec, const char *wd_pid, const char *const *extra)
{
    const char *args[32];
    size_t n = 0;
    args[n++] = "-B";
    args[n++] = g_b.sock;
    args[n++] = "-P";
    args[n++] = g_b.pidfile;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    set_env("NOTIFY_SOCKET", g_nname);
    set_env("WATCHDOG_USEC", wd_usec);
    set_env("WATCHDOG_PID", wd_pid);
    int r = wc_broker_spawn(&g_b, args);
    set_env("NOTIFY_SOCKET", NULL);
    set_env("WATCHDOG_USEC", NULL);
    set_env("WATCHDOG_PID", NULL);
    assert_int_equal(r, 0);
}

/* Waits for READY=1; returns its index. */
static int expect_ready(void)
{
    int i = nsock_collect(start_timeout(), "READY=1");
    if (i < 0) {
        fprintf(stderr, "it: no READY=1 within %d ms\n", start_timeout());
        dump_notes();
        wc_broker_dump_log(&g_b);
    }
    assert_true(i >= 0);
    return i;
}

/* SIGTERM to pid; STOPPING=1 must arrive. */
static void expect_stopping(pid_t pid)
{
    int from = g_nnotes;
    assert_int_equal(kill(pid, SIGTERM), 0);
    int i = nsock_collect(wc_ms(5000), "STOPPING=1");
    if (i < 0) {
        dump_notes();
    }
    assert_true(i >= from);
    assert_string_equal(g_notes[i].text, "STOPPING=1");
}

static void t_ready_once_listening(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    spawn_notified(NULL, NULL, NULL);
    int i = expect_ready();
    /* Every listener is open when READY=1 is sent: connecting at once
     * succeeds, no retry. */
    int fd = wc_connect(g_b.sock, 100);
    assert_true(fd >= 0);
    wc_close(fd);
    assert_string_equal(g_notes[i].text, "READY=1\nSTATUS=0 clients, 1 listener");
    /* From the main process (NotifyAccess=main), once. */
    assert_int_equal(g_notes[i].pid, g_b.pid);
    /* No watchdog asked for: no WATCHDOG=1. */
    (void)nsock_collect(wc_ms(600), NULL);
    assert_int_equal(count_notes("WATCHDOG=1", 0), 0);
    assert_int_equal(count_notes("READY=1", 0), 1);
    assert_true(it_log_has(&g_b, "service manager notifications to "));
    assert_true(it_log_has(&g_b, "; no watchdog"));
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

static void t_abstract_socket(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(1);
    spawn_notified(NULL, NULL, NULL);
    int i = expect_ready();
    assert_string_equal(g_notes[i].text, "READY=1\nSTATUS=0 clients, 1 listener");
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

static void t_watchdog_pings(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    spawn_notified("400000", NULL, NULL); /* 0.4 s: a ping every 0.2 s */
    int r = expect_ready();
    int64_t t0 = wc_now_ms();
    (void)nsock_collect(1000, NULL);
    int64_t t1 = wc_now_ms();
    int pings = count_notes("WATCHDOG=1", r);
    fprintf(stderr, "it: %d WATCHDOG=1 in %lld ms of an idle broker\n", pings,
            (long long)(t1 - t0));
    if (pings < 3) {
        dump_notes();
    }
    assert_true(pings >= 3);
    /* Never more often than every half period (0.2 s), less jitter. */
    int64_t last = -1;
    for (int k = r; k < g_nnotes; k++) {
        if (strcmp(g_notes[k].text, "WATCHDOG=1") != 0) {
            continue;
        }
        if (last >= 0 && g_notes[k].at - last < 150) {
            dump_notes();
            fail_msg("two WATCHDOG=1 %lld ms apart", (long long)(g_notes[k].at - last));
        }
        last = g_notes[k].at;
    }
    assert_true(it_log_has(&g_b, "watchdog ping every 0.200 s"));
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

/* WATCHDOG_PID names another process: this one does not ping. */
static void t_watchdog_pid_other(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    spawn_notified("400000", "1", NULL);
    int r = expect_ready();
    (void)nsock_collect(800, NULL);
    assert_int_equal(count_notes("WATCHDOG=1", r), 0);
    assert_true(it_log_has(&g_b, "WATCHDOG_PID=1 is another process"));
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

/* WATCHDOG_PID set to the broker's own pid (as systemd does): pings. A
 * shell wrapper learns the pid before it execs the broker in place. */
static void t_watchdog_pid_self(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    char script[256], wrapper[1024];
    snprintf(script, sizeof script, "%s/wdpid.sh", g_b.dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "WATCHDOG_PID=$$\nexport WATCHDOG_PID\nexec \"$@\"\n");
    assert_int_equal(fclose(f), 0);
    const char *old = getenv("BUSRTD_WRAPPER");
    char *saved = old != NULL ? strdup(old) : NULL;
    snprintf(wrapper, sizeof wrapper, "/bin/sh %s %s", script, old != NULL ? old : "");
    set_env("BUSRTD_WRAPPER", wrapper);
    spawn_notified("400000", NULL, NULL);
    set_env("BUSRTD_WRAPPER", saved);
    free(saved);
    int r = expect_ready();
    assert_int_equal(g_notes[r].pid, g_b.pid); /* exec kept the pid */
    (void)nsock_collect(800, NULL);
    int pings = count_notes("WATCHDOG=1", r);
    if (pings < 2) {
        dump_notes();
        wc_broker_dump_log(&g_b);
    }
    assert_true(pings >= 2);
    assert_false(it_log_has(&g_b, "is another process"));
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

/* STATUS= follows the client count, at most once a second, and ends on the
 * current count. */
static void t_status_counts(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    int port = wc_free_tcp_port();
    assert_true(port > 0);
    char tcp[32];
    snprintf(tcp, sizeof tcp, "127.0.0.1:%d", port);
    /* -t 30: the idle clients below are not dropped while we watch */
    const char *extra[] = {"-B", tcp, "-t", "30", NULL};
    spawn_notified(NULL, NULL, extra);
    int r = expect_ready();
    assert_string_equal(g_notes[r].text, "READY=1\nSTATUS=0 clients, 2 listeners");
    int a = it_reg(g_b.sock, "nt.a");
    int i = nsock_collect(wc_ms(3000), "STATUS=");
    if (i < 0) {
        dump_notes();
    }
    assert_true(i > r);
    assert_string_equal(g_notes[i].text, "STATUS=1 client, 2 listeners");
    /* Quick changes: 1 -> 2 -> 3 -> 2 clients within a few ms. */
    int b = it_reg(tcp, "nt.b");
    int c = it_reg(g_b.sock, "nt.c");
    wc_close(c);
    int64_t changed = wc_now_ms();
    (void)nsock_collect(wc_ms(2500), NULL);
    const struct note *lastst = NULL;
    int64_t prev = g_notes[r].at;
    int nst = 0;
    for (int k = r + 1; k < g_nnotes; k++) {
        if (strncmp(g_notes[k].text, "STATUS=", 7) != 0) {
            continue;
        }
        nst++;
        if (g_notes[k].at - prev < 900) {
            dump_notes();
            fail_msg("two STATUS= %lld ms apart", (long long)(g_notes[k].at - prev));
        }
        prev = g_notes[k].at;
        lastst = &g_notes[k];
    }
    fprintf(stderr, "it: %d STATUS= messages; the last %lld ms after the last change\n", nst,
            (long long)(lastst != NULL ? lastst->at - changed : -1));
    assert_non_null(lastst);
    assert_string_equal(lastst->text, "STATUS=2 clients, 2 listeners");
    wc_close(a);
    wc_close(b);
    i = nsock_collect(wc_ms(3000), "STATUS=0 clients");
    if (i < 0) {
        dump_notes();
    }
    assert_true(i >= 0);
    assert_string_equal(g_notes[i].text, "STATUS=0 clients, 2 listeners");
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

/* -D: READY=1 comes from the daemon, after daemonizing, with its MAINPID. */
static void t_daemonized(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    const char *extra[] = {"-D", NULL};
    spawn_notified(NULL, NULL, extra);
    int r = expect_ready();
    char buf[64] = "";
    assert_true(wc_read_file(g_b.pidfile, buf, sizeof buf) > 0);
    long pid = strtol(buf, NULL, 10);
    assert_true(pid > 1 && pid != (long)g_b.pid);
    g_daemon = (pid_t)pid;
    char want[128];
    snprintf(want, sizeof want, "READY=1\nSTATUS=0 clients, 1 listener\nMAINPID=%ld", pid);
    assert_string_equal(g_notes[r].text, want);
    assert_int_equal(g_notes[r].pid, (pid_t)pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, start_timeout()), 0); /* the foreground one */
    expect_stopping(g_daemon);
    int64_t deadline = wc_now_ms() + wc_ms(20000);
    while (it_exists(g_b.pidfile) && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    assert_false(it_exists(g_b.pidfile));
    g_daemon = 0;
}

/* A NOTIFY_SOCKET nobody listens on: the first failed send is logged, once;
 * the broker works as usual. One that is no socket address: logged, ignored. */
static void t_unreachable_socket(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    snprintf(g_nname, sizeof g_nname, "%s/nobody", g_b.dir);
    spawn_notified("200000", NULL, NULL);
    assert_int_equal(wc_broker_wait_ready(&g_b, g_b.sock, start_timeout()), 0);
    wc_sleep_ms(500); /* five failed pings */
    int a = it_reg(g_b.sock, "nt.alive");
    it_roundtrip(a, "nt.alive", a, "nt.alive", "still", 1);
    wc_close(a);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    static char log[1 << 16];
    assert_true(wc_read_file(g_b.err_log, log, sizeof log) > 0);
    int n = 0;
    for (const char *p = log; (p = strstr(p, "not sent:")) != NULL; p++) {
        n++;
    }
    if (n != 1) {
        fprintf(stderr, "it: %d send errors logged:\n%s", n, log);
    }
    assert_int_equal(n, 1);
    assert_true(it_log_has(&g_b, "service manager notification 'READY=1' to "));
    assert_true(it_log_has(&g_b, "not sent: No such file or directory; the broker carries on "
                                 "(further notification errors are not logged)"));
    wc_broker_cleanup(&g_b);

    assert_int_equal(wc_broker_init(&g_b), 0);
    snprintf(g_nname, sizeof g_nname, "relative/notify");
    spawn_notified(NULL, NULL, NULL);
    assert_int_equal(wc_broker_wait_ready(&g_b, g_b.sock, start_timeout()), 0);
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_true(it_log_has(&g_b, "NOTIFY_SOCKET='relative/notify' is not an absolute socket "
                                 "path or an abstract name (@NAME) shorter than 108 bytes; "
                                 "service manager notifications are off"));
}

static const char *hooks_binary(char *buf, size_t cap)
{
    const char *h = getenv("BUSRTD_HOOKS");
    if (h != NULL && h[0] != '\0') {
        return h;
    }
    const char *b = getenv("BUSRTD");
    snprintf(buf, cap, "%s-hooks", b != NULL && b[0] != '\0' ? b : "build/obj/busrtd");
    return buf;
}

/* 1 when the file contains needle. */
static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    size_t nl = strlen(needle), have = 0;
    char buf[65536];
    int found = 0;
    for (;;) {
        size_t got = fread(buf + have, 1, sizeof buf - have, f);
        have += got;
        for (size_t i = 0; !found && i + nl <= have; i++) {
            found = memcmp(buf + i, needle, nl) == 0;
        }
        if (found || got == 0) {
            break;
        }
        /* keep the tail that could start a match */
        memmove(buf, buf + have - (nl - 1u), nl - 1u);
        have = nl - 1u;
    }
    (void)fclose(f);
    return found;
}

/* The production broker has no test hooks; busrtd-hooks has. */
static void t_no_hooks_in_production(void **state)
{
    (void)state;
    char hb[512];
    const char *bin = getenv("BUSRTD");
    bin = bin != NULL && bin[0] != '\0' ? bin : "build/obj/busrtd";
    assert_int_equal(file_has(bin, "BUSRTD_TEST_STALL_MS"), 0);
    assert_int_equal(file_has(bin, "test hooks"), 0);
    assert_int_equal(file_has(hooks_binary(hb, sizeof hb), "BUSRTD_TEST_STALL_MS"), 1);
}

/* A loop stuck in a turn stops pinging; the pings resume when it goes on. */
static void t_stalled_loop_stops_pings(void **state)
{
    (void)state;
    char hb[512];
    const char *hooks = hooks_binary(hb, sizeof hb);
    if (access(hooks, X_OK) != 0) {
        fail_msg("no test-hook broker at %s (build it: make %s)", hooks, hooks);
    }
    assert_int_equal(wc_broker_init(&g_b), 0);
    nsock_open(0);
    const char *old = getenv("BUSRTD");
    char *saved = old != NULL ? strdup(old) : NULL;
    set_env("BUSRTD", hooks);
    set_env("BUSRTD_TEST_STALL_MS", "1500");
    spawn_notified("400000", NULL, NULL);
    set_env("BUSRTD", saved);
    set_env("BUSRTD_TEST_STALL_MS", NULL);
    free(saved);
    int r = expect_ready();
    (void)nsock_collect(600, NULL);
    assert_true(count_notes("WATCHDOG=1", r) >= 2);
    assert_true(it_log_has(&g_b, "test hooks compiled in"));
    int64_t t_sig = wc_now_ms();
    assert_int_equal(kill(g_b.pid, SIGUSR2), 0);
    int before = g_nnotes;
    (void)nsock_collect(150, NULL); /* a ping already on its way */
    int quiet_from = g_nnotes;
    (void)nsock_collect(1100, NULL); /* 150 .. 1250 ms into the 1500 ms stall */
    int during = count_notes("WATCHDOG=1", quiet_from);
    int resume_from = g_nnotes;
    (void)nsock_collect(1250, NULL); /* 1250 .. 2500 ms: resumed for 1 s */
    int after = count_notes("WATCHDOG=1", resume_from);
    fprintf(stderr, "it: WATCHDOG=1 in the first 150 ms after SIGUSR2: %d, during the "
                    "stall: %d, in the second after it: %d\n",
            count_notes("WATCHDOG=1", before) - during - after, during, after);
    if (during != 0 || after < 3) {
        fprintf(stderr, "it: SIGUSR2 sent at %lld\n", (long long)t_sig);
        dump_notes();
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(during, 0);
    assert_true(after >= 3);
    assert_true(it_log_has(&g_b, "test hooks: stalling the loop for 1500 ms"));
    assert_true(it_log_has(&g_b, "test hooks: the loop resumes"));
    assert_false(it_log_has(&g_b, "waiting on the")); /* EINTR is no error */
    expect_stopping(g_b.pid);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(20000)), 0);
}

int main(void)
{
    wc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_ready_once_listening, setup, teardown),
        cmocka_unit_test_setup_teardown(t_abstract_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(t_watchdog_pings, setup, teardown),
        cmocka_unit_test_setup_teardown(t_watchdog_pid_other, setup, teardown),
        cmocka_unit_test_setup_teardown(t_watchdog_pid_self, setup, teardown),
        cmocka_unit_test_setup_teardown(t_status_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(t_daemonized, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unreachable_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(t_no_hooks_in_production, setup, teardown),
        cmocka_unit_test_setup_teardown(t_stalled_loop_stops_pings, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
