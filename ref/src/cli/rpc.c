/* busrt CLI: the rpc commands (listen, notify, call0, call), and following
 * an RPC cursor that rpc call returns (busrt/cursor.h). */
#define _DEFAULT_SOURCE
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "busrt/codes.h"
#include "busrt/cursor.h"
#include "busrt/mpack.h"
#include "busrt/rpc.h"
#include "busrt/utf8.h"

/* "RPC Error CODE: " and the error data; when the data is empty, the
 * meaning of a code the spec defines. */
void cli_print_rpc_error(const struct busrt_rpc_reply *rep)
{
    if (rep->len > 0) {
        fprintf(stderr, "busrt: RPC Error %d: %.*s\n", rep->code, (int)rep->len,
                (const char *)rep->data);
        return;
    }
    char text[128];
    if (cli_rpc_code_text(rep->code, text, sizeof text) != 0) {
        snprintf(text, sizeof text, "(the error reply has no message)");
    }
    fprintf(stderr, "busrt: RPC Error %d: %s\n", rep->code, text);
}

struct rpc_listen_ctx {
    int silent;
};

static int rl_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                   struct busrt_rpc_result *res)
{
    const struct rpc_listen_ctx *x = ctx;
    (void)c;
    (void)res;
    if (busrt_utf8_valid((const uint8_t *)ev->method, ev->method_len)) {
        printf("method: %s\n", ev->method);
    } else {
        printf("method: HEX: ");
        for (size_t i = 0; i < ev->method_len; i++) {
            printf("%02x", (unsigned)(uint8_t)ev->method[i]);
        }
        putchar('\n');
    }
    printf("from %s (%.*s)\n", ev->frame->sender, (int)ev->frame->primary_sender_len,
           ev->frame->primary_sender);
    cli_print_payload(stdout, ev->data, ev->data_len, x->silent);
    cli_sep();
    fflush(stdout);
    return 0; /* an empty result */
}

static int rl_notification(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                           struct busrt_rpc_result *res)
{
    const struct rpc_listen_ctx *x = ctx;
    (void)c;
    (void)res;
    printf("Notification from %s (%.*s)\n", ev->frame->sender,
           (int)ev->frame->primary_sender_len, ev->frame->primary_sender);
    cli_print_payload(stdout, ev->data, ev->data_len, x->silent);
    cli_sep();
    fflush(stdout);
    return 0;
}

static void rl_frame(void *ctx, busrt_client *c, const struct busrt_frame *f)
{
    const struct rpc_listen_ctx *x = ctx;
    (void)c;
    cli_print_frame(f, x->silent);
}

static int cmd_rpc_listen(const struct cli_opts *o, int argc, char **argv)
{
    char **subs = calloc((size_t)argc + 1u, sizeof *subs);
    int ns = 0, ne = 0, rc = EXIT_ERR;
    busrt_client *c = NULL;
    if (subs == NULL) {
        return EXIT_ERR;
    }
    rc = cli_parse_topics(argc, argv, subs, &ns, NULL, &ne, 0);
    if (rc == 0) {
        rc = cli_check_topics(o, "rpc listen", subs, ns, NULL, 0);
    }
    if (rc != 0) {
        goto out;
    }
    rc = EXIT_ERR;
    c = cli_connect_main(o);
    if (c == NULL || cli_topics_sync(c, 0, subs, ns, o->timeout_ms) != 0) {
        goto out;
    }
    cli_install_signals();
    cli_sep();
    printf("Listening to RPC messages for %s ...\n", o->name);
    fflush(stdout);
    struct rpc_listen_ctx x = {o->silent};
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    s.on_call = rl_call;
    s.on_notification = rl_notification;
    s.on_frame = rl_frame;
    s.ctx = &x;
    while (!cli_stop_requested()) {
        int r = busrt_rpc_serve(c, &s, 200);
        if (r != BUSRT_E_TIMEOUT && r != 0) {
            cli_error("connection lost", r);
            goto out;
        }
    }
    rc = 0;
out:
    busrt_client_close(c);
    free(subs);
    return rc;
}

/* ---- Following a cursor ------------------------------------------------------------ */

/* Largest --bulk: the library's default maximum block of a cursor table. */
#define FOLLOW_BULK_MAX BUSRT_CURSOR_DEFAULT_MAX_BULK

struct follow_opts {
    int follow;     /* --follow or --bulk given */
    uint32_t bulk;  /* --bulk N: NB with N items per call; 0: N */
};

/* Takes --follow, --bulk N and --bulk=N out of the words after "rpc call"
 * (the rest are TARGET, METHOD and the params). 0, or EXIT_USAGE with a
 * message. */
