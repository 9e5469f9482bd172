/* Integration: access control (busrtd --acl FILE), socket file mode, and
 * SIGHUP reloads. Each test starts its own broker with its own file. */
#define _DEFAULT_SOURCE
#include "itest.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

static struct wc_broker g_b;
static char g_acl[256];
static pid_t g_daemon = 0;

static int setup(void **state)
{
    (void)state;
    memset(&g_b, 0, sizeof g_b);
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
    return 0;
}

static void write_acl(const char *text)
{
    char tmp[300];
    (void)snprintf(tmp, sizeof tmp, "%s.new", g_acl);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, g_acl), 0); /* readers see old or new, whole */
}

/* Starts a broker whose --acl file holds text (extra: more options). */
static void start_with_acl(const char *text, const char *const *extra)
{
    assert_int_equal(wc_broker_init(&g_b), 0);
    (void)snprintf(g_acl, sizeof g_acl, "%s/acl.json", g_b.dir);
    write_acl(text);
    const char *args[16] = {"-B", g_b.sock, "-P", g_b.pidfile, "--acl", g_acl};
    size_t n = 6;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 15; i++) {
        args[n++] = extra[i];
    }
    args[n] = NULL;
    assert_int_equal(wc_broker_spawn(&g_b, args), 0);
    assert_int_equal(wc_broker_wait_ready(&g_b, g_b.sock, wc_ms(5000)), 0);
}

/* Connects and returns the registration reply code (or -1). */
static int try_register(const char *name)
{
    int fd = wc_connect(g_b.sock, IT_T);
    assert_true(fd >= 0);
    int code = wc_handshake(fd, name, strlen(name), IT_T);
    wc_close(fd);
    return code;
}

static const char k_rules[] =
    "{\"busrt_acl\": 1, \"clients\": ["
    " {\"name\": \"ac.pub\", \"publish\": [\"ac/open/#\"], \"message\": [\"ac.sub\", \".broker\"],"
    "  \"broadcast\": [\"ac.?\"], \"subscribe\": []},"
    " {\"name\": \"ac.sub\", \"subscribe\": [\"ac/open/#\", \"ac/+/x\"], \"publish\": []},"
    " {\"name\": \"ac.*\"}"
    "]}";

