/* busrt: command-line client for BUS/RT v1 brokers, command-compatible
 * with the deployed tool:
 *
 *   busrt ADDR [-n NAME] [--timeout S] COMMAND ...
 *
 * Built on libbusrt (busrt/client.h, busrt/rpc.h) and msgpack-c. */
#define _DEFAULT_SOURCE
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "busrt/match.h"
#include "busrt/mpack.h"
#include "busrt/rpc.h"
#include "busrt/utf8.h"

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int cli_stop_requested(void)
{
    return g_stop != 0;
}

static void usage(FILE *out)
{
    fputs(
        "Usage: busrt ADDR [OPTIONS] COMMAND [ARGS...]\n"
        "BUS/RT v1 command-line client. ADDR is a UNIX socket path (ends in .sock,\n"
        ".socket or .ipc, or starts with /) or HOST:PORT.\n"
        "\n"
        "Options (before COMMAND; a value may also follow '=', as in --timeout=2):\n"
        "  -n, --name NAME        client name (default: cli.HOSTNAME.PID)\n"
        "  --timeout SECONDS      connect / ACK / RPC timeout, decimals allowed (default 5)\n"
        "  --buf-size BYTES       initial read buffer size (default 16384)\n"
        "  --queue-size N         accepted for compatibility (ignored)\n"
        "  --payload-size-limit BYTES\n"
        "                         largest frame body sent (target, headers and payload);\n"
        "                         set it to the broker's limit (default 16777216, the\n"
        "                         default of busrtd); a larger payload is refused\n"
        "  -v, --verbose          more log messages (stderr)\n"
        "  -s, --silent           no log messages; raw / compact payload output\n"
        "  -h, --help             show this help and exit\n"
        "  -V, --version          show the version and exit\n"
        "\n"
        "Commands:\n"
        "  broker test|info|stats|client.list   query the broker's .broker client\n"
        "  listen [-t TOPIC]... [--exclude TOPIC]...\n"
        "                          print every frame received (until SIGINT/SIGTERM)\n"
        "  send TARGET [PAYLOAD]   one-to-one message; a broadcast when TARGET has * or ?;\n"
        "                          the payload is read from stdin when absent\n"
        "  publish TOPIC [PAYLOAD] publish (payload from stdin when absent)\n"
        "  rpc listen [-t TOPIC]...            print RPC calls (answered with an\n"
        "                                      empty result) and notifications\n"
        "  rpc notify TARGET [PAYLOAD]         RPC notification\n"
        "  rpc call0 TARGET METHOD [PARAMS]    RPC call without reply\n"
        "  rpc call TARGET METHOD [PARAMS] [--follow] [--bulk N]\n"
        "                                      RPC call; prints the result\n"
        "      PARAMS: key=value words, sent as a MessagePack map (true/false,\n"
        "      integers, floats, else strings); '-' sends stdin as raw params\n"
        "      --follow: when the result is a cursor ({\"u\": ID}), call N until it\n"
        "      ends and print each item; --bulk N (1..10000): the same with NB,\n"
        "      up to N items per call\n"
        "  benchmark [-w WORKERS] [--payload-size BYTES] [-i ITERS]\n"
        "                          7 stages: send.qos.no, send+recv.qos.no,\n"
        "                          send.qos.processed, send+recv.qos.processed,\n"
        "                          rpc.call, rpc.call+handle, rpc.call0; each runs ITERS\n"
        "                          iterations, split among the workers. Defaults:\n"
        "                          -w/--workers 1, --payload-size 100, -i/--iters\n"
        "                          1000000. A line as each stage starts and ends (not\n"
        "                          with -s), then a table\n"
        "\n"
        "Arguments are checked before connecting. After COMMAND, '--' lets the words\n"
        "after it start with '-' (e.g. a payload).\n"
        "\n"
        "Exit status: 0 success; 1 refusal (also of a payload above the limit), timeout\n"
        "or error; 2 bad usage (including an ADDR, client name, topic, target, mask or\n"
        "pattern refused before connecting).\n",
        out);
}