static int follow_options(char **words, int *nw, struct follow_opts *fo)
{
    int k = 0;
    for (int i = 0; i < *nw; i++) {
        const char *a = words[i];
        const char *v = NULL;
        if (strcmp(a, "--follow") == 0) {
            fo->follow = 1;
            continue;
        }
        if (strcmp(a, "--bulk") == 0) {
            if (i + 1 >= *nw) {
                return cli_usage_error("rpc call: option '%s' needs a value", a);
            }
            v = words[++i];
        } else if (strncmp(a, "--bulk=", 7) == 0) {
            v = a + 7;
        } else {
            words[k++] = words[i];
            continue;
        }
        char *end = NULL;
        unsigned long n = strtoul(v, &end, 10);
        if (v[0] < '0' || v[0] > '9' || *end != '\0' || n == 0 || n > FOLLOW_BULK_MAX) {
            return cli_usage_error("rpc call: bad --bulk value '%s' (expected 1..10000 items "
                                   "per call); not sending", v);
        }
        fo->follow = 1;
        fo->bulk = (uint32_t)n;
    }
    *nw = k;
    return 0;
}

/* Prints each item of an NB block (a MessagePack array) as a result;
 * -1 when the block is malformed. */
static int print_block(const struct busrt_rpc_reply *b, uint32_t count, int silent)
{
    const uint8_t *p = b->data;
    size_t hl = p[0] < 0xDCu ? 1u : (p[0] == 0xDCu ? 3u : 5u);
    size_t off = hl;
    for (uint32_t i = 0; i < count; i++) {
        size_t ol = 0;
        if (off >= b->len || busrt_mp_check(p + off, b->len - off, &ol) != 0) {
            return -1;
        }
        cli_print_payload(stdout, p + off, ol, silent);
        off += ol;
    }
    return 0;
}

/* Follows the cursor whose id map rep holds: calls N (or NB with bulk
 * items) until the end and prints each item as a result. */
static int follow(const struct cli_opts *o, busrt_client *c, const char *target,
                  const struct busrt_rpc_reply *rep, uint32_t bulk)
{
    busrt_cursor *cur = NULL;
    int r = busrt_cursor_open(c, target, rep->data, rep->len, BUSRT_QOS_PROCESSED,
                              o->timeout_ms, &cur);
    if (r != 0) {
        cli_error("rpc call: following the cursor", r);
        return EXIT_ERR;
    }
    struct busrt_rpc_reply it;
    uint32_t count = 0;
    do {
        r = bulk > 0u ? busrt_cursor_next_bulk(cur, bulk, &it, &count)
                      : busrt_cursor_next(cur, &it);
        if (r == 1 && bulk == 0u) {
            cli_print_payload(stdout, it.data, it.len, o->silent);
        } else if (r >= 0 && bulk > 0u && print_block(&it, count, o->silent) != 0) {
            r = BUSRT_E_PROTO;
        } else {
            /* the end (0), or an error reported below */
        }
        fflush(stdout);
    } while (r == 1);
    busrt_cursor_close(cur);
    if (r == BUSRT_E_RPC) {
        cli_print_rpc_error(&it);
    } else if (r == BUSRT_E_PROTO) {
        fputs("busrt: rpc call: a cursor block (NB) is not a MessagePack array of items; "
              "stopped\n", stderr);
    } else if (r != 0) {
        cli_op_error("rpc call", target, r);
    } else {
        /* the cursor ended */
    }
    return r == 0 ? 0 : EXIT_ERR;
}

/* When busrt_rpc_call failed because the broker ACKed the call frame with
 * result code C (reply code -32000 - C, data the library's text for C):
 * BUSRT_E_RC(C); else 0. */
static int ack_refusal(const struct busrt_rpc_reply *rep)
{
    if (rep->code > -32000 - (int)BUSRT_RC_NOT_REGISTERED || rep->code < -32000 - 0xFF) {
        return 0;
    }
    int err = BUSRT_E_RC(-32000 - rep->code);
    const char *text = busrt_client_strerror(err);
    size_t n = strlen(text);
    return rep->len == n && memcmp(rep->data, text, n) == 0 ? err : 0;
}

