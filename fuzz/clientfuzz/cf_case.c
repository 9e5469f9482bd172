/* Case files ("busrt-clientfuzz-case/1", fuzz/clientfuzz/README.md): the
 * stream of a finding (its bytes as written, with the split points, and
 * every unit with what the client must do with it), what the client did,
 * and the command that replays it. --replay reads the same file back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <jansson.h>

#include "cf.h"

static char *hex(const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    char *s = nf_xmalloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = d[p[i] >> 4];
        s[2 * i + 1] = d[p[i] & 15u];
    }
    s[2 * n] = 0;
    return s;
}

static json_t *jhex(const uint8_t *p, size_t n)
{
    char *s = hex(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static void set(json_t *o, const char *k, json_t *v)
{
    if (v != NULL) {
        (void)json_object_set_new(o, k, v);
    }
}

static void mkdirs(const char *path)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p != 0; p++) {
        if (*p == '/') {
            *p = 0;
            (void)mkdir(tmp, 0755);
            *p = '/';
        }
    }
    (void)mkdir(tmp, 0755);
}

/* What a client must do with the stream, in words. */
static json_t *expected_text(const struct cf_stream *st)
{
    json_t *a = json_array();
    if (st->hs != HS_NONE) {
        (void)json_array_append_new(a, json_string(
            "REQ-HS-7: treat the handshake as failed: report an error, close the connection, "
            "never print \"ready\", exit"));
        return a;
    }
    size_t frames = 0;
    for (size_t i = 0; i < st->nu; i++) {
        const struct cf_unit *u = &st->u[i];
        char line[300];
        switch (u->type) {
        case U_FRAME:
            snprintf(line, sizeof line, "unit %zu: deliver it as frame %zu (%s)", i, ++frames,
                     u->req);
            break;
        case U_BADTEXT:
            snprintf(line, sizeof line, "unit %zu: deliver it exactly, or discard it and "
                     "report an error (and maybe close)", i);
            break;
        case U_NOSEP:
            snprintf(line, sizeof line, "unit %zu: discard it (REQ-DLV-7), report an error; "
                     "go on or close", i);
            break;
        case U_NOP:
            snprintf(line, sizeof line, "unit %zu: ignore (REQ-DLV-4)", i);
            break;
        case U_ACK:
            snprintf(line, sizeof line, "unit %zu: ignore (REQ-ACK-7)", i);
            break;
        case U_FATAL:
            snprintf(line, sizeof line, "unit %zu: close the connection, report an error, "
                     "deliver nothing more (REQ-DLV-8, REQ-ERR-6)", i);
            break;
        case U_HUGE:
            snprintf(line, sizeof line, "unit %zu: no delivery; close (REQ-LIM-7) or wait "
                     "for the body without spinning", i);
            break;
        case U_CUT:
            snprintf(line, sizeof line, "unit %zu: no delivery; the connection ends: report "
                     "it (REQ-ERR-6) and exit", i);
            break;
        default:
            snprintf(line, sizeof line, "unit %zu: never looked at", i);
            break;
        }
        (void)json_array_append_new(a, json_string(line));
    }
    if (st->end == END_CLOSE) {
        (void)json_array_append_new(a, json_string(
            "then the fuzzer closes the connection: report it (REQ-ERR-6) and exit"));
    }
    return a;
}

