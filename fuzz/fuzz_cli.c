/* The busrt CLI's own input and output paths, with the code the tool runs
 * (ref/src/cli/params.c, output.c):
 *
 *   1. key=value words -> MessagePack map (cli_params_pack), checked
 *      against a model written here from the documented typing rules, and
 *      the map rendered back (cli_print_mp) must be JSON that jansson reads
 *      back to the same keys and values;
 *   2. any bytes rendered as a received payload (cli_print_payload): the
 *      label (JSON / STR / MSGPACK / HEX) follows the classification rule
 *      in cli.h, text and hex are printed exactly, and every MSGPACK
 *      rendering is well-formed JSON.
 *
 * Input: byte 0 = flags (bit 0 silent, bit 1 pretty), the rest = payload;
 * the words are the payload split at '\n' and NUL (at most 64). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../ref/src/cli/cli.h"
#include "busrt/mpack.h"
#include "busrt/utf8.h"
#include "fuzz.h"

#define MAX_WORDS 64

/* ---- Model of the value typing (cli.h), written from the rules ---- */

static int all_digits(const char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* [-]digits within int64, by comparing digit strings (no strtoll). */
static int model_int(const char *v)
{
    int neg = v[0] == '-';
    const char *d = v + neg;
    size_t n = strlen(d);
    if (!all_digits(d, n)) {
        return 0;
    }
    while (n > 1 && d[0] == '0') {
        d++;
        n--;
    }
    const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
    return n < 19 || (n == 19 && strncmp(d, lim, 19) <= 0);
}

static size_t digit_run(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        n++;
    }
    return n;
}

/* [-+]digits[.digits][(e|E)[-+]digits], at least one mantissa digit,
 * and finite as a double. */
static int model_float(const char *v)
{
    const char *s = v + ((v[0] == '-' || v[0] == '+') ? 1 : 0);
    size_t m = digit_run(s);
    s += m;
    if (*s == '.') {
        s++;
        size_t f = digit_run(s);
        s += f;
        m += f;
    }
    if (m == 0) {
        return 0;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        s += (*s == '-' || *s == '+') ? 1 : 0;
        size_t e = digit_run(s);
        if (e == 0) {
            return 0;
        }
        s += e;
    }
    return *s == '\0' && isfinite(strtod(v, NULL));
}

static enum cli_param_type model_type(const char *v)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        return CLI_PARAM_BOOL;
    }
    if (model_int(v)) {
        return CLI_PARAM_INT;
    }
    return model_float(v) ? CLI_PARAM_FLOAT : CLI_PARAM_STR;
}

/* ---- Helpers ---- */

/* Renders o with cli_print_mp into a fresh buffer (caller frees). */
static char *render(const msgpack_object *o, int pretty, size_t *len)
{
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    CHECK(m != NULL);
    cli_print_mp(m, o, 0, pretty);
    CHECK(fclose(m) == 0);
    return text;
}

/* cli_print_mp output must be JSON. jansson refuses two things JSON
 * allows: NUL in object keys, and integers beyond int64 (a MessagePack
 * uint64 is printed in full, as serde_json prints it). Those refusals
 * are not rendering faults. */
static json_t *load_json(const char *text, size_t len)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (j == NULL && strstr(e.text, "NUL") == NULL && strstr(e.text, "too big") == NULL) {
        fprintf(stderr, "not JSON (%s): %.*s\n", e.text, (int)len, text);
        CHECK(j != NULL);
    }
    return j;
}

/* ---- 1. key=value words ---- */

static void check_value(const json_t *jv, const char *v)
{
    switch (model_type(v)) {
    case CLI_PARAM_BOOL:
        CHECK(json_is_boolean(jv) && json_is_true(jv) == (v[0] == 't'));
        break;
    case CLI_PARAM_INT:
        CHECK(json_is_integer(jv) && json_integer_value(jv) == strtoll(v, NULL, 10));
        break;
    case CLI_PARAM_FLOAT:
        CHECK(json_is_real(jv) && json_real_value(jv) == strtod(v, NULL));
        break;
    case CLI_PARAM_STR:
    default:
        CHECK(json_is_string(jv) && json_string_length(jv) == strlen(v) &&
              memcmp(json_string_value(jv), v, strlen(v)) == 0);
        break;
    }
}

