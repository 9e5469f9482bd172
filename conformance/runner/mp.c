/* MessagePack for the conformance runner: JSON -> MessagePack encoding of
 * params, and the matcher language for RPC results and announcements
 * (README section "MessagePack matchers"). Decoding uses msgpack-c. */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <math.h>
#include <msgpack.h>
#include <string.h>
#include <time.h>

/* ---- encoding ---------------------------------------------------------- */

static int pack_json(msgpack_packer *pk, const json_t *v, const char *prefix, struct buf *err)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        return i >= 0 ? msgpack_pack_uint64(pk, (uint64_t)i) : msgpack_pack_int64(pk, (int64_t)i);
    }
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(v));
    case JSON_STRING: {
        char *s = subst(json_string_value(v), prefix, 0);
        size_t n = strlen(s);
        int rc = msgpack_pack_str(pk, n);
        if (rc == 0) {
            rc = msgpack_pack_str_body(pk, s, n);
        }
        free(s);
        return rc;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (msgpack_pack_array(pk, n) != 0) {
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (pack_json(pk, json_array_get(v, i), prefix, err) != 0) {
                return -1;
            }
        }
        return 0;
    }
    case JSON_OBJECT: {
        if (msgpack_pack_map(pk, json_object_size(v)) != 0) {
            return -1;
        }
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) {
            char *s = subst(k, prefix, 0);
            size_t n = strlen(s);
            int rc = msgpack_pack_str(pk, n);
            if (rc == 0) {
                rc = msgpack_pack_str_body(pk, s, n);
            }
            free(s);
            if (rc != 0 || pack_json(pk, val, prefix, err) != 0) {
                return -1;
            }
        }
        return 0;
    }
    }
    buf_adds(err, "unsupported JSON value");
    return -1;
}

