/* busrt CLI internals (ref/src/cli/). */
#ifndef BUSRT_CLI_H
#define BUSRT_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

#include "busrt/client.h"
#include "busrt/rpc.h"

struct cli_opts {
    const char *addr;
    const char *name;   /* the client name (given or generated) */
    int timeout_ms;     /* --timeout */
    size_t buf_size;    /* --buf-size */
    int verbose;
    int silent;
    uint32_t payload_limit; /* --payload-size-limit: largest frame body sent */
};

/* busrtd's default --payload-size-limit: the largest client frame body
 * (target, NUL and payload) it accepts unless configured otherwise. */
#define CLI_DEFAULT_PAYLOAD_LIMIT (16u * 1024u * 1024u)

/* ---- output.c ---- */

/* Prints a payload as the deployed tool does: text that parses as a JSON
 * object -> "JSON:" + pretty JSON; other printable UTF-8 text -> "STR: "
 * + text; a MessagePack value -> "MSGPACK:" + JSON-like text; else "HEX: "
 * + hex (first 256 bytes). silent: no labels, compact forms, raw bytes
 * instead of hex. */
void cli_print_payload(FILE *out, const uint8_t *p, size_t n, int silent);
/* Prints a MessagePack object as indented JSON-like text (no newline at
 * the end). Map keys are sorted. */
void cli_print_mp(FILE *out, const msgpack_object *o, int indent, int pretty);
/* Looks a string key up in a map object. NULL when absent / not a map. */
const msgpack_object *cli_mp_get(const msgpack_object *map, const char *key);
/* Formats an unsigned number with '_' thousands separators. */
void cli_fnum(char *buf, size_t cap, uint64_t v);
/* Copies a msgpack scalar (string, int, nil...) into buf as text. */
void cli_mp_text(const msgpack_object *o, char *buf, size_t cap);

/* A simple table: rows of text cells; printed with columns padded. */
struct cli_table {
    size_t ncols;
    size_t nrows; /* including the title row */
    size_t cap;
    char **cells; /* nrows x ncols strdup'ed */
};
void cli_table_init(struct cli_table *t, const char *const *titles, size_t ncols);
void cli_table_add(struct cli_table *t, const char *const *row);
void cli_table_print(FILE *out, const struct cli_table *t);
void cli_table_free(struct cli_table *t);

/* ---- params.c ---- */
/* How a key=value word's value is typed: "true"/"false" -> bool; [-]digits
 * in int64 range -> int; a decimal float (finite) -> float64; else string. */
enum cli_param_type { CLI_PARAM_BOOL, CLI_PARAM_INT, CLI_PARAM_FLOAT, CLI_PARAM_STR };
#define CLI_PARAMS_SYNTAX (-1) /* words[*bad] has no '=' or an empty key */
#define CLI_PARAMS_NOMEM (-2)  /* the buffer could not grow */
/* Appends words (key=value) to sb as one MessagePack map; for a repeated
 * key the last word wins. Returns 0 or a CLI_PARAMS_ code. */
int cli_params_pack(char *const *words, int n, msgpack_sbuffer *sb, int *bad);

/* ---- check.c ---- */
/* Copies s into buf (cap bytes) for an error message: control bytes, and
 * every byte >= 0x80 when s is not well-formed UTF-8, become \xNN; a text
 * too long for buf is cut before a whole character and ends with "...". */
void cli_quote(char *buf, size_t cap, const char *s);
/* 0 when name may be registered as far as the spec's name rules go (not
 * empty, no leading '.', well-formed UTF-8, at most 65535 bytes, a
 * primary before "%%"); else -1 with the rule broken in why. */
int cli_check_name(const char *name, char *why, size_t cap);
/* The meaning of an RPC error code the spec defines (JSON-RPC's -32700,
 * -32600..-32603, -32001 not found, -32000 - C for a broker result code
 * C) in buf; -1 for another code. */
