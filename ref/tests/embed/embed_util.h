/* Helpers of the embedded-broker tests: brokers built with busrtd_create
 * on their own thread, in-process clients, and frame checks. Timeouts are
 * scaled by the client harness's th_ms (BUSRT_TEST_SLOW=1 under valgrind). */
#ifndef BUSRT_EMBED_UTIL_H
#define BUSRT_EMBED_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "busrt/busrtd.h"
#include "busrt/client.h"

/* busrtd_create("emb", args...) (args NULL-terminated) and busrtd_spawn.
 * Returns the broker or NULL (the reason printed). */
busrtd *eu_broker(const char *const *args);
/* An in-process client with scaled timeouts; returns busrtd_connect's code. */
int eu_connect(busrtd *d, const char *name, busrt_client **out);
/* Receives one frame (bounded wait) and checks its kind, sender, topic
 * (NULL: not checked) and payload. Returns 0 or -1 (the mismatch printed). */
int eu_expect(busrt_client *c, uint8_t kind, const char *sender, const char *topic,
              const char *payload);
/* 0 when nothing is delivered to c within ms (scaled), else -1. */
int eu_quiet(busrt_client *c, int ms);
/* Receives until the connection is lost (at most 64 frames, bounded wait
 * each). Returns the loss code, or 0 when it did not happen. */
int eu_wait_loss(busrt_client *c, int ms);
/* A "-t" value of ms milliseconds, scaled, as seconds text in buf. */
const char *eu_secs(char *buf, size_t cap, int ms);

#endif
