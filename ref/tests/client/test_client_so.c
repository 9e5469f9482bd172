/* The shared library: this program links with -lbusrt only (soname
 * libbusrt.so.0, core included) and exercises client, RPC and core
 * symbols through it. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "busrt/client.h"
#include "busrt/frame.h"
#include "busrt/rpc.h"
#include "harness.h"

static void test_shared_library(void **state)
{
    (void)state;
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, NULL), 0);
    busrt_client *c = NULL;
    assert_int_equal(th_connect(b.sock, "so.client", &c), 0);
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, BUSRT_QOS_PROCESSED,
                                    th_ms(3000), &r),
                     0);
    assert_int_equal(r.len, 5);
    uint32_t op;
    assert_int_equal(busrt_subscribe(c, "so/t", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, th_ms(3000)), 0);
    assert_int_equal(busrt_publish(c, "so/t", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, th_ms(3000)), 0);
    assert_string_equal(f.topic, "so/t");
    assert_int_equal(busrt_wait_ack(c, op, th_ms(3000)), 0);
    /* A core symbol. */
    uint8_t g[3];
    assert_int_equal(busrt_greeting_encode(g, sizeof g), 3);
    busrt_client_close(c);
    th_broker_stop(&b);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shared_library)};
    return cmocka_run_group_tests_name("libbusrt.so", tests, NULL, NULL);
}
