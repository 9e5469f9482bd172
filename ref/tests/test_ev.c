/* The multiplexer backends (ref/src/broker/ev*.c), each through ev.h on
 * socketpairs: readiness for reading and writing follows the interest set,
 * removed descriptors are not reported, a timeout returns 0, a hang-up is
 * reported, and the select backend refuses descriptors at FD_SETSIZE. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/broker/ev.h"

static const char *const names[] = {"select", "poll", "epoll"};

/* The events reported for fd, or 0. */
static unsigned ready_for(struct ev *e, int fd, int64_t timeout_ns)
{
    struct ev_ready r[16];
    int n = ev_wait(e, timeout_ns, NULL, r, 16);
    assert_true(n >= 0);
    unsigned ev = 0;
    for (int i = 0; i < n; i++) {
        if (r[i].fd == fd) {
            ev |= r[i].events;
        }
    }
    return ev;
}

static void t_readiness(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const struct ev_ops *ops = ev_find(names[k]);
        assert_non_null(ops);
        struct ev e;
        assert_int_equal(ev_open(&e, ops), 0);
        int sp[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        /* Nothing to read: a short wait times out. */
        assert_int_equal(ev_set(&e, sp[0], EV_READ), 0);
        assert_int_equal(ready_for(&e, sp[0], 1000000), 0u);
        /* Data: readable, and stays so (level-triggered) until read. */
        assert_int_equal(write(sp[1], "x", 1), 1);
        assert_int_equal(ready_for(&e, sp[0], 1000000000) & EV_READ, EV_READ);
        assert_int_equal(ready_for(&e, sp[0], 1000000000) & EV_READ, EV_READ);
        /* Interest changed to writing only: writable, not reported readable. */
        assert_int_equal(ev_set(&e, sp[0], EV_WRITE), 0);
        assert_int_equal(ready_for(&e, sp[0], 1000000000), EV_WRITE);
        /* Removed: not reported at all. */
        assert_int_equal(ev_set(&e, sp[0], 0u), 0);
        assert_int_equal(ready_for(&e, sp[0], 1000000), 0u);
        /* Back again, then the peer hangs up: reported for both. */
        char c;
        assert_int_equal(read(sp[0], &c, 1), 1);
        assert_int_equal(ev_set(&e, sp[0], EV_READ), 0);
        assert_int_equal(close(sp[1]), 0);
        assert_true((ready_for(&e, sp[0], 1000000000) & EV_READ) != 0u);
        assert_int_equal(ev_set(&e, sp[0], 0u), 0);
        assert_int_equal(close(sp[0]), 0);
        ev_close(&e);
    }
}

static void t_many_descriptors(void **state)
{
    (void)state;
    /* 300 pairs, one readable at a time: exactly that one is reported,
     * by every backend, after adds and removes in between. */
    enum { P = 300 };
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 2 * P + 32) {
        skip();
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        struct ev e;
        assert_int_equal(ev_open(&e, ev_find(names[k])), 0);
        static int sp[P][2];
        for (int i = 0; i < P; i++) {
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
            assert_int_equal(ev_set(&e, sp[i][0], EV_READ), 0);
        }
        for (int i = 0; i < P; i += 7) {
            assert_int_equal(ev_set(&e, sp[i][0], 0u), 0); /* removed ... */
        }
        for (int i = 0; i < P; i += 14) {
            assert_int_equal(ev_set(&e, sp[i][0], EV_READ), 0); /* ... half come back */
        }
        for (int i = 0; i < P; i += 13) {
            assert_int_equal(write(sp[i][1], "y", 1), 1);
            struct ev_ready r[8];
            int n = ev_wait(&e, 1000000000, NULL, r, 8);
            int watched = i % 7 != 0 || i % 14 == 0;
            if (watched) {
                assert_int_equal(n, 1);
                assert_int_equal(r[0].fd, sp[i][0]);
                char c;
                assert_int_equal(read(sp[i][0], &c, 1), 1);
            } else {
                n = ev_wait(&e, 1000000, NULL, r, 8);
                assert_int_equal(n, 0);
            }
        }
        for (int i = 0; i < P; i++) {
            (void)ev_set(&e, sp[i][0], 0u);
            assert_int_equal(close(sp[i][0]), 0);
            assert_int_equal(close(sp[i][1]), 0);
        }
        ev_close(&e);
    }
}

static void t_select_refuses_high_descriptors(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur <= FD_SETSIZE) {
        rl.rlim_cur = rl.rlim_max;
        if (rl.rlim_cur <= FD_SETSIZE || setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            skip();
        }
    }
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    int high = dup2(sp[0], FD_SETSIZE);
    assert_int_equal(high, FD_SETSIZE);
    struct ev e;
    assert_int_equal(ev_open(&e, &ev_select_ops), 0);
    errno = 0;
    assert_int_equal(ev_set(&e, high, EV_READ), -1);
    assert_int_equal(errno, ERANGE);
    assert_int_equal(ev_set(&e, FD_SETSIZE - 1, 0u), 0);
    ev_close(&e);
    /* The others watch it. */
    assert_int_equal(ev_open(&e, &ev_epoll_ops), 0);
    assert_int_equal(ev_set(&e, high, EV_READ), 0);
    assert_int_equal(write(sp[1], "z", 1), 1);
    assert_int_equal(ready_for(&e, high, 1000000000), EV_READ);
    assert_int_equal(ev_set(&e, high, 0u), 0);
    ev_close(&e);
    assert_int_equal(ev_open(&e, &ev_poll_ops), 0);
    assert_int_equal(ev_set(&e, high, EV_READ), 0);
    assert_int_equal(ready_for(&e, high, 1000000000), EV_READ);
    ev_close(&e);
    assert_int_equal(close(high), 0);
    assert_int_equal(close(sp[0]), 0);
    assert_int_equal(close(sp[1]), 0);
}

static void t_names(void **state)
{
    (void)state;
    assert_null(ev_find("kqueue"));
    assert_ptr_equal(ev_find(ev_default()->name), ev_default());
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        assert_string_equal(ev_find(names[k])->name, names[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_names),
        cmocka_unit_test(t_readiness),
        cmocka_unit_test(t_many_descriptors),
        cmocka_unit_test(t_select_refuses_high_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
