/* busrt-conformance: a wire-level conformance runner for BUS/RT v1 brokers.
 * Shared types and prototypes of the runner modules (conformance/runner/).
 * The case format is documented in conformance/README.md. */
#ifndef CF_H
#define CF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#define CF_FORMAT "busrt-conformance-cases/1"
#define CF_SUITE_VERSION "1.3.0"
#define CF_MAX_CLIENTS 32
#define CF_MAX_BODY (256u * 1024u * 1024u) /* largest delivery the runner accepts */

/* ---- util.c: buffers, hex, time, text --------------------------------- */

/* A byte buffer; readable bytes are p[r, w). */
struct buf {
    uint8_t *p;
    size_t r, w, cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
size_t buf_len(const struct buf *b);
uint8_t *buf_data(const struct buf *b);
void buf_reserve(struct buf *b, size_t n);
void buf_add(struct buf *b, const void *d, size_t n);
void buf_addc(struct buf *b, uint8_t c);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_consume(struct buf *b, size_t n);
/* NUL-terminates (without counting the NUL) and returns the data as text. */
const char *buf_str(struct buf *b);

void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

int64_t now_ms(void);
void sleep_ms(int64_t ms);

/* Decodes hex digits (whitespace ignored) and appends the bytes. Returns 0,
 * or -1 on an odd count or a non-hex character. */
int hex_decode(const char *s, struct buf *out);
/* Appends "xx xx xx" (at most max bytes, then "... (N bytes)"). */
void hex_append(struct buf *out, const uint8_t *d, size_t n, size_t max);
/* Appends the bytes as a quoted, escaped string. */
void text_append(struct buf *out, const uint8_t *d, size_t n, size_t max);
/* Replaces every "${p}" of s by prefix (text) or by the hex of prefix
 * (hex = 1). Returns a malloc'ed string. */
char *subst(const char *s, const char *prefix, int hex);
/* Shell-quotes s with single quotes, appended to out. */
void shell_quote(struct buf *out, const char *s);
/* Parses "01" / "0x01" / a JSON integer into a byte. Returns 0 or -1. */
int json_byte(const json_t *v, uint8_t *out);

/* ---- spec.c: requirements read from the specification ----------------- */

struct req {
    char id[32];
    char section[16];
    char *text;    /* the normative paragraph, one line */
    char *summary; /* the Appendix B summary, or NULL */
    int ncases;
    int exempt;
    const char *exempt_reason;
    int pass, fail, skip;
    int best; /* strongest level (enum level) of the cases naming it */
};

struct spec {
    struct req *reqs;
    size_t n;
    size_t n_index; /* ids listed in Appendix B */
    char problems[2048];
};

/* Returns 0, or -1 with a message in err. */
int spec_load(const char *path, struct spec *s, char *err, size_t errlen);
struct req *spec_find(struct spec *s, const char *id);
void spec_free(struct spec *s);

/* ---- cases.c: loading and validating cases ------------------------------ */

enum level { LV_MUST, LV_SHOULD, LV_MAY, LV_QUIRK, LV_COUNT };

struct kase {
    const char *id;
    char file[256];
    json_t *j;
    json_t *reqs;   /* array of strings */
    enum level level;
    const char *profile;
    const char *desc;
    json_t *broker; /* object or NULL */
    json_t *steps;  /* array */
    int index;      /* position in the suite */
    int selected;
};

struct suite {
    struct kase *cases;
    size_t n;
    json_t *roots[64];
    size_t nroots;
    json_t *exemptions; /* array of {id, reason} */
};

const char *level_name(enum level l);
/* Loads every *.json under dir (sorted by file name) and validates it.
 * Returns 0, or -1 after printing every problem to stderr. */
int suite_load(const char *dir, struct suite *s);
int exemptions_load(const char *path, struct suite *s);
void suite_free(struct suite *s);
/* Cross-checks cases, exemptions and the spec; prints the coverage table
 * when verbose. Returns the number of problems. */
int coverage_check(struct suite *s, struct spec *sp, int verbose, FILE *out);

/* ---- mp.c: MessagePack encoding and matching -------------------------- */

/* Encodes a JSON value as MessagePack (strings after ${p} substitution).
 * Returns 0 or -1 (message in err). */
int mp_from_json(const json_t *v, const char *prefix, struct buf *out, struct buf *err);
/* Matches MessagePack bytes against a matcher (README "MessagePack
 * matchers"). Returns 1 on a match, 0 on a mismatch (reason in why). */
int mp_match(const uint8_t *d, size_t n, const json_t *m, const char *prefix, struct buf *why);
/* Appends a readable rendering of MessagePack bytes. */
void mp_render(const uint8_t *d, size_t n, struct buf *out);
/* Validates the shape of a matcher. Returns 0 or -1 (message in err). */
int mp_matcher_check(const json_t *m, struct buf *err);

/* ---- broker.c: broker instances ----------------------------------------- */

struct instance {
    char key[1024];     /* canonical option set ("" = the main instance) */
    json_t *opts;       /* option object after substitution (owned) */
    int is_private;
    int started;
    int failed;
    char err[1024];
    pid_t pid;
    char dir[128];      /* temp dir (spawn mode) */
    char addr[300];     /* address clients connect to */
    char extra_addr[300];
    char fifo[300];
    char acl[300];      /* the ACL file written for the acl option */
    char transport[32];
    char log[300];
    int core_rpc; /* .broker present: 0 unknown, 1 yes, -1 no */
};

/* ---- xfail.c: known failures ------------------------------------------- */

struct xfail_entry {
    char *glob;   /* case ids */
    int step;     /* the step it fails at, 0 = any */
    char *where;  /* "FILE:LINE" or "--xfail" */
};

struct xfail {
    struct xfail_entry *v;
    size_t n, cap;
};

void xfail_add(struct xfail *x, const char *glob, int step, const char *where);
/* Adds the entries of an expectation file. 0, or -1 after printing why. */
int xfail_load(struct xfail *x, const char *path);
/* The first entry whose glob matches id, or NULL. */
const struct xfail_entry *xfail_find(const struct xfail *x, const char *id);
void xfail_free(struct xfail *x);

struct spawn_opt {
    char *key;
    char *tmpl;
};

struct run {
    const char *target;       /* --target, or NULL */
    const char *spawn;        /* --spawn template, or NULL */
    struct spawn_opt opts[64];
    size_t nopts;
    double T;                 /* --timeout-s */
    double wait_t;            /* default bound, in multiples of T */
    int verbose;
    int tap;
    char run_prefix[32];
    struct instance *inst[256];
    size_t ninst;
    int reload_signal;        /* --reload-signal, 0 = none */
    struct xfail xf;          /* known failures (--xfail, --xfail-file) */
};

/* Returns the instance a case needs (starting it when needed), or NULL with
 * a skip reason in why (the case is then skipped). On a start failure the
 * instance is returned with failed set. */
struct instance *instance_for(struct run *r, const json_t *broker, const char *prefix,
                              int force_private, char *why, size_t whylen);
/* Writes an ACL policy object (after ${p} substitution) to path, atomically
 * (temporary file and rename). Returns 0 or -1. */
int acl_write(const char *path, const json_t *acl, const char *prefix);
/* Sends SIGTERM to a spawned instance. Returns 0 or -1. */
int instance_signal_stop(struct instance *in);
/* Stops (SIGTERM, then SIGKILL after a bound) and removes the temp dir. */
void instance_stop(struct instance *in);
void instances_stop_all(struct run *r);
/* Connects to a UNIX path or HOST:PORT; non-blocking fd or -1 (errno). */
int net_connect(const char *addr, int rcvbuf, int64_t deadline_ms);
int addr_is_unix(const char *addr);
/* Connects once to addr and closes (no handshake): 0 when it accepts a
 * connection within timeout_ms, else the errno of the failure. */
int target_probe(const char *addr, int timeout_ms);

/* ---- exec.c: running one case -------------------------------------------- */

enum status { ST_PASS, ST_FAIL, ST_SKIP };

struct result {
    enum status st;
    int64_t ms;
    char variant[256];
    struct buf msg;      /* failure or skip reason */
    struct buf expected; /* hex */
    struct buf received; /* hex */
    int step;            /* 1-based failing step, 0 = none */
    struct buf steptext; /* the failing step as JSON */
};

void run_case(struct run *r, struct kase *k, struct result *res);

/* 1 when the case is listed as a known failure and res is what the list
 * expects (a failure at the listed step, or at any step when none is
 * listed), or a pass (then reported as xpass). */
int run_is_xfail(const struct run *r, const char *id, const struct result *res);
/* Explains in res->msg a failure at another step than the listed one. */
void xfail_note(const struct run *r, const char *id, struct result *res);
/* Warns about entries that match no case of s; returns their number. */
int xfail_unused(const struct xfail *x, const struct suite *s);

/* ---- report.c ------------------------------------------------------------ */

void report_case_line(struct run *r, struct spec *sp, struct kase *k, struct result *res,
                      int n, FILE *out);
int report_summary(struct run *r, struct spec *sp, struct suite *s, struct result *res,
                   FILE *out);
int report_junit(const char *path, struct run *r, struct spec *sp, struct suite *s,
                 struct result *res);
int report_json(const char *path, struct run *r, struct spec *sp, struct suite *s,
                struct result *res);

#endif
