/* The CLI's payload printer (ref/src/cli/output.c) on keys that are not
 * strings: a short one is shown whole as a JSON string, a long one is cut
 * at 256 bytes with "...", and keys nested in keys stay small (they once
 * grew exponentially, one quoting per level). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/cli.h"

/* The silent (compact) rendering of payload p. */
static char *render(const uint8_t *p, size_t n, size_t *len)
{
    char *out = NULL;
    FILE *m = open_memstream(&out, len);
    assert_non_null(m);
    cli_print_payload(m, p, n, 1);
    assert_int_equal(fclose(m), 0);
    return out;
}

static void t_short_key_whole(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x81, 0x92, 0x01, 0x02, 0x03}; /* {[1,2]: 3} */
    size_t n = 0;
    char *out = render(p, sizeof p, &n);
    assert_string_equal(out, "{\"[1,2]\":3}\n");
    free(out);
}

static void t_long_key_cut(void **state)
{
    (void)state;
    uint8_t p[4 + 200 + 1];
    p[0] = 0x81; /* one entry: [0, 1, ..., 99, 0, ...] (200 items) -> nil */
    p[1] = 0xdc;
    p[2] = 0x00;
    p[3] = 200;
    for (int i = 0; i < 200; i++) {
        p[4 + i] = (uint8_t)(i % 100);
    }
    p[204] = 0xc0;
    size_t n = 0;
    char *out = render(p, sizeof p, &n);
    /* {"<253 bytes>...":null} */
    assert_int_equal(n, 1 + 1 + 256 + 1 + 1 + 4 + 1 + 1);
    assert_memory_equal(out, "{\"[0,1,2,3,", 11);
    assert_memory_equal(out + 1 + 1 + 253, "...\":null}\n", 11);
    free(out);
}

static void t_nested_keys_stay_small(void **state)
{
    (void)state;
    enum { DEPTH = 30 }; /* msgpack-c unpacks up to 32 levels */
    uint8_t p[2 * DEPTH + 1];
    memset(p, 0x81, DEPTH); /* each map's key is the next map */
    p[DEPTH] = 0x01;
    memset(p + DEPTH + 1, 0x02, DEPTH);
    size_t n = 0;
    char *out = render(p, sizeof p, &n);
    assert_true(n < 4096u);
    json_error_t e;
    json_t *j = json_loadb(out, n, 0, &e);
    assert_non_null(j);
    assert_true(json_is_object(j) && json_object_size(j) == 1u);
    json_decref(j);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_short_key_whole),
        cmocka_unit_test(t_long_key_cut),
        cmocka_unit_test(t_nested_keys_stay_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
