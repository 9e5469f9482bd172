/* Loading and validating the case files (conformance/cases/ *.json) and the
 * exemption list; the coverage self-check. The schema is documented in
 * conformance/README.md; everything a case may contain is checked here so
 * that a typo fails loudly instead of being ignored. */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static const char *const LEVELS[LV_COUNT] = {"MUST", "SHOULD", "MAY", "compat-quirk"};

static const char *const PROFILES[] = {"core", "malformed", "timing", "rpc", "limits",
                                       "fifo", "acl", "transport", NULL};

static const char *const BROKER_OPTS[] = {
    "transport", "private", "queue_size", "payload_size_limit", "max_clients",
    "max_subscriptions", "max_exclusions", "max_name_len", "force_register", "fifo",
    "extra_listener", "acl", NULL};

const char *level_name(enum level l)
{
    return (unsigned)l < LV_COUNT ? LEVELS[l] : "?";
}

/* ---- schema ---------------------------------------------------------------- */

struct field {
    const char *name;
    char type; /* S string, I integer, N number, B bool, A array, O object, * any */
};

struct stepdef {
    const char *name;
    int needs_client;
    struct field f[16];
};

static const struct stepdef STEPS[] = {
    {"connect", 1, {{"name", 'S'}, {"name_hex", 'S'}, {"expect", '*'}, {"greeting_hex", 'S'},
                    {"via", 'S'}, {"autoping", 'B'}, {"read", 'B'}, {"rcvbuf", 'I'},
                    {"retry_within_t", 'N'}, {"within_t", 'N'}, {"name_pad_to", 'I'},
                    {"pause_t", 'N'}, {NULL, 0}}},
    {"open", 1, {{"via", 'S'}, {"rcvbuf", 'I'}, {"read", 'B'}, {NULL, 0}}},
    {"send", 1, {{"frame", 'O'}, {"hex", 'S'}, {"ack", '*'}, {"within_t", 'N'}, {"split_at", 'A'},
                {"pause_t", 'N'}, {NULL, 0}}},
    {"expect", 1, {{"frame", 'O'}, {"frames", 'A'}, {"any_order", 'B'}, {"count", 'I'},
                   {"within_t", 'N'}, {NULL, 0}}},
    {"expect_bytes", 1, {{"hex", 'S'}, {"within_t", 'N'}, {NULL, 0}}},
    {"wait_for", 1, {{"frame", 'O'}, {"forbid", 'A'}, {"within_t", 'N'}, {NULL, 0}}},
    {"expect_none", 0, {{"client", 'S'}, {"clients", 'A'}, {"for_t", 'N'}, {"for_ms", 'I'},
                        {"strict", 'B'}, {NULL, 0}}},
    {"expect_close", 1, {{"within_t", 'N'}, {"allow", '*'}, {"raw", 'B'}, {"strict", 'B'},
                         {NULL, 0}}},
    {"barrier", 1, {{"to", 'A'}, {NULL, 0}}},
    {"sleep", 0, {{"for_t", 'N'}, {"for_ms", 'I'}, {NULL, 0}}},
    {"close", 1, {{NULL, 0}}},
    {"expect_variant", 1, {{"until", '*'}, {"variants", 'A'}, {"within_t", 'N'}, {NULL, 0}}},
    {"flood", 1, {{"frame", 'O'}, {"count", 'I'}, {"until_ack", '*'}, {"max", 'I'},
                  {"acks", '*'}, {"lockstep", 'B'}, {NULL, 0}}},
    {"count_nops", 1, {{"for_t", 'N'}, {"min", 'I'}, {"max", 'I'}, {NULL, 0}}},
    {"fifo_write", 0, {{"line", 'S'}, {"line_hex", 'S'}, {"newline", 'B'}, {NULL, 0}}},
    {"fifo_check", 0, {{"mode", 'S'}, {NULL, 0}}},
    {"stop_broker", 0, {{NULL, 0}}},
    {"update_acl", 0, {{"acl", 'O'}, {NULL, 0}}},
    {NULL, 0, {{NULL, 0}}},
};

