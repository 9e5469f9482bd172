/* busrt CLI: checks of command-line values made before connecting or
 * sending, so that a value the broker would refuse (or close the
 * connection for) is reported with the rule it breaks. */
#define _DEFAULT_SOURCE
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "busrt/codes.h"
#include "busrt/utf8.h"

/* One byte of s as shown by cli_quote: the byte itself, or \xNN. */
static size_t quote_piece(unsigned char ch, int utf8, char out[5])
{
    if (ch < 0x20u || ch == 0x7Fu || (!utf8 && ch >= 0x80u)) {
        snprintf(out, 5, "\\x%02x", (unsigned)ch);
        return 4;
    }
    out[0] = (char)ch;
    out[1] = '\0';
    return 1;
}

void cli_quote(char *buf, size_t cap, const char *s)
{
    if (cap == 0) {
        return;
    }
    size_t n = strlen(s);
    int utf8 = busrt_utf8_valid((const uint8_t *)s, n);
    char piece[5];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += quote_piece((unsigned char)s[i], utf8, piece);
    }
    /* Everything fits, or the text is cut (before a whole character) and
     * "..." added. */
    size_t room = total < cap ? cap - 1u : (cap > 4u ? cap - 4u : 0u);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        size_t pl = quote_piece(ch, utf8, piece);
        if (k + pl > room) {
            break;
        }
        if (total >= cap && utf8 && (ch & 0xC0u) != 0x80u) {
            /* A character starts here: stop when it does not fit whole. */
            size_t cl = 1;
            while (i + cl < n && ((unsigned char)s[i + cl] & 0xC0u) == 0x80u) {
                cl++;
            }
            if (k + cl > room) {
                break;
            }
        }
        memcpy(buf + k, piece, pl);
        k += pl;
    }
    if (total >= cap && cap > 4u) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
}

int cli_check_name(const char *name, char *why, size_t cap)
{
    size_t n = strlen(name);
    if (n == 0) {
        snprintf(why, cap, "a name must not be empty");
    } else if (name[0] == '.') {
        snprintf(why, cap, "a name must not start with '.' (reserved for the broker)");
    } else if (!busrt_utf8_valid((const uint8_t *)name, n)) {
        snprintf(why, cap, "a name must be well-formed UTF-8");
    } else if (n > BUSRT_NAME_MAX) {
        snprintf(why, cap, "a name must not be longer than %u bytes (this one has %zu)",
                 (unsigned)BUSRT_NAME_MAX, n);
    } else if (strncmp(name, "%%", 2) == 0) {
        snprintf(why, cap, "a secondary name needs its primary name before the '%%%%'");
    } else {
        return 0;
    }
    return -1;
}

/* 0 when s is well-formed UTF-8 (topics, targets, masks and patterns
 * must be), else -1. */
static int check_text(const char *s)
{
    return busrt_utf8_valid((const uint8_t *)s, strlen(s)) ? 0 : -1;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int cli_parse_addr(const char *addr, struct cli_addr *a, char *why, size_t cap)
{
    memset(a, 0, sizeof *a);
    size_t n = strlen(addr);
    if (addr[0] == '/' || ends_with(addr, n, ".sock") || ends_with(addr, n, ".socket") ||
        ends_with(addr, n, ".ipc")) {
        struct sockaddr_un sa;
        if (n >= sizeof sa.sun_path) {
            snprintf(why, cap, "a UNIX socket path must be shorter than %zu bytes (this one "
                     "has %zu)", sizeof sa.sun_path, n);
            return -1;
        }
        a->tcp = 0;
        return 0;
    }
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        snprintf(why, cap, "neither a UNIX socket path (ending in .sock, .socket or .ipc, or "
                 "starting with /) nor HOST:PORT");
        return -1;
    }
    const char *p = colon + 1;
    size_t pl = strlen(p);
    char pq[64];
    cli_quote(pq, sizeof pq, p);
    if (pl == 0) {
        snprintf(why, cap, "the port after the last ':' is missing (expected HOST:PORT, PORT "
                 "1..65535)");
        return -1;
    }
    unsigned long v = 0;
    for (size_t i = 0; i < pl; i++) {
        if (p[i] < '0' || p[i] > '9') {
            snprintf(why, cap, "port '%s' is not a decimal number (expected 1..65535)", pq);
            return -1;
        }
        if (v <= 65535u) {
            v = v * 10u + (unsigned long)(p[i] - '0');
        }
    }
    if (v == 0 || v > 65535u) {
        snprintf(why, cap, "port %s is out of range 1..65535", pq);
        return -1;
    }
    if (pl >= sizeof a->port) {
        snprintf(why, cap, "port '%s' has more digits than a port needs (write it as %lu)", pq,
                 v);
        return -1;
    }
    memcpy(a->port, p, pl + 1u);
    size_t hl = (size_t)(colon - addr);
    const char *h = addr;
    if (hl >= 2u && h[0] == '[' && h[hl - 1u] == ']') {
        h++;
        hl -= 2u;
    }
    if (hl == 0) {
        snprintf(why, cap, "the host before the last ':' is missing (expected HOST:PORT)");
        return -1;
    }
    if (memchr(h, '[', hl) != NULL || memchr(h, ']', hl) != NULL) {
        snprintf(why, cap, "the host is malformed (an IPv6 address is written in brackets, "
                 "as in [::1]:7777)");
        return -1;
    }
    if (hl >= sizeof a->host) {
        snprintf(why, cap, "the host is longer than %zu bytes", sizeof a->host - 1u);
        return -1;
    }
    memcpy(a->host, h, hl);
    a->host[hl] = '\0';
    a->tcp = 1;
    return 0;
}