int cf_case_write(const struct cf_opts *o, const struct cf_stream *st,
                  const struct cf_result *r, char *path, size_t cap)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/%s", o->out_dir, o->replay != NULL ? "replayed" : "cases");
    mkdirs(dir);
    char id[128];
    if (o->replay != NULL) { /* the replayed file's name */
        const char *b = strrchr(o->replay, '/');
        snprintf(id, sizeof id, "%s", b != NULL ? b + 1 : o->replay);
        char *dot = strstr(id, ".json");
        if (dot != NULL && dot[5] == 0) {
            *dot = 0;
        }
    } else {
        snprintf(id, sizeof id, "clientfuzz.s%llu-k%ld", (unsigned long long)st->seed,
                 st->index);
    }
    snprintf(path, cap, "%s/%s.json", dir, id);

    json_t *c = json_object();
    set(c, "schema", json_string("busrt-clientfuzz-case/1"));
    set(c, "id", json_string(id));
    set(c, "description", json_string(r->nv > 0 ? r->v[0].what : "no finding"));
    set(c, "seed", json_integer((json_int_t)st->seed));
    set(c, "stream", json_integer(st->index));
    set(c, "command", json_string(o->cmd));
    json_t *fs = json_array();
    for (size_t i = 0; i < r->nv; i++) {
        json_t *f = json_object();
        set(f, "key", json_string(r->v[i].key));
        set(f, "what", json_string(r->v[i].what));
        (void)json_array_append_new(fs, f);
    }
    set(c, "findings", fs);

    json_t *s = json_object();
    set(s, "handshake", json_string(cf_hs_name(st->hs)));
    if (st->hs != HS_NONE) {
        set(s, "handshake_hex", jhex(st->hs_bytes, st->hs_len));
    }
    set(s, "end", json_string(cf_end_name(st->end)));
    set(s, "end_offset", json_integer((json_int_t)st->end_off));
    set(s, "drain", json_boolean(st->drain));
    set(s, "idle_ms", json_integer(st->idle_ms));
    set(s, "hold_ms", json_integer(st->hold_ms));
    set(s, "split_mode", json_string(st->mode));
    /* The bytes before the subscribe ACK as sent (foreign ACK op ids may
     * have been changed to differ from the subscribe's). */
    const uint8_t *pre = r->sent.len >= st->pre_len ? r->sent.p : st->bytes.p;
    set(s, "pre_hex", jhex(pre, st->pre_len));
    json_t *w = json_array();
    size_t at = st->pre_len;
    for (size_t i = 0; i <= st->nsplit && at < st->bytes.len; i++) {
        size_t next = i < st->nsplit ? st->split[i] : st->bytes.len;
        if (next <= at) {
            continue;
        }
        (void)json_array_append_new(w, jhex(st->bytes.p + at, next - at));
        at = next;
    }
    set(s, "writes", w);
    json_t *us = json_array();
    for (size_t i = 0; i < st->nu; i++) {
        const struct cf_unit *u = &st->u[i];
        json_t *j = json_object();
        set(j, "type", json_string(cf_utype_name(u->type)));
        set(j, "offset", json_integer((json_int_t)u->off));
        set(j, "length", json_integer((json_int_t)u->len));
        set(j, "req", json_string(u->req));
        set(j, "what", json_string(u->what));
        if (u->type == U_FRAME || u->type == U_BADTEXT) {
            json_t *e = json_object();
            const uint8_t *b = st->bytes.p;
            set(e, "kind", json_string(cf_kind_name(u->kind)));
            set(e, "sender_hex", jhex(b + u->sender.off, u->sender.len));
            set(e, "topic_hex", jhex(b + u->topic.off, u->kind == 0x01 ? u->topic.len : 0));
            set(e, "payload_hex", jhex(b + u->payload.off, u->payload.len));
            set(e, "realtime", json_integer(u->rt != 0));
            set(e, "realtime_byte", json_integer(u->rt));
            set(j, "expect", e);
        }
        (void)json_array_append_new(us, j);
    }
    set(s, "units", us);
    set(c, "stream_spec", s);
    set(c, "expected", expected_text(st));

    json_t *h = json_object();
    set(h, "frames", json_integer((json_int_t)r->nfr));
    set(h, "ready", json_boolean(r->ready));
    set(h, "errors", json_integer(r->errors));
    set(h, "closed_reported", json_boolean(r->closed_ev));
    set(h, "closed_connection", json_boolean(r->sock_eof));
    char ex[64];
    if (!r->exited) {
        snprintf(ex, sizeof ex, "did not exit (killed)");
    } else if (WIFSIGNALED(r->status)) {
        snprintf(ex, sizeof ex, "killed by signal %d", WTERMSIG(r->status));
    } else {
        snprintf(ex, sizeof ex, "exit status %d", WEXITSTATUS(r->status));
    }
    set(h, "exit", json_string(ex));
    set(h, "cpu_ms", json_integer(r->cpu_ms));
    set(h, "maxrss_kb", json_integer(r->maxrss_kb));
    set(h, "pings", json_integer(r->pings));
    set(h, "ms", json_integer((json_int_t)r->ms));
    json_t *ls = json_array();
    const char *p = (const char *)r->lines.p;
    size_t left = r->lines.len, nl = 0;
    while (p != NULL && left > 0 && nl < 200) {
        const char *e = memchr(p, '\n', left);
        size_t n = e != NULL ? (size_t)(e - p) : left;
        char *line = nf_xmalloc(n > 2000 ? 2004 : n + 1);
        memcpy(line, p, n > 2000 ? 2000 : n);
        if (n > 2000) {
            memcpy(line + 2000, "...", 4);
        } else {
            line[n] = 0;
        }
        json_t *js = json_string(line);
        if (js == NULL) {
            js = json_string("(a line that is not UTF-8)");
        }
        (void)json_array_append_new(ls, js);
        free(line);
        nl++;
        left -= n + (e != NULL ? 1 : 0);
        p += n + (e != NULL ? 1 : 0);
    }
    set(h, "lines", ls);
    set(c, "happened", h);
    char rep[2400];
    snprintf(rep, sizeof rep, "busrt-clientfuzz --replay %s --cmd '%s'", path, o->cmd);
    set(c, "replay", json_string(rep));
    int rc = json_dump_file(c, path, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(c);
    if (rc != 0) {
        fprintf(stderr, "busrt-clientfuzz: cannot write %s: %s\n", path, strerror(errno));
        path[0] = 0;
        return -1;
    }
    return 0;
}