int cli_cmd_rpc(const struct cli_opts *o, int argc, char **argv)
{
    if (argc < 1) {
        return cli_usage_error("%s", "rpc needs one of: listen, notify, call0, call");
    }
    const char *sub = argv[0];
    if (strcmp(sub, "listen") == 0) {
        return cmd_rpc_listen(o, argc - 1, argv + 1);
    }
    if (strcmp(sub, "notify") == 0) {
        if (argc < 2 || argc > 3) {
            return cli_usage_error("%s", "rpc notify needs TARGET [PAYLOAD]");
        }
        int rc = cli_check_field("rpc notify", "target", argv[1], "not sending");
        if (rc != 0) {
            return rc;
        }
        const uint8_t *p;
        size_t n;
        uint8_t *owned;
        if (cli_get_payload(argc > 2 ? argv[2] : NULL, &p, &n, &owned) != 0) {
            return EXIT_ERR;
        }
        /* The notification header is one byte. */
        busrt_client *c = cli_check_body(o, "rpc notify", "payload", argv[1], 1, n) == 0
                              ? cli_connect_main(o)
                              : NULL;
        rc = EXIT_ERR;
        if (c != NULL) {
            uint32_t op = 0;
            int r = busrt_rpc_notify(c, argv[1], p, n, BUSRT_QOS_PROCESSED, &op);
            if (r != 0) {
                cli_op_error("rpc notify", argv[1], r);
            } else if ((rc = cli_wait_op(c, op, o->timeout_ms, "rpc notify", argv[1])) == 0) {
                puts("OK");
            }
        }
        busrt_client_close(c);
        free(owned);
        return rc;
    }
    if (strcmp(sub, "call") != 0 && strcmp(sub, "call0") != 0) {
        return cli_usage_error("unknown rpc command '%s'", sub);
    }
    int call0 = strcmp(sub, "call0") == 0;
    struct follow_opts fo = {0, 0};
    if (!call0) {
        /* The options may come anywhere after "call". */
        int nw = argc - 1;
        int fr = follow_options(argv + 1, &nw, &fo);
        if (fr != 0) {
            return fr;
        }
        argc = nw + 1;
    }
    if (argc < 3) {
        return cli_usage_error("rpc %s needs TARGET METHOD [PARAMS]", sub);
    }
    const char *target = argv[1], *method = argv[2];
    char what[16];
    snprintf(what, sizeof what, "rpc %s", sub);
    int rc = cli_check_field(what, "target", target, "not sending");
    if (rc != 0) {
        return rc;
    }
    size_t mlen = strlen(method);
    if (mlen == 0 || mlen > BUSRT_NAME_MAX) {
        fprintf(stderr, "busrt: %s: the method name is %s (%zu bytes; expected 1..%u); "
                "not sending\n", what, mlen == 0 ? "empty" : "too long", mlen,
                (unsigned)BUSRT_NAME_MAX);
        return EXIT_USAGE;
    }
    char **words = argv + 3;
    int nw = argc - 3;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint8_t *owned = NULL;
    const uint8_t *params = NULL;
    size_t plen = 0;
    if (nw == 1 && strcmp(words[0], "-") == 0) {
        if (cli_get_payload(NULL, &params, &plen, &owned) != 0) {
            msgpack_sbuffer_destroy(&sb);
            return EXIT_ERR;
        }
    } else if (nw > 0) {
        int bad = 0;
        int pr = cli_params_pack(words, nw, &sb, &bad);
        if (pr != 0) {
            if (pr == CLI_PARAMS_SYNTAX) {
                fprintf(stderr, "busrt: invalid parameter '%s' (expected key=value)\n",
                        words[bad]);
            } else {
                fprintf(stderr, "busrt: out of memory encoding the parameters\n");
            }
            msgpack_sbuffer_destroy(&sb);
            return pr == CLI_PARAMS_SYNTAX ? EXIT_USAGE : EXIT_ERR;
        }
        params = (const uint8_t *)sb.data;
        plen = sb.size;
    }
    rc = EXIT_ERR;
    /* The request header: kind, call id (4 bytes), method, NUL. */
    busrt_client *c = cli_check_body(o, what, "params", target, 6u + mlen, plen) == 0
                          ? cli_connect_main(o)
                          : NULL;
    if (c != NULL) {
        if (call0) {
            uint32_t op = 0;
            int r = busrt_rpc_call0(c, target, method, params, plen, BUSRT_QOS_PROCESSED, &op);
            if (r != 0) {
                cli_op_error(what, target, r);
            } else if ((rc = cli_wait_op(c, op, o->timeout_ms, what, target)) == 0) {
                puts("OK");
            }
        } else {
            struct busrt_rpc_reply rep;
            int r = busrt_rpc_call(c, target, method, params, plen, BUSRT_QOS_PROCESSED,
                                   o->timeout_ms, &rep);
            if (r == 0 && fo.follow && busrt_cursor_is_id_map(rep.data, rep.len)) {
                rc = follow(o, c, target, &rep, fo.bulk);
            } else if (r == 0) {
                if (fo.follow && !o->silent) {
                    fputs("busrt: rpc call: the result is not a cursor ({\"u\": ID}); "
                          "printed as it is\n", stderr);
                }
                cli_print_payload(stdout, rep.data, rep.len, o->silent);
                rc = 0;
            } else if (r == BUSRT_E_RPC && ack_refusal(&rep) != 0) {
                /* The broker refused the call frame: reported as for
                 * other messages. */
                cli_op_error(what, target, ack_refusal(&rep));
            } else if (r == BUSRT_E_RPC) {
                cli_print_rpc_error(&rep);
            } else {
                cli_op_error(what, target, r);
            }
        }
    }
    busrt_client_close(c);
    free(owned);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