int mp_from_json(const json_t *v, const char *prefix, struct buf *out, struct buf *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = pack_json(&pk, v, prefix, err);
    if (rc == 0) {
        buf_add(out, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc == 0 ? 0 : -1;
}

/* ---- raw walking (for $formats) ------------------------------------------- */

static int be(const uint8_t *d, size_t n, size_t pos, size_t w, uint64_t *v)
{
    if (pos + w > n) {
        return -1;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < w; i++) {
        x = x * 256u + d[pos + i];
    }
    *v = x;
    return 0;
}

/* Skips one value at *pos. Returns 0 or -1 (truncated). */
static int raw_skip(const uint8_t *d, size_t n, size_t *pos, int depth)
{
    if (*pos >= n || depth > 64) {
        return -1;
    }
    uint8_t b = d[*pos];
    size_t p = *pos + 1u;
    uint64_t len = 0, items = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        *pos = p;
        return 0;
    }
    if ((b & 0xe0u) == 0xa0u) {
        len = b & 0x1fu;
    } else if ((b & 0xf0u) == 0x90u) {
        items = b & 0x0fu;
    } else if ((b & 0xf0u) == 0x80u) {
        items = (uint64_t)(b & 0x0fu) * 2u;
    } else {
        switch (b) {
        case 0xcc: case 0xd0: len = 1; break;
        case 0xcd: case 0xd1: len = 2; break;
        case 0xca: case 0xce: case 0xd2: len = 4; break;
        case 0xcb: case 0xcf: case 0xd3: len = 8; break;
        case 0xd4: len = 2; break;
        case 0xd5: len = 3; break;
        case 0xd6: len = 5; break;
        case 0xd7: len = 9; break;
        case 0xd8: len = 17; break;
        case 0xc4: case 0xd9:
            if (be(d, n, p, 1, &len) != 0) return -1;
            p += 1; break;
        case 0xc5: case 0xda:
            if (be(d, n, p, 2, &len) != 0) return -1;
            p += 2; break;
        case 0xc6: case 0xdb:
            if (be(d, n, p, 4, &len) != 0) return -1;
            p += 4; break;
        case 0xc7:
            if (be(d, n, p, 1, &len) != 0) return -1;
            p += 1; len += 1; break;
        case 0xc8:
            if (be(d, n, p, 2, &len) != 0) return -1;
            p += 2; len += 1; break;
        case 0xc9:
            if (be(d, n, p, 4, &len) != 0) return -1;
            p += 4; len += 1; break;
        case 0xdc:
            if (be(d, n, p, 2, &items) != 0) return -1;
            p += 2; break;
        case 0xdd:
            if (be(d, n, p, 4, &items) != 0) return -1;
            p += 4; break;
        case 0xde:
            if (be(d, n, p, 2, &items) != 0) return -1;
            p += 2; items *= 2u; break;
        case 0xdf:
            if (be(d, n, p, 4, &items) != 0) return -1;
            p += 4; items *= 2u; break;
        default: return -1;
        }
    }
    if (len > n - (p > n ? n : p)) {
        return -1;
    }
    p += (size_t)len;
    for (uint64_t i = 0; i < items; i++) {
        if (raw_skip(d, n, &p, depth + 1) != 0) {
            return -1;
        }
    }
    *pos = p;
    return 0;
}

static const char *format_name(uint8_t b)
{
    if (b <= 0x7f) return "positive_fixint";
    if ((b & 0xf0u) == 0x80u) return "fixmap";
    if ((b & 0xf0u) == 0x90u) return "fixarray";
    if ((b & 0xe0u) == 0xa0u) return "fixstr";
    if (b >= 0xe0) return "negative_fixint";
    switch (b) {
    case 0xc0: return "nil";
    case 0xc2: case 0xc3: return "bool";
    case 0xc4: return "bin8";
    case 0xc5: return "bin16";
    case 0xc6: return "bin32";
    case 0xca: return "float32";
    case 0xcb: return "float64";
    case 0xcc: return "uint8";
    case 0xcd: return "uint16";
    case 0xce: return "uint32";
    case 0xcf: return "uint64";
    case 0xd0: return "int8";
    case 0xd1: return "int16";
    case 0xd2: return "int32";
    case 0xd3: return "int64";
    case 0xd9: return "str8";
    case 0xda: return "str16";
    case 0xdb: return "str32";
    case 0xdc: return "array16";
    case 0xdd: return "array32";
    case 0xde: return "map16";
    case 0xdf: return "map32";
    default: return "ext";
    }
}

/* Checks {"key": "format", ...} against the top-level map of d. */
static int check_formats(const uint8_t *d, size_t n, const json_t *fm, struct buf *why)
{
    size_t pos = 0;
    uint64_t pairs = 0;
    if (n == 0) {
        buf_adds(why, "empty payload");
        return 0;
    }
    uint8_t b = d[0];
    if ((b & 0xf0u) == 0x80u) {
        pairs = b & 0x0fu;
        pos = 1;
    } else if (b == 0xde && be(d, n, 1, 2, &pairs) == 0) {
        pos = 3;
    } else if (b == 0xdf && be(d, n, 1, 4, &pairs) == 0) {
        pos = 5;
    } else {
        buf_adds(why, "$formats: the payload is not a map");
        return 0;
    }
    const char *key;
    json_t *want;
    json_object_foreach((json_t *)fm, key, want) {
        size_t p = pos;
        int found = 0;
        for (uint64_t i = 0; i < pairs; i++) {
            size_t kstart = p;
            if (raw_skip(d, n, &p, 0) != 0) {
                buf_adds(why, "$formats: truncated map");
                return 0;
            }
            int match = 0;
            uint8_t kb = d[kstart];
            if ((kb & 0xe0u) == 0xa0u) {
                size_t kl = kb & 0x1fu;
                match = kl == strlen(key) && memcmp(d + kstart + 1, key, kl) == 0;
            } else if (kb == 0xd9 && kstart + 1 < n) {
                size_t kl = d[kstart + 1];
                match = kl == strlen(key) && memcmp(d + kstart + 2, key, kl) == 0;
            }
            size_t vstart = p;
            if (raw_skip(d, n, &p, 0) != 0) {
                buf_adds(why, "$formats: truncated map");
                return 0;
            }
            if (match) {
                found = 1;
                const char *got = format_name(d[vstart]);
                if (strcmp(got, json_string_value(want)) != 0) {
                    buf_printf(why, "key \"%s\" is encoded as %s, expected %s", key, got,
                               json_string_value(want));
                    return 0;
                }
            }
        }
        if (!found) {
            buf_printf(why, "$formats: key \"%s\" missing", key);
            return 0;
        }
    }
    return 1;
}

/* ---- matching --------------------------------------------------------- */

static int is_directive(const json_t *m)
{
    if (!json_is_object(m)) {
        return 0;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        if (k[0] == '$') {
            return 1;
        }
    }
    return 0;
}

static const char *type_of(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "str";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "bin";
    default: return "ext";
    }
}

