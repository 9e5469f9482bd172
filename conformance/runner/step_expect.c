/* Steps that check what a client receives: frames in order or in any order,
 * raw bytes, a frame awaited among others, silence, the end of the
 * connection, one of several allowed variants, keep-alive NOPs. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <stdlib.h>
#include <string.h>

/* After a refusal: nothing but EOF may follow. */
int expect_raw_close(struct case_exec *ce, struct cf_client *c, int64_t ms, const char *after)
{
    c->focus = 1;
    pump(ce, now_ms() + ms, pred_eof, c);
    c->focus = 0;
    if (buf_len(&c->in) > 0) {
        buf_reset(&ce->res->expected);
        buf_adds(&ce->res->expected, "(nothing, then end of file)");
        buf_reset(&ce->res->received);
        hex_append(&ce->res->received, buf_data(&c->in), buf_len(&c->in), 64);
        return failf(ce, "after %s the broker sent more bytes", after);
    }
    if (!c->eof) {
        return failf(ce, "after %s the connection was still open after %lld ms "
                         "(it must be closed)", after, (long long)ms);
    }
    return 0;
}

static void fail_nothing(struct case_exec *ce, struct cf_client *c, int rc, const json_t *m,
                         const char *what)
{
    set_expected(ce, m);
    buf_reset(&ce->res->received);
    if (rc == -1) {
        buf_adds(&ce->res->received, "(end of file)");
        if (buf_len(&c->in) > 0) {
            buf_adds(&ce->res->received, " after the incomplete frame ");
            hex_append(&ce->res->received, buf_data(&c->in), buf_len(&c->in), 64);
        }
        failf(ce, "%s: the connection closed instead%s", what, c->reset ? " (reset)" : "");
    } else {
        buf_adds(&ce->res->received, "(nothing)");
        failf(ce, "%s: nothing arrived in time", what);
    }
}

int await_frame(struct case_exec *ce, struct cf_client *c, int64_t deadline, struct bframe *f,
                const json_t *m, const char *what)
{
    int rc = next_frame(ce, c, deadline, f);
    if (rc == -2) {
        return -1;
    }
    if (rc != 1) {
        fail_nothing(ce, c, rc, m, what);
        return 0;
    }
    return 1;
}

int expect_frames_strict(struct case_exec *ce, struct cf_client *c, const json_t *m,
                         int64_t deadline)
{
    for (;;) {
        struct bframe f;
        if (await_frame(ce, c, deadline, &f, m, "expected a frame") != 1) {
            return -1;
        }
        struct buf why;
        buf_init(&why);
        if (frame_match(ce, &f, m, &why)) {
            buf_free(&why);
            bframe_free(&f);
            return 0;
        }
        if (ignorable(ce, &f)) {
            buf_free(&why);
            bframe_free(&f);
            continue;
        }
        set_expected(ce, m);
        set_received(ce, &f);
        failf(ce, "wrong frame: %s", buf_str(&why));
        buf_free(&why);
        bframe_free(&f);
        return -1;
    }
}

int expect_ack(struct case_exec *ce, struct cf_client *c, const uint8_t op_id[4], json_t *code,
               int64_t deadline)
{
    json_t *m = ack_matcher(op_id, code);
    int rc = expect_frames_strict(ce, c, m, deadline);
    json_decref(m);
    return rc;
}