/* ---- Reading -------------------------------------------------------------------- */

static int unhex(const char *s, struct nf_buf *b)
{
    if (s == NULL || strlen(s) % 2 != 0) {
        return -1;
    }
    for (size_t i = 0; s[i] != 0; i += 2) {
        char two[3] = {s[i], s[i + 1], 0}, *end = NULL;
        unsigned long v = strtoul(two, &end, 16);
        if (end != two + 2) {
            return -1;
        }
        nf_buf_addc(b, (uint8_t)v);
    }
    return 0;
}

static int lookup(const char *s, const char *(*name)(int), int n)
{
    for (int i = 0; i < n; i++) {
        if (s != NULL && strcmp(s, name(i)) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *req_const(const char *s)
{
    static const char *const known[] = {"REQ-DLV-1", "REQ-DLV-2", "REQ-DLV-3", "REQ-DLV-4",
                                        "REQ-DLV-5", "REQ-DLV-7", "REQ-DLV-8", "REQ-ACK-7",
                                        "REQ-ERR-6", "REQ-LIM-7", "REQ-HS-7"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (s != NULL && strcmp(s, known[i]) == 0) {
            return known[i];
        }
    }
    return "REQ-DLV-1";
}

static int bad(const char *path, const char *what)
{
    fprintf(stderr, "busrt-clientfuzz: %s: %s\n", path, what);
    return -1;
}

/* The span of field k of expect e, found in the unit's bytes. */
static int field(const struct cf_stream *st, const struct cf_unit *u, json_t *e, const char *k,
                 size_t from, struct cf_span *sp)
{
    struct nf_buf b = {0};
    if (unhex(json_string_value(json_object_get(e, k)), &b) != 0) {
        return -1;
    }
    sp->off = from;
    sp->len = b.len;
    int ok = from + b.len <= u->off + u->len &&
             (b.len == 0 || memcmp(st->bytes.p + from, b.p, b.len) == 0);
    nf_buf_free(&b);
    return ok ? 0 : -1;
}

int cf_case_read(const char *path, struct cf_stream *st, char **cmd)
{
    memset(st, 0, sizeof *st);
    *cmd = NULL;
    json_error_t err;
    json_t *c = json_load_file(path, 0, &err);
    if (c == NULL) {
        fprintf(stderr, "busrt-clientfuzz: cannot read %s: %s (line %d)\n", path, err.text,
                err.line);
        return -1;
    }
    int rc = -1;
    json_t *s = json_object_get(c, "stream_spec");
    const char *schema = json_string_value(json_object_get(c, "schema"));
    if (schema == NULL || strcmp(schema, "busrt-clientfuzz-case/1") != 0 || s == NULL) {
        bad(path, "not a busrt-clientfuzz-case/1 file");
        goto out;
    }
    st->seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
    st->index = (long)json_integer_value(json_object_get(c, "stream"));
    const char *cm = json_string_value(json_object_get(c, "command"));
    if (cm != NULL) {
        *cmd = strdup(cm);
    }
    st->hs = lookup(json_string_value(json_object_get(s, "handshake")), cf_hs_name, HS_EOF2 + 1);
    st->end = lookup(json_string_value(json_object_get(s, "end")), cf_end_name, END_HS + 1);
    if (st->hs < 0 || st->end < 0) {
        bad(path, "unknown \"handshake\" or \"end\"");
        goto out;
    }
    if (st->hs != HS_NONE) {
        struct nf_buf h = {0};
        if (unhex(json_string_value(json_object_get(s, "handshake_hex")), &h) != 0 ||
            h.len > 3) {
            nf_buf_free(&h);
            bad(path, "bad \"handshake_hex\"");
            goto out;
        }
        if (h.len > 0) {
            memcpy(st->hs_bytes, h.p, h.len);
        }
        st->hs_len = h.len;
        nf_buf_free(&h);
        snprintf(st->mode, sizeof st->mode, "handshake");
        rc = 0;
        goto out;
    }
    st->end_off = (size_t)json_integer_value(json_object_get(s, "end_offset"));
    st->drain = json_is_true(json_object_get(s, "drain"));
    st->idle_ms = (int)json_integer_value(json_object_get(s, "idle_ms"));
    st->hold_ms = (int)json_integer_value(json_object_get(s, "hold_ms"));
    snprintf(st->mode, sizeof st->mode, "%s",
             json_string_value(json_object_get(s, "split_mode")) != NULL
                 ? json_string_value(json_object_get(s, "split_mode")) : "");
    if (unhex(json_string_value(json_object_get(s, "pre_hex")), &st->bytes) != 0) {
        bad(path, "bad \"pre_hex\"");
        goto out;
    }
    st->pre_len = st->bytes.len;
    json_t *w = json_object_get(s, "writes"), *x;
    size_t i;
    json_array_foreach(w, i, x) {
        if (i > 0) {
            if (st->nsplit == st->csplit) {
                st->csplit = st->csplit > 0 ? st->csplit * 2 : 64;
                st->split = nf_xrealloc(st->split, st->csplit * sizeof *st->split);
            }
            st->split[st->nsplit++] = st->bytes.len;
        }
        if (unhex(json_string_value(x), &st->bytes) != 0) {
            bad(path, "bad hex in \"writes\"");
            goto out;
        }
    }
    json_array_foreach(json_object_get(s, "units"), i, x) {
        int t = lookup(json_string_value(json_object_get(x, "type")), cf_utype_name, U_TRAIL + 1);
        size_t off = (size_t)json_integer_value(json_object_get(x, "offset"));
        size_t len = (size_t)json_integer_value(json_object_get(x, "length"));
        if (t < 0 || off > st->bytes.len || len > st->bytes.len - off) {
            bad(path, "a unit with an unknown type or outside the bytes");
            goto out;
        }
        struct cf_unit *u = cf_unit_add(st, t, off, len,
                                        req_const(json_string_value(json_object_get(x, "req"))));
        const char *wh = json_string_value(json_object_get(x, "what"));
        snprintf(u->what, sizeof u->what, "%s", wh != NULL ? wh : "");
        if (t == U_FRAME || t == U_BADTEXT) {
            json_t *e = json_object_get(x, "expect");
            const char *k = json_string_value(json_object_get(e, "kind"));
            u->kind = k == NULL ? 0 : strcmp(k, "publication") == 0 ? 0x01
                      : strcmp(k, "message") == 0 ? 0x12 : 0x13;
            u->rt = (uint8_t)json_integer_value(json_object_get(e, "realtime_byte"));
            /* The fields lie in the body in order: sender NUL [topic NUL] payload. */
            size_t body = off + 6;
            if (len < 7 || field(st, u, e, "sender_hex", body, &u->sender) != 0) {
                bad(path, "a unit whose sender_hex is not in its bytes");
                goto out;
            }
            size_t next = u->sender.off + u->sender.len + 1;
            if (u->kind == 0x01) {
                if (field(st, u, e, "topic_hex", next, &u->topic) != 0) {
                    bad(path, "a unit whose topic_hex is not in its bytes");
                    goto out;
                }
                next = u->topic.off + u->topic.len + 1;
            } else {
                u->topic = (struct cf_span){next, 0};
            }
            if (field(st, u, e, "payload_hex", next, &u->payload) != 0) {
                bad(path, "a unit whose payload_hex is not in its bytes");
                goto out;
            }
        }
    }
    rc = 0;
out:
    json_decref(c);
    if (rc != 0) {
        free(*cmd);
        *cmd = NULL;
        cf_stream_free(st);
    }
    return rc;
}
