/* busrt-clientfuzz adapter for libbusrt (ref/include/busrt/client.h).
 *
 * Usage: libbusrt_adapter ADDR [NAME]
 * Connects to ADDR as NAME (default "clientfuzz"), subscribes to "#" with
 * QoS 1 and waits for its ACK, prints {"ev":"ready"}, then prints one JSON
 * line per delivered frame until the connection is lost, then the reason
 * and {"ev":"closed"} (line protocol: fuzz/clientfuzz/README.md). Frames
 * the library discarded for a missing NUL (REQ-DLV-7) are reported as
 * "error" lines. Exit status 0 unless the output cannot be written.
 *
 * CLIENTFUZZ_PLANT=BUG plants a bug, for the check that the fuzzer finds
 * it (make clientfuzz-smoke): drop-empty (frames with an empty payload are
 * not reported), realtime (the flag is reported inverted), no-exit (it
 * sleeps 10 s after the connection ends), spin (it spins up to 10 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busrt/client.h"

static void put_hex(const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        buf[k++] = d[p[i] >> 4];
        buf[k++] = d[p[i] & 15u];
        if (k == sizeof buf) {
            (void)fwrite(buf, 1, k, stdout);
            k = 0;
        }
    }
    (void)fwrite(buf, 1, k, stdout);
}

/* An event with a "what" text (library messages are ASCII; anything that
 * would need escaping is replaced). */
static void event(const char *ev, const char *what)
{
    printf("{\"ev\":\"%s\",\"what\":\"", ev);
    for (const char *s = what; *s != 0; s++) {
        putchar(*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 ? '?' : *s);
    }
    printf("\"}\n");
}

static const char *kind_name(uint8_t k)
{
    return k == BUSRT_KIND_PUBLISH ? "publication" : k == BUSRT_KIND_MESSAGE ? "message"
                                                                              : "broadcast";
}

static const char *plant = "";

/* The planted no-exit and spin bugs, bounded by 10 s. */
static void planted_end(void)
{
    struct timespec t0, t;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    if (strcmp(plant, "no-exit") == 0) {
        struct timespec ten = {10, 0};
        (void)nanosleep(&ten, NULL);
    } else if (strcmp(plant, "spin") == 0) {
        do {
            (void)clock_gettime(CLOCK_MONOTONIC, &t);
        } while (t.tv_sec - t0.tv_sec < 10);
    }
}

static int done(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        return 2;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: libbusrt_adapter ADDR [NAME]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (getenv("CLIENTFUZZ_PLANT") != NULL) {
        plant = getenv("CLIENTFUZZ_PLANT");
    }
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, argc == 3 ? argv[2] : "clientfuzz");
    busrt_client *c = NULL;
    int rc = busrt_client_connect(&c, argv[1], &cfg);
    if (rc != 0) {
        event("error", busrt_client_strerror(rc));
        printf("{\"ev\":\"closed\"}\n");
        return done(0);
    }
    uint32_t op = 0;
    rc = busrt_subscribe(c, "#", BUSRT_QOS_PROCESSED, &op);
    if (rc == 0) {
        rc = busrt_wait_ack(c, op, 5000);
    }
    if (rc != 0) {
        event("error", busrt_client_strerror(rc));
        printf("{\"ev\":\"closed\"}\n");
        busrt_client_close(c);
        return done(0);
    }
    printf("{\"ev\":\"ready\"}\n");
    fflush(stdout);
    uint64_t discarded = 0;
    for (;;) {
        struct busrt_frame f;
        rc = busrt_recv(c, &f, 0);
        if (rc == BUSRT_E_TIMEOUT) { /* nothing ready: flush before blocking */
            fflush(stdout);
            rc = busrt_recv(c, &f, 1000);
        }
        for (; discarded < busrt_client_discarded(c); discarded++) {
            event("error", "discarded a delivered frame without its NUL (REQ-DLV-7)");
        }
        if (rc == BUSRT_E_TIMEOUT) {
            continue;
        }
        if (rc != 0) {
            if (rc != BUSRT_E_CLOSED) {
                event("error", busrt_client_strerror(rc));
            }
            break;
        }
        if (f.payload_len == 0 && strcmp(plant, "drop-empty") == 0) {
            continue;
        }
        printf("{\"ev\":\"frame\",\"kind\":\"%s\",\"sender_hex\":\"", kind_name(f.kind));
        put_hex((const uint8_t *)f.sender, f.sender_len);
        printf("\",\"topic_hex\":\"");
        put_hex((const uint8_t *)f.topic, f.topic_len);
        printf("\",\"payload_hex\":\"");
        put_hex(f.payload, f.payload_len);
        printf("\",\"realtime\":%d}\n", (f.realtime != 0) != (strcmp(plant, "realtime") == 0));
    }
    printf("{\"ev\":\"closed\"}\n");
    busrt_client_close(c);
    fflush(stdout);
    planted_end();
    return done(0);
}