int cli_usage_error(const char *fmt, const char *arg)
{
    fputs("busrt: ", stderr);
    fprintf(stderr, fmt, arg != NULL ? arg : "");
    fputs("\nTry 'busrt --help'.\n", stderr);
    return EXIT_USAGE;
}

void cli_error(const char *what, int err)
{
    if (err == BUSRT_E_SYS) {
        fprintf(stderr, "busrt: %s: %s\n", what, strerror(errno));
    } else {
        fprintf(stderr, "busrt: %s: %s\n", what, busrt_client_strerror(err));
    }
}

static struct cli_opts *g_log_opts;

static void log_info(const char *fmt, const char *a, const char *b)
{
    if (g_log_opts != NULL && g_log_opts->silent) {
        return;
    }
    fputs("busrt: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* Why connecting to a TCP address failed with BUSRT_E_ADDR: the address
 * was checked before connecting, so its host did not resolve. Writes the
 * resolver's reason into why; -1 when the host resolves now. */
static int resolve_problem(const char *addr, char *why, size_t cap)
{
    struct cli_addr a;
    char bad[8];
    if (cli_parse_addr(addr, &a, bad, sizeof bad) != 0 || !a.tcp) {
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(a.host, a.port, &hints, &res);
    if (g == 0) {
        freeaddrinfo(res);
        return -1;
    }
    char hq[300];
    cli_quote(hq, sizeof hq, a.host);
    snprintf(why, cap, "host '%s' does not resolve: %s", hq,
             g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    return 0;
}

busrt_client *cli_connect(const struct cli_opts *o, const char *name)
{
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, name);
    cfg.connect_timeout_ms = o->timeout_ms;
    cfg.io_timeout_ms = o->timeout_ms;
    if (o->buf_size > 0) {
        cfg.buf_size = o->buf_size;
    }
    busrt_client *c = NULL;
    int r = busrt_client_connect(&c, o->addr, &cfg);
    if (r != 0) {
        char aq[300], nq[300], what[700], why[600];
        cli_quote(aq, sizeof aq, o->addr);
        cli_quote(nq, sizeof nq, name);
        snprintf(what, sizeof what, "unable to connect to %s as '%s'", aq, nq);
        const char *sec = strstr(name, "%%");
        if (r == BUSRT_E_ADDR && resolve_problem(o->addr, why, sizeof why) == 0) {
            fprintf(stderr, "busrt: %s: %s\n", what, why);
        } else if (r == BUSRT_E_NOT_REGISTERED && sec != NULL) {
            fprintf(stderr,
                    "busrt: %s: the primary client '%.*s' of this secondary name is not "
                    "connected to the broker (0x71)\n",
                    what, (int)(sec - name), name);
        } else if (r == BUSRT_E_DATA) {
            fprintf(stderr,
                    "busrt: %s: the broker refused the name (0x72: invalid name); it is "
                    "probably longer than the broker's name-length limit\n",
                    what);
        } else {
            cli_error(what, r);
        }
        return NULL;
    }
    return c;
}

/* Connects as o->name, after saying so (unless silent). */
busrt_client *cli_connect_main(const struct cli_opts *o)
{
    log_info("connecting to %s, using service name %s", o->addr, o->name);
    return cli_connect(o, o->name);
}

/* ---- Input -------------------------------------------------------------------- */

static uint8_t *read_stdin(size_t *len)
{
    if (isatty(STDIN_FILENO)) {
        fputs("Reading stdin, Ctrl-D to finish...\n", stderr);
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2u);
            if (nb == NULL) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2u;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r > 0) {
            n += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno != EINTR) {
            free(buf);
            return NULL;
        }
    }
    *len = n;
    return buf;
}

/* The payload argument, or stdin when absent. *owned is the buffer to free. */
int cli_get_payload(const char *arg, const uint8_t **p, size_t *n, uint8_t **owned)
{
    *owned = NULL;
    if (arg != NULL) {
        *p = (const uint8_t *)arg;
        *n = strlen(arg);
        return 0;
    }
    *owned = read_stdin(n);
    if (*owned == NULL) {
        fprintf(stderr, "busrt: unable to read stdin: %s\n", strerror(errno));
        return -1;
    }
    *p = *owned;
    return 0;
}

/* ---- Printing frames ------------------------------------------------------------------ */

static const char *kind_name(uint8_t kind)
{
    switch (kind) {
    case BUSRT_KIND_MESSAGE: return "Message";
    case BUSRT_KIND_BROADCAST: return "Broadcast";
    case BUSRT_KIND_PUBLISH: return "Publish";
    default: return "Unknown";
    }
}

void cli_sep(void)
{
    puts("----");
}

void cli_print_frame(const struct busrt_frame *f, int silent)
{
    printf("%s from %s (%.*s)\n", kind_name(f->kind), f->sender,
           (int)f->primary_sender_len, f->primary_sender);
    if (f->kind == BUSRT_KIND_PUBLISH) {
        printf("topic: %s\n", f->topic);
    }
    cli_print_payload(stdout, f->payload, f->payload_len, silent);
    cli_sep();
    fflush(stdout);
}

/* ---- Commands ------------------------------------------------------------------------------ */

/* Reports a failed send or ACK of operation what. target: the client
 * name a one-to-one message went to (NULL for other operations), so that
 * the ACK codes about that client name it. The broker closes the
 * connection without a word for a frame that breaks its rules, so a
 * closed connection is explained by its likely causes. */
void cli_op_error(const char *what, const char *target, int r)
{
    char tq[300];
    if (target != NULL) {
        cli_quote(tq, sizeof tq, target);
    }
    if (r == BUSRT_E_CLOSED) {
        fprintf(stderr,
                "busrt: %s: the broker closed the connection; likely the frame broke one of "
                "its limits (payload size, name or topic rules); see the broker's log\n",
                what);
    } else if (target != NULL && r == BUSRT_E_NOT_REGISTERED) {
        fprintf(stderr, "busrt: %s: no client named '%s' is connected to the broker (0x71)\n",
                what, tq);
    } else if (target != NULL && r == BUSRT_E_NOT_DELIVERED) {
        fprintf(stderr,
                "busrt: %s: not delivered: the queue of client '%s' is full, and the broker "
                "disconnects it (0x77)\n",
                what, tq);
    } else {
        cli_error(what, r);
    }
}

int cli_wait_op(busrt_client *c, uint32_t op, int timeout_ms, const char *what,
                   const char *target)
{
    int r = busrt_wait_ack(c, op, timeout_ms);
    if (r != 0) {
        cli_op_error(what, target, r);
        return EXIT_ERR;
    }
    return 0;
}

/* Subscribes / excludes the topics with QoS 1 and waits for the ACK. */
int cli_topics_sync(busrt_client *c, int exclude, char **topics, int n, int timeout_ms)
{
    if (n == 0) {
        return 0;
    }
    uint32_t op = 0;
    int r = exclude ? busrt_exclude_many(c, (const char *const *)topics, (size_t)n,
                                         BUSRT_QOS_PROCESSED, &op)
                    : busrt_subscribe_many(c, (const char *const *)topics, (size_t)n,
                                           BUSRT_QOS_PROCESSED, &op);
    if (r != 0) {
        cli_op_error(exclude ? "exclude" : "subscribe", NULL, r);
        return EXIT_ERR;
    }
    return cli_wait_op(c, op, timeout_ms, exclude ? "exclude" : "subscribe", NULL);
}

void cli_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
}

