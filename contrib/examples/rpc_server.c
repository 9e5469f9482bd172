/* An RPC service: answers "echo" with its params, "stop" with an empty
 * result (and then exits), any other method with error -32601.
 * Build: cc rpc_server.c $(pkg-config --cflags --libs busrt) -o rpc_server
 * Run:   ./rpc_server /tmp/busrt.sock example.rpc
 * Call:  busrt /tmp/busrt.sock rpc call example.rpc echo x=1 */
#include <busrt/rpc.h>
#include <stdio.h>
#include <string.h>

static int on_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                   struct busrt_rpc_result *res)
{
    struct busrt_rpc_server *s = ctx;
    static const char unknown[] = "no such method";
    (void)c;
    printf("call %s from %s (%zu bytes of params)\n", ev->method, ev->frame->sender,
           ev->data_len);
    fflush(stdout);
    if (strcmp(ev->method, "echo") == 0) {
        /* The params stay valid until the reply is sent. */
        res->data = ev->data;
        res->len = ev->data_len;
        return 0;
    }
    if (strcmp(ev->method, "stop") == 0) {
        s->stop = 1; /* the empty reply is still sent before serve returns */
        return 0;
    }
    res->data = unknown;
    res->len = sizeof unknown - 1;
    return BUSRT_RPC_E_METHOD_NOT_FOUND;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR SERVICE-NAME\n", argv[0]);
        return 2;
    }
    struct busrt_client_config cfg;
    busrt_client *c;
    busrt_client_config_init(&cfg, argv[2]);
    int rc = busrt_client_connect(&c, argv[1], &cfg);
    if (rc != 0) {
        fprintf(stderr, "connect %s as %s: %s\n", argv[1], argv[2], busrt_client_strerror(rc));
        return 1;
    }
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    s.on_call = on_call;
    s.ctx = &s;
    printf("serving as %s\n", argv[2]);
    fflush(stdout);
    /* Receives and answers until "stop"; keeps the connection alive. */
    rc = busrt_rpc_serve(c, &s, -1);
    if (rc != 0) {
        fprintf(stderr, "serve: %s\n", busrt_client_strerror(rc));
    }
    busrt_client_close(c);
    return rc == 0 ? 0 : 1;
}