int step_expect(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    int64_t deadline = now_ms() + step_bound(ce, st);
    json_t *list = json_object_get(st, "frames");
    json_t *one = json_object_get(st, "frame");
    json_int_t count = json_object_get(st, "count") != NULL
                           ? json_integer_value(json_object_get(st, "count")) : 1;
    if (one != NULL) {
        for (json_int_t i = 0; i < count; i++) {
            if (expect_frames_strict(ce, c, one, deadline) != 0) {
                if (count > 1) {
                    buf_printf(&ce->res->msg, " (frame %lld of %lld)", (long long)i + 1,
                               (long long)count);
                }
                return -1;
            }
        }
        return 0;
    }
    size_t n = json_array_size(list);
    if (!json_is_true(json_object_get(st, "any_order"))) {
        for (size_t i = 0; i < n; i++) {
            if (expect_frames_strict(ce, c, json_array_get(list, i), deadline) != 0) {
                buf_printf(&ce->res->msg, " (frame %zu of %zu)", i + 1u, n);
                return -1;
            }
        }
        return 0;
    }
    /* any order: take n non-ignorable frames, each must match an unused matcher */
    int used[64] = {0};
    if (n > 64) {
        return failf(ce, "too many frames for any_order");
    }
    for (size_t got = 0; got < n;) {
        size_t u = 0; /* got < n: some matcher is unused */
        while (used[u]) {
            u++;
        }
        json_t *unused = json_array_get(list, u); /* named when nothing comes */
        struct bframe f;
        if (await_frame(ce, c, deadline, &f, unused, "expected a frame") != 1) {
            return -1;
        }
        int hit = -1;
        for (size_t i = 0; i < n && hit < 0; i++) {
            if (!used[i] && frame_matches(ce, &f, json_array_get(list, i))) {
                hit = (int)i;
            }
        }
        if (hit >= 0) {
            used[hit] = 1;
            got++;
        } else if (!ignorable(ce, &f)) {
            /* explain with the first unused matcher of the same type */
            struct buf why;
            buf_init(&why);
            size_t pick = n;
            for (size_t i = 0; i < n; i++) {
                json_t *mi = json_array_get(list, i);
                const char *mk = json_string_value(json_object_get(mi, "kind"));
                int is_ack = strcmp(mk, "ack") == 0;
                if (used[i]) {
                    continue;
                }
                if (pick == n) {
                    pick = i;
                }
                if (is_ack == (f.type == F_ACK)) {
                    pick = i;
                    break;
                }
            }
            if (pick < n) {
                set_expected(ce, json_array_get(list, pick));
                (void)frame_match(ce, &f, json_array_get(list, pick), &why);
            }
            set_received(ce, &f);
            bframe_free(&f);
            failf(ce, "a frame that matches none of the expected ones (any order): %s",
                  buf_str(&why));
            buf_free(&why);
            return -1;
        }
        bframe_free(&f);
    }
    return 0;
}

int step_expect_bytes(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    struct buf want;
    buf_init(&want);
    char *s = subst(json_string_value(json_object_get(st, "hex")), ce->prefix, 1);
    (void)hex_decode(s, &want);
    free(s);
    int rc = wait_bytes(ce, c, buf_len(&want), now_ms() + step_bound(ce, st));
    size_t have = buf_len(&c->in) < buf_len(&want) ? buf_len(&c->in) : buf_len(&want);
    if (rc != 1 || memcmp(buf_data(&c->in), buf_data(&want), buf_len(&want)) != 0) {
        buf_reset(&ce->res->expected);
        hex_append(&ce->res->expected, buf_data(&want), buf_len(&want), 64);
        buf_reset(&ce->res->received);
        hex_append(&ce->res->received, buf_data(&c->in), rc == 1 ? have : buf_len(&c->in), 64);
        if (rc == -1) {
            buf_adds(&ce->res->received, " then end of file");
        }
        buf_free(&want);
        return failf(ce, rc == 0 ? "the expected bytes did not arrive in time"
                                 : "wrong bytes");
    }
    buf_consume(&c->in, buf_len(&want));
    buf_free(&want);
    return 0;
}

int step_wait_for(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    json_t *m = json_object_get(st, "frame");
    json_t *forbid = json_object_get(st, "forbid");
    int64_t deadline = now_ms() + step_bound(ce, st);
    int skipped = 0;
    for (;;) {
        struct bframe f;
        int rc = await_frame(ce, c, deadline, &f, m, "waited for a frame");
        if (rc == 0) {
            buf_printf(&ce->res->msg, " (%d other frame(s) skipped)", skipped);
        }
        if (rc != 1) {
            return -1;
        }
        if (frame_matches(ce, &f, m)) {
            bframe_free(&f);
            return 0;
        }
        size_t i;
        json_t *fm;
        json_array_foreach(forbid, i, fm) {
            if (frame_matches(ce, &f, fm)) {
                set_expected(ce, m);
                set_received(ce, &f);
                bframe_free(&f);
                return failf(ce, "a forbidden frame arrived before the awaited one");
            }
        }
        skipped++;
        bframe_free(&f);
    }
}

/* take_frame, reporting bytes that are no valid frame as "<context>the
 * broker sent ...". Returns take_frame's 1 or 0, or -1 after failf. */
static int take_checked(struct case_exec *ce, struct cf_client *c, struct bframe *f,
                        const char *context)
{
    struct buf why;
    buf_init(&why);
    int tr = take_frame(c, f, &why);
    if (tr < 0) {
        failf(ce, "%sthe broker sent %s", context, buf_str(&why));
    }
    buf_free(&why);
    return tr;
}

