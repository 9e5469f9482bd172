/* The deadline heap (ref/src/broker/timer.c) against a plain array model:
 * after every set, lower and remove, the first node is one with the least
 * time, every node knows its place, and popping yields times in order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "../src/broker/timer.h"

#define N 200

struct model {
    struct timer t[N];
    int in[N];
    int64_t at[N];
};

static void check(const struct timers *h, const struct model *m)
{
    size_t count = 0;
    int64_t least = INT64_MAX;
    for (size_t i = 0; i < N; i++) {
        if (!m->in[i]) {
            assert_int_equal(m->t[i].pos, 0);
            continue;
        }
        count++;
        assert_true(m->t[i].pos >= 1u && m->t[i].pos <= h->n);
        assert_ptr_equal(h->v[m->t[i].pos - 1u], &m->t[i]);
        assert_true(m->t[i].at == m->at[i]);
        if (m->at[i] < least) {
            least = m->at[i];
        }
    }
    assert_int_equal(count, h->n);
    for (size_t i = 1; i < h->n; i++) { /* the heap order itself */
        assert_true(h->v[(i - 1u) / 2u]->at <= h->v[i]->at);
    }
    const struct timer *first = timers_first(h);
    if (count == 0) {
        assert_null(first);
    } else {
        assert_non_null(first);
        assert_true(first->at == least);
    }
}

static void t_random_ops(void **state)
{
    (void)state;
    static struct model m;
    struct timers h = {0};
    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t i = (size_t)rand() % N;
        int64_t at = (int64_t)(rand() % 1000);
        switch (rand() % 4) {
        case 0: /* set: insert, or move either way */
            if (!m.in[i]) {
                assert_int_equal(timers_reserve(&h), 0);
            }
            timers_set(&h, &m.t[i], at);
            m.in[i] = 1;
            m.at[i] = at;
            break;
        case 1: /* lower: only ever earlier */
            if (m.in[i]) {
                timers_lower(&h, &m.t[i], at);
                if (at < m.at[i]) {
                    m.at[i] = at;
                }
            }
            break;
        case 2:
            timers_remove(&h, &m.t[i]);
            m.in[i] = 0;
            break;
        default: /* the loop's use: the first moves later */
            if (timers_first(&h) != NULL) {
                struct timer *f = timers_first(&h);
                size_t k = (size_t)(f - m.t);
                timers_set(&h, f, f->at + at);
                m.at[k] += at;
            }
            break;
        }
        check(&h, &m);
    }
    /* Removing the first repeatedly yields non-decreasing times. */
    int64_t last = INT64_MIN;
    struct timer *f;
    while ((f = timers_first(&h)) != NULL) {
        assert_true(f->at >= last);
        last = f->at;
        timers_remove(&h, f);
        m.in[f - m.t] = 0;
    }
    check(&h, &m);
    timers_free(&h);
}

static void t_reserve_then_insert(void **state)
{
    (void)state;
    struct timers h = {0};
    static struct timer t[1000];
    for (size_t i = 0; i < 1000; i++) {
        assert_int_equal(timers_reserve(&h), 0);
        assert_true(h.cap > h.n);
        timers_set(&h, &t[i], (int64_t)(1000 - i));
    }
    assert_true(timers_first(&h) == &t[999]);
    timers_remove(&h, &t[999]);
    assert_true(timers_first(&h) == &t[998]);
    timers_free(&h);
    assert_null(timers_first(&h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_random_ops),
        cmocka_unit_test(t_reserve_then_insert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