/* Options -t/--topics TOPIC and --exclude TOPIC of listen / rpc listen. */
int cli_parse_topics(int argc, char **argv, char **subs, int *ns, char **excl, int *ne,
                        int allow_exclude)
{
    *ns = 0;
    *ne = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int is_ex = 0;
        if (strcmp(a, "-t") == 0 || strcmp(a, "--topics") == 0 || strcmp(a, "--topic") == 0) {
            v = i + 1 < argc ? argv[++i] : NULL;
        } else if (strncmp(a, "--topics=", 9) == 0) {
            v = a + 9;
        } else if (strncmp(a, "-t", 2) == 0 && a[2] != '\0') {
            v = a + 2;
        } else if (allow_exclude && strcmp(a, "--exclude") == 0) {
            v = i + 1 < argc ? argv[++i] : NULL;
            is_ex = 1;
        } else if (allow_exclude && strncmp(a, "--exclude=", 10) == 0) {
            v = a + 10;
            is_ex = 1;
        } else {
            return cli_usage_error("unexpected argument '%s'", a);
        }
        if (v == NULL) {
            return cli_usage_error("option '%s' needs a value", a);
        }
        if (is_ex) {
            excl[(*ne)++] = (char *)(uintptr_t)v;
        } else {
            subs[(*ns)++] = (char *)(uintptr_t)v;
        }
    }
    return 0;
}