static const struct field FRAME_FIELDS[] = {
    {"op", '*'}, {"qos", 'I'}, {"flags", '*'}, {"op_id", 'I'}, {"op_id_hex", 'S'},
    {"length", 'I'}, {"body", 'S'}, {"body_hex", 'S'}, {"topic", 'S'}, {"topic_hex", 'S'},
    {"target", 'S'}, {"target_hex", 'S'}, {"mask", 'S'}, {"mask_hex", 'S'},
    {"receiver", 'S'}, {"receiver_hex", 'S'}, {"patterns", 'A'}, {"patterns_hex", 'A'},
    {"payload", 'S'}, {"payload_hex", 'S'}, {"payload_fill", 'O'}, {"payload_rpc", 'O'},
    {"truncate", 'I'}, {"pad_body_to", 'I'}, {NULL, 0}};

static const struct field MATCH_FIELDS[] = {
    {"kind", 'S'}, {"sender", 'S'}, {"sender_hex", 'S'}, {"topic", 'S'}, {"topic_hex", 'S'},
    {"payload", 'S'}, {"payload_hex", 'S'}, {"payload_fill", 'O'}, {"payload_msgpack", '*'},
    {"rpc", 'O'}, {"realtime", 'I'}, {"op_id", 'I'}, {"op_id_hex", 'S'}, {"code", '*'},
    {NULL, 0}};

static const struct field RPC_MATCH_FIELDS[] = {
    {"kind", 'S'}, {"call_id", 'I'}, {"result", 'S'}, {"result_hex", 'S'},
    {"result_msgpack", '*'}, {"code", 'L'}, {"message", 'S'}, {"message_hex", 'S'},
    {"method", 'S'}, {"params_hex", 'S'}, {"params_msgpack", '*'}, {"data", 'S'},
    {"data_hex", 'S'}, {NULL, 0}};

static const struct field RPC_BUILD_FIELDS[] = {
    {"kind", '*'}, {"call_id", 'I'}, {"method", 'S'}, {"method_hex", 'S'}, {"params", 'S'},
    {"params_hex", 'S'}, {"params_msgpack", '*'}, {"data", 'S'}, {"data_hex", 'S'},
    {"code", 'I'}, {"message", 'S'}, {NULL, 0}};

static const struct field FILL_FIELDS[] = {{"hex", 'S'}, {"len", 'I'}, {NULL, 0}};
static const struct field VARIANT_FIELDS[] = {{"name", 'S'}, {"frames", 'A'}, {"hex", 'S'},
                                              {NULL, 0}};

static int type_ok(const json_t *v, char t)
{
    switch (t) {
    case 'S': return json_is_string(v);
    case 'I': return json_is_integer(v);
    case 'N': return json_is_number(v);
    case 'B': return json_is_boolean(v);
    case 'A': return json_is_array(v);
    case 'O': return json_is_object(v);
    case 'L': { /* an integer, or a non-empty array of integers */
        if (json_is_integer(v)) {
            return 1;
        }
        size_t i, n = json_is_array(v) ? json_array_size(v) : 0;
        for (i = 0; i < n && json_is_integer(json_array_get(v, i)); i++) {
        }
        return n > 0 && i == n;
    }
    default: return 1;
    }
}

struct vctx {
    const char *where; /* "file: case id: step n" */
    int errors;
    char labels[CF_MAX_CLIENTS][32];
    size_t nlabels;
};

static void verr(struct vctx *v, const char *what, const char *detail)
{
    fprintf(stderr, "%s: %s%s%s\n", v->where, what, detail[0] ? ": " : "", detail);
    v->errors++;
}

static const struct field *find_field(const struct field *fs, const char *k)
{
    for (; fs->name != NULL; fs++) {
        if (strcmp(fs->name, k) == 0) {
            return fs;
        }
    }
    return NULL;
}

static void check_fields(struct vctx *v, const json_t *o, const struct field *fs,
                         const char *what)
{
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)o, k, val) {
        if (strcmp(k, "note") == 0 && json_is_string(val)) {
            continue;
        }
        const struct field *f = find_field(fs, k);
        char d[160];
        if (f == NULL) {
            snprintf(d, sizeof d, "unknown key \"%s\" in %s", k, what);
            verr(v, "schema", d);
        } else if (!type_ok(val, f->type)) {
            snprintf(d, sizeof d, "key \"%s\" of %s has the wrong type", k, what);
            verr(v, "schema", d);
        }
    }
}