static int type_is(const msgpack_object *o, const char *t)
{
    const char *have = type_of(o);
    if (strcmp(t, "any") == 0 || strcmp(t, have) == 0) {
        return 1;
    }
    /* "int" means any integer */
    return strcmp(t, "int") == 0 && strcmp(have, "uint") == 0;
}

static void render_obj(const msgpack_object *o, struct buf *out)
{
    char tmp[600];
    int n = msgpack_object_print_buffer(tmp, sizeof tmp, *o);
    if (n > 0) {
        buf_add(out, tmp, strnlen(tmp, sizeof tmp));
    }
}

static const msgpack_object *map_get(const msgpack_object *o, const char *key)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0) {
            return &o->via.map.ptr[i].val;
        }
    }
    return NULL;
}

static int match_obj(const msgpack_object *o, const json_t *m, const char *prefix,
                     struct buf *why, const char *path);

static int match_scalar(const msgpack_object *o, const json_t *m, const char *prefix,
                        struct buf *why, const char *path)
{
    int ok = 0;
    switch (json_typeof(m)) {
    case JSON_NULL: ok = o->type == MSGPACK_OBJECT_NIL; break;
    case JSON_TRUE: ok = o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean; break;
    case JSON_FALSE: ok = o->type == MSGPACK_OBJECT_BOOLEAN && !o->via.boolean; break;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(m);
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            ok = i >= 0 && o->via.u64 == (uint64_t)i;
        } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            ok = o->via.i64 == (int64_t)i;
        }
        break;
    }
    case JSON_REAL:
        ok = (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) &&
             fabs(o->via.f64 - json_real_value(m)) <= 1e-9 * fabs(json_real_value(m));
        break;
    case JSON_STRING: {
        char *s = subst(json_string_value(m), prefix, 0);
        size_t n = strlen(s);
        ok = o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
             memcmp(o->via.str.ptr, s, n) == 0;
        free(s);
        break;
    }
    default: break;
    }
    if (!ok) {
        char *want = json_dumps(m, JSON_ENCODE_ANY);
        char *ws = subst(want != NULL ? want : "?", prefix, 0);
        buf_printf(why, "%s: expected %s, got ", path, ws);
        render_obj(o, why);
        free(ws);
        free(want);
    }
    return ok;
}

static int str_cmp(const msgpack_object *a, const msgpack_object *b)
{
    size_t n = a->via.str.size < b->via.str.size ? a->via.str.size : b->via.str.size;
    int c = memcmp(a->via.str.ptr, b->via.str.ptr, n);
    if (c != 0) {
        return c;
    }
    return a->via.str.size < b->via.str.size ? -1 : (a->via.str.size > b->via.str.size);
}

/* Appends "<path>: <before><want as JSON><after>" and the rendering of o
 * to why. Returns 0 (no match). */