int cli_rpc_code_text(int code, char *buf, size_t cap)
{
    switch (code) {
    case -32700: snprintf(buf, cap, "parse error (the params could not be decoded)"); break;
    case -32600: snprintf(buf, cap, "invalid request"); break;
    case -32601: snprintf(buf, cap, "method not found"); break;
    case -32602: snprintf(buf, cap, "invalid params"); break;
    case -32603: snprintf(buf, cap, "internal error"); break;
    case -32001: snprintf(buf, cap, "not found"); break;
    default:
        if (code <= -32001 - 1 && code >= -32000 - 0xFF) {
            snprintf(buf, cap, "the broker acknowledged the call with result code 0x%02x",
                     (unsigned)(-32000 - code));
            break;
        }
        return -1;
    }
    return 0;
}

/* 0 when s, a text field of the frames of command cmd, is well-formed
 * UTF-8 as the protocol requires; else a message and EXIT_USAGE. */
int cli_check_field(const char *cmd, const char *field, const char *s, const char *next)
{
    if (check_text(s) == 0) {
        return 0;
    }
    char q[300];
    cli_quote(q, sizeof q, s);
    fprintf(stderr,
            "busrt: %s: %s '%s' is not well-formed UTF-8, which the protocol requires (the "
            "broker would close the connection); %s\n",
            cmd, field, q, next);
    return EXIT_USAGE;
}

/* 0 when a frame body of target, NUL, hdr header bytes and n payload
 * bytes is within --payload-size-limit; else a message and EXIT_ERR. */
int cli_check_body(const struct cli_opts *o, const char *cmd, const char *payload_word,
                      const char *target, size_t hdr, size_t n)
{
    size_t body = strlen(target) + 1u + hdr + n;
    if (n <= o->payload_limit && body <= o->payload_limit) {
        return 0;
    }
    fprintf(stderr,
            "busrt: %s: the frame body would be %zu bytes (%s of %zu bytes), above the "
            "payload-size limit of %lu bytes (--payload-size-limit); not sending\n",
            cmd, body, payload_word, n, (unsigned long)o->payload_limit);
    return EXIT_ERR;
}

/* 0 when the subscribe (exclude) frame of the n patterns, joined by NULs,
 * is within --payload-size-limit; else a message and EXIT_ERR. */
static int check_list_body(const struct cli_opts *o, const char *cmd, int exclude,
                           char **pats, int n)
{
    size_t body = 0;
    for (int k = 0; k < n; k++) {
        body += strlen(pats[k]) + (k > 0 ? 1u : 0u);
    }
    if (body <= o->payload_limit) {
        return 0;
    }
    fprintf(stderr,
            "busrt: %s: the %s frame body would be %zu bytes (%d pattern(s)), above the "
            "payload-size limit of %lu bytes (--payload-size-limit); not subscribing\n",
            cmd, exclude ? "exclude" : "subscribe", body, n, (unsigned long)o->payload_limit);
    return EXIT_ERR;
}

/* The topics and exclusions of listen / rpc listen, in the order the
 * frames would carry them. */
int cli_check_topics(const struct cli_opts *o, const char *cmd, char **subs, int ns,
                     char **excl, int ne)
{
    int rc = 0;
    for (int k = 0; rc == 0 && k < ns; k++) {
        rc = cli_check_field(cmd, "topic", subs[k], "not subscribing");
    }
    for (int k = 0; rc == 0 && k < ne; k++) {
        rc = cli_check_field(cmd, "exclusion", excl[k], "not subscribing");
    }
    if (rc == 0) {
        rc = check_list_body(o, cmd, 0, subs, ns);
    }
    if (rc == 0) {
        rc = check_list_body(o, cmd, 1, excl, ne);
    }
    return rc;
}