int step_expect_none(struct case_exec *ce, const json_t *st, struct cf_client *unused)
{
    (void)unused;
    struct cf_client *list[CF_MAX_CLIENTS];
    size_t n = 0;
    json_t *one = json_object_get(st, "client");
    json_t *many = json_object_get(st, "clients");
    if (one != NULL) {
        list[n++] = client_get(ce, json_string_value(one), 0);
    }
    size_t i;
    json_t *l;
    json_array_foreach(many, i, l) {
        if (n < CF_MAX_CLIENTS) {
            list[n++] = client_get(ce, json_string_value(l), 0);
        }
    }
    for (i = 0; i < n; i++) {
        if (list[i] == NULL) {
            return failf(ce, "unknown client");
        }
        list[i]->focus = 1;
    }
    pump(ce, now_ms() + step_duration(ce, st), pred_never, NULL);
    int strict = json_is_true(json_object_get(st, "strict"));
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        struct cf_client *c = list[i];
        c->focus = 0;
        char context[64];
        snprintf(context, sizeof context, "client %s: ", c->label);
        for (;;) {
            struct bframe f;
            int tr = take_checked(ce, c, &f, context);
            if (tr < 0) {
                rc = -1;
                break;
            }
            if (tr == 0) {
                break;
            }
            if (!ignorable(ce, &f) || (strict && f.type != F_NOP)) {
                buf_reset(&ce->res->expected);
                buf_adds(&ce->res->expected, "(nothing)");
                set_received(ce, &f);
                rc = failf(ce, "client %s received a frame where none was expected", c->label);
                bframe_free(&f);
                break;
            }
            bframe_free(&f);
        }
        if (rc == 0 && c->eof) {
            rc = failf(ce, "client %s: the broker closed the connection%s", c->label,
                       c->reset ? " (reset)" : "");
        }
    }
    for (i = 0; i < n; i++) {
        list[i]->focus = 0;
    }
    return rc;
}

int step_expect_close(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    int64_t b = step_bound(ce, st);
    if (json_is_true(json_object_get(st, "raw"))) {
        return expect_raw_close(ce, c, b, "this point");
    }
    json_t *allow = json_object_get(st, "allow");
    int any = json_is_string(allow);
    int strict = json_is_true(json_object_get(st, "strict"));
    int64_t deadline = now_ms() + b;
    c->focus = 1;
    for (;;) {
        pump(ce, deadline, pred_frame, c);
        struct bframe f;
        struct buf why;
        buf_init(&why);
        int tr = take_frame(c, &f, &why);
        if (tr < 0) {
            c->focus = 0;
            int rc = any ? 0 : failf(ce, "before closing, the broker sent %s", buf_str(&why));
            buf_free(&why);
            if (any) {
                buf_reset(&c->in);
                c->focus = 1;
                continue;
            }
            return rc;
        }
        buf_free(&why);
        if (tr == 1) {
            int ok = any || (strict ? f.type == F_NOP : ignorable(ce, &f));
            size_t i;
            json_t *am;
            json_array_foreach(allow, i, am) {
                ok |= frame_matches(ce, &f, am);
            }
            if (!ok) {
                c->focus = 0;
                buf_reset(&ce->res->expected);
                buf_adds(&ce->res->expected, "(end of file; only frames queued earlier may "
                                             "come first)");
                set_received(ce, &f);
                bframe_free(&f);
                return failf(ce, "instead of closing the connection, the broker sent a frame");
            }
            bframe_free(&f);
            continue;
        }
        if (c->eof) {
            c->focus = 0;
            if (buf_len(&c->in) > 0 && !any) {
                buf_reset(&ce->res->received);
                hex_append(&ce->res->received, buf_data(&c->in), buf_len(&c->in), 64);
                return failf(ce, "the connection closed in the middle of a frame");
            }
            return 0;
        }
        if (now_ms() >= deadline) {
            c->focus = 0;
            buf_reset(&ce->res->expected);
            buf_adds(&ce->res->expected, "(end of file)");
            buf_reset(&ce->res->received);
            buf_adds(&ce->res->received, "(the connection stayed open)");
            return failf(ce, "the connection was not closed within %lld ms", (long long)b);
        }
    }
}

