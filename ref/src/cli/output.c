/* busrt CLI: rendering payloads (JSON / text / MessagePack / hex) and
 * tables. */
#define _DEFAULT_SOURCE
#include "cli.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "busrt/mpack.h"
#include "busrt/utf8.h"

#define HEX_MAX 256u

static void print_hex(FILE *out, const uint8_t *p, size_t n, int label)
{
    size_t m = n > HEX_MAX ? HEX_MAX : n;
    if (label) {
        fputs("HEX: ", out);
    }
    for (size_t i = 0; i < m; i++) {
        fprintf(out, "%02x", (unsigned)p[i]);
    }
    fputs(n > HEX_MAX ? "...\n" : "\n", out);
}

/* JSON string escaping; bytes that are not UTF-8 become \u00XX. */
static void print_json_str(FILE *out, const uint8_t *s, size_t n)
{
    fputc('"', out);
    int utf8 = busrt_utf8_valid(s, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        switch (ch) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        default:
            if (ch < 0x20u || (!utf8 && ch >= 0x80u)) {
                fprintf(out, "\\u%04x", (unsigned)ch);
            } else {
                fputc(ch, out);
            }
        }
    }
    fputc('"', out);
}

/* Shortest text that reads back as the same double, with ".0" added to
 * integral values (as serde_json prints floats). */
static void print_double(FILE *out, double d)
{
    if (isnan(d) || isinf(d)) {
        fputs("null", out);
        return;
    }
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    if (strpbrk(buf, ".eEn") == NULL) {
        strncat(buf, ".0", sizeof buf - strlen(buf) - 1u);
    }
    fputs(buf, out);
}

static void newline_indent(FILE *out, int indent, int pretty)
{
    if (!pretty) {
        return;
    }
    fputc('\n', out);
    for (int i = 0; i < indent; i++) {
        fputs("  ", out);
    }
}

static int key_cmp(const msgpack_object *a, const msgpack_object *b)
{
    /* Strings sort by bytes, before every other key type. */
    int as = a->type == MSGPACK_OBJECT_STR, bs = b->type == MSGPACK_OBJECT_STR;
    if (as != bs) {
        return as ? -1 : 1;
    }
    if (!as) {
        return 0;
    }
    uint32_t m = a->via.str.size < b->via.str.size ? a->via.str.size : b->via.str.size;
    int r = m > 0 ? memcmp(a->via.str.ptr, b->via.str.ptr, m) : 0;
    if (r != 0) {
        return r;
    }
    return a->via.str.size < b->via.str.size ? -1 : (a->via.str.size > b->via.str.size);
}

static int kv_cmp(const void *x, const void *y)
{
    const msgpack_object_kv *a = *(const msgpack_object_kv *const *)x;
    const msgpack_object_kv *b = *(const msgpack_object_kv *const *)y;
    return key_cmp(&a->key, &b->key);
}

void cli_mp_text(const msgpack_object *o, char *buf, size_t cap)
{
    if (cap == 0) {
        return;
    }
    buf[0] = '\0';
    switch (o->type) {
    case MSGPACK_OBJECT_STR: {
        size_t n = o->via.str.size < cap - 1u ? o->via.str.size : cap - 1u;
        memcpy(buf, o->via.str.ptr, n);
        buf[n] = '\0';
        break;
    }
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(buf, cap, "%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(buf, cap, "%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(buf, cap, "%s", o->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        snprintf(buf, cap, "%g", o->via.f64);
        break;
    default:
        break; /* nil and containers: empty */
    }
}

/* The most bytes of a non-string key's compact form that are shown. A key
 * inside such a key is quoted again, and every quoting doubles the
 * backslashes before it: without a cap, 276 bytes of nested one-entry maps
 * printed gigabytes. Returns the length to show; a cut ends with "...", on
 * a UTF-8 character boundary (text has room: the cap is below tl). */
#define KEY_TEXT_MAX 256u

static size_t key_text_cap(char *text, size_t tl)
{
    if (tl <= KEY_TEXT_MAX) {
        return tl;
    }
    size_t n = KEY_TEXT_MAX - 3u;
    while (n > 0 && ((unsigned char)text[n] & 0xC0u) == 0x80u) {
        n--; /* text[n] continues a character: cut before that character */
    }
    memcpy(text + n, "...", 3);
    return n + 3u;
}

void cli_print_mp(FILE *out, const msgpack_object *o, int indent, int pretty)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        fputs("null", out);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs(o->via.boolean ? "true" : "false", out);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        fprintf(out, "%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fprintf(out, "%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        print_double(out, o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        print_json_str(out, (const uint8_t *)o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        /* As serde_json shows bytes: an array of numbers. */
        fputc('[', out);
        for (uint32_t i = 0; i < o->via.bin.size; i++) {
            fprintf(out, i > 0 ? (pretty ? ", %u" : ",%u") : "%u",
                    (unsigned)(uint8_t)o->via.bin.ptr[i]);
        }
        fputc(']', out);
        break;
    case MSGPACK_OBJECT_EXT:
        fprintf(out, "\"<ext type %d, %u bytes>\"", (int)o->via.ext.type,
                (unsigned)o->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (o->via.array.size == 0) {
            fputs("[]", out);
            break;
        }
        fputc('[', out);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i > 0) {
                fputc(',', out);
            }
            newline_indent(out, indent + 1, pretty);
            cli_print_mp(out, &o->via.array.ptr[i], indent + 1, pretty);
        }
        newline_indent(out, indent, pretty);
        fputc(']', out);
        break;
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = o->via.map.size;
        if (n == 0) {
            fputs("{}", out);
            break;
        }
        const msgpack_object_kv **kv = malloc(n * sizeof *kv);
        if (kv == NULL) {
            fputs("{}", out);
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            kv[i] = &o->via.map.ptr[i];
        }
        qsort(kv, n, sizeof *kv, kv_cmp);
        fputc('{', out);
        for (uint32_t i = 0; i < n; i++) {
            if (i > 0) {
                fputc(',', out);
            }
            newline_indent(out, indent + 1, pretty);
            if (kv[i]->key.type == MSGPACK_OBJECT_STR) {
                cli_print_mp(out, &kv[i]->key, 0, 0);
            } else {
                /* JSON keys are strings: quote the key's compact form. */
                char *text = NULL;
                size_t tl = 0;
                FILE *m = open_memstream(&text, &tl);
                if (m != NULL) {
                    cli_print_mp(m, &kv[i]->key, 0, 0);
                    if (fclose(m) == 0) {
                        tl = key_text_cap(text, tl);
                        print_json_str(out, (const uint8_t *)text, tl);
                    }
                }
                free(text);
            }
            fputs(pretty ? ": " : ":", out);
            cli_print_mp(out, &kv[i]->val, indent + 1, pretty);
        }
        free(kv);
        newline_indent(out, indent, pretty);
        fputc('}', out);
        break;
    }
    default:
        fputs("null", out);
    }
}

const msgpack_object *cli_mp_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

static int try_json(FILE *out, const uint8_t *p, size_t n, int silent)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)p, n, 0, &e);
    if (j == NULL) {
        return 0;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    size_t flags = JSON_SORT_KEYS | JSON_REAL_PRECISION(17);
    flags |= silent ? JSON_COMPACT : JSON_INDENT(2);
    char *s = json_dumps(j, flags);
    json_decref(j);
    if (s == NULL) {
        return 0;
    }
    if (!silent) {
        fputs("JSON:\n", out);
    }
    fprintf(out, "%s\n", s);
    free(s);
    return 1;
}

