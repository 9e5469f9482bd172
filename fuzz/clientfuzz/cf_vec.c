/* The seeds of the generator: pieces of the test vectors of spec/vectors
 * (frame_header, frame_body, ack, utf8, name, greeting), each checked
 * against the fuzzer's own model of Section 6 before it is used, so that
 * the oracle and the vectors cannot silently disagree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "busrt/le.h"
#include "cf.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes hex into a new buffer. 0, or -1 when s is not hex. */
static int unhex(const char *s, struct cf_blob *b)
{
    if (s == NULL) {
        return -1;
    }
    size_t n = strlen(s);
    if (n % 2 != 0) {
        return -1;
    }
    b->p = nf_xmalloc(n / 2);
    b->n = n / 2;
    for (size_t i = 0; i < b->n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b->p);
            b->p = NULL;
            return -1;
        }
        b->p[i] = (uint8_t)(hi * 16 + lo);
    }
    return 0;
}

static void push(struct cf_blob **arr, size_t *n, const struct cf_blob *b)
{
    *arr = nf_xrealloc(*arr, (*n + 1) * sizeof **arr);
    (*arr)[(*n)++] = *b;
}

/* The vectors array of DIR/FILE, or NULL (reported). The caller releases
 * *root. */
static json_t *load(const char *dir, const char *file, json_t **root)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t err;
    *root = json_load_file(path, 0, &err);
    if (*root == NULL) {
        fprintf(stderr, "busrt-clientfuzz: cannot read the vectors %s: %s (line %d); "
                        "give the directory of spec/vectors with --vectors DIR\n",
                path, err.text, err.line);
        return NULL;
    }
    json_t *v = json_object_get(*root, "vectors");
    if (!json_is_array(v)) {
        fprintf(stderr, "busrt-clientfuzz: %s has no \"vectors\" array\n", path);
        json_decref(*root);
        *root = NULL;
        return NULL;
    }
    return v;
}

static const char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* The "hex" input of a vector, NULL for one given as "hex_repeat". */
static const char *hex_of(json_t *o)
{
    return json_string_value(json_object_get(o, "hex"));
}

static long int_of(json_t *o, const char *k)
{
    return (long)json_integer_value(json_object_get(o, k));
}

static int mismatch(const char *id, const char *what)
{
    fprintf(stderr, "busrt-clientfuzz: vector %s disagrees with the fuzzer's model of "
                    "Section 6: %s\n", id, what);
    return -1;
}

static int kind_ok(uint8_t k)
{
    return k == 0x00 || k == 0x01 || k == 0x12 || k == 0x13;
}

static int frame_headers(struct cf_vec *v, const char *dir)
{
    json_t *root, *arr = load(dir, "frame_header.json", &root);
    if (arr == NULL) {
        return -1;
    }
    int rc = 0;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        struct cf_blob b;
        memset(&b, 0, sizeof b);
        snprintf(b.id, sizeof b.id, "%s", str_of(x, "id"));
        if (unhex(hex_of(x), &b) != 0) {
            continue; /* hex_repeat: not used */
        }
        json_t *e = json_object_get(x, "expect");
        const char *err = json_string_value(json_object_get(e, "error"));
        uint32_t max_body = (uint32_t)int_of(x, "max_body");
        /* The model: short, kind, limit (never for a NOP), else the raw fields. */
        const char *mine = b.n < 6 ? "short" : !kind_ok(b.p[0]) ? "kind"
                           : (b.p[0] != 0 && busrt_get_le32(b.p + 1) > max_body) ? "limit" : NULL;
        if ((err == NULL) != (mine == NULL) || (err != NULL && strcmp(err, mine) != 0)) {
            rc = mismatch(b.id, "header decode result");
        } else if (err == NULL && (int_of(e, "kind") != b.p[0] || int_of(e, "realtime") != b.p[5] ||
                                   (uint32_t)int_of(e, "body_len") != busrt_get_le32(b.p + 1))) {
            rc = mismatch(b.id, "header fields");
        }
        v->checked++;
        if (b.n >= 6 && rc == 0) {
            b.n = 6;
            if (!kind_ok(b.p[0]) && b.p[0] != 0xFE) {
                push(&v->hdr_bad, &v->nhdr_bad, &b);
                continue;
            } else if (b.p[0] == 0) {
                push(&v->hdr_nop, &v->nhdr_nop, &b);
                continue;
            } else if (b.p[0] != 0xFE) {
                push(&v->hdr_ok, &v->nhdr_ok, &b);
                continue;
            }
        }
        free(b.p);
    }
    json_decref(root);
    return rc;
}