static int mismatch(struct buf *why, const char *path, const char *before, const json_t *want,
                    const char *after, const msgpack_object *o)
{
    char *ts = json_dumps(want, JSON_ENCODE_ANY);
    buf_printf(why, "%s: %s%s%s", path, before, ts != NULL ? ts : "?", after);
    render_obj(o, why);
    free(ts);
    return 0;
}

static int match_directive(const msgpack_object *o, const json_t *m, const char *prefix,
                           struct buf *why, const char *path)
{
    char sub[256];
    json_t *t = json_object_get(m, "$type");
    if (t != NULL) {
        int ok = 0;
        if (json_is_string(t)) {
            ok = type_is(o, json_string_value(t));
        } else {
            size_t i;
            json_t *x;
            json_array_foreach(t, i, x) {
                ok |= type_is(o, json_string_value(x));
            }
        }
        if (!ok) {
            char got[64];
            snprintf(got, sizeof got, ", got %s ", type_of(o));
            return mismatch(why, path, "expected type ", t, got, o);
        }
    }
    json_t *eq = json_object_get(m, "$eq");
    if (eq != NULL && !match_obj(o, eq, prefix, why, path)) {
        return 0;
    }
    json_t *oneof = json_object_get(m, "$oneof");
    if (oneof != NULL) {
        size_t i;
        json_t *x;
        int ok = 0;
        json_array_foreach(oneof, i, x) {
            struct buf tmp;
            buf_init(&tmp);
            ok |= match_obj(o, x, prefix, &tmp, path);
            buf_free(&tmp);
        }
        if (!ok) {
            return mismatch(why, path, "expected one of ", oneof, ", got ", o);
        }
    }
    json_t *keys = json_object_get(m, "$keys");
    json_t *only = json_object_get(m, "$only_keys");
    json_t *absent = json_object_get(m, "$absent");
    json_t *order = json_object_get(m, "$key_order");
    if (keys != NULL || only != NULL || absent != NULL || order != NULL) {
        if (o->type != MSGPACK_OBJECT_MAP) {
            buf_printf(why, "%s: expected a map, got %s", path, type_of(o));
            return 0;
        }
        const char *k;
        json_t *v;
        json_object_foreach(keys, k, v) {
            const msgpack_object *val = map_get(o, k);
            snprintf(sub, sizeof sub, "%s.%s", path, k);
            if (val == NULL) {
                buf_printf(why, "%s: key missing", sub);
                return 0;
            }
            if (!match_obj(val, v, prefix, why, sub)) {
                return 0;
            }
        }
        if (json_is_true(only)) {
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                const msgpack_object *kk = &o->via.map.ptr[i].key;
                int known = 0;
                if (kk->type == MSGPACK_OBJECT_STR) {
                    json_object_foreach(keys, k, v) {
                        known |= strlen(k) == kk->via.str.size &&
                                 memcmp(k, kk->via.str.ptr, kk->via.str.size) == 0;
                    }
                }
                if (!known) {
                    buf_printf(why, "%s: unexpected key ", path);
                    render_obj(kk, why);
                    return 0;
                }
            }
        }
        size_t i;
        json_t *x;
        json_array_foreach(absent, i, x) {
            if (map_get(o, json_string_value(x)) != NULL) {
                buf_printf(why, "%s: key \"%s\" must be absent", path, json_string_value(x));
                return 0;
            }
        }
        if (order != NULL) {
            int ok = json_array_size(order) == o->via.map.size;
            for (uint32_t j = 0; ok && j < o->via.map.size; j++) {
                const msgpack_object *kk = &o->via.map.ptr[j].key;
                const char *want = json_string_value(json_array_get(order, j));
                ok = kk->type == MSGPACK_OBJECT_STR && strlen(want) == kk->via.str.size &&
                     memcmp(want, kk->via.str.ptr, kk->via.str.size) == 0;
            }
            if (!ok) {
                return mismatch(why, path, "keys are not exactly ", order, " in this order; got ",
                                o);
            }
        }
    }
    json_t *each = json_object_get(m, "$each");
    json_t *contains = json_object_get(m, "$contains");
    json_t *ncontains = json_object_get(m, "$not_contains");
    json_t *sorted = json_object_get(m, "$sorted_by");
    json_t *len = json_object_get(m, "$len");
    json_t *minlen = json_object_get(m, "$min_len");
    if (each != NULL || contains != NULL || ncontains != NULL || sorted != NULL ||
        len != NULL || minlen != NULL) {
        if (o->type != MSGPACK_OBJECT_ARRAY) {
            buf_printf(why, "%s: expected an array, got %s", path, type_of(o));
            return 0;
        }
        uint32_t n = o->via.array.size;
        if (len != NULL && (json_int_t)n != json_integer_value(len)) {
            buf_printf(why, "%s: expected %lld items, got %u", path,
                       (long long)json_integer_value(len), n);
            return 0;
        }
        if (minlen != NULL && (json_int_t)n < json_integer_value(minlen)) {
            buf_printf(why, "%s: expected at least %lld items, got %u", path,
                       (long long)json_integer_value(minlen), n);
            return 0;
        }
        for (uint32_t i = 0; each != NULL && i < n; i++) {
            snprintf(sub, sizeof sub, "%s[%u]", path, i);
            if (!match_obj(&o->via.array.ptr[i], each, prefix, why, sub)) {
                return 0;
            }
        }
        size_t ci;
        json_t *cm;
        json_array_foreach(contains, ci, cm) {
            int found = 0;
            for (uint32_t i = 0; !found && i < n; i++) {
                struct buf tmp;
                buf_init(&tmp);
                found = match_obj(&o->via.array.ptr[i], cm, prefix, &tmp, path);
                buf_free(&tmp);
            }
            if (!found) {
                char *ts = json_dumps(cm, 0);
                char *ss = subst(ts != NULL ? ts : "?", prefix, 0);
                buf_printf(why, "%s: no item matches %s", path, ss);
                free(ss);
                free(ts);
                return 0;
            }
        }
        json_array_foreach(ncontains, ci, cm) {
            for (uint32_t i = 0; i < n; i++) {
                struct buf tmp;
                buf_init(&tmp);
                int found = match_obj(&o->via.array.ptr[i], cm, prefix, &tmp, path);
                buf_free(&tmp);
                if (found) {
                    buf_printf(why, "%s[%u]: this item must not be present: ", path, i);
                    render_obj(&o->via.array.ptr[i], why);
                    return 0;
                }
            }
        }
        if (sorted != NULL) {
            const char *sk = json_string_value(sorted);
            for (uint32_t i = 0; i + 1u < n; i++) {
                const msgpack_object *a = map_get(&o->via.array.ptr[i], sk);
                const msgpack_object *b = map_get(&o->via.array.ptr[i + 1u], sk);
                if (a == NULL || b == NULL || a->type != MSGPACK_OBJECT_STR ||
                    b->type != MSGPACK_OBJECT_STR) {
                    buf_printf(why, "%s[%u]: no string \"%s\" to sort by", path, i, sk);
                    return 0;
                }
                if (str_cmp(a, b) > 0) {
                    buf_printf(why, "%s: not sorted by \"%s\": item %u ", path, sk, i);
                    render_obj(a, why);
                    buf_printf(why, " comes before item %u ", i + 1u);
                    render_obj(b, why);
                    return 0;
                }
            }
        }
    }
    json_t *near = json_object_get(m, "$near_now_s");
    if (near != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            buf_printf(why, "%s: expected an unsigned time in ns, got %s", path, type_of(o));
            return 0;
        }
        double tv = (double)o->via.u64 / 1e9;
        if (fabs(tv - now) > json_number_value(near)) {
            buf_printf(why, "%s: time %.3f s is more than %g s away from now (%.3f s)", path, tv,
                       json_number_value(near), now);
            return 0;
        }
    }
    return 1;
}

