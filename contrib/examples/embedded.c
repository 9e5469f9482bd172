/* An application with the broker inside (libbusrtd): a service thread
 * answers RPC calls as the in-process client "example.store", with a
 * method whose result is too large for one reply (an RPC cursor); the main
 * thread reads it in-process; external programs reach the same service
 * over the UNIX socket.
 *
 *   "list" [{"count": N}]  a cursor over N readings (default 25), each a
 *                          MessagePack string "reading K"; follow it with
 *                          N or NB (busrt ... rpc call example.store list
 *                          --follow)
 *   "stop"                 stops the service and the broker
 *
 * Build: cc embedded.c $(pkg-config --cflags --libs busrtd) -o embedded
 * Run:   ./embedded /tmp/app.sock        (until "stop", SIGINT or SIGTERM)
 *        ./embedded /tmp/app.sock --once (the in-process part only) */
#include <busrt/busrtd.h>
#include <busrt/cursor.h>
#include <busrt/rpc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static busrtd *g_broker; /* for the signal handler: busrtd_stop is safe there */

static void on_signal(int sig)
{
    (void)sig;
    busrtd_stop(g_broker);
}

/* The producer of one cursor: readings 1..count, as MessagePack fixstr. */
struct readings {
    unsigned next, count;
    char item[32];
};

static int next_reading(void *ctx, const void **data, size_t *len)
{
    struct readings *r = ctx;
    if (r->next > r->count) {
        return BUSRT_CURSOR_END;
    }
    int n = snprintf(r->item + 1, sizeof r->item - 1, "reading %u", r->next++);
    r->item[0] = (char)(0xa0 | n); /* fixstr: n < 32 */
    *data = r->item;
    *len = (size_t)n + 1u;
    return BUSRT_CURSOR_ITEM;
}

/* {"count": N} with N a positive fixint (1..127): N; anything else: 25. */
static unsigned count_param(const uint8_t *p, size_t n)
{
    static const uint8_t key[] = {0x81, 0xa5, 'c', 'o', 'u', 'n', 't'};
    if (n == sizeof key + 1u && memcmp(p, key, sizeof key) == 0 && p[sizeof key] >= 1u &&
        p[sizeof key] <= 0x7fu) {
        return p[sizeof key];
    }
    return 25u;
}

/* Frees a reading slot when its cursor goes (finished or expired). */
static void slot_free(void *ctx)
{
    ((struct readings *)ctx)->count = 0u;
}

struct service {
    busrt_client *c;
    busrt_cursor_table *cursors;
    struct readings pool[8]; /* one per open cursor */
    uint8_t id_map[BUSRT_CURSOR_ID_MAP_LEN];
    struct busrt_rpc_server srv;
};

static int on_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                   struct busrt_rpc_result *res)
{
    struct service *s = ctx;
    static const char busy[] = "too many open cursors";
    (void)c;
    if (busrt_cursor_is_call(ev)) {
        return busrt_cursor_serve(s->cursors, ev, res); /* N and NB */
    }
    if (strcmp(ev->method, "list") == 0) {
        for (size_t i = 0; i < sizeof s->pool / sizeof s->pool[0]; i++) {
            struct readings *r = &s->pool[i];
            if (r->count != 0u) {
                continue; /* in use by an open cursor */
            }
            r->next = 1u;
            r->count = count_param(ev->data, ev->data_len);
            if (busrt_cursor_create(s->cursors, next_reading, slot_free, r, 30000, s->id_map) != 0) {
                r->count = 0u;
                break;
            }
            res->data = s->id_map;
            res->len = sizeof s->id_map;
            return 0;
        }
        res->data = busy;
        res->len = sizeof busy - 1u;
        return BUSRT_RPC_E_INTERNAL;
    }
    if (strcmp(ev->method, "stop") == 0) {
        s->srv.stop = 1;
        return 0;
    }
    return BUSRT_RPC_E_METHOD_NOT_FOUND;
}

static void *serve(void *arg)
{
    struct service *s = arg;
    while (!s->srv.stop) {
        int r = busrt_rpc_serve(s->c, &s->srv, 500);
        if (r == BUSRT_E_TIMEOUT) {
            (void)busrt_cursor_sweep(s->cursors);
        } else if (r != 0) {
            fprintf(stderr, "service: %s\n", busrt_client_strerror(r));
            break;
        }
    }
    busrtd_stop(g_broker); /* "stop" ends the whole application */
    return NULL;
}

/* Reads the "list" cursor in-process, in blocks of 10. */
static int read_list(busrtd *d)
{
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "example.main");
    busrt_client *c;
    int r = busrtd_connect(d, &c, &cfg);
    if (r != 0) {
        fprintf(stderr, "in-process connect: %s\n", busrt_client_strerror(r));
        return -1;
    }
    struct busrt_rpc_reply rep;
    busrt_cursor *cur = NULL;
    r = busrt_rpc_call(c, "example.store", "list", NULL, 0, BUSRT_QOS_PROCESSED, 5000, &rep);
    if (r == 0) {
        r = busrt_cursor_open(c, "example.store", rep.data, rep.len, BUSRT_QOS_PROCESSED,
                              5000, &cur);
    }
    unsigned total = 0, blocks = 0;
    uint32_t got = 0;
    while (r == 0 && (r = busrt_cursor_next_bulk(cur, 10, &rep, &got)) >= 0) {
        total += got;
        blocks++;
        if (r == 0) {
            break; /* the last block */
        }
        r = 0;
    }
    busrt_cursor_close(cur);
    busrt_client_close(c);
    if (r < 0) {
        fprintf(stderr, "in-process list: %s\n", busrt_client_strerror(r));
        return -1;
    }
    printf("in-process: read %u readings in %u blocks\n", total, blocks);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--once") != 0)) {
        fprintf(stderr, "usage: %s SOCKET [--once]\n", argv[0]);
        return 2;
    }
    const char *args[] = {"embedded", "-B", argv[1], "-t", "5"};
    if (busrtd_create(&g_broker, 5, args) != 0 || busrtd_spawn(g_broker) != 0) {
        busrtd_destroy(g_broker);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);

    static struct service s;
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "example.store");
    int rc = busrtd_connect(g_broker, &s.c, &cfg);
    if (rc == 0) {
        rc = busrt_cursor_table_new(8, 0, &s.cursors);
    }
    pthread_t th;
    if (rc != 0) {
        fprintf(stderr, "service: %s\n", busrt_client_strerror(rc));
        busrt_client_close(s.c);
        busrtd_destroy(g_broker);
        return 1;
    }
    s.srv.on_call = on_call;
    s.srv.ctx = &s;
    s.srv.reply_qos = BUSRT_QOS_PROCESSED;
    if (pthread_create(&th, NULL, serve, &s) != 0) {
        return 1;
    }
    int ok = read_list(g_broker) == 0;
    if (ok && argc == 2) {
        printf("serving example.store on %s\n", argv[1]);
        fflush(stdout);
        (void)busrtd_join(g_broker); /* until "stop" or a signal */
    }
    busrtd_stop(g_broker); /* the service's calls then fail: its thread ends */
    (void)pthread_join(th, NULL);
    busrt_cursor_table_free(s.cursors);
    busrt_client_close(s.c);
    sa.sa_handler = SIG_DFL; /* the handler must not see a destroyed broker */
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    busrtd_destroy(g_broker);
    printf("stopped\n");
    return ok ? 0 : 1;
}
