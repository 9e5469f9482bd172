/* Publishes one message with QoS 1 and waits for the broker's ACK.
 * Build: cc publish.c $(pkg-config --cflags --libs busrt) -o publish
 * Run:   ./publish /tmp/busrt.sock plant/line1/status ok */
#include <busrt/client.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ADDR TOPIC PAYLOAD\n", argv[0]);
        return 2;
    }
    struct busrt_client_config cfg;
    busrt_client *c;
    uint32_t op;
    busrt_client_config_init(&cfg, "example.publish");
    int rc = busrt_client_connect(&c, argv[1], &cfg);
    if (rc != 0) {
        fprintf(stderr, "connect %s: %s\n", argv[1], busrt_client_strerror(rc));
        return 1;
    }
    rc = busrt_publish(c, argv[2], argv[3], strlen(argv[3]), BUSRT_QOS_PROCESSED, &op);
    if (rc == 0) {
        rc = busrt_wait_ack(c, op, 1000);
    }
    if (rc != 0) {
        fprintf(stderr, "publish: %s\n", busrt_client_strerror(rc));
    } else {
        printf("published to %s, ACK 01\n", argv[2]);
    }
    busrt_client_close(c);
    return rc == 0 ? 0 : 1;
}