int cli_rpc_code_text(int code, char *buf, size_t cap);
/* ADDR split as libbusrt splits it. */
struct cli_addr {
    int tcp;        /* 0: a UNIX socket path; 1: HOST:PORT */
    char host[256]; /* tcp: the host, without IPv6 brackets */
    char port[6];   /* tcp: the port digits */
};
/* 0 and *a filled, or -1 with what is wrong in why. */
int cli_parse_addr(const char *addr, struct cli_addr *a, char *why, size_t cap);

/* ---- bench.c ---- */
int cli_benchmark(const struct cli_opts *o, unsigned workers, size_t payload_size,
                  unsigned long iters);
/* The largest frame body a benchmark run sends (names from name). */
size_t cli_benchmark_max_body(const char *name, unsigned workers, size_t payload_size);

/* ---- rpc.c ---- */
/* The rpc command: listen, notify, call0, call (argv after "rpc"). */
int cli_cmd_rpc(const struct cli_opts *o, int argc, char **argv);
/* "busrt: RPC Error CODE: " and the error data to stderr; when the data is
 * empty, the meaning of a code the spec defines. */
void cli_print_rpc_error(const struct busrt_rpc_reply *rep);

/* ---- main.c ---- */
#define EXIT_ERR 1
#define EXIT_USAGE 2

/* Connects with the CLI options; prints an error and returns NULL on
 * failure. */
busrt_client *cli_connect(const struct cli_opts *o, const char *name);
/* The same with the name of the options. */
busrt_client *cli_connect_main(const struct cli_opts *o);
/* Prints "busrt: <what>: <error text>" to stderr. */
void cli_error(const char *what, int err);
/* Prints "busrt: " and fmt with arg, and the hint to --help; returns
 * EXIT_USAGE. */
int cli_usage_error(const char *fmt, const char *arg);
/* 1 once SIGINT or SIGTERM arrived (after cli_install_signals). */
int cli_stop_requested(void);
void cli_install_signals(void);
/* The payload argument, or stdin when arg is NULL; *owned is the buffer
 * to free. 0, or -1 with a message. */
int cli_get_payload(const char *arg, const uint8_t **p, size_t *n, uint8_t **owned);
/* The "----" line after each printed frame. */
void cli_sep(void);
void cli_print_frame(const struct busrt_frame *f, int silent);
/* Reports a failed send or ACK of operation what (target: the client a
 * one-to-one message went to, else NULL). */
void cli_op_error(const char *what, const char *target, int r);
/* Waits for the ACK of op; 0, or EXIT_ERR with a message. */
int cli_wait_op(busrt_client *c, uint32_t op, int timeout_ms, const char *what,
                const char *target);
/* 0 when the text field of command cmd is well-formed UTF-8; else a
 * message ending with next, and EXIT_USAGE. */
int cli_check_field(const char *cmd, const char *field, const char *s, const char *next);
/* 0 when a frame body (target, NUL, hdr bytes, n payload bytes) is within
 * --payload-size-limit; else a message and EXIT_ERR. */
int cli_check_body(const struct cli_opts *o, const char *cmd, const char *payload_word,
                   const char *target, size_t hdr, size_t n);
/* The topics and exclusions of listen / rpc listen (excl may be NULL when
 * ne is 0): each well-formed UTF-8, each list's frame within
 * --payload-size-limit. 0, or the first check's message and status. */
int cli_check_topics(const struct cli_opts *o, const char *cmd, char **subs, int ns,
                     char **excl, int ne);
/* Subscribes / excludes the topics with QoS 1 and waits for the ACK. */
int cli_topics_sync(busrt_client *c, int exclude, char **topics, int n, int timeout_ms);
/* Options -t/--topics TOPIC and (allow_exclude) --exclude TOPIC. */
int cli_parse_topics(int argc, char **argv, char **subs, int *ns, char **excl, int *ne,
                     int allow_exclude);

#endif