static void check_hex(struct vctx *v, const json_t *o, const char *key)
{
    json_t *h = json_object_get(o, key);
    if (h == NULL || !json_is_string(h)) {
        return;
    }
    char *s = subst(json_string_value(h), "cf", 1);
    struct buf b;
    buf_init(&b);
    if (hex_decode(s, &b) != 0) {
        char d[160];
        snprintf(d, sizeof d, "\"%s\" is not hex", key);
        verr(v, "schema", d);
    }
    buf_free(&b);
    free(s);
}

static int one_of(const json_t *o, const char *const *keys)
{
    int n = 0;
    for (; *keys != NULL; keys++) {
        n += json_object_get(o, *keys) != NULL;
    }
    return n;
}

static int has_label(struct vctx *v, const char *l)
{
    for (size_t i = 0; i < v->nlabels; i++) {
        if (strcmp(v->labels[i], l) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_code(struct vctx *v, const json_t *c, const char *what)
{
    uint8_t b;
    if (c != NULL && json_byte(c, &b) != 0) {
        verr(v, "schema", what);
    }
}

static void check_rpc_build(struct vctx *v, const json_t *o)
{
    check_fields(v, o, RPC_BUILD_FIELDS, "payload_rpc");
    json_t *k = json_object_get(o, "kind");
    if (k == NULL) {
        verr(v, "schema", "payload_rpc needs \"kind\"");
    } else if (json_is_string(k)) {
        const char *s = json_string_value(k);
        if (strcmp(s, "notification") != 0 && strcmp(s, "request") != 0 &&
            strcmp(s, "reply") != 0 && strcmp(s, "error") != 0) {
            verr(v, "schema", "payload_rpc kind must be notification, request, reply or error");
        }
    } else {
        check_code(v, k, "payload_rpc kind must be a name or a byte");
    }
    const char *hx[] = {"method_hex", "params_hex", "data_hex", NULL};
    for (size_t i = 0; hx[i] != NULL; i++) {
        check_hex(v, o, hx[i]);
    }
    json_t *pm = json_object_get(o, "params_msgpack");
    if (pm != NULL) {
        struct buf out, err;
        buf_init(&out);
        buf_init(&err);
        if (mp_from_json(pm, "cf", &out, &err) != 0) {
            verr(v, "params_msgpack", buf_str(&err));
        }
        buf_free(&out);
        buf_free(&err);
    }
}

static void check_frame(struct vctx *v, const json_t *f)
{
    check_fields(v, f, FRAME_FIELDS, "frame");
    json_t *op = json_object_get(f, "op");
    if (op == NULL && json_object_get(f, "flags") == NULL) {
        verr(v, "schema", "a frame needs \"op\" (or \"flags\")");
    }
    if (op != NULL) {
        static const char *const ops[] = {"ping", "op0", "publish", "subscribe",
                                          "unsubscribe", "exclude", "unexclude",
                                          "publish_for", "message", "broadcast", NULL};
        if (json_is_string(op)) {
            int ok = 0;
            for (size_t i = 0; ops[i] != NULL; i++) {
                ok |= strcmp(ops[i], json_string_value(op)) == 0;
            }
            if (!ok) {
                verr(v, "schema", "unknown frame op name");
            }
        } else if (!json_is_integer(op) || json_integer_value(op) < 0 ||
                   json_integer_value(op) > 63) {
            verr(v, "schema", "a numeric op must be 0..63");
        }
    }
    json_t *q = json_object_get(f, "qos");
    if (q != NULL && (json_integer_value(q) < 0 || json_integer_value(q) > 3)) {
        verr(v, "schema", "qos must be 0..3");
    }
    check_code(v, json_object_get(f, "flags"), "flags must be a byte");
    const char *hx[] = {"op_id_hex", "body_hex", "topic_hex", "target_hex", "mask_hex",
                        "receiver_hex", "payload_hex", NULL};
    for (size_t i = 0; hx[i] != NULL; i++) {
        check_hex(v, f, hx[i]);
    }
    const char *pay[] = {"payload", "payload_hex", "payload_fill", "payload_rpc", NULL};
    if (one_of(f, pay) > 1) {
        verr(v, "schema", "at most one payload form");
    }
    json_t *fill = json_object_get(f, "payload_fill");
    if (fill != NULL) {
        check_fields(v, fill, FILL_FIELDS, "payload_fill");
        check_hex(v, fill, "hex");
    }
    json_t *rpc = json_object_get(f, "payload_rpc");
    if (rpc != NULL) {
        check_rpc_build(v, rpc);
    }
}

static void check_matcher(struct vctx *v, const json_t *m)
{
    if (!json_is_object(m)) {
        verr(v, "schema", "a frame matcher must be an object");
        return;
    }
    check_fields(v, m, MATCH_FIELDS, "frame matcher");
    json_t *k = json_object_get(m, "kind");
    static const char *const kinds[] = {"message", "broadcast", "publication", "ack", NULL};
    int ok = 0;
    if (k != NULL) {
        for (size_t i = 0; kinds[i] != NULL; i++) {
            ok |= strcmp(kinds[i], json_string_value(k)) == 0;
        }
    }
    if (!ok) {
        verr(v, "schema", "a frame matcher needs kind message, broadcast, publication or ack");
    }
    const char *hx[] = {"sender_hex", "topic_hex", "payload_hex", "op_id_hex", NULL};
    for (size_t i = 0; hx[i] != NULL; i++) {
        check_hex(v, m, hx[i]);
    }
    check_code(v, json_object_get(m, "code"), "code must be a byte");
    const char *pay[] = {"payload", "payload_hex", "payload_fill", "payload_msgpack", "rpc",
                         NULL};
    if (one_of(m, pay) > 1) {
        verr(v, "schema", "at most one payload matcher");
    }
    struct buf err;
    buf_init(&err);
    json_t *pm = json_object_get(m, "payload_msgpack");
    if (pm != NULL && mp_matcher_check(pm, &err) != 0) {
        verr(v, "payload_msgpack", buf_str(&err));
    }
    json_t *fill = json_object_get(m, "payload_fill");
    if (fill != NULL) {
        check_fields(v, fill, FILL_FIELDS, "payload_fill");
        check_hex(v, fill, "hex");
    }
    json_t *rpc = json_object_get(m, "rpc");
    if (rpc != NULL) {
        check_fields(v, rpc, RPC_MATCH_FIELDS, "rpc matcher");
        json_t *rk = json_object_get(rpc, "kind");
        if (rk == NULL) {
            verr(v, "schema", "an rpc matcher needs kind");
        }
        const char *rh[] = {"result_hex", "message_hex", "params_hex", "data_hex", NULL};
        for (size_t i = 0; rh[i] != NULL; i++) {
            check_hex(v, rpc, rh[i]);
        }
        const char *mk[] = {"result_msgpack", "params_msgpack", NULL};
        for (size_t i = 0; mk[i] != NULL; i++) {
            json_t *x = json_object_get(rpc, mk[i]);
            buf_reset(&err);
            if (x != NULL && mp_matcher_check(x, &err) != 0) {
                verr(v, mk[i], buf_str(&err));
            }
        }
    }
    buf_free(&err);
}

static void check_matchers(struct vctx *v, const json_t *a)
{
    size_t i;
    json_t *m;
    json_array_foreach((json_t *)a, i, m) {
        check_matcher(v, m);
    }
}

static void check_step(struct vctx *v, json_t *st)
{
    if (!json_is_object(st)) {
        verr(v, "schema", "a step must be an object");
        return;
    }
    json_t *d = json_object_get(st, "do");
    if (!json_is_string(d)) {
        verr(v, "schema", "a step needs \"do\"");
        return;
    }
    const char *name = json_string_value(d);
    const struct stepdef *sd = NULL;
    for (const struct stepdef *p = STEPS; p->name != NULL; p++) {
        if (strcmp(p->name, name) == 0) {
            sd = p;
        }
    }
    if (sd == NULL) {
        verr(v, "unknown step", name);
        return;
    }
    const char *k;
    json_t *val;
    json_object_foreach(st, k, val) {
        if (strcmp(k, "do") == 0 || (strcmp(k, "note") == 0 && json_is_string(val))) {
            continue;
        }
        if (strcmp(k, "client") == 0 && json_is_string(val)) {
            continue;
        }
        const struct field *f = find_field(sd->f, k);
        char dd[160];
        if (f == NULL) {
            snprintf(dd, sizeof dd, "unknown key \"%s\" in step %s", k, name);
            verr(v, "schema", dd);
        } else if (!type_ok(val, f->type)) {
            snprintf(dd, sizeof dd, "key \"%s\" of step %s has the wrong type", k, name);
            verr(v, "schema", dd);
        }
    }
    json_t *cl = json_object_get(st, "client");
    if (sd->needs_client && !json_is_string(cl)) {
        verr(v, "schema", "this step needs \"client\"");
    }
    if (json_is_string(cl)) {
        const char *l = json_string_value(cl);
        int opens = strcmp(name, "connect") == 0 || strcmp(name, "open") == 0;
        if (opens) {
            if (!has_label(v, l)) {
                if (v->nlabels >= CF_MAX_CLIENTS || strlen(l) >= 32) {
                    verr(v, "schema", "too many clients or label too long");
                } else {
                    snprintf(v->labels[v->nlabels++], 32, "%s", l);
                }
            }
        } else if (!has_label(v, l)) {
            verr(v, "client used before connect/open", l);
        }
    }
    if (strcmp(name, "connect") == 0) {
        const char *nm[] = {"name", "name_hex", NULL};
        if (one_of(st, nm) != 1) {
            verr(v, "schema", "connect needs exactly one of name, name_hex");
        }
        check_hex(v, st, "name_hex");
        check_hex(v, st, "greeting_hex");
        json_t *e = json_object_get(st, "expect");
        if (e != NULL && !json_is_string(e) && !json_is_array(e)) {
            verr(v, "schema", "connect expect must be a string or an array of strings");
        }
    } else if (strcmp(name, "send") == 0) {
        const char *fh[] = {"frame", "hex", NULL};
        if (one_of(st, fh) != 1) {
            verr(v, "schema", "send needs exactly one of frame, hex");
        }
        check_hex(v, st, "hex");
        if (json_object_get(st, "frame") != NULL) {
            check_frame(v, json_object_get(st, "frame"));
        }
        check_code(v, json_object_get(st, "ack"), "ack must be a result code byte");
    } else if (strcmp(name, "expect") == 0) {
        const char *fm[] = {"frame", "frames", NULL};
        if (one_of(st, fm) != 1) {
            verr(v, "schema", "expect needs exactly one of frame, frames");
        }
        if (json_object_get(st, "frame") != NULL) {
            check_matcher(v, json_object_get(st, "frame"));
        } else if (json_object_get(st, "frames") != NULL) {
            check_matchers(v, json_object_get(st, "frames"));
        }
    } else if (strcmp(name, "expect_bytes") == 0) {
        if (json_object_get(st, "hex") == NULL) {
            verr(v, "schema", "expect_bytes needs hex");
        }
        check_hex(v, st, "hex");
    } else if (strcmp(name, "wait_for") == 0) {
        if (json_object_get(st, "frame") == NULL) {
            verr(v, "schema", "wait_for needs frame");
        } else {
            check_matcher(v, json_object_get(st, "frame"));
        }
        if (json_object_get(st, "forbid") != NULL) {
            check_matchers(v, json_object_get(st, "forbid"));
        }
    } else if (strcmp(name, "expect_none") == 0 || strcmp(name, "sleep") == 0) {
        const char *fo[] = {"for_t", "for_ms", NULL};
        if (one_of(st, fo) != 1) {
            verr(v, "schema", "needs exactly one of for_t, for_ms");
        }
        if (strcmp(name, "expect_none") == 0) {
            const char *cs[] = {"client", "clients", NULL};
            if (one_of(st, cs) != 1) {
                verr(v, "schema", "expect_none needs client or clients");
            }
            json_t *arr = json_object_get(st, "clients");
            size_t i;
            json_t *c;
            json_array_foreach(arr, i, c) {
                if (!json_is_string(c) || !has_label(v, json_string_value(c))) {
                    verr(v, "schema", "expect_none clients must be known labels");
                }
            }
        }
    } else if (strcmp(name, "expect_close") == 0) {
        json_t *a = json_object_get(st, "allow");
        if (a != NULL) {
            if (json_is_string(a) && strcmp(json_string_value(a), "any") == 0) {
                /* ok */
            } else if (json_is_array(a)) {
                check_matchers(v, a);
            } else {
                verr(v, "schema", "allow must be \"any\" or an array of matchers");
            }
        }
    } else if (strcmp(name, "barrier") == 0) {
        json_t *to = json_object_get(st, "to");
        size_t i;
        json_t *c;
        if (to == NULL || json_array_size(to) == 0) {
            verr(v, "schema", "barrier needs a non-empty \"to\"");
        }
        json_array_foreach(to, i, c) {
            if (!json_is_string(c) || !has_label(v, json_string_value(c))) {
                verr(v, "schema", "barrier targets must be known labels");
            }
        }
    } else if (strcmp(name, "expect_variant") == 0) {
        json_t *u = json_object_get(st, "until");
        if (u == NULL || (json_is_string(u) && strcmp(json_string_value(u), "close") != 0)) {
            verr(v, "schema", "expect_variant needs until: \"close\" or a matcher");
        } else if (json_is_object(u)) {
            check_matcher(v, u);
        }
        json_t *vs = json_object_get(st, "variants");
        size_t i;
        json_t *vv;
        if (vs == NULL || json_array_size(vs) < 2) {
            verr(v, "schema", "expect_variant needs at least two variants");
        }
        json_array_foreach(vs, i, vv) {
            if (!json_is_object(vv) || !json_is_string(json_object_get(vv, "name"))) {
                verr(v, "schema", "each variant needs a name");
                continue;
            }
            check_fields(v, vv, VARIANT_FIELDS, "variant");
            check_hex(v, vv, "hex");
            if (json_object_get(vv, "frames") != NULL) {
                check_matchers(v, json_object_get(vv, "frames"));
            }
        }
    } else if (strcmp(name, "flood") == 0) {
        if (json_object_get(st, "frame") == NULL) {
            verr(v, "schema", "flood needs frame");
        } else {
            check_frame(v, json_object_get(st, "frame"));
        }
        int cnt = json_object_get(st, "count") != NULL;
        int until = json_object_get(st, "until_ack") != NULL;
        if (cnt == until) {
            verr(v, "schema", "flood needs exactly one of count, until_ack");
        }
        if (until && json_object_get(st, "max") == NULL) {
            verr(v, "schema", "flood with until_ack needs max");
        }
        check_code(v, json_object_get(st, "until_ack"), "until_ack must be a byte");
        check_code(v, json_object_get(st, "acks"), "acks must be a byte");
    } else if (strcmp(name, "count_nops") == 0) {
        if (json_object_get(st, "for_t") == NULL) {
            verr(v, "schema", "count_nops needs for_t");
        }
    } else if (strcmp(name, "fifo_write") == 0) {
        const char *lh[] = {"line", "line_hex", NULL};
        if (one_of(st, lh) != 1) {
            verr(v, "schema", "fifo_write needs exactly one of line, line_hex");
        }
        check_hex(v, st, "line_hex");
    } else if (strcmp(name, "update_acl") == 0) {
        if (json_object_get(st, "acl") == NULL) {
            verr(v, "schema", "update_acl needs acl");
        }
    } else if (strcmp(name, "fifo_check") == 0) {
        if (json_object_get(st, "mode") == NULL) {
            verr(v, "schema", "fifo_check needs mode");
        }
    }
}

static int valid_case_id(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '.' ||
              *s == '-' || *s == '_')) {
            return 0;
        }
    }
    return 1;
}

