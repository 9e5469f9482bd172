/* Access control file: parsing and refusals with clear reasons, source
 * rules, and the pattern-containment rule behind subscribe and broadcast
 * allow-lists, checked exhaustively against a brute-force definition. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/broker/acl.h"
#include "busrt/match.h"

#define U8(s) ((const uint8_t *)(s))

static char g_path[64];

static struct acl *load_text(const char *text, char *err, size_t errlen)
{
    (void)snprintf(g_path, sizeof g_path, "/tmp/busrt-acl-%d.json", (int)getpid());
    FILE *f = fopen(g_path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    struct acl *a = acl_load(g_path, err, errlen);
    (void)unlink(g_path);
    return a;
}

static void t_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{", "not valid JSON: line 1, column 1: "},
        {"", "is empty, expected a JSON object"},
        {"[]", "the top level must be a JSON object"},
        {"{\"clients\": []}", "busrt_acl"},
        {"{\"busrt_acl\": 2, \"clients\": []}", "busrt_acl"},
        {"{\"busrt_acl\": 1}", "clients"},
        {"{\"busrt_acl\": 1, \"clients\": [], \"extra\": 1}", "unknown top-level key"},
        {"{\"busrt_acl\": 1, \"clients\": [{\"nam\": \"x\"}]}", "unknown key \"nam\""},
        {"{\"busrt_acl\": 1, \"clients\": [{\"name\": \"\"}]}", "non-empty"},
        {"{\"busrt_acl\": 1, \"clients\": [{\"name\": \"a\", \"tcp\": [\"10.0.0.0/33\"]}]}",
         "tcp[0]"},
        {"{\"busrt_acl\": 1, \"clients\": [{\"name\": \"a\", \"tcp\": [\"x\"]}]}", "tcp[0]"},
        {"{\"busrt_acl\": 1, \"clients\": [{\"name\": \"a\", \"unix_uids\": [-1]}]}",
         "unix_uids[0]"},
        {"{\"busrt_acl\": 1, \"clients\": [{\"name\": \"a\", \"publish\": [1]}]}",
         "publish[0]"},
        {"{\"busrt_acl\": 1, \"clients\": [{\"name\": \"a\", \"subscribe\": \"x\"}]}",
         "subscribe must be an array"},
        {"{\"busrt_acl\": 1, \"busrt_acl\": 1, \"clients\": []}", "duplicate"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        struct acl *a = load_text(bad[i].text, err, sizeof err);
        /* The caller names the file ("--acl PATH: REASON"): not the reason. */
        if (a != NULL || strstr(err, bad[i].needle) == NULL || strstr(err, g_path) != NULL) {
            fail_msg("file %zu: accepted or unclear error '%s' (want '%s')", i, err,
                     bad[i].needle);
        }
    }
}

