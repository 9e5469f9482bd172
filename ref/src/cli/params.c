/* key=value words -> a MessagePack map, typed as the deployed tool types
 * them (`busrt rpc call TARGET METHOD k=v ...`). Kept apart from main.c
 * so that fuzz/fuzz_cli.c runs the same code. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* [-]digits, at least one digit. */
static int is_int_text(const char *v)
{
    const char *s = (v[0] == '-') ? v + 1 : v;
    if (*s == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return 0;
        }
    }
    return 1;
}

/* Decimal float: [-+]digits[.digits][(e|E)[-+]digits], at least one digit. */
static int is_float_text(const char *v)
{
    const char *s = v;
    if (*s == '-' || *s == '+') {
        s++;
    }
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits++;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+') {
            s++;
        }
        if (*s < '0' || *s > '9') {
            return 0;
        }
        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }
    return *s == '\0';
}

/* A value's type, and its number for ints and floats, parsed once. */
struct param_value {
    enum cli_param_type type;
    long long i;
    double d;
};

static struct param_value param_value(const char *v)
{
    struct param_value r = {CLI_PARAM_STR, 0, 0.0};
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        r.type = CLI_PARAM_BOOL;
        return r;
    }
    if (is_int_text(v)) {
        errno = 0;
        r.i = strtoll(v, NULL, 10);
        if (errno == 0) {
            r.type = CLI_PARAM_INT;
            return r;
        }
    }
    if (is_float_text(v)) {
        r.d = strtod(v, NULL);
        if (!isinf(r.d)) {
            r.type = CLI_PARAM_FLOAT;
        }
    }
    return r;
}

/* msgpack-c's pack functions return 0, or -1 when the buffer cannot grow. */
static int pack_value(msgpack_packer *pk, const char *v)
{
    const struct param_value pv = param_value(v);
    switch (pv.type) {
    case CLI_PARAM_BOOL:
        return (v[0] == 't') ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case CLI_PARAM_INT:
        return msgpack_pack_int64(pk, (int64_t)pv.i);
    case CLI_PARAM_FLOAT:
        return msgpack_pack_double(pk, pv.d);
    case CLI_PARAM_STR:
    default:
        break;
    }
    size_t n = strlen(v);
    if (msgpack_pack_str(pk, n) != 0) {
        return -1;
    }
    return msgpack_pack_str_body(pk, v, n);
}

/* 1 when a later word has the same key (that one wins). */
static int key_repeated(char *const *words, int n, int i, size_t kl)
{
    for (int j = i + 1; j < n; j++) {
        if (strncmp(words[j], words[i], kl + 1u) == 0) {
            return 1;
        }
    }
    return 0;
}

int cli_params_pack(char *const *words, int n, msgpack_sbuffer *sb, int *bad)
{
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(words[i], '=');
        if (eq == NULL || eq == words[i]) {
            *bad = i;
            return CLI_PARAMS_SYNTAX;
        }
        count += key_repeated(words, n, i, (size_t)(eq - words[i])) ? 0u : 1u;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, count) != 0) {
        return CLI_PARAMS_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(words[i], '=');
        size_t kl = (size_t)(eq - words[i]);
        if (key_repeated(words, n, i, kl)) {
            continue;
        }
        if (msgpack_pack_str(&pk, kl) != 0 || msgpack_pack_str_body(&pk, words[i], kl) != 0 ||
            pack_value(&pk, eq + 1) != 0) {
            return CLI_PARAMS_NOMEM;
        }
    }
    return 0;
}