static int try_msgpack(FILE *out, const uint8_t *p, size_t n, int silent)
{
    /* A payload is untrusted: counts are checked against its bytes before
     * msgpack-c allocates for them. */
    size_t obj_len = 0;
    if (n == 0 || busrt_mp_check(p, n, &obj_len) != 0 || obj_len != n) {
        return 0;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(&u, (const char *)p, n, &off);
    int ok = r == MSGPACK_UNPACK_SUCCESS && off == n;
    if (ok) {
        if (!silent) {
            fputs("MSGPACK:\n", out);
        }
        cli_print_mp(out, &u.data, 0, !silent);
        fputc('\n', out);
    }
    msgpack_unpacked_destroy(&u);
    return ok;
}

void cli_print_payload(FILE *out, const uint8_t *p, size_t n, int silent)
{
    int text = 1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 9u) {
            text = 0;
            break;
        }
    }
    if (text && busrt_utf8_valid(p, n)) {
        if (try_json(out, p, n, silent)) {
            return;
        }
        fprintf(out, "%s%.*s\n", silent ? "" : "STR: ", (int)n, (const char *)p);
        return;
    }
    if (try_msgpack(out, p, n, silent)) {
        return;
    }
    if (silent) {
        fwrite(p, 1, n, out);
        return;
    }
    print_hex(out, p, n, 1);
}

void cli_fnum(char *buf, size_t cap, uint64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v);
    size_t k = 0;
    for (int i = 0; i < n && k + 1u < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0 && k + 2u < cap) {
            buf[k++] = '_';
        }
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
}

/* ---- Tables ---------------------------------------------------------------------- */

void cli_table_init(struct cli_table *t, const char *const *titles, size_t ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    cli_table_add(t, titles);
}

void cli_table_add(struct cli_table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        size_t ncap = t->cap == 0 ? 8u : t->cap * 2u;
        char **n = realloc(t->cells, ncap * t->ncols * sizeof *n);
        if (n == NULL) {
            return;
        }
        t->cells = n;
        t->cap = ncap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        t->cells[t->nrows * t->ncols + i] = strdup(row[i] != NULL ? row[i] : "");
    }
    t->nrows++;
}

void cli_table_print(FILE *out, const struct cli_table *t)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (w == NULL) {
        return;
    }
    size_t total = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        for (size_t r = 0; r < t->nrows; r++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t l = s != NULL ? strlen(s) : 0;
            if (l > w[c]) {
                w[c] = l;
            }
        }
        total += w[c] + 1u;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            fprintf(out, " %-*s", (int)w[c], s != NULL ? s : "");
        }
        fputc('\n', out);
        if (r == 0) {
            fputc(' ', out);
            for (size_t i = 0; i < total; i++) {
                fputc('-', out);
            }
            fputc('\n', out);
        }
    }
    free(w);
}

void cli_table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    memset(t, 0, sizeof *t);
}