/* The model of REQ-DLV-2, -3, -7: the sender ends at the first NUL, a
 * publication's topic at the second; the payload is the rest. */
static int split(uint8_t kind, const uint8_t *p, size_t n, struct cf_span *s,
                 struct cf_span *t, struct cf_span *pl)
{
    const uint8_t *a = memchr(p, 0, n);
    if (a == NULL) {
        return -1;
    }
    size_t sa = (size_t)(a - p);
    *s = (struct cf_span){0, sa};
    if (kind != 0x01) {
        *t = (struct cf_span){sa + 1, 0};
        *pl = (struct cf_span){sa + 1, n - sa - 1};
        return 0;
    }
    const uint8_t *b = memchr(p + sa + 1, 0, n - sa - 1);
    if (b == NULL) {
        return -1;
    }
    size_t sb = (size_t)(b - p);
    *t = (struct cf_span){sa + 1, sb - sa - 1};
    *pl = (struct cf_span){sb + 1, n - sb - 1};
    return 0;
}

static int same_hex(const uint8_t *p, struct cf_span s, const char *hex)
{
    struct cf_blob b;
    if (unhex(hex, &b) != 0) {
        return 0;
    }
    int eq = b.n == s.len && (b.n == 0 || memcmp(b.p, p + s.off, b.n) == 0);
    free(b.p);
    return eq;
}

static int frame_bodies(struct cf_vec *v, const char *dir)
{
    json_t *root, *arr = load(dir, "frame_body.json", &root);
    if (arr == NULL) {
        return -1;
    }
    int rc = 0;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        struct cf_vbody vb;
        memset(&vb, 0, sizeof vb);
        snprintf(vb.b.id, sizeof vb.b.id, "%s", str_of(x, "id"));
        long kind = int_of(x, "kind");
        if (unhex(hex_of(x), &vb.b) != 0) {
            continue;
        }
        if (kind != 0x01 && kind != 0x12 && kind != 0x13) {
            free(vb.b.p); /* NOP and unknown kinds have no body in a stream */
            continue;
        }
        vb.kind = (uint8_t)kind;
        json_t *e = json_object_get(x, "expect");
        const char *err = json_string_value(json_object_get(e, "error"));
        vb.ok = split(vb.kind, vb.b.p, vb.b.n, &vb.sender, &vb.topic, &vb.payload) == 0;
        v->checked++;
        if (vb.ok != (err == NULL) || (err != NULL && strcmp(err, "nosep") != 0)) {
            rc = mismatch(vb.b.id, "body split result");
        } else if (vb.ok && (!same_hex(vb.b.p, vb.sender, str_of(e, "sender")) ||
                             !same_hex(vb.b.p, vb.payload, str_of(e, "payload")) ||
                             (vb.kind == 0x01 &&
                              !same_hex(vb.b.p, vb.topic, str_of(e, "topic"))))) {
            rc = mismatch(vb.b.id, "body fields");
        }
        v->body = nf_xrealloc(v->body, (v->nbody + 1) * sizeof *v->body);
        v->body[v->nbody++] = vb;
    }
    json_decref(root);
    return rc;
}

static int acks(struct cf_vec *v, const char *dir)
{
    json_t *root, *arr = load(dir, "ack.json", &root);
    if (arr == NULL) {
        return -1;
    }
    int rc = 0;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        struct cf_blob b;
        memset(&b, 0, sizeof b);
        snprintf(b.id, sizeof b.id, "%s", str_of(x, "id"));
        if (unhex(hex_of(x), &b) != 0) {
            continue;
        }
        json_t *e = json_object_get(x, "expect");
        int ok = json_object_get(e, "error") == NULL;
        v->checked++;
        if (ok != (b.n >= 6 && b.p[0] == 0xFE) ||
            (ok && ((uint32_t)int_of(e, "op_id") != busrt_get_le32(b.p + 1) ||
                    int_of(e, "code") != b.p[5]))) {
            rc = mismatch(b.id, "ACK decode");
        }
        if (ok && rc == 0) {
            b.n = 6;
            push(&v->ack, &v->nack, &b);
        } else {
            free(b.p);
        }
    }
    json_decref(root);
    return rc;
}

