/* mem.c: the byte count against the budget with the C library's allocator,
 * and the buddy arena of --preallocate (splitting, coalescing, refusal at
 * the limit, contents kept by realloc). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../src/broker/mem.h"

static void t_counted(void **state)
{
    (void)state;
    assert_int_equal(mem_init(0, 0), 0);
    void *a = mem_alloc(100);
    assert_non_null(a);
    assert_int_equal(mem_used(), 100 + MEM_HDR);
    char *s = mem_strdup("topic/a");
    assert_string_equal(s, "topic/a");
    assert_int_equal(mem_used(), 100 + MEM_HDR + 8 + MEM_HDR);
    a = mem_realloc(a, 1000);
    assert_non_null(a);
    assert_int_equal(mem_used(), 1000 + MEM_HDR + 8 + MEM_HDR);
    mem_free(a);
    mem_free(s);
    mem_free(NULL);
    assert_int_equal(mem_used(), 0);
    assert_int_equal(mem_high_water(), 1000 + MEM_HDR + 8 + MEM_HDR);
    mem_shutdown();
}

static void t_limit(void **state)
{
    (void)state;
    assert_int_equal(mem_init(4096, 0), 0);
    void *a = mem_alloc(4096 - MEM_HDR);
    assert_non_null(a);
    assert_null(mem_alloc(1));
    assert_int_equal(mem_refusals(), 1);
    mem_free(a);
    a = mem_alloc(1000);
    assert_non_null(a);
    assert_null(mem_realloc(a, 4096)); /* over the limit: the block stays */
    memset(a, 7, 1000);
    void *b = mem_realloc(a, 2000);
    assert_non_null(b);
    assert_int_equal(((unsigned char *)b)[999], 7);
    assert_null(mem_calloc(SIZE_MAX / 2u, 4));
    mem_free(b);
    assert_int_equal(mem_used(), 0);
    mem_shutdown();
}

static void t_arena_buddies(void **state)
{
    (void)state;
    const size_t size = 1u << 20;
    assert_int_equal(mem_init(size, 1), 0);
    assert_true(mem_is_arena());
    assert_int_equal(mem_charge(1), 32);
    assert_int_equal(mem_charge(16), 32);
    assert_int_equal(mem_charge(17), 64);
    assert_int_equal(mem_charge(size - MEM_HDR), size);
    /* the whole arena in one block, then nothing more */
    void *all = mem_alloc(size - MEM_HDR);
    assert_non_null(all);
    assert_null(mem_alloc(1));
    mem_free(all);
    /* many small blocks, freed in an interleaved order, coalesce again */
    enum { N = 4000 };
    static unsigned char *v[N];
    for (size_t i = 0; i < N; i++) {
        size_t n = 1u + (i * 37u) % 200u;
        v[i] = mem_alloc(n);
        assert_non_null(v[i]);
        memset(v[i], (int)(i & 0xFFu), n);
    }
    for (size_t i = 0; i < N; i += 2u) {
        mem_free(v[i]);
    }
    for (size_t i = 1; i < N; i += 2u) {
        size_t n = 1u + (i * 37u) % 200u;
        assert_int_equal(v[i][n - 1u], (unsigned char)(i & 0xFFu));
        mem_free(v[i]);
    }
    assert_int_equal(mem_used(), 0);
    all = mem_alloc(size - MEM_HDR);
    assert_non_null(all);
    mem_free(all);
    assert_int_equal(mem_high_water(), size);
    mem_shutdown();
}

static void t_arena_odd_size(void **state)
{
    (void)state;
    /* 1 MiB + 96 KiB + 20 bytes: roots of 1 MiB, 64 KiB and 32 KiB */
    const size_t size = (1u << 20) + (96u << 10) + 20u;
    assert_int_equal(mem_init(size, 1), 0);
    void *a = mem_alloc((1u << 20) - MEM_HDR);
    void *b = mem_alloc((64u << 10) - MEM_HDR);
    void *c = mem_alloc((32u << 10) - MEM_HDR);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_null(mem_alloc(1)); /* the 20 bytes left are less than a block */
    mem_free(b);
    mem_free(c);
    mem_free(a);
    assert_int_equal(mem_used(), 0);
    /* roots never merge: nothing larger than the largest root */
    assert_null(mem_alloc((1u << 20) + 1u));
    void *p = mem_alloc(100);
    assert_non_null(p);
    memcpy(p, "0123456789", 10);
    p = mem_realloc(p, 3000); /* moves to a larger block, contents kept */
    assert_non_null(p);
    assert_memory_equal(p, "0123456789", 10);
    assert_int_equal(mem_used(), 4096);
    p = mem_realloc(p, 10); /* smaller: stays in its block */
    assert_non_null(p);
    assert_int_equal(mem_used(), 4096);
    mem_free(p);
    assert_int_equal(mem_used(), 0);
    mem_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_counted),
        cmocka_unit_test(t_limit),
        cmocka_unit_test(t_arena_buddies),
        cmocka_unit_test(t_arena_odd_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
