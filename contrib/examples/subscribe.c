/* Subscribes to a topic pattern and prints every publication it receives.
 * Build: cc subscribe.c $(pkg-config --cflags --libs busrt) -o subscribe
 * Run:   ./subscribe /tmp/busrt.sock 'plant/#'      (forever; Ctrl-C stops)
 *        ./subscribe /tmp/busrt.sock 'plant/#' 2    (exits after 2) */
#include <busrt/client.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s ADDR TOPIC-PATTERN [COUNT]\n", argv[0]);
        return 2;
    }
    long count = argc == 4 ? strtol(argv[3], NULL, 10) : 0; /* 0: no limit */
    struct busrt_client_config cfg;
    busrt_client *c;
    uint32_t op;
    busrt_client_config_init(&cfg, "example.subscribe");
    int rc = busrt_client_connect(&c, argv[1], &cfg);
    if (rc != 0) {
        fprintf(stderr, "connect %s: %s\n", argv[1], busrt_client_strerror(rc));
        return 1;
    }
    /* QoS 1 and the wait: once the ACK is in, no publication can be missed. */
    rc = busrt_subscribe(c, argv[2], BUSRT_QOS_PROCESSED, &op);
    if (rc == 0) {
        rc = busrt_wait_ack(c, op, 1000);
    }
    if (rc != 0) {
        fprintf(stderr, "subscribe %s: %s\n", argv[2], busrt_client_strerror(rc));
        busrt_client_close(c);
        return 1;
    }
    printf("subscribed to %s\n", argv[2]);
    fflush(stdout);
    for (long n = 0; count == 0 || n < count;) {
        struct busrt_frame f;
        /* No time limit: busrt_recv pings the broker while it waits. The
         * frame points into the client's buffer until the next call. */
        rc = busrt_recv(c, &f, -1);
        if (rc != 0) {
            fprintf(stderr, "receive: %s\n", busrt_client_strerror(rc));
            break;
        }
        if (f.kind != BUSRT_KIND_PUBLISH) {
            continue; /* one-to-one messages and broadcasts reach us too */
        }
        printf("%s from %s: %.*s\n", f.topic, f.sender, (int)f.payload_len,
               (const char *)f.payload);
        fflush(stdout);
        n++;
    }
    busrt_client_close(c);
    return rc == 0 ? 0 : 1;
}