static int cmd_listen(const struct cli_opts *o, int argc, char **argv)
{
    char **subs = calloc((size_t)argc + 1u, sizeof *subs);
    char **excl = calloc((size_t)argc + 1u, sizeof *excl);
    int ns = 0, ne = 0, rc = EXIT_ERR;
    busrt_client *c = NULL;
    if (subs == NULL || excl == NULL) {
        goto out;
    }
    rc = cli_parse_topics(argc, argv, subs, &ns, excl, &ne, 1);
    if (rc == 0) {
        rc = cli_check_topics(o, "listen", subs, ns, excl, ne);
    }
    if (rc != 0) {
        goto out;
    }
    rc = EXIT_ERR;
    c = cli_connect_main(o);
    if (c == NULL) {
        goto out;
    }
    if (cli_topics_sync(c, 1, excl, ne, o->timeout_ms) != 0 ||
        cli_topics_sync(c, 0, subs, ns, o->timeout_ms) != 0) {
        goto out;
    }
    cli_install_signals();
    cli_sep();
    printf("Listening to messages for %s ...\n", o->name);
    fflush(stdout);
    while (!g_stop) {
        struct busrt_frame f;
        int r = busrt_recv(c, &f, 200);
        if (r == 0) {
            cli_print_frame(&f, o->silent);
        } else if (r != BUSRT_E_TIMEOUT) {
            cli_error("connection lost", r);
            goto out;
        }
    }
    rc = 0;
out:
    busrt_client_close(c);
    free(subs);
    free(excl);
    return rc;
}

static int cmd_send_publish(const struct cli_opts *o, int publish, int argc, char **argv)
{
    if (argc < 1 || argc > 2) {
        return cli_usage_error("%s", publish ? "publish needs TOPIC [PAYLOAD]"
                                         : "send needs TARGET [PAYLOAD]");
    }
    const char *to = argv[0];
    const char *what = "send", *field = "target";
    if (publish) {
        what = "publish";
        field = "topic";
    } else if (busrt_mask_has_wildcard((const uint8_t *)to, strlen(to))) {
        what = "broadcast";
        field = "mask";
    }
    int rc = cli_check_field(what, field, to, "not sending");
    if (rc != 0) {
        return rc;
    }
    const uint8_t *p;
    size_t n;
    uint8_t *owned;
    if (cli_get_payload(argc > 1 ? argv[1] : NULL, &p, &n, &owned) != 0) {
        return EXIT_ERR;
    }
    if (cli_check_body(o, what, "payload", to, 0, n) != 0) {
        free(owned);
        return EXIT_ERR;
    }
    busrt_client *c = cli_connect_main(o);
    if (c == NULL) {
        free(owned);
        return EXIT_ERR;
    }
    uint32_t op = 0;
    int r;
    if (publish) {
        r = busrt_publish(c, to, p, n, BUSRT_QOS_PROCESSED, &op);
    } else if (strcmp(what, "broadcast") == 0) {
        r = busrt_broadcast(c, to, p, n, BUSRT_QOS_PROCESSED, &op);
    } else {
        r = busrt_send(c, to, p, n, BUSRT_QOS_PROCESSED, &op);
    }
    const char *target = strcmp(what, "send") == 0 ? to : NULL;
    if (r != 0) {
        cli_op_error(what, target, r);
        rc = EXIT_ERR;
    } else {
        rc = cli_wait_op(c, op, o->timeout_ms, what, target);
    }
    if (rc == 0) {
        puts("OK");
    }
    busrt_client_close(c);
    free(owned);
    return rc;
}

