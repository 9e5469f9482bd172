/* Integration: busrtd's realtime options (--rt-priority, --cpu,
 * --mlockall; busrtd(8)). Bad values are refused with an exact message and
 * exit status 2. Good values either apply (a log line, and the kernel's
 * view of the process agrees) or, where this machine does not permit them,
 * stop the broker with exit status 2 and the reason. Which of the two
 * happens is predicted with the same call made by a forked probe process,
 * so both outcomes are checked, never skipped.
 *
 * To see the refusals also where everything is permitted (as root), a
 * wrapper drops the permission before the broker starts: this program run
 * as "test_realtime --deny-rt-exec PROGRAM ARGS..." removes CAP_SYS_NICE
 * and CAP_IPC_LOCK from its capability bounding set, sets RLIMIT_RTPRIO to
 * 0 and RLIMIT_MEMLOCK to 64 KiB, then execs PROGRAM. */
#define _GNU_SOURCE /* cpu_set_t, sched_getaffinity */
#include "itest.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

static struct wc_broker g_b;
static char g_self[512]; /* this program, for the wrapper */

static int start_timeout(void)
{
    return wc_under_valgrind() ? 30000 : 5000;
}

static int setup(void **state)
{
    (void)state;
    memset(&g_b, 0, sizeof g_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wc_broker_cleanup(&g_b);
    return 0;
}

/* The wrapper mode (see the top). Never returns. */
static void deny_and_exec(char **argv) __attribute__((noreturn));
static void deny_and_exec(char **argv)
{
    static const int caps[] = {CAP_SYS_NICE, CAP_IPC_LOCK};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        if (prctl(PR_CAPBSET_READ, caps[i], 0, 0, 0) == 1 &&
            prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) != 0) {
            fprintf(stderr, "deny wrapper: cannot drop capability %d from the bounding set: "
                            "%s; the refusal cannot be shown here\n",
                    caps[i], strerror(errno));
            _exit(125);
        }
    }
    struct rlimit rtprio = {0, 0}, memlock = {65536, 65536};
    if (setrlimit(RLIMIT_RTPRIO, &rtprio) != 0 || setrlimit(RLIMIT_MEMLOCK, &memlock) != 0) {
        fprintf(stderr, "deny wrapper: setrlimit: %s\n", strerror(errno));
        _exit(125);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "deny wrapper: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* The broker is running and accepts connections. */
#define RUNNING (-1000)

/* Starts the broker with "-B sock -P pidfile" and extra (deny: through the
 * wrapper), then waits until it accepts connections (returns RUNNING) or
 * exits (returns its exit status). It never accepts a connection before
 * its realtime options are applied. */
static int run_broker(const char *const *extra, int deny)
{
    assert_int_equal(wc_broker_init(&g_b), 0);
    const char *args[32];
    size_t n = 0;
    args[n++] = "-B";
    args[n++] = g_b.sock;
    args[n++] = "-P";
    args[n++] = g_b.pidfile;
    for (size_t i = 0; extra[i] != NULL && n < 31; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    const char *old = getenv("BUSRTD_WRAPPER");
    char *saved = old != NULL ? strdup(old) : NULL;
    if (deny) {
        char w[1024];
        snprintf(w, sizeof w, "%s --deny-rt-exec %s", g_self, old != NULL ? old : "");
        assert_int_equal(setenv("BUSRTD_WRAPPER", w, 1), 0);
    }
    int r = wc_broker_spawn(&g_b, args);
    if (deny) {
        if (saved != NULL) {
            assert_int_equal(setenv("BUSRTD_WRAPPER", saved, 1), 0);
        } else {
            assert_int_equal(unsetenv("BUSRTD_WRAPPER"), 0);
        }
    }
    free(saved);
    assert_int_equal(r, 0);
    int64_t deadline = wc_now_ms() + start_timeout();
    for (;;) {
        int st = wc_broker_wait_exit(&g_b, 20);
        if (st != WC_TIMEOUT) {
            return st;
        }
        int fd = wc_connect(g_b.sock, 100);
        if (fd >= 0) {
            wc_close(fd);
            return RUNNING;
        }
        if (wc_now_ms() >= deadline) {
            wc_broker_dump_log(&g_b);
            fail_msg("the broker neither accepted connections nor exited within %d ms",
                     start_timeout());
        }
    }
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

/* The option is refused before anything starts: exit 2, exactly this one
 * line on stderr, no socket file. */
static void expect_refused(const char *opt, const char *val, const char *line)
{
    const char *extra[] = {opt, val, NULL};
    int st = run_broker(extra, 0);
    char err[4096];
    (void)wc_read_file(g_b.err_log, err, sizeof err);
    if (st != 2 || strcmp(err, line) != 0) {
        fprintf(stderr, "it: %s '%s': status %d, stderr:\n%swanted:\n%s", opt, val, st, err,
                line);
    }
    assert_int_equal(st, 2);
    assert_string_equal(err, line);
    assert_int_equal(count_lines(err), 1);
    assert_false(it_exists(g_b.sock));
    wc_broker_cleanup(&g_b);
}

static void t_bad_values(void **state)
{
    (void)state;
    char line[256];
    int lo = sched_get_priority_min(SCHED_FIFO), hi = sched_get_priority_max(SCHED_FIFO);
    lo = lo < 1 ? 1 : lo;
    static const char *const prios[] = {"0", "100", "-1", "abc", "5x", ""};
    for (size_t i = 0; i < sizeof prios / sizeof prios[0]; i++) {
        char v[16];
        snprintf(v, sizeof v, "%s", prios[i]);
        if (strcmp(v, "100") == 0) {
            snprintf(v, sizeof v, "%d", hi + 1);
        }
        snprintf(line, sizeof line,
                 "busrtd: --rt-priority: '%s' is not a SCHED_FIFO priority, an integer in "
                 "[%d, %d]; not starting\n",
                 v, lo, hi);
        expect_refused("--rt-priority", v, line);
    }
    static const struct {
        const char *list, *why;
    } cpus[] = {
        {"2-1", "the range 2-1 runs backwards"},
        {"0,,1", "an empty item"},
        {"", "an empty item"},
        {"1,", "an empty item"},
        {",1", "an empty item"},
        {"x", "'x' is not a CPU number or range N-M"},
        {"0-", "'0-' is not a CPU number or range N-M"},
        {"1 ", "'1 ' is not a CPU number or range N-M"},
        {"0-3,a-b", "'a-b' is not a CPU number or range N-M"},
        {"4096", "CPU numbers are below 4096"},
        {"0-99999", "CPU numbers are below 4096"},
    };
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++) {
        snprintf(line, sizeof line,
                 "busrtd: --cpu: '%s' is not a CPU list like 0,2-3 (%s); not starting\n",
                 cpus[i].list, cpus[i].why);
        expect_refused("--cpu", cpus[i].list, line);
    }
}

/* The CPUs this process may use, and their kernel list form. */
static int my_cpus(int *out, int max)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int n = 0;
    for (size_t c = 0; c < CPU_SETSIZE && n < max; c++) {
        if (CPU_ISSET(c, &set)) {
            out[n++] = (int)c;
        }
    }
    assert_true(n > 0);
    return n;
}

/* Line "Key:\tvalue" of /proc/PID/status into out. */
static int proc_status(pid_t pid, const char *key, char *out, size_t cap)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    if (wc_read_file(path, buf, sizeof buf) <= 0) {
        return -1;
    }
    size_t kl = strlen(key);
    for (char *p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
            p += kl + 1;
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            size_t l = strcspn(p, "\n");
            snprintf(out, cap, "%.*s", (int)l, p);
            return 0;
        }
    }
    return -1;
}

