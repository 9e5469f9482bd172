/* The broker's per-connection input path (handshake, headers, body limits,
 * dispatch) fed an arbitrary byte stream, with no socket. Input: one byte
 * choosing the read size, then the stream. Checks: nothing crashes or
 * leaks (sanitizers), buffers stay within the configured limits, and the
 * output queue stays within its byte limit. */
#include <string.h>

#include "../ref/src/broker/broker.h"
#include "../ref/src/broker/conn.h"
#include "../ref/src/broker/coreapi.h"
#include "../ref/src/broker/log.h"
#include "fuzz.h"

#define PAYLOAD_LIMIT 4096u
#define QUEUE_BYTES 65536u

static struct config make_config(void)
{
    static char *argv[] = {"busrtd", "-B", "/nonexistent/fuzz.sock",
                           "--payload-size-limit", "4096", "--queue-bytes", "65536",
                           "--queue-size", "256", "--max-name-len", "300",
                           "--max-subscriptions", "16", "--max-topic-len", "64",
                           NULL};
    struct config cfg;
    CHECK(config_parse(&cfg, (int)(sizeof argv / sizeof argv[0]) - 1, argv) == 0);
    return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct broker b;
    if (size < 1) {
        return 0;
    }
    log_setup(-1, 0);
    struct config cfg = make_config();
    CHECK(broker_init(&b, &cfg) == 0);
    /* a second, well-behaved client subscribed to everything receives
     * whatever the fuzzed one manages to route */
    struct client *peer = client_new(&b, -1, KIND_UNIX);
    static const uint8_t hs[] = {0xEB, 1, 0, 4, 0, 'p', 'e', 'e', 'r',
                                 0, 0, 0, 0, 2, 1, 0, 0, 0, '#'};
    CHECK(peer != NULL);
    client_feed(&b, peer, hs, sizeof hs);
    CHECK(!peer->dead && peer->registered);
    struct client *c = client_new(&b, -1, KIND_UNIX);
    CHECK(c != NULL && client_start(&b, c) == 0);
    size_t step = (size_t)data[0] % 64u + 1u;
    for (size_t off = 1; off < size && !c->dead; off += step) {
        size_t n = size - off < step ? size - off : step;
        client_feed(&b, c, data + off, n);
        coreapi_flush_events(&b);
        CHECK(c->big == NULL || c->big_len <= PAYLOAD_LIMIT || c->big_len <= 300u);
        CHECK(c->in_end <= c->in_cap && c->in_start <= c->in_end);
        CHECK(c->q.bytes <= QUEUE_BYTES && peer->q.bytes <= QUEUE_BYTES);
        CHECK(c->subs.count <= 16u);
        outq_consume(&c->q, c->q.bytes); /* the peer reads everything */
        outq_consume(&peer->q, peer->q.bytes);
    }
    broker_reap(&b);
    broker_teardown(&b);
    return 0;
}