int step_expect_variant(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    json_t *until = json_object_get(st, "until");
    json_t *vs = json_object_get(st, "variants");
    int64_t b = step_bound(ce, st);
    size_t i;
    json_t *v;
    if (json_is_string(until)) {
        c->focus = 1;
        pump(ce, now_ms() + b, pred_eof, c);
        c->focus = 0;
        if (!c->eof) {
            return failf(ce, "the connection was not closed within %lld ms", (long long)b);
        }
        json_array_foreach(vs, i, v) {
            struct buf want;
            buf_init(&want);
            (void)field_bytes(ce, v, "hex", &want);
            int ok = buf_len(&want) == buf_len(&c->in) &&
                     memcmp(buf_data(&want), buf_data(&c->in), buf_len(&want)) == 0;
            buf_free(&want);
            if (ok) {
                note_variant(ce, json_string_value(json_object_get(v, "name")));
                buf_reset(&c->in);
                return 0;
            }
        }
        buf_reset(&ce->res->received);
        hex_append(&ce->res->received, buf_data(&c->in), buf_len(&c->in), 64);
        buf_adds(&ce->res->received, " then end of file");
        buf_reset(&ce->res->expected);
        json_array_foreach(vs, i, v) {
            buf_printf(&ce->res->expected, "%s[%s: ", i > 0 ? " or " : "",
                       json_string_value(json_object_get(v, "name")));
            struct buf want;
            buf_init(&want);
            (void)field_bytes(ce, v, "hex", &want);
            hex_append(&ce->res->expected, buf_data(&want), buf_len(&want), 16);
            buf_free(&want);
            buf_adds(&ce->res->expected, " then end of file]");
        }
        return failf(ce, "the bytes before end of file match none of the allowed variants");
    }
    /* collect frames until the terminator */
    struct bframe got[16];
    size_t ng = 0;
    int64_t deadline = now_ms() + b;
    int rc = 0;
    for (;;) {
        struct bframe f;
        if (await_frame(ce, c, deadline, &f, until, "waited for the end of the variant") != 1) {
            rc = -1;
            break;
        }
        if (frame_matches(ce, &f, until)) {
            bframe_free(&f);
            break;
        }
        if (ignorable(ce, &f)) {
            bframe_free(&f);
            continue;
        }
        if (ng == 16) {
            bframe_free(&f);
            rc = failf(ce, "too many frames before the end of the variant");
            break;
        }
        got[ng++] = f;
    }
    if (rc == 0) {
        const char *hit = NULL;
        json_array_foreach(vs, i, v) {
            json_t *fr = json_object_get(v, "frames");
            if (json_array_size(fr) != ng) {
                continue;
            }
            int ok = 1;
            for (size_t j = 0; j < ng && ok; j++) {
                ok = frame_matches(ce, &got[j], json_array_get(fr, j));
            }
            if (ok) {
                hit = json_string_value(json_object_get(v, "name"));
                break;
            }
        }
        if (hit != NULL) {
            note_variant(ce, hit);
        } else {
            buf_reset(&ce->res->received);
            for (size_t j = 0; j < ng; j++) {
                if (j > 0) {
                    buf_adds(&ce->res->received, " | ");
                }
                hex_append(&ce->res->received, got[j].raw, got[j].raw_len, 32);
            }
            if (ng == 0) {
                buf_adds(&ce->res->received, "(no frame)");
            }
            buf_reset(&ce->res->expected);
            json_array_foreach(vs, i, v) {
                buf_printf(&ce->res->expected, "%s[%s: %zu frame(s)]", i > 0 ? " or " : "",
                           json_string_value(json_object_get(v, "name")),
                           json_array_size(json_object_get(v, "frames")));
            }
            rc = failf(ce, "the frames before the terminator match none of the allowed "
                           "variants");
        }
    }
    for (size_t j = 0; j < ng; j++) {
        bframe_free(&got[j]);
    }
    return rc;
}

int step_count_nops(struct case_exec *ce, const json_t *st, struct cf_client *c)
{
    int64_t end = now_ms() + step_duration(ce, st);
    int nops = 0;
    c->focus = 1;
    while (now_ms() < end) {
        pump(ce, end, pred_frame, c);
        for (;;) {
            struct bframe f;
            int tr = take_checked(ce, c, &f, "");
            if (tr < 0) {
                c->focus = 0;
                return -1;
            }
            if (tr == 0) {
                break;
            }
            if (f.type == F_NOP) {
                nops++;
            } else if (!ignorable(ce, &f)) {
                c->focus = 0;
                set_received(ce, &f);
                bframe_free(&f);
                return failf(ce, "an unexpected frame arrived while counting NOPs");
            }
            bframe_free(&f);
        }
        if (c->eof) {
            c->focus = 0;
            return failf(ce, "the connection closed while counting NOPs (after %d)", nops);
        }
    }
    c->focus = 0;
    json_t *mn = json_object_get(st, "min");
    json_t *mx = json_object_get(st, "max");
    if ((mn != NULL && nops < json_integer_value(mn)) ||
        (mx != NULL && nops > json_integer_value(mx))) {
        return failf(ce, "%d NOP(s) arrived in %lld ms; expected %s%lld%s%s%lld", nops,
                     (long long)step_duration(ce, st), mn != NULL ? "at least " : "",
                     mn != NULL ? (long long)json_integer_value(mn) : 0LL,
                     mn != NULL && mx != NULL ? " and " : "", mx != NULL ? "at most " : "",
                     mx != NULL ? (long long)json_integer_value(mx) : 0LL);
    }
    if (ce->r->verbose) {
        fprintf(stderr, "#   %d NOP(s)\n", nops);
    }
    return 0;
}
