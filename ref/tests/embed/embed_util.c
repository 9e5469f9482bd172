/* Helpers of the embedded-broker tests; see embed_util.h. */
#include "embed_util.h"

#include <stdio.h>
#include <string.h>

#include "../client/harness.h"

busrtd *eu_broker(const char *const *args)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = "emb";
    for (int i = 0; args != NULL && args[i] != NULL && n < 63; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    busrtd *d = NULL;
    int r = busrtd_create(&d, n, argv);
    if (r != 0) {
        fprintf(stderr, "embed: busrtd_create: %s\n", busrt_client_strerror(r));
        return NULL;
    }
    r = busrtd_spawn(d);
    if (r != 0) {
        fprintf(stderr, "embed: busrtd_spawn: %s\n", busrt_client_strerror(r));
        busrtd_destroy(d);
        return NULL;
    }
    return d;
}

int eu_connect(busrtd *d, const char *name, busrt_client **out)
{
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, name);
    cfg.connect_timeout_ms = th_ms(5000);
    cfg.io_timeout_ms = th_ms(5000);
    return busrtd_connect(d, out, &cfg);
}

int eu_expect(busrt_client *c, uint8_t kind, const char *sender, const char *topic,
              const char *payload)
{
    struct busrt_frame f;
    int r = busrt_recv(c, &f, th_ms(3000));
    if (r != 0) {
        fprintf(stderr, "embed: %s waited for a frame from %s: %s\n", busrt_client_name(c),
                sender, busrt_client_strerror(r));
        return -1;
    }
    size_t pl = strlen(payload);
    if (f.kind != kind || strcmp(f.sender, sender) != 0 ||
        (topic != NULL && strcmp(f.topic, topic) != 0) || f.payload_len != pl ||
        memcmp(f.payload, payload, pl) != 0) {
        fprintf(stderr,
                "embed: %s got kind %u from %s topic '%s' payload '%.*s'; wanted kind %u "
                "from %s topic '%s' payload '%s'\n",
                busrt_client_name(c), f.kind, f.sender, f.topic, (int)f.payload_len,
                (const char *)f.payload, kind, sender, topic != NULL ? topic : "*", payload);
        return -1;
    }
    return 0;
}

int eu_quiet(busrt_client *c, int ms)
{
    struct busrt_frame f;
    int r = busrt_recv(c, &f, th_ms(ms));
    if (r == BUSRT_E_TIMEOUT) {
        return 0;
    }
    if (r == 0) {
        fprintf(stderr, "embed: %s got an unexpected frame from %s topic '%s'\n",
                busrt_client_name(c), f.sender, f.topic);
    } else {
        fprintf(stderr, "embed: %s: %s\n", busrt_client_name(c), busrt_client_strerror(r));
    }
    return -1;
}

int eu_wait_loss(busrt_client *c, int ms)
{
    struct busrt_frame f;
    for (int i = 0; i < 64; i++) {
        int r = busrt_recv(c, &f, th_ms(ms));
        if (r != 0 && r != BUSRT_E_TIMEOUT) {
            return r;
        }
        if (r == BUSRT_E_TIMEOUT) {
            return 0;
        }
    }
    return 0;
}

const char *eu_secs(char *buf, size_t cap, int ms)
{
    snprintf(buf, cap, "%.3f", (double)th_ms(ms) / 1000.0);
    return buf;
}