static int match_obj(const msgpack_object *o, const json_t *m, const char *prefix,
                     struct buf *why, const char *path)
{
    if (is_directive(m)) {
        return match_directive(o, m, prefix, why, path);
    }
    if (json_is_object(m)) {
        if (o->type != MSGPACK_OBJECT_MAP) {
            buf_printf(why, "%s: expected a map, got %s ", path, type_of(o));
            render_obj(o, why);
            return 0;
        }
        const char *k;
        json_t *v;
        char sub[256];
        json_object_foreach((json_t *)m, k, v) {
            char *ks = subst(k, prefix, 0);
            const msgpack_object *val = map_get(o, ks);
            snprintf(sub, sizeof sub, "%s.%s", path, ks);
            free(ks);
            if (val == NULL) {
                buf_printf(why, "%s: key missing", sub);
                return 0;
            }
            if (!match_obj(val, v, prefix, why, sub)) {
                return 0;
            }
        }
        return 1;
    }
    if (json_is_array(m)) {
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != json_array_size(m)) {
            buf_printf(why, "%s: expected an array of %zu items, got ", path,
                       json_array_size(m));
            render_obj(o, why);
            return 0;
        }
        char sub[256];
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            snprintf(sub, sizeof sub, "%s[%u]", path, i);
            if (!match_obj(&o->via.array.ptr[i], json_array_get(m, i), prefix, why, sub)) {
                return 0;
            }
        }
        return 1;
    }
    return match_scalar(o, m, prefix, why, path);
}