static int validate_case(const char *file, json_t *c, struct kase *k)
{
    struct vctx v;
    memset(&v, 0, sizeof v);
    char where[512];
    json_t *id = json_object_get(c, "id");
    snprintf(where, sizeof where, "%s: case %s", file,
             json_is_string(id) ? json_string_value(id) : "(no id)");
    v.where = where;
    static const struct field CASE_FIELDS[] = {
        {"id", 'S'}, {"reqs", 'A'}, {"level", 'S'}, {"profile", 'S'}, {"description", 'S'},
        {"broker", 'O'}, {"steps", 'A'}, {NULL, 0}};
    if (!json_is_object(c)) {
        verr(&v, "schema", "a case must be an object");
        return 1;
    }
    check_fields(&v, c, CASE_FIELDS, "case");
    if (!json_is_string(id) || !valid_case_id(json_string_value(id))) {
        verr(&v, "schema", "id must be a non-empty string of [a-z0-9._-]");
    }
    json_t *reqs = json_object_get(c, "reqs");
    if (!json_is_array(reqs) || json_array_size(reqs) == 0) {
        verr(&v, "schema", "reqs must be a non-empty array");
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(reqs, i, r) {
            if (!json_is_string(r) || strncmp(json_string_value(r), "REQ-", 4) != 0) {
                verr(&v, "schema", "each req must be a \"REQ-...\" string");
            }
        }
    }
    json_t *lv = json_object_get(c, "level");
    k->level = LV_COUNT;
    for (int i = 0; i < LV_COUNT && json_is_string(lv); i++) {
        if (strcmp(LEVELS[i], json_string_value(lv)) == 0) {
            k->level = (enum level)i;
        }
    }
    if (k->level == LV_COUNT) {
        verr(&v, "schema", "level must be MUST, SHOULD, MAY or compat-quirk");
    }
    json_t *pr = json_object_get(c, "profile");
    int pok = 0;
    for (size_t i = 0; PROFILES[i] != NULL && json_is_string(pr); i++) {
        pok |= strcmp(PROFILES[i], json_string_value(pr)) == 0;
    }
    if (!pok) {
        verr(&v, "schema", "unknown or missing profile");
    }
    if (!json_is_string(json_object_get(c, "description"))) {
        verr(&v, "schema", "description missing");
    }
    json_t *br = json_object_get(c, "broker");
    if (br != NULL) {
        const char *bk;
        json_t *bv;
        json_object_foreach(br, bk, bv) {
            int ok = 0;
            for (size_t i = 0; BROKER_OPTS[i] != NULL; i++) {
                ok |= strcmp(BROKER_OPTS[i], bk) == 0;
            }
            if (!ok) {
                verr(&v, "unknown broker option", bk);
            } else if (strcmp(bk, "acl") == 0 ? !json_is_object(bv)
                                              : (!json_is_string(bv) && !json_is_integer(bv) &&
                                                 !json_is_boolean(bv))) {
                verr(&v, "broker option has the wrong type (acl: object; others: string, "
                         "integer or boolean)", bk);
            }
        }
    }
    json_t *steps = json_object_get(c, "steps");
    if (!json_is_array(steps) || json_array_size(steps) == 0) {
        verr(&v, "schema", "steps must be a non-empty array");
    } else {
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st) {
            char w2[600];
            snprintf(w2, sizeof w2, "%s: step %zu", where, i + 1u);
            v.where = w2;
            check_step(&v, st);
            v.where = where;
        }
    }
    if (v.errors == 0) {
        k->id = json_string_value(id);
        k->j = c;
        k->reqs = reqs;
        k->profile = json_string_value(pr);
        k->desc = json_string_value(json_object_get(c, "description"));
        k->broker = br;
        k->steps = steps;
        snprintf(k->file, sizeof k->file, "%s", file);
    }
    return v.errors;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int suite_load(const char *dir, struct suite *s)
{
    memset(s, 0, sizeof *s);
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "busrt-conformance: cannot open the cases directory %s\n", dir);
        return -1;
    }
    char *names[64];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0 && nn < 64) {
            names[nn++] = xstrdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, nn, sizeof names[0], cmpstr);
    int errors = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        json_error_t je;
        json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (root == NULL) {
            fprintf(stderr, "%s:%d:%d: %s\n", path, je.line, je.column, je.text);
            errors++;
            free(names[i]);
            continue;
        }
        s->roots[s->nroots++] = root;
        json_t *fmt = json_object_get(root, "format");
        json_t *cases = json_object_get(root, "cases");
        if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CF_FORMAT) != 0) {
            fprintf(stderr, "%s: \"format\" must be \"%s\"\n", path, CF_FORMAT);
            errors++;
        } else if (!json_is_array(cases)) {
            fprintf(stderr, "%s: \"cases\" must be an array\n", path);
            errors++;
        } else {
            const char *k;
            json_t *val;
            json_object_foreach(root, k, val) {
                if (strcmp(k, "format") != 0 && strcmp(k, "cases") != 0 &&
                    strcmp(k, "description") != 0) {
                    fprintf(stderr, "%s: unknown top-level key \"%s\"\n", path, k);
                    errors++;
                }
            }
            size_t ci;
            json_t *c;
            json_array_foreach(cases, ci, c) {
                s->cases = xrealloc(s->cases, (s->n + 1u) * sizeof *s->cases);
                struct kase *kk = &s->cases[s->n];
                memset(kk, 0, sizeof *kk);
                int ce = validate_case(names[i], c, kk);
                errors += ce;
                if (ce == 0) {
                    kk->index = (int)s->n;
                    s->n++;
                }
            }
        }
        free(names[i]);
    }
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = i + 1u; j < s->n; j++) {
            if (strcmp(s->cases[i].id, s->cases[j].id) == 0) {
                fprintf(stderr, "duplicate case id %s (%s, %s)\n", s->cases[i].id,
                        s->cases[i].file, s->cases[j].file);
                errors++;
            }
        }
    }
    return errors == 0 ? 0 : -1;
}