/* Broker commands: RPC calls to .broker. */
static int broker_call(busrt_client *c, const struct cli_opts *o, const char *method,
                       struct busrt_rpc_reply *rep)
{
    int r = busrt_rpc_call(c, ".broker", method, NULL, 0, BUSRT_QOS_PROCESSED, o->timeout_ms,
                           rep);
    if (r == BUSRT_E_RPC) {
        cli_print_rpc_error(rep);
        return EXIT_ERR;
    }
    if (r != 0) {
        cli_error(method, r);
        return EXIT_ERR;
    }
    return 0;
}

static int unpack_reply(const struct busrt_rpc_reply *rep, msgpack_unpacked *u)
{
    size_t off = 0;
    size_t obj_len = 0;
    msgpack_unpacked_init(u);
    if (busrt_mp_check(rep->data, rep->len, &obj_len) != 0 ||
        msgpack_unpack_next(u, (const char *)rep->data, obj_len, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        u->data.type != MSGPACK_OBJECT_MAP) {
        fputs("busrt: the broker's reply is not a MessagePack map\n", stderr);
        msgpack_unpacked_destroy(u);
        return -1;
    }
    return 0;
}

static void cell_num(const msgpack_object *o, char *buf, size_t cap)
{
    if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        cli_fnum(buf, cap, o->via.u64);
    } else if (o != NULL) {
        cli_mp_text(o, buf, cap);
    } else {
        buf[0] = '\0';
    }
}

/* Every client .broker lists (this connection included), with the spec's
 * field names as column titles, and a line naming this connection. */
static void print_client_list(const msgpack_object *root, const char *self)
{
    static const char *const keys[] = {"name",    "kind",    "source", "port",
                                       "r_frames", "r_bytes", "w_frames", "w_bytes",
                                       "queue",   "instances"};
    struct cli_table t;
    cli_table_init(&t, keys, 10);
    const msgpack_object *cl = cli_mp_get(root, "clients");
    if (cl != NULL && cl->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < cl->via.array.size; i++) {
            const msgpack_object *e = &cl->via.array.ptr[i];
            char cells[10][256];
            const char *row[10];
            for (size_t k = 0; k < 10; k++) {
                const msgpack_object *v = cli_mp_get(e, keys[k]);
                if (k >= 4) {
                    cell_num(v, cells[k], sizeof cells[k]);
                } else if (v != NULL) {
                    cli_mp_text(v, cells[k], sizeof cells[k]);
                } else {
                    cells[k][0] = '\0';
                }
                row[k] = cells[k];
            }
            cli_table_add(&t, row);
        }
    }
    cli_table_print(stdout, &t);
    cli_table_free(&t);
    const char *sec = strstr(self, "%%");
    if (sec != NULL) {
        /* Secondaries are not listed: they count in their primary's
         * instances. */
        printf("(this connection: %s, a secondary of %.*s)\n", self, (int)(sec - self), self);
    } else {
        printf("(this connection: %s)\n", self);
    }
}