/* Text pieces: hex inputs up to max bytes, without NUL (a NUL would end
 * the field), selected by the expect field key having the value want. */
static int texts(const char *dir, const char *file, const char *key, const char *want,
                 size_t max, struct cf_blob **out, size_t *n)
{
    json_t *root, *arr = load(dir, file, &root);
    if (arr == NULL) {
        return -1;
    }
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        json_t *ev = json_object_get(json_object_get(x, "expect"), key);
        char val[32];
        if (json_is_boolean(ev)) {
            snprintf(val, sizeof val, "%s", json_is_true(ev) ? "true" : "false");
        } else if (json_is_string(ev)) {
            snprintf(val, sizeof val, "%s", json_string_value(ev));
        } else {
            continue;
        }
        struct cf_blob b;
        memset(&b, 0, sizeof b);
        snprintf(b.id, sizeof b.id, "%s", str_of(x, "id"));
        if (strcmp(val, want) != 0 || unhex(hex_of(x), &b) != 0) {
            continue;
        }
        if (b.n > max || (b.n > 0 && memchr(b.p, 0, b.n) != NULL)) {
            free(b.p);
            continue;
        }
        push(out, n, &b);
    }
    json_decref(root);
    return 0;
}

int cf_vec_load(struct cf_vec *v, const char *dir)
{
    memset(v, 0, sizeof *v);
    if (frame_headers(v, dir) != 0 || frame_bodies(v, dir) != 0 || acks(v, dir) != 0 ||
        texts(dir, "utf8.json", "valid", "false", 64, &v->utf8_bad, &v->nutf8_bad) != 0 ||
        texts(dir, "utf8.json", "valid", "true", 64, &v->utf8_good, &v->nutf8_good) != 0 ||
        texts(dir, "name.json", "check", "ok", 64, &v->names, &v->nnames) != 0 ||
        texts(dir, "greeting.json", "error", "greeting", 3, &v->greet_bad, &v->ngreet_bad) != 0 ||
        texts(dir, "greeting.json", "error", "version", 3, &v->greet_bad, &v->ngreet_bad) != 0) {
        cf_vec_free(v);
        return -1;
    }
    /* Greetings of exactly 3 bytes only (the others are short). */
    size_t k = 0;
    for (size_t i = 0; i < v->ngreet_bad; i++) {
        if (v->greet_bad[i].n == 3) {
            v->greet_bad[k++] = v->greet_bad[i];
        } else {
            free(v->greet_bad[i].p);
        }
    }
    v->ngreet_bad = k;
    if (v->nhdr_bad == 0 || v->nhdr_nop == 0 || v->nhdr_ok == 0 || v->nbody == 0 ||
        v->nack == 0 || v->nutf8_bad == 0 || v->nutf8_good == 0 || v->nnames == 0 ||
        v->ngreet_bad == 0) {
        fprintf(stderr, "busrt-clientfuzz: the vectors in %s lack a kind of case the "
                        "generator needs\n", dir);
        cf_vec_free(v);
        return -1;
    }
    return 0;
}

static void free_blobs(struct cf_blob *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(b[i].p);
    }
    free(b);
}

void cf_vec_free(struct cf_vec *v)
{
    free_blobs(v->hdr_bad, v->nhdr_bad);
    free_blobs(v->hdr_nop, v->nhdr_nop);
    free_blobs(v->hdr_ok, v->nhdr_ok);
    for (size_t i = 0; i < v->nbody; i++) {
        free(v->body[i].b.p);
    }
    free(v->body);
    free_blobs(v->ack, v->nack);
    free_blobs(v->utf8_bad, v->nutf8_bad);
    free_blobs(v->utf8_good, v->nutf8_good);
    free_blobs(v->names, v->nnames);
    free_blobs(v->greet_bad, v->ngreet_bad);
    memset(v, 0, sizeof *v);
}