int mp_match(const uint8_t *d, size_t n, const json_t *m, const char *prefix, struct buf *why)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack((const char *)d, n, &off, &zone, &obj);
    int ok;
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        buf_adds(why, "the payload is not one complete MessagePack value");
        ok = 0;
    } else {
        ok = match_obj(&obj, m, prefix, why, "$");
        json_t *fm = is_directive(m) ? json_object_get(m, "$formats") : NULL;
        if (ok && fm != NULL) {
            ok = check_formats(d, n, fm, why);
        }
    }
    msgpack_zone_destroy(&zone);
    return ok;
}

void mp_render(const uint8_t *d, size_t n, struct buf *out)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 2048);
    msgpack_object obj;
    size_t off = 0;
    if (msgpack_unpack((const char *)d, n, &off, &zone, &obj) == MSGPACK_UNPACK_SUCCESS) {
        render_obj(&obj, out);
    } else {
        buf_adds(out, "(not MessagePack)");
    }
    msgpack_zone_destroy(&zone);
}

int mp_matcher_check(const json_t *m, struct buf *err)
{
    static const char *const dirs[] = {"$type", "$eq", "$oneof", "$keys", "$only_keys",
                                       "$absent", "$key_order", "$each", "$contains",
                                       "$not_contains", "$sorted_by", "$len", "$min_len",
                                       "$near_now_s", "$formats", NULL};
    if (json_is_object(m)) {
        const char *k;
        json_t *v;
        int directive = is_directive(m);
        json_object_foreach((json_t *)m, k, v) {
            if (directive) {
                int ok = 0;
                for (size_t i = 0; dirs[i] != NULL; i++) {
                    ok |= strcmp(dirs[i], k) == 0;
                }
                if (!ok) {
                    buf_printf(err, "unknown directive %s", k);
                    return -1;
                }
                if (strcmp(k, "$keys") == 0 || strcmp(k, "$eq") == 0 ||
                    strcmp(k, "$each") == 0) {
                    if (mp_matcher_check(v, err) != 0) {
                        return -1;
                    }
                }
            } else if (mp_matcher_check(v, err) != 0) {
                return -1;
            }
        }
    } else if (json_is_array(m)) {
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)m, i, v) {
            if (mp_matcher_check(v, err) != 0) {
                return -1;
            }
        }
    }
    return 0;
}