static void t_registration(void **state)
{
    (void)state;
    start_with_acl(k_rules, NULL);
    assert_int_equal(try_register("ac.pub"), BUSRT_RC_OK);
    assert_int_equal(try_register("ac.other"), BUSRT_RC_OK); /* mask entry */
    assert_int_equal(try_register("stranger"), BUSRT_RC_ACCESS);
    assert_int_equal(try_register("ac"), BUSRT_RC_ACCESS); /* ac.* needs a second chunk */
    /* a secondary follows its primary's entry, even when its primary is absent */
    assert_int_equal(try_register("stranger%%w"), BUSRT_RC_ACCESS);
    int p = it_reg(g_b.sock, "ac.pub");
    assert_int_equal(try_register("ac.pub%%w"), BUSRT_RC_OK);
    wc_close(p);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_operations(void **state)
{
    (void)state;
    start_with_acl(k_rules, NULL);
    int pub = it_reg(g_b.sock, "ac.pub");
    int sub = it_reg(g_b.sock, "ac.sub");
    int other = it_reg(g_b.sock, "ac.o");
    /* subscribe: allowed patterns are taken, the denied one is not; 79 */
    const char *topics[] = {"ac/open/#", "ac/closed/#", "ac/y/x"};
    assert_int_equal(wc_send_topics(sub, BUSRT_OP_SUBSCRIBE, 1, 10, topics, 3), 0);
    it_expect_ack(sub, 10, BUSRT_RC_ACCESS);
    /* publish: allowed topic delivered; denied topic ACKed 79, not delivered */
    assert_int_equal(wc_send_pub(pub, 1, 11, "ac/open/1", "ok", 2), 0);
    it_expect_ack(pub, 11, BUSRT_RC_OK);
    it_expect_pub(sub, "ac.pub", "ac/open/1", "ok");
    assert_int_equal(wc_send_pub(pub, 1, 12, "ac/closed/1", "no", 2), 0);
    it_expect_ack(pub, 12, BUSRT_RC_ACCESS);
    /* ac.sub may publish nothing */
    assert_int_equal(wc_send_pub(sub, 1, 13, "ac/y/x", "no", 2), 0);
    it_expect_ack(sub, 13, BUSRT_RC_ACCESS);
    it_expect_silence(sub, 200);
    /* message: allowed target, then a denied one (no delivery) */
    assert_int_equal(wc_send_msg(pub, 1, 14, "ac.sub", "hi", 2), 0);
    it_expect_ack(pub, 14, BUSRT_RC_OK);
    it_expect_msg(sub, "ac.pub", "hi");
    assert_int_equal(wc_send_msg(pub, 1, 15, "ac.o", "hi", 2), 0);
    it_expect_ack(pub, 15, BUSRT_RC_ACCESS);
    it_expect_silence(other, 200);
    /* broadcast: a mask within "ac.?" is allowed, a wider one is not */
    assert_int_equal(wc_send_bcast(pub, 1, 16, "ac.*", "wide", 4), 0);
    it_expect_ack(pub, 16, BUSRT_RC_ACCESS);
    assert_int_equal(wc_send_bcast(pub, 1, 17, "ac.?", "narrow", 6), 0);
    /* the sender matches its own mask: its copy comes before the ACK */
    it_expect_frame(pub, BUSRT_KIND_BROADCAST, "ac.pub", NULL, "narrow", 6, -1);
    it_expect_ack(pub, 17, BUSRT_RC_OK);
    it_expect_frame(other, BUSRT_KIND_BROADCAST, "ac.pub", NULL, "narrow", 6, -1);
    it_expect_frame(sub, BUSRT_KIND_BROADCAST, "ac.pub", NULL, "narrow", 6, -1);
    /* an entry without lists allows everything; the connection stays open */
    assert_int_equal(wc_send_pub(other, 1, 18, "ac/y/x", "any", 3), 0);
    it_expect_ack(other, 18, BUSRT_RC_OK);
    it_expect_pub(sub, "ac.o", "ac/y/x", "any");
    wc_close(pub);
    wc_close(sub);
    wc_close(other);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_sources(void **state)
{
    (void)state;
    char rules[512];
    (void)snprintf(rules, sizeof rules,
                   "{\"busrt_acl\": 1, \"clients\": ["
                   " {\"name\": \"src.me\", \"unix_uids\": [%lu]},"
                   " {\"name\": \"src.notme\", \"unix_uids\": [%lu]},"
                   " {\"name\": \"src.tcp\", \"tcp\": [\"127.0.0.0/8\"]},"
                   " {\"name\": \"src.far\", \"tcp\": [\"10.0.0.0/8\"]}]}",
                   (unsigned long)getuid(), (unsigned long)getuid() + 1u);
    int port = wc_free_tcp_port();
    char tcp[64];
    (void)snprintf(tcp, sizeof tcp, "127.0.0.1:%d", port);
    const char *extra[] = {"-B", tcp, NULL};
    start_with_acl(rules, extra);
    assert_int_equal(wc_broker_wait_ready(&g_b, tcp, wc_ms(5000)), 0);
    assert_int_equal(try_register("src.me"), BUSRT_RC_OK);
    assert_int_equal(try_register("src.notme"), BUSRT_RC_ACCESS);
    int fd = wc_connect(tcp, IT_T);
    assert_int_equal(wc_handshake(fd, "src.tcp", 7, IT_T), BUSRT_RC_OK);
    wc_close(fd);
    fd = wc_connect(tcp, IT_T);
    assert_int_equal(wc_handshake(fd, "src.far", 7, IT_T), BUSRT_RC_ACCESS);
    wc_close(fd);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_reload(void **state)
{
    (void)state;
    start_with_acl(k_rules, NULL);
    int pub = it_reg(g_b.sock, "ac.pub");
    int sub = it_reg(g_b.sock, "ac.sub");
    int o = it_reg(g_b.sock, "ac.o");
    const char *topics[] = {"ac/open/#", "ac/y/x"};
    assert_int_equal(wc_send_topics(sub, BUSRT_OP_SUBSCRIBE, 1, 1, topics, 2), 0);
    it_expect_ack(sub, 1, BUSRT_RC_OK);
    /* A bad file is rejected; the old rules stay and nobody is dropped. */
    write_acl("{\"busrt_acl\": 1, \"clients\": [{\"name\": 5}]}");
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    for (int i = 0; i < 50 && !it_log_has(&g_b, "keeping the previous policy"); i++) {
        wc_sleep_ms(50);
    }
    assert_true(it_log_has(&g_b, "keeping the previous policy"));
    it_roundtrip(pub, "ac.pub", sub, "ac.sub", "still", 2);
    /* The new file drops ac.o, and takes ac/y/x away from ac.sub. */
    write_acl("{\"busrt_acl\": 1, \"clients\": ["
              " {\"name\": \"ac.pub\"},"
              " {\"name\": \"ac.sub\", \"subscribe\": [\"ac/open/#\"]}]}");
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    it_expect_eof(o, IT_T);
    assert_int_equal(wc_send_pub(pub, 1, 3, "ac/y/x", "gone", 4), 0);
    it_expect_ack(pub, 3, BUSRT_RC_OK);
    assert_int_equal(wc_send_pub(pub, 1, 4, "ac/open/z", "kept", 4), 0);
    it_expect_ack(pub, 4, BUSRT_RC_OK);
    it_expect_pub(sub, "ac.pub", "ac/open/z", "kept"); /* and nothing before it */
    assert_int_equal(try_register("ac.o"), BUSRT_RC_ACCESS);
    wc_close(pub);
    wc_close(sub);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_bad_file_at_start(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    (void)snprintf(g_acl, sizeof g_acl, "%s/acl.json", g_b.dir);
    write_acl("{\"busrt_acl\": 1, \"clients\": [{\"name\": \"x\", \"tcp\": [\"300.1.1.1\"]}]}");
    const char *args[] = {"-B", g_b.sock, "--acl", g_acl, NULL};
    assert_int_equal(wc_broker_spawn(&g_b, args), 0);
    assert_int_equal(wc_broker_wait_exit(&g_b, wc_ms(10000)), 1);
    assert_true(it_log_has(&g_b, "tcp[0]"));
    assert_false(it_exists(g_b.sock));
}

/* Runs busrtd with --acl path until it exits; returns the status and its
 * standard error in err. */
static int start_fails(const char *path, char *err, size_t cap)
{
    assert_int_equal(wc_broker_init(&g_b), 0);
    const char *args[] = {"-B", g_b.sock, "-P", g_b.pidfile, "--acl", path, NULL};
    assert_int_equal(wc_broker_spawn(&g_b, args), 0);
    int st = wc_broker_wait_exit(&g_b, wc_ms(10000));
    assert_true(wc_read_file(g_b.err_log, err, cap) > 0);
    fprintf(stderr, "it: --acl %s: status %d, stderr:\n%s", path, st, err);
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(g_b.pidfile));
    return st;
}

/* A file that is not there, or a directory: the reason in words, no line
 * number, and the broker does not start. */
static void t_unreadable_file_at_start(void **state)
{
    (void)state;
    static char err[1 << 16];
    char path[300], want[512];
    (void)snprintf(path, sizeof path, "/tmp/busrt-it-no-such-dir-%d/nope.json", (int)getpid());
    assert_int_equal(start_fails(path, err, sizeof err), 1);
    (void)snprintf(want, sizeof want, "\nbusrtd: --acl %s: cannot open: %s; not starting\n",
                   path, strerror(ENOENT));
    assert_non_null(strstr(err, want));
    assert_null(strstr(err, "line "));
    assert_null(strstr(err, "start-up failed"));
    wc_broker_cleanup(&g_b);

    char dir[] = "/tmp/busrt-it-acldir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int st = start_fails(dir, err, sizeof err);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(st, 1);
    (void)snprintf(want, sizeof want,
                   "\nbusrtd: --acl %s: is a directory, expected a JSON file; not starting\n",
                   dir);
    assert_non_null(strstr(err, want));
    assert_null(strstr(err, "line "));
}

/* The same reasons on SIGHUP, ending "keeping the previous policy"; the
 * rules in force stay. */
static void t_unreadable_file_at_reload(void **state)
{
    (void)state;
    start_with_acl(k_rules, NULL);
    int pub = it_reg(g_b.sock, "ac.pub");
    int sub = it_reg(g_b.sock, "ac.sub");
    char want[512];
    assert_int_equal(unlink(g_acl), 0);
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    (void)snprintf(want, sizeof want, "ERROR --acl %s: cannot open: %s; keeping the previous "
                   "policy\n", g_acl, strerror(ENOENT));
    for (int i = 0; i < 100 && !it_log_has(&g_b, want); i++) {
        wc_sleep_ms(50);
    }
    if (!it_log_has(&g_b, want)) {
        wc_broker_dump_log(&g_b);
    }
    assert_true(it_log_has(&g_b, want));
    assert_int_equal(mkdir(g_acl, 0700), 0);
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    (void)snprintf(want, sizeof want, "ERROR --acl %s: is a directory, expected a JSON file; "
                   "keeping the previous policy\n", g_acl);
    for (int i = 0; i < 100 && !it_log_has(&g_b, want); i++) {
        wc_sleep_ms(50);
    }
    assert_true(it_log_has(&g_b, want));
    assert_false(it_log_has(&g_b, "line "));
    /* the previous rules: ac.pub may still message ac.sub, not ac.o */
    it_roundtrip(pub, "ac.pub", sub, "ac.sub", "kept", 1);
    assert_int_equal(wc_send_msg(pub, 1, 2, "ac.o", "no", 2), 0);
    it_expect_ack(pub, 2, BUSRT_RC_ACCESS);
    assert_int_equal(try_register("stranger"), BUSRT_RC_ACCESS);
    assert_int_equal(rmdir(g_acl), 0);
    wc_close(pub);
    wc_close(sub);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

/* ---- Reload counters in .broker stats ---------------------------------- */

struct acl_stats {
    uint64_t reloads, failures;
    char last_error[1024];
};

static void acl_stats(int fd, struct acl_stats *st)
{
    static uint32_t op = 900;
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    assert_int_equal(it_broker_call(fd, ++op, "stats", &f), BUSRT_RC_OK);
    struct busrt_rpc_header h;
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_REPLY);
    const uint8_t *mp = f.payload + h.data.off;
    size_t ml = h.data.len, v;
    assert_int_equal(wc_mp_map_find(mp, ml, 0, "acl_reloads", &v), 0);
    assert_int_equal(wc_mp_read_uint(mp, ml, &v, &st->reloads), 0);
    assert_int_equal(wc_mp_map_find(mp, ml, 0, "acl_reload_failures", &v), 0);
    assert_int_equal(wc_mp_read_uint(mp, ml, &v, &st->failures), 0);
    assert_true(wc_mp_map_str(mp, ml, "acl_last_error", st->last_error,
                              sizeof st->last_error) >= 0);
    wc_frame_free(&f);
}

/* Polls stats on fd until acl_reloads + acl_reload_failures reaches n. */
static void wait_reloads(int fd, uint64_t n, struct acl_stats *st)
{
    int64_t deadline = wc_now_ms() + wc_ms(5000);
    for (;;) {
        acl_stats(fd, st);
        if (st->reloads + st->failures >= n || wc_now_ms() >= deadline) {
            break;
        }
        wc_sleep_ms(20);
    }
    fprintf(stderr, "it: acl_reloads %llu, acl_reload_failures %llu, acl_last_error '%s'\n",
            (unsigned long long)st->reloads, (unsigned long long)st->failures,
            st->last_error);
    assert_true(st->reloads + st->failures >= n);
}

/* ac.caller may call .broker; ac.admin may do anything. */
static const char k_caller_allowed[] =
    "{\"busrt_acl\": 1, \"clients\": ["
    " {\"name\": \"ac.caller\", \"message\": [\".broker\"]},"
    " {\"name\": \"ac.admin\"}]}";
/* The same, with .broker taken away from ac.caller. */
static const char k_caller_revoked[] =
    "{\"busrt_acl\": 1, \"clients\": ["
    " {\"name\": \"ac.caller\", \"message\": [\"ac.*\"]},"
    " {\"name\": \"ac.admin\"}]}";

/* Asserts that fd may call .broker test and gets {"ok": true}. */
static void call_test_allowed(int fd, uint32_t op_id)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    assert_int_equal(it_broker_call(fd, op_id, "test", &f), BUSRT_RC_OK);
    struct busrt_rpc_header h;
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_REPLY);
    const uint8_t ok[] = {0x81, 0xA2, 0x6F, 0x6B, 0xC3};
    assert_int_equal(h.data.len, sizeof ok);
    assert_memory_equal(f.payload + h.data.off, ok, sizeof ok);
    wc_frame_free(&f);
}

/* The same call is refused with 79 and answered by nothing else. */
static void call_test_denied(int fd, uint32_t op_id)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    assert_int_equal(it_broker_call(fd, op_id, "test", &f), BUSRT_RC_ACCESS);
    wc_frame_free(&f);
    it_expect_silence(fd, 200);
}