static void print_fields(const msgpack_object *root, const char *const *keys, size_t n)
{
    static const char *const titles[] = {"field", "value"};
    struct cli_table t;
    cli_table_init(&t, titles, 2);
    for (size_t i = 0; i < n; i++) {
        char v[256];
        const msgpack_object *o = cli_mp_get(root, keys[i]);
        if (o != NULL) {
            cli_mp_text(o, v, sizeof v);
        } else {
            v[0] = '\0';
        }
        const char *row[2] = {keys[i], v};
        cli_table_add(&t, row);
    }
    /* then the broker's own keys (spec REQ-CORE-5 lets it add some), as sent */
    if (root->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < root->via.map.size; i++) {
            const msgpack_object *k = &root->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= 128u) {
                continue;
            }
            char name[128];
            memcpy(name, k->via.str.ptr, k->via.str.size);
            name[k->via.str.size] = '\0';
            int listed = 0;
            for (size_t j = 0; j < n && !listed; j++) {
                listed = strcmp(name, keys[j]) == 0;
            }
            if (listed || !busrt_utf8_valid((const uint8_t *)name, k->via.str.size)) {
                continue;
            }
            char v[256];
            cli_mp_text(&root->via.map.ptr[i].val, v, sizeof v);
            const char *row[2] = {name, v};
            cli_table_add(&t, row);
        }
    }
    cli_table_print(stdout, &t);
    cli_table_free(&t);
}

static int cmd_broker(const struct cli_opts *o, int argc, char **argv)
{
    if (argc != 1) {
        return cli_usage_error("%s", "broker needs one of: test, info, stats, client.list");
    }
    const char *m = argv[0];
    if (strcmp(m, "test") != 0 && strcmp(m, "info") != 0 && strcmp(m, "stats") != 0 &&
        strcmp(m, "client.list") != 0) {
        return cli_usage_error("unknown broker command '%s'", m);
    }
    busrt_client *c = cli_connect_main(o);
    if (c == NULL) {
        return EXIT_ERR;
    }
    struct busrt_rpc_reply rep;
    int rc = broker_call(c, o, m, &rep);
    if (rc == 0) {
        if (strcmp(m, "test") == 0) {
            cli_print_payload(stdout, rep.data, rep.len, o->silent);
        } else {
            msgpack_unpacked u;
            if (unpack_reply(&rep, &u) != 0) {
                rc = EXIT_ERR;
            } else {
                if (strcmp(m, "client.list") == 0) {
                    print_client_list(&u.data, o->name);
                } else if (strcmp(m, "info") == 0) {
                    static const char *const k[] = {"author", "version"};
                    print_fields(&u.data, k, 2);
                } else {
                    static const char *const k[] = {"r_frames", "r_bytes", "w_frames",
                                                    "w_bytes", "uptime"};
                    print_fields(&u.data, k, 5);
                }
                msgpack_unpacked_destroy(&u);
            }
        }
    }
    busrt_client_close(c);
    return rc;
}

/* ---- benchmark ------------------------------------------------------------------------ */

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    if (s == NULL || *s < '0' || *s > '9') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static int cmd_benchmark(const struct cli_opts *o, int argc, char **argv)
{
    unsigned long workers = 1, psize = 100, iters = 1000000;
    for (int i = 0; i < argc; i += 2) { /* OPTION VALUE pairs */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long *dst;
        unsigned long lo = 1, hi = 1000000000UL;
        if (strcmp(a, "-w") == 0 || strcmp(a, "--workers") == 0) {
            dst = &workers;
            hi = 256;
        } else if (strcmp(a, "--payload-size") == 0) {
            dst = &psize;
            lo = 0;
            hi = 64UL * 1024UL * 1024UL;
        } else if (strcmp(a, "-i") == 0 || strcmp(a, "--iters") == 0) {
            dst = &iters;
        } else {
            return cli_usage_error("unexpected benchmark argument '%s'", a);
        }
        if (v == NULL) {
            return cli_usage_error("benchmark: option '%s' needs a value", a);
        }
        if (parse_ulong(v, lo, hi, dst) != 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "benchmark: bad %s value '%.64s' (expected %lu..%lu); "
                     "not starting", a, v, lo, hi);
            return cli_usage_error("%s", msg);
        }
    }
    size_t body = cli_benchmark_max_body(o->name, (unsigned)workers, (size_t)psize);
    if (body > o->payload_limit) {
        fprintf(stderr,
                "busrt: benchmark: --payload-size %lu makes frame bodies of up to %zu bytes, "
                "above the payload-size limit of %lu bytes (--payload-size-limit); not "
                "starting\n",
                psize, body, (unsigned long)o->payload_limit);
        return EXIT_ERR;
    }
    if (o->verbose) {
        log_info("connecting to %s, using service names starting with %s-", o->addr, o->name);
    }
    return cli_benchmark(o, (unsigned)workers, (size_t)psize, iters);
}

