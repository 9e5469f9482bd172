/* Runs one conformance case against a broker: sets up the case (its broker
 * instance, the .broker probe of RPC cases), then runs each step through
 * the table of step kinds. Everything talks to the broker only through its
 * sockets; frames are built and parsed with the core codec
 * (ref/include/busrt). Every wait is a poll() with a deadline. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <stdlib.h>
#include <string.h>

/* ---- failure reporting ------------------------------------------------------ */

int failf(struct case_exec *ce, const char *fmt, ...)
{
    struct result *res = ce->res;
    if (res->st == ST_FAIL) {
        return -1;
    }
    res->st = ST_FAIL;
    res->step = ce->stepno;
    buf_reset(&res->msg);
    if (ce->stepno > 0) {
        json_t *c = ce->step != NULL ? json_object_get(ce->step, "client") : NULL;
        buf_printf(&res->msg, "step %d (%s%s%s): ", ce->stepno, ce->stepname,
                   c != NULL ? ", client " : "", c != NULL ? json_string_value(c) : "");
    }
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_adds(&res->msg, tmp);
    if (ce->step != NULL) {
        char *s = json_dumps(ce->step,
                             JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        if (s != NULL) {
            char *ss = subst(s, ce->prefix, 0);
            buf_reset(&res->steptext);
            buf_adds(&res->steptext, ss);
            free(ss);
            free(s);
        }
    }
    return -1;
}

void note_variant(struct case_exec *ce, const char *name)
{
    size_t used = strlen(ce->res->variant);
    snprintf(ce->res->variant + used, sizeof ce->res->variant - used, "%s%s",
             used > 0 ? "; " : "", name);
}

/* ---- step parameters ---------------------------------------------------------- */

int64_t step_bound(struct case_exec *ce, const json_t *st)
{
    json_t *w = json_object_get(st, "within_t");
    if (w != NULL) {
        return (int64_t)(json_number_value(w) * (double)ce->T_ms);
    }
    return ce->bound_ms;
}

int64_t step_duration(struct case_exec *ce, const json_t *st)
{
    json_t *t = json_object_get(st, "for_t");
    if (t != NULL) {
        return (int64_t)(json_number_value(t) * (double)ce->T_ms);
    }
    return (int64_t)json_integer_value(json_object_get(st, "for_ms"));
}

static int step_sleep(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    (void)c;
    pump(ce, now_ms() + step_duration(ce, st), pred_never, NULL);
    return 0;
}

/* What a step does with the client its "client" field names. */
enum step_client {
    SC_NONE,   /* nothing (or it names several itself) */
    SC_NEED,   /* it must exist */
    SC_CREATE, /* created when new (connect, open) */
};

/* The step kinds, by the value of "do". */
static const struct {
    const char *name;
    step_fn fn;
    enum step_client client;
} step_table[] = {
    {"connect", step_connect, SC_CREATE},
    {"open", step_open, SC_CREATE},
    {"send", step_send, SC_NEED},
    {"expect", step_expect, SC_NEED},
    {"expect_bytes", step_expect_bytes, SC_NEED},
    {"wait_for", step_wait_for, SC_NEED},
    {"expect_none", step_expect_none, SC_NONE},
    {"expect_close", step_expect_close, SC_NEED},
    {"barrier", step_barrier, SC_NEED},
    {"sleep", step_sleep, SC_NONE},
    {"close", step_close, SC_NEED},
    {"expect_variant", step_expect_variant, SC_NEED},
    {"flood", step_flood, SC_NEED},
    {"count_nops", step_count_nops, SC_NEED},
    {"fifo_write", step_fifo_write, SC_NONE},
    {"fifo_check", step_fifo_check, SC_NONE},
    {"update_acl", step_update_acl, SC_NONE},
    {"stop_broker", step_stop_broker, SC_NONE},
};

static int run_step(struct case_exec *ce, json_t *st)
{
    const char *d = json_string_value(json_object_get(st, "do"));
    ce->stepname = d;
    ce->step = st;
    if (ce->r->verbose) {
        char *s = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(stderr, "#   step %d: %s\n", ce->stepno, s != NULL ? s : d);
        free(s);
    }
    for (size_t i = 0; i < sizeof step_table / sizeof step_table[0]; i++) {
        if (strcmp(d, step_table[i].name) != 0) {
            continue;
        }
        const char *l = json_string_value(json_object_get(st, "client"));
        struct cf_client *c = NULL;
        if (step_table[i].client == SC_CREATE) {
            c = client_get(ce, l, 1);
        } else if (step_table[i].client == SC_NEED) {
            c = client_get(ce, l != NULL ? l : "", 0);
            if (c == NULL) {
                return failf(ce, "unknown client");
            }
        }
        return step_table[i].fn(ce, st, c);
    }
    return failf(ce, "unknown step %s", d);
}

/* ---- optional features ---------------------------------------------------- */

/* Does the broker have the internal client .broker (Section 13)? A message
 * to it with QoS 1 is acknowledged 01 when it exists, 71 when not. */
static int probe_core_rpc(struct case_exec *ce)
{
    json_t *st = json_pack("{s:s, s:s, s:s}", "do", "connect", "client", "~probe", "name",
                           "${p}.probe");
    struct cf_client *c = client_get(ce, "~probe", 1);
    char outcome[32] = "";
    int have = -1;
    if (handshake(ce, c, st, outcome, sizeof outcome) == 0 && strcmp(outcome, "01") == 0) {
        static const uint8_t frame[] = {0x01, 0x00, 0x00, 0x00, 0x52, 0x12, 0x00, 0x00,
                                        0x00, '.', 'b', 'r', 'o', 'k', 'e', 'r', 0x00,
                                        0x01, 0x00, 0x00, 0x00, 0x00, 't', 'e', 's', 't', 0x00};
        queue_bytes(c, frame, sizeof frame);
        int64_t deadline = now_ms() + ce->bound_ms;
        while (have < 0) {
            struct bframe f;
            int rc = next_frame(ce, c, deadline, &f);
            if (rc != 1) {
                break;
            }
            if (f.type == F_ACK) {
                have = f.code == 0x01 ? 1 : 0;
            }
            bframe_free(&f);
        }
    }
    json_decref(st);
    client_reset(c);
    ce->ncl--;
    if (ce->res->st == ST_FAIL) { /* the probe itself failed: let the case run */
        ce->res->st = ST_PASS;
        buf_reset(&ce->res->msg);
        have = 1;
    }
    return have < 0 ? 1 : have;
}

void run_case(struct run *r, struct kase *k, struct result *res)
{
    struct case_exec *ce = xmalloc(sizeof *ce);
    memset(ce, 0, sizeof *ce);
    ce->r = r;
    ce->k = k;
    ce->res = res;
    res->st = ST_PASS;
    res->variant[0] = '\0';
    int64_t t0 = now_ms();
    snprintf(ce->prefix, sizeof ce->prefix, "%sn%03x", r->run_prefix, (unsigned)k->index);
    ce->T_ms = (int64_t)(r->T * 1000.0);
    ce->ping_ms = ce->T_ms / 4 < 1000 ? ce->T_ms / 4 : 1000;
    if (ce->ping_ms < 10) {
        ce->ping_ms = 10;
    }
    ce->bound_ms = (int64_t)(r->wait_t * (double)ce->T_ms);
    if (ce->bound_ms < 1000) {
        ce->bound_ms = 1000;
    }
    int needs_stop = 0, needs_reload = 0;
    size_t i;
    json_t *st;
    json_array_foreach(k->steps, i, st) {
        const char *d = json_string_value(json_object_get(st, "do"));
        needs_stop |= strcmp(d, "stop_broker") == 0;
        needs_reload |= strcmp(d, "update_acl") == 0;
    }
    char why[512] = "";
    ce->in = NULL;
    if (needs_reload && r->target == NULL && r->reload_signal == 0) {
        snprintf(why, sizeof why, "the case reloads the access policy: needs --reload-signal");
    } else {
        ce->in = instance_for(r, k->broker, ce->prefix, needs_stop || needs_reload, why,
                              sizeof why);
    }
    if (ce->in == NULL) {
        res->st = ST_SKIP;
        buf_adds(&res->msg, why);
    } else if (ce->in->failed) {
        failf(ce, "the broker instance for this case did not start: %s", ce->in->err);
    } else {
        int skip = 0;
        if (strcmp(k->profile, "rpc") == 0) {
            if (ce->in->core_rpc == 0) {
                ce->in->core_rpc = probe_core_rpc(ce) ? 1 : -1;
            }
            if (ce->in->core_rpc < 0) {
                res->st = ST_SKIP;
                buf_adds(&res->msg, "the broker has no internal client .broker (OPTIONAL, "
                                    "Section 13): a message to it is acknowledged 71");
                skip = 1;
            }
        }
        json_array_foreach(k->steps, i, st) {
            if (skip) {
                break;
            }
            ce->stepno = (int)i + 1;
            if (run_step(ce, st) != 0) {
                break;
            }
        }
    }
    for (i = 0; i < ce->ncl; i++) {
        client_reset(&ce->cl[i]);
    }
    if (ce->in != NULL && ce->in->is_private) {
        instance_stop(ce->in);
    }
    res->ms = now_ms() - t0;
    free(ce);
}