/* busrtd -B SOCK -P rel.pid --acl rel_acl.json -D, started in the test's
 * directory: the daemon (in /) reloads the file the relative path named,
 * and a revocation takes effect. */
static void t_revoke_daemonized(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_init(&g_b), 0);
    (void)snprintf(g_acl, sizeof g_acl, "%s/rel_acl.json", g_b.dir);
    write_acl(k_caller_allowed);
    char pid[256];
    (void)snprintf(pid, sizeof pid, "%s/rel.pid", g_b.dir);
    const char *args[] = {"-B", g_b.sock, "-P", "rel.pid", "--acl", "rel_acl.json", "-D", NULL};
    assert_int_equal(wc_broker_spawn_in(&g_b, g_b.dir, args), 0);
    int st = wc_broker_wait_exit(&g_b, wc_ms(10000));
    if (st != 0) {
        wc_broker_dump_log(&g_b);
    }
    assert_int_equal(st, 0);
    assert_true(it_log_has(&g_b, "logging to syslog"));
    assert_int_equal(wc_broker_wait_ready(&g_b, g_b.sock, wc_ms(5000)), 0);
    char buf[64] = "";
    int64_t deadline = wc_now_ms() + wc_ms(5000);
    while (wc_read_file(pid, buf, sizeof buf) <= 0 && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    g_daemon = (pid_t)strtol(buf, NULL, 10);
    assert_true(g_daemon > 1);

    int caller = it_reg(g_b.sock, "ac.caller");
    int admin = it_reg(g_b.sock, "ac.admin");
    call_test_allowed(caller, 1);
    struct acl_stats s0;
    acl_stats(admin, &s0);
    assert_int_equal(s0.reloads, 0);
    assert_int_equal(s0.failures, 0);
    assert_string_equal(s0.last_error, "");

    write_acl(k_caller_revoked);
    assert_int_equal(kill(g_daemon, SIGHUP), 0);
    struct acl_stats s1;
    wait_reloads(admin, 1, &s1);
    assert_int_equal(s1.reloads, 1);
    assert_int_equal(s1.failures, 0);
    assert_string_equal(s1.last_error, "");
    call_test_denied(caller, 2);
    /* the entry still admits ac.caller: it stays connected, within its rules */
    it_roundtrip(caller, "ac.caller", admin, "ac.admin", "still-here", 3);

    assert_int_equal(kill(g_daemon, SIGTERM), 0);
    deadline = wc_now_ms() + wc_ms(20000);
    while ((it_exists(g_b.sock) || it_exists(pid)) && wc_now_ms() < deadline) {
        wc_sleep_ms(20);
    }
    assert_false(it_exists(g_b.sock));
    assert_false(it_exists(pid));
    g_daemon = 0;
    wc_close(caller);
    wc_close(admin);
}