/* ---- main ------------------------------------------------------------------------------- */

static int parse_timeout(const char *v, int *ms)
{
    if (v == NULL) {
        return -1;
    }
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d > 0) || d > 86400.0) {
        return -1;
    }
    double m = d * 1000.0;
    *ms = m < 1.0 ? 1 : (int)m;
    return 0;
}

/* The options that come before the command. */
enum gopt {
    G_NAME,
    G_TIMEOUT,
    G_BUF_SIZE,
    G_QUEUE_SIZE,
    G_PAYLOAD_LIMIT,
    G_VERBOSE,
    G_SILENT,
    G_COUNT
};
static const struct {
    const char *s, *l; /* short (or NULL) and long spelling */
    int takes_value;
} GOPTS[G_COUNT] = {
    {"-n", "--name", 1},      {NULL, "--timeout", 1}, {NULL, "--buf-size", 1},
    {NULL, "--queue-size", 1}, {NULL, "--payload-size-limit", 1},
    {"-v", "--verbose", 0},    {"-s", "--silent", 0},
};

/* The global option a names (G_COUNT when none). *inl: the value after
 * "--long=" (NULL when not given that way); *len: the length of the
 * option's name in a. */
static int match_gopt(const char *a, const char **inl, size_t *len)
{
    *inl = NULL;
    for (int k = 0; k < G_COUNT; k++) {
        size_t ll = strlen(GOPTS[k].l);
        if ((GOPTS[k].s != NULL && strcmp(a, GOPTS[k].s) == 0)) {
            *len = strlen(a);
            return k;
        }
        if (strncmp(a, GOPTS[k].l, ll) == 0 &&
            (a[ll] == '\0' || (GOPTS[k].takes_value && a[ll] == '='))) {
            *inl = a[ll] == '=' ? a + ll + 1 : NULL;
            *len = ll;
            return k;
        }
    }
    return G_COUNT;
}