static void check_params(char **w, int n, int pretty)
{
    int first_bad = -1;
    int keys_utf8 = 1;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(w[i], '=');
        if (eq == NULL || eq == w[i]) {
            first_bad = first_bad < 0 ? i : first_bad;
        } else if (busrt_utf8_valid((const uint8_t *)w[i], (size_t)(eq - w[i])) != 1) {
            keys_utf8 = 0;
        }
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int bad = -1;
    int rc = cli_params_pack(w, n, &sb, &bad);
    if (first_bad >= 0) {
        CHECK(rc == CLI_PARAMS_SYNTAX && bad == first_bad);
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    CHECK(rc == 0);
    /* The map: one entry per distinct key, at its last word, in order. */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    CHECK(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
    CHECK(off == sb.size && u.data.type == MSGPACK_OBJECT_MAP);
    uint32_t k = 0;
    for (int i = 0; i < n; i++) {
        size_t kl = (size_t)(strchr(w[i], '=') - w[i]);
        int later = 0;
        for (int j = i + 1; j < n; j++) {
            later |= strncmp(w[i], w[j], kl + 1) == 0;
        }
        if (later) {
            continue;
        }
        CHECK(k < u.data.via.map.size);
        const msgpack_object_kv *kv = &u.data.via.map.ptr[k++];
        CHECK(kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == kl &&
              memcmp(kv->key.via.str.ptr, w[i], kl) == 0);
        const char *v = w[i] + kl + 1;
        switch (model_type(v)) {
        case CLI_PARAM_BOOL:
            CHECK(kv->val.type == MSGPACK_OBJECT_BOOLEAN);
            break;
        case CLI_PARAM_INT:
            CHECK(kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                  kv->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
            break;
        case CLI_PARAM_FLOAT:
            CHECK(kv->val.type == MSGPACK_OBJECT_FLOAT64 && kv->val.via.f64 == strtod(v, NULL));
            break;
        case CLI_PARAM_STR:
        default:
            CHECK(kv->val.type == MSGPACK_OBJECT_STR && kv->val.via.str.size == strlen(v) &&
                  memcmp(kv->val.via.str.ptr, v, strlen(v)) == 0);
            break;
        }
    }
    CHECK(k == u.data.via.map.size);
    /* Rendered back: JSON with the same keys and values. Keys that are not
     * UTF-8 are shown escaped and may collide with a real key: only the
     * JSON syntax is checked then. */
    size_t len = 0;
    char *text = render(&u.data, pretty, &len);
    json_t *j = load_json(text, len);
    CHECK(j != NULL && json_is_object(j));
    if (keys_utf8) {
        CHECK(json_object_size(j) == u.data.via.map.size);
        for (int i = 0; i < n; i++) {
            size_t kl = (size_t)(strchr(w[i], '=') - w[i]);
            const json_t *jv = json_object_getn(j, w[i], kl);
            CHECK(jv != NULL);
            /* The value of the key's last word. */
            const char *v = w[i] + kl + 1;
            for (int jx = i + 1; jx < n; jx++) {
                if (strncmp(w[i], w[jx], kl + 1) == 0) {
                    v = w[jx] + kl + 1;
                }
            }
            if (model_type(v) != CLI_PARAM_STR ||
                busrt_utf8_valid((const uint8_t *)v, strlen(v)) == 1) {
                check_value(jv, v);
            }
        }
    }
    json_decref(j);
    free(text);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- 2. payload rendering ---- */

static int starts(const char *s, size_t n, const char *prefix)
{
    size_t pl = strlen(prefix);
    return n >= pl && memcmp(s, prefix, pl) == 0;
}

static void check_payload(const uint8_t *p, size_t n, int silent)
{
    char *out = NULL;
    size_t on = 0;
    FILE *m = open_memstream(&out, &on);
    CHECK(m != NULL);
    cli_print_payload(m, p, n, silent);
    CHECK(fclose(m) == 0);

    int text = 1;
    for (size_t i = 0; i < n; i++) {
        text &= p[i] >= 9u;
    }
    text &= busrt_utf8_valid(p, n) == 1;
    json_error_t e;
    json_t *obj = text ? json_loadb((const char *)p, n, 0, &e) : NULL;
    int is_obj = obj != NULL && json_is_object(obj);
    json_decref(obj);
    /* The extent check first, as the CLI does: msgpack-c alone would
     * allocate for whatever count a header declares. */
    size_t obj_len = 0;
    int mp = n > 0 && busrt_mp_check(p, n, &obj_len) == 0 && obj_len == n;
    if (mp) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        mp = msgpack_unpack_next(&u, (const char *)p, n, &off) == MSGPACK_UNPACK_SUCCESS &&
             off == n;
        msgpack_unpacked_destroy(&u);
    }

    if (text && is_obj) {
        CHECK(silent || starts(out, on, "JSON:\n"));
        size_t skip = silent ? 0 : 6;
        json_t *j = load_json(out + skip, on - skip);
        CHECK(j != NULL && json_is_object(j));
        json_decref(j);
    } else if (text) {
        const char *label = silent ? "" : "STR: ";
        size_t ll = strlen(label);
        CHECK(on == ll + n + 1 && starts(out, on, label) && memcmp(out + ll, p, n) == 0 &&
              out[on - 1] == '\n');
    } else if (mp) {
        CHECK(silent || starts(out, on, "MSGPACK:\n"));
        size_t skip = silent ? 0 : 9;
        CHECK(on > skip && out[on - 1] == '\n');
        json_t *j = load_json(out + skip, on - skip - 1);
        json_decref(j);
    } else if (silent) {
        CHECK(on == n && memcmp(out, p, n) == 0);
    } else {
        size_t shown = n > 256 ? 256 : n;
        CHECK(on == 5 + 2 * shown + (n > 256 ? 3 : 0) + 1 && starts(out, on, "HEX: "));
        for (size_t i = 0; i < shown; i++) {
            char hx[3];
            snprintf(hx, sizeof hx, "%02x", (unsigned)p[i]);
            CHECK(out[5 + 2 * i] == hx[0] && out[6 + 2 * i] == hx[1]);
        }
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    const int silent = data[0] & 1, pretty = (data[0] >> 1) & 1;
    const uint8_t *p = data + 1;
    const size_t n = size - 1;
    check_payload(p, n, silent);

    char *buf = malloc(n + 1);
    CHECK(buf != NULL);
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *words[MAX_WORDS];
    int nw = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && nw < MAX_WORDS; i++) {
        if (i == n || buf[i] == '\n' || buf[i] == '\0') {
            buf[i] = '\0';
            words[nw++] = buf + start;
            start = i + 1;
        }
    }
    check_params(words, nw, pretty);
    free(buf);
    return 0;
}