/* A reload of a broken file keeps the policy in force, counts in
 * acl_reload_failures and says why in acl_last_error; a good file then
 * applies and clears acl_last_error. */
static void t_broken_reload_keeps_policy(void **state)
{
    (void)state;
    start_with_acl(k_caller_allowed, NULL);
    int caller = it_reg(g_b.sock, "ac.caller");
    int admin = it_reg(g_b.sock, "ac.admin");
    call_test_allowed(caller, 1);
    /* the revocation, with a syntax error in it */
    write_acl("{\"busrt_acl\": 1, \"clients\": ["
              " {\"name\": \"ac.caller\", \"message\": [\"ac.*\"]},"
              " {\"name\": \"ac.admin\"}");
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    struct acl_stats s;
    wait_reloads(admin, 1, &s);
    assert_int_equal(s.reloads, 0);
    assert_int_equal(s.failures, 1);
    char want[600];
    (void)snprintf(want, sizeof want, "--acl %s: not valid JSON: line 1, column ", g_acl);
    assert_true(strncmp(s.last_error, want, strlen(want)) == 0);
    assert_true(it_log_has(&g_b, "keeping the previous policy"));
    call_test_allowed(caller, 2); /* the previous policy */
    /* a second failure: an unreadable file */
    assert_int_equal(unlink(g_acl), 0);
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    wait_reloads(admin, 2, &s);
    assert_int_equal(s.failures, 2);
    (void)snprintf(want, sizeof want, "--acl %s: cannot open: %s", g_acl, strerror(ENOENT));
    assert_string_equal(s.last_error, want);
    call_test_allowed(caller, 3);
    /* the revocation, now valid */
    write_acl(k_caller_revoked);
    assert_int_equal(kill(g_b.pid, SIGHUP), 0);
    wait_reloads(admin, 3, &s);
    assert_int_equal(s.reloads, 1);
    assert_int_equal(s.failures, 2);
    assert_string_equal(s.last_error, "");
    call_test_denied(caller, 4);
    wc_close(caller);
    wc_close(admin);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_socket_mode(void **state)
{
    (void)state;
    const char *extra[] = {"--socket-mode", "0600", NULL};
    start_with_acl("{\"busrt_acl\": 1, \"clients\": [{\"name\": \"*\"}]}", extra);
    struct stat st;
    assert_int_equal(stat(g_b.sock, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(try_register("any.name"), BUSRT_RC_OK);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

int main(void)
{
    wc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(t_operations, setup, teardown),
        cmocka_unit_test_setup_teardown(t_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(t_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(t_bad_file_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unreadable_file_at_start, setup, teardown),
        cmocka_unit_test_setup_teardown(t_unreadable_file_at_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(t_revoke_daemonized, setup, teardown),
        cmocka_unit_test_setup_teardown(t_broken_reload_keeps_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(t_socket_mode, setup, teardown),
    };
    return cmocka_run_group_tests_name("access control", tests, NULL, NULL);
}