int main(int argc, char **argv)
{
    struct cli_opts o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = 5000;
    o.payload_limit = CLI_DEFAULT_PAYLOAD_LIMIT;
    g_log_opts = &o;
    signal(SIGPIPE, SIG_IGN);

    /* --help / --version anywhere up to a "--". */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            printf("busrt %s\n", BUSRT_VERSION_STRING);
            return 0;
        }
    }
    int i = 1;
    const char *cmd = NULL;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        size_t nl = 0;
        int g = match_gopt(a, &v, &nl);
        if (g == G_COUNT) {
            if (a[0] == '-' && a[1] != '\0') {
                return cli_usage_error("unknown option '%s'", a);
            }
            if (o.addr == NULL) {
                o.addr = a;
                continue;
            }
            cmd = a;
            i++;
            break;
        }
        if (GOPTS[g].takes_value && v == NULL) {
            if (i + 1 >= argc) {
                return cli_usage_error("option '%s' needs a value", a);
            }
            v = argv[++i];
        }
        unsigned long n = 0;
        switch (g) {
        case G_NAME:
            o.name = v;
            break;
        case G_TIMEOUT:
            if (parse_timeout(v, &o.timeout_ms) != 0) {
                return cli_usage_error("bad --timeout value '%s' (expected seconds, more than 0 "
                                   "and at most 86400, decimals allowed)", v);
            }
            break;
        case G_BUF_SIZE:
        case G_QUEUE_SIZE:
            if (parse_ulong(v, 1, 1UL << 30, &n) != 0) {
                return cli_usage_error(g == G_BUF_SIZE ? "bad --buf-size value '%s' (expected "
                                                     "1..1073741824 bytes)"
                                                   : "bad --queue-size value '%s' (expected "
                                                     "1..1073741824)", v);
            }
            if (g == G_BUF_SIZE) {
                o.buf_size = (size_t)n;
            }
            break;
        case G_PAYLOAD_LIMIT:
            if (parse_ulong(v, 1, BUSRT_BODY_MAX, &n) != 0) {
                return cli_usage_error("bad --payload-size-limit value '%s' (expected "
                                   "1..4294901759 bytes)", v);
            }
            o.payload_limit = (uint32_t)n;
            break;
        case G_VERBOSE:
            o.verbose = 1;
            break;
        case G_SILENT:
            o.silent = 1;
            break;
        default:
            break;
        }
    }
    if (o.addr == NULL) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cmd == NULL) {
        return cli_usage_error("%s", "a COMMAND is required");
    }
    /* Global options after the command are a mistake, not arguments; a
     * "--" ends this check (and is dropped) so that e.g. a payload may
     * start with '-'. */
    for (int k = i; k < argc; k++) {
        if (strcmp(argv[k], "--") == 0) {
            memmove(&argv[k], &argv[k + 1], (size_t)(argc - k) * sizeof *argv);
            argc--;
            break;
        }
        const char *inl;
        size_t nl = 0;
        if (match_gopt(argv[k], &inl, &nl) != G_COUNT) {
            char opt[32];
            snprintf(opt, sizeof opt, "%.*s", (int)nl, argv[k]);
            return cli_usage_error("option %s must come before the command "
                               "(busrt ADDR [OPTIONS] COMMAND ...)", opt);
        }
    }
    char gen_name[320];
    if (o.name == NULL) {
        char host[256];
        if (gethostname(host, sizeof host) != 0) {
            snprintf(host, sizeof host, "localhost");
        }
        host[sizeof host - 1u] = '\0';
        snprintf(gen_name, sizeof gen_name, "cli.%s.%ld", host, (long)getpid());
        o.name = gen_name;
    }
    char why[512], q[300];
    struct cli_addr pa;
    if (cli_parse_addr(o.addr, &pa, why, sizeof why) != 0) {
        cli_quote(q, sizeof q, o.addr);
        fprintf(stderr, "busrt: address '%s': %s; not connecting\n", q, why);
        return EXIT_USAGE;
    }
    if (cli_check_name(o.name, why, sizeof why) != 0) {
        cli_quote(q, sizeof q, o.name);
        fprintf(stderr, "busrt: client name '%s': %s; not connecting\n", q, why);
        return EXIT_USAGE;
    }
    int cargc = argc - i;
    char **cargv = argv + i;
    if (strcmp(cmd, "broker") == 0) {
        return cmd_broker(&o, cargc, cargv);
    }
    if (strcmp(cmd, "listen") == 0) {
        return cmd_listen(&o, cargc, cargv);
    }
    if (strcmp(cmd, "send") == 0) {
        return cmd_send_publish(&o, 0, cargc, cargv);
    }
    if (strcmp(cmd, "publish") == 0) {
        return cmd_send_publish(&o, 1, cargc, cargv);
    }
    if (strcmp(cmd, "rpc") == 0) {
        return cli_cmd_rpc(&o, cargc, cargv);
    }
    if (strcmp(cmd, "benchmark") == 0) {
        return cmd_benchmark(&o, cargc, cargv);
    }
    return cli_usage_error("unknown command '%s'", cmd);
}