/* Files that are not there or not files: the reason, no line number. */
static void t_unreadable_files(void **state)
{
    (void)state;
    char err[512] = "";
    char dir[64];
    (void)snprintf(dir, sizeof dir, "/tmp/busrt-acl-dir-%d", (int)getpid());
    assert_int_equal(mkdir(dir, 0700), 0);
    char missing[96];
    (void)snprintf(missing, sizeof missing, "%s/nope.json", dir);
    assert_null(acl_load(missing, err, sizeof err));
    char want[256];
    (void)snprintf(want, sizeof want, "cannot open: %s", strerror(ENOENT));
    assert_string_equal(err, want);
    assert_null(acl_load(dir, err, sizeof err));
    assert_string_equal(err, "is a directory, expected a JSON file");
    char fifo[96];
    (void)snprintf(fifo, sizeof fifo, "%s/acl.fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(acl_load(fifo, err, sizeof err)); /* and does not wait for a writer */
    assert_string_equal(err, "is not a regular file, expected a JSON file");
    assert_int_equal(unlink(fifo), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void t_find_and_sources(void **state)
{
    (void)state;
    char err[512];
    struct acl *a = load_text(
        "{\"busrt_acl\": 1, \"clients\": ["
        " {\"name\": \"app.*\", \"tcp\": [\"127.0.0.0/8\", \"::1\"]},"
        " {\"name\": \"app.db\", \"tcp\": [], \"unix_uids\": [4242]},"
        " {\"name\": \"ops\", \"unix_gids\": [7]}]}",
        err, sizeof err);
    assert_non_null(a);
    assert_int_equal(acl_entries(a), 3);
    const struct acl_entry *db = acl_find(a, U8("app.db"), 6);
    const struct acl_entry *web = acl_find(a, U8("app.web"), 7);
    assert_non_null(db);
    assert_non_null(web);
    assert_ptr_not_equal(db, web); /* the exact entry wins over the mask */
    assert_null(acl_find(a, U8("app"), 3));
    assert_null(acl_find(a, U8("other"), 5));

    struct acl_peer p;
    memset(&p, 0, sizeof p);
    p.is_tcp = 1;
    struct sockaddr_in *in = (struct sockaddr_in *)&p.addr;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "127.1.2.3", &in->sin_addr), 1);
    assert_true(acl_peer_ok(web, &p));
    assert_false(acl_peer_ok(db, &p)); /* "tcp": [] allows no TCP source */
    assert_int_equal(inet_pton(AF_INET, "10.1.2.3", &in->sin_addr), 1);
    assert_false(acl_peer_ok(web, &p));
    memset(&p.addr, 0, sizeof p.addr);
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&p.addr;
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::1", &in6->sin6_addr), 1);
    assert_true(acl_peer_ok(web, &p));
    assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.9", &in6->sin6_addr), 1);
    assert_true(acl_peer_ok(web, &p)); /* IPv4-mapped counts as IPv4 */
    assert_int_equal(inet_pton(AF_INET6, "::2", &in6->sin6_addr), 1);
    assert_false(acl_peer_ok(web, &p));

    memset(&p, 0, sizeof p);
    assert_true(acl_peer_ok(web, &p)); /* no UNIX rules: any local peer */
    assert_false(acl_peer_ok(db, &p)); /* rules but no credentials */
    p.has_cred = 1;
    p.uid = 4242;
    p.gid = 1;
    assert_true(acl_peer_ok(db, &p));
    p.uid = 4243;
    assert_false(acl_peer_ok(db, &p));
    const struct acl_entry *ops = acl_find(a, U8("ops"), 3);
    p.gid = 7;
    assert_true(acl_peer_ok(ops, &p));
    acl_free(a);
}

static void t_allows(void **state)
{
    (void)state;
    char err[512];
    struct acl *a = load_text(
        "{\"busrt_acl\": 1, \"clients\": [{\"name\": \"x\","
        " \"message\": [\"app.*\", \".broker\"], \"publish\": [\"x/#\"],"
        " \"subscribe\": [\"x/+/y\", \"z/#\"], \"broadcast\": [\"app.?\"]},"
        " {\"name\": \"open\"}, {\"name\": \"closed\", \"publish\": []}]}",
        err, sizeof err);
    assert_non_null(a);
    const struct acl_entry *x = acl_find(a, U8("x"), 1);
    assert_true(acl_allows(x, ACL_MESSAGE, U8("app.db"), 6));
    assert_true(acl_allows(x, ACL_MESSAGE, U8(".broker"), 7));
    assert_false(acl_allows(x, ACL_MESSAGE, U8("app"), 3));
    assert_true(acl_allows(x, ACL_PUBLISH, U8("x/1/2"), 5));
    assert_false(acl_allows(x, ACL_PUBLISH, U8("x"), 1));
    assert_true(acl_allows(x, ACL_SUBSCRIBE, U8("x/a/y"), 5));
    assert_true(acl_allows(x, ACL_SUBSCRIBE, U8("x/+/y"), 5));
    assert_false(acl_allows(x, ACL_SUBSCRIBE, U8("x/#"), 3));
    assert_true(acl_allows(x, ACL_SUBSCRIBE, U8("z/+/#"), 5));
    assert_false(acl_allows(x, ACL_SUBSCRIBE, U8("#"), 1));
    assert_true(acl_allows(x, ACL_BROADCAST, U8("app.a"), 5));
    assert_false(acl_allows(x, ACL_BROADCAST, U8("app.*"), 5));
    assert_false(acl_allows(x, ACL_BROADCAST, U8("*"), 1));
    const struct acl_entry *open = acl_find(a, U8("open"), 4);
    assert_true(acl_allows(open, ACL_SUBSCRIBE, U8("#"), 1)); /* omitted list: all */
    const struct acl_entry *closed = acl_find(a, U8("closed"), 6);
    assert_false(acl_allows(closed, ACL_PUBLISH, U8("a"), 1)); /* empty list: none */
    acl_free(a);
}

/* Brute force: sub is within allow when every topic of up to 6 bytes over
 * {a, /, +, #} that sub matches is matched by allow (in a topic, + and #
 * are literal bytes, so they must be in the topic alphabet too). */
static void t_within_exhaustive(void **state)
{
    (void)state;
    static const char alpha[] = "a/+#";
    static char topics[5461][8];
    static size_t tlen[5461];
    size_t nt = 0;
    for (size_t len = 0; len <= 6; len++) {
        size_t count = 1;
        for (size_t i = 0; i < len; i++) count *= 4;
        for (size_t k = 0; k < count; k++) {
            size_t x = k;
            for (size_t i = 0; i < len; i++) {
                topics[nt][i] = alpha[x % 4];
                x /= 4;
            }
            tlen[nt++] = len;
        }
    }
    static char pats[85][4];
    static size_t plen[85];
    size_t np = 0;
    for (size_t len = 0; len <= 3; len++) {
        size_t count = 1;
        for (size_t i = 0; i < len; i++) count *= 4;
        for (size_t k = 0; k < count; k++) {
            size_t x = k;
            for (size_t i = 0; i < len; i++) {
                pats[np][i] = alpha[x % 4];
                x /= 4;
            }
            plen[np++] = len;
        }
    }
    size_t checked = 0;
    for (size_t s = 0; s < np; s++) {
        for (size_t a = 0; a < np; a++) {
            int want = 1;
            for (size_t t = 0; t < nt && want; t++) {
                if (busrt_topic_matches(U8(pats[s]), plen[s], U8(topics[t]), tlen[t]) &&
                    !busrt_topic_matches(U8(pats[a]), plen[a], U8(topics[t]), tlen[t])) {
                    want = 0;
                }
            }
            int got = acl_pattern_within(U8(pats[s]), plen[s], U8(pats[a]), plen[a], '/', '+',
                                         '#');
            if (got != want) {
                fail_msg("'%.*s' within '%.*s': %d, brute force %d", (int)plen[s], pats[s],
                         (int)plen[a], pats[a], got, want);
            }
            checked++;
        }
    }
    printf("[ acl      ] %zu pattern pairs agree with brute force\n", checked);
}

/* The documented example file loads. */
static void t_example_file(void **state)
{
    (void)state;
    char err[512] = "";
    struct acl *a = acl_load("contrib/acl.example.json", err, sizeof err);
    if (a == NULL) {
        fail_msg("%s", err);
    }
    assert_int_equal(acl_entries(a), 3);
    assert_non_null(acl_find(a, U8("plant.hmi.panel1"), 16));
    acl_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_bad_files),
        cmocka_unit_test(t_unreadable_files),
        cmocka_unit_test(t_find_and_sources),
        cmocka_unit_test(t_allows),
        cmocka_unit_test(t_within_exhaustive),
        cmocka_unit_test(t_example_file),
    };
    return cmocka_run_group_tests_name("access control", tests, NULL, NULL);
}