int exemptions_load(const char *path, struct suite *s)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        fprintf(stderr, "%s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return -1;
    }
    json_t *ex = json_object_get(root, "exemptions");
    if (!json_is_array(ex)) {
        fprintf(stderr, "%s: \"exemptions\" must be an array\n", path);
        json_decref(root);
        return -1;
    }
    size_t i;
    json_t *e;
    int bad = 0;
    json_array_foreach(ex, i, e) {
        if (!json_is_string(json_object_get(e, "id")) ||
            !json_is_string(json_object_get(e, "reason")) ||
            json_string_length(json_object_get(e, "reason")) < 10 || json_object_size(e) != 2) {
            fprintf(stderr, "%s: exemption %zu needs exactly \"id\" and a \"reason\"\n", path,
                    i + 1u);
            bad = 1;
        }
    }
    if (bad) {
        json_decref(root);
        return -1;
    }
    s->roots[s->nroots++] = root;
    s->exemptions = ex;
    return 0;
}

void suite_free(struct suite *s)
{
    for (size_t i = 0; i < s->nroots; i++) {
        json_decref(s->roots[i]);
    }
    free(s->cases);
    memset(s, 0, sizeof *s);
}

int coverage_check(struct suite *s, struct spec *sp, int verbose, FILE *out)
{
    int problems = 0;
    for (size_t i = 0; i < sp->n; i++) {
        sp->reqs[i].ncases = 0;
        sp->reqs[i].exempt = 0;
        sp->reqs[i].best = LV_COUNT;
    }
    if (sp->problems[0] != '\0') {
        fprintf(out, "spec: %s\n", sp->problems);
        problems++;
    }
    for (size_t i = 0; i < s->n; i++) {
        size_t j;
        json_t *r;
        json_array_foreach(s->cases[i].reqs, j, r) {
            struct req *q = spec_find(sp, json_string_value(r));
            if (q == NULL) {
                fprintf(out, "case %s names unknown requirement %s\n", s->cases[i].id,
                        json_string_value(r));
                problems++;
                continue;
            }
            q->ncases++;
            if ((int)s->cases[i].level < q->best) {
                q->best = (int)s->cases[i].level;
            }
        }
    }
    size_t ei;
    json_t *e;
    json_array_foreach(s->exemptions, ei, e) {
        const char *id = json_string_value(json_object_get(e, "id"));
        struct req *q = spec_find(sp, id);
        if (q == NULL) {
            fprintf(out, "exemption names unknown requirement %s\n", id);
            problems++;
            continue;
        }
        if (q->exempt) {
            fprintf(out, "requirement %s is exempted twice\n", id);
            problems++;
        }
        q->exempt = 1;
        q->exempt_reason = json_string_value(json_object_get(e, "reason"));
        if (q->ncases > 0) {
            fprintf(out, "exemption %s names a requirement that has %d case(s)\n", id,
                    q->ncases);
            problems++;
        }
    }
    size_t covered = 0, exempt = 0;
    for (size_t i = 0; i < sp->n; i++) {
        struct req *q = &sp->reqs[i];
        if (q->ncases > 0) {
            covered++;
        } else if (q->exempt) {
            exempt++;
        } else {
            fprintf(out, "requirement %s (section %s) has no case and no exemption\n", q->id,
                    q->section);
            problems++;
        }
        if (verbose) {
            if (q->ncases > 0) {
                fprintf(out, "  %-13s %-5s %3d case(s)\n", q->id, q->section, q->ncases);
            } else if (q->exempt) {
                fprintf(out, "  %-13s %-5s exempt: %s\n", q->id, q->section, q->exempt_reason);
            } else {
                fprintf(out, "  %-13s %-5s MISSING\n", q->id, q->section);
            }
        }
    }
    fprintf(out,
            "coverage: %zu requirements in the spec (%zu in Appendix B); %zu with cases, "
            "%zu exempt, %zu cases; %d problem(s)\n",
            sp->n, sp->n_index, covered, exempt, s->n, problems);
    return problems;
}