/* A registered client still gets its own message back. */
static void expect_serving(void)
{
    int a = it_reg(g_b.sock, "rt.client");
    it_roundtrip(a, "rt.client", a, "rt.client", "rt", 1);
    wc_close(a);
}

static void t_cpu_applies(void **state)
{
    (void)state;
    int cpus[CPU_SETSIZE];
    int n = my_cpus(cpus, CPU_SETSIZE);
    char list[64], want[64], line[256], got[128];
    /* One CPU: the first this process may use (0 on most machines). */
    snprintf(list, sizeof list, "%d", cpus[0]);
    const char *e1[] = {"--cpu", list, NULL};
    assert_int_equal(run_broker(e1, 0), RUNNING);
    assert_int_equal(proc_status(g_b.pid, "Cpus_allowed_list", got, sizeof got), 0);
    fprintf(stderr, "it: --cpu %s: Cpus_allowed_list %s\n", list, got);
    assert_string_equal(got, list);
    snprintf(line, sizeof line, "CPU affinity set (--cpu %s): this process runs on CPUs %s\n",
             list, list);
    assert_true(it_log_has(&g_b, line));
    expect_serving();
    assert_int_equal(wc_broker_stop(&g_b), 0);
    wc_broker_cleanup(&g_b);
    if (n < 2) {
        fprintf(stderr, "it: one CPU allowed here: the two-CPU list is not tried\n");
        return;
    }
    /* Two CPUs as a list; the kernel writes adjacent ones as a range. */
    snprintf(list, sizeof list, "%d,%d", cpus[0], cpus[1]);
    snprintf(want, sizeof want, cpus[1] == cpus[0] + 1 ? "%d-%d" : "%d,%d", cpus[0], cpus[1]);
    const char *e2[] = {"--cpu", list, NULL};
    assert_int_equal(run_broker(e2, 0), RUNNING);
    assert_int_equal(proc_status(g_b.pid, "Cpus_allowed_list", got, sizeof got), 0);
    assert_string_equal(got, want);
    snprintf(line, sizeof line, "CPU affinity set (--cpu %s): this process runs on CPUs %s\n",
             list, want);
    assert_true(it_log_has(&g_b, line));
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

/* A CPU that is not online (or not ours): refused at start-up, status 2. */
static void t_cpu_not_available(void **state)
{
    (void)state;
    char mine[128], line[512];
    assert_int_equal(proc_status(getpid(), "Cpus_allowed_list", mine, sizeof mine), 0);
    const char *e[] = {"--cpu", "4095", NULL};
    int st = run_broker(e, 0);
    snprintf(line, sizeof line,
             "ERROR --cpu 4095: sched_setaffinity failed: Invalid argument (no CPU of the list "
             "is online and allowed to this process; it may use %s); exiting with status 2\n",
             mine);
    if (st != 2 || !it_log_has(&g_b, line)) {
        fprintf(stderr, "it: status %d; wanted the line: %s", st, line);
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 2);
    assert_true(it_log_has(&g_b, line));
    assert_false(it_exists(g_b.sock)); /* cleaned up */
}

/* What sched_setscheduler(SCHED_FIFO, prio) gives a process started like
 * the broker: 0 or its errno (from a forked probe). */
static int probe_fifo(int prio)
{
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        struct sched_param sp;
        memset(&sp, 0, sizeof sp);
        sp.sched_priority = prio;
        _exit(sched_setscheduler(0, SCHED_FIFO, &sp) == 0 ? 0 : errno);
    }
    int st = 0;
    assert_int_equal(waitpid(p, &st, 0), p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void expect_priority_refused(int st, int err)
{
    char line[512];
    snprintf(line, sizeof line,
             "ERROR --rt-priority 1: sched_setscheduler(SCHED_FIFO, 1) failed: %s%s; exiting "
             "with status 2\n",
             strerror(err),
             err == EPERM ? " (it needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least 1; "
                            "under systemd LimitRTPRIO= and RestrictRealtime=no)"
                          : "");
    if (st != 2 || !it_log_has(&g_b, line)) {
        fprintf(stderr, "it: status %d; wanted the line: %s", st, line);
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 2);
    assert_true(it_log_has(&g_b, line));
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(g_b.pidfile));
}

static void t_rt_priority(void **state)
{
    (void)state;
    int probe = probe_fifo(1);
    fprintf(stderr, "it: SCHED_FIFO priority 1 here: %s\n",
            probe == 0 ? "permitted" : strerror(probe));
    const char *e[] = {"--rt-priority", "1", NULL};
    int st = run_broker(e, 0);
    if (probe == 0) {
        assert_int_equal(st, RUNNING);
        assert_int_equal(sched_getscheduler(g_b.pid), SCHED_FIFO);
        struct sched_param sp;
        assert_int_equal(sched_getparam(g_b.pid, &sp), 0);
        assert_int_equal(sp.sched_priority, 1);
        assert_true(it_log_has(&g_b, "realtime scheduling (--rt-priority 1): SCHED_FIFO, "
                                     "priority 1\n"));
        expect_serving();
        assert_int_equal(wc_broker_stop(&g_b), 0);
    } else {
        expect_priority_refused(st, probe);
    }
}

/* Refused where not permitted, also here (the wrapper drops it). */
static void t_rt_priority_denied(void **state)
{
    (void)state;
    const char *e[] = {"--rt-priority", "1", NULL};
    int st = run_broker(e, 1);
    if (st == 125) {
        wc_broker_dump_log(&g_b);
        fail_msg("the deny wrapper could not drop the permission (see above)");
    }
    expect_priority_refused(st, EPERM);
}

#if defined(__SANITIZE_ADDRESS__)
#define IT_SANITIZED 1 /* the san tests run the san broker */
#else
#define IT_SANITIZED 0
#endif

static void t_mlockall(void **state)
{
    (void)state;
    const char *e[] = {"--mlockall", NULL};
    int st = run_broker(e, 0);
    if (st == RUNNING) {
        /* Applied: the kernel counts locked memory for it. */
        char lck[64];
        assert_int_equal(proc_status(g_b.pid, "VmLck", lck, sizeof lck), 0);
        fprintf(stderr, "it: --mlockall applied: VmLck %s\n", lck);
        assert_true(strtol(lck, NULL, 10) > 0);
        assert_true(it_log_has(&g_b, "memory locked (--mlockall): every current and future "
                                     "page stays in RAM\n"));
        assert_false(IT_SANITIZED);
        expect_serving();
        assert_int_equal(wc_broker_stop(&g_b), 0);
        return;
    }
    static char log[1 << 16];
    (void)wc_read_file(g_b.err_log, log, sizeof log);
    fprintf(stderr, "it: --mlockall refused, status %d:\n%s", st, log);
    assert_int_equal(st, 2);
    if (IT_SANITIZED) {
        assert_true(it_log_has(&g_b, "ERROR --mlockall: not available in a build with "
                                     "AddressSanitizer (it would lock the sanitizer's shadow "
                                     "memory, terabytes of address space); exiting with "
                                     "status 2\n"));
    } else {
        /* ENOMEM over RLIMIT_MEMLOCK, EPERM without any, EAGAIN: the
         * reason is the system's. */
        int named = 0;
        static const int errs[] = {ENOMEM, EPERM, EAGAIN};
        for (size_t i = 0; i < 3; i++) {
            char want[256];
            snprintf(want, sizeof want,
                     "ERROR --mlockall: mlockall(MCL_CURRENT | MCL_FUTURE) failed: %s",
                     strerror(errs[i]));
            named |= it_log_has(&g_b, want);
        }
        assert_true(named);
        assert_true(it_log_has(&g_b, "; exiting with status 2\n"));
    }
    assert_false(it_exists(g_b.sock));
}

static void t_mlockall_denied(void **state)
{
    (void)state;
    const char *e[] = {"--mlockall", NULL};
    int st = run_broker(e, 1);
    if (st == 125) {
        wc_broker_dump_log(&g_b);
        fail_msg("the deny wrapper could not drop the permission (see above)");
    }
    const char *want = IT_SANITIZED
                           ? "ERROR --mlockall: not available in a build with AddressSanitizer"
                           : "ERROR --mlockall: mlockall(MCL_CURRENT | MCL_FUTURE) failed: "
                             "Cannot allocate memory (RLIMIT_MEMLOCK is 64 KiB; raise it "
                             "with ulimit -l or LimitMEMLOCK=, or grant CAP_IPC_LOCK); "
                             "exiting with status 2\n";
    if (st != 2 || !it_log_has(&g_b, want)) {
        fprintf(stderr, "it: status %d; wanted: %s\n", st, want);
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 2);
    assert_true(it_log_has(&g_b, want));
}

/* All three, where permitted: applied in the order --cpu, --mlockall,
 * --rt-priority, before the listeners accept connections. (The sanitized broker refuses
 * --mlockall: only the other two there.) */
static void t_all_three(void **state)
{
    (void)state;
    int cpus[CPU_SETSIZE];
    (void)my_cpus(cpus, CPU_SETSIZE);
    if (probe_fifo(2) != 0) {
        fprintf(stderr, "it: SCHED_FIFO is not permitted here; t_rt_priority checked the "
                        "refusal\n");
        return;
    }
    char list[16];
    snprintf(list, sizeof list, "%d", cpus[0]);
    const char *e[] = {"--cpu", list, "--rt-priority", "2", "--mlockall", NULL};
    if (IT_SANITIZED) {
        e[4] = NULL;
    }
    int st = run_broker(e, 0);
    if (st != RUNNING) {
        /* --mlockall alone may be refused here (RLIMIT_MEMLOCK): t_mlockall
         * checked that refusal. */
        wc_broker_dump_log(&g_b);
        assert_int_equal(st, 2);
        assert_true(it_log_has(&g_b, "ERROR --mlockall: "));
        return;
    }
    static char log[1 << 16];
    assert_true(wc_read_file(g_b.err_log, log, sizeof log) > 0);
    const char *c = strstr(log, "CPU affinity set (--cpu ");
    const char *m = IT_SANITIZED ? c + 1 : strstr(log, "memory locked (--mlockall)");
    const char *p = strstr(log, "realtime scheduling (--rt-priority 2)");
    const char *l = strstr(log, "listening on ");
    if (c == NULL || m == NULL || p == NULL || l == NULL || !(c < m && m < p && p < l)) {
        fprintf(stderr, "it: not in the order --cpu, --mlockall, --rt-priority, listening:\n%s",
                log);
        fail();
    }
    assert_int_equal(sched_getscheduler(g_b.pid), SCHED_FIFO);
    expect_serving();
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--deny-rt-exec") == 0) {
        deny_and_exec(argv + 2);
    }
    ssize_t l = readlink("/proc/self/exe", g_self, sizeof g_self - 1u);
    if (l <= 0) {
        perror("readlink /proc/self/exe");
        return 1;
    }
    g_self[l] = '\0';
    wc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(t_cpu_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(t_cpu_not_available, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rt_priority, setup, teardown),
        cmocka_unit_test_setup_teardown(t_rt_priority_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(t_mlockall, setup, teardown),
        cmocka_unit_test_setup_teardown(t_mlockall_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(t_all_three, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
