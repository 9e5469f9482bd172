/* busrt-clientfuzz: a fake broker that fuzzes BUS/RT v1 client libraries.
 *
 * It listens on a UNIX socket, starts the client under test (an adapter
 * program around the library, fuzz/clientfuzz/README.md), completes the
 * handshake with it, answers its subscribe and then sends a generated
 * broker-to-client stream (Section 6 of spec/busrt-v1.md), built from the
 * test vectors of spec/vectors and from its own generators, written in
 * pieces. The adapter reports every delivered frame, error and the close
 * as JSON lines on its stdout; the oracle compares them with what the spec
 * requires of a client for that stream, and deadlines, the client's CPU
 * time and its peak memory catch hangs, spinning and unbounded growth.
 *
 * Stream K of seed S draws every choice from a PRNG seeded with (S, K)
 * (the byte source of busrt-netfuzz, fuzz/netfuzz/nf_util.c), so a run is
 * deterministic per seed apart from timing. A finding is written as a case
 * file (busrt-clientfuzz-case/1) that --replay runs again. */
#ifndef BUSRT_CLIENTFUZZ_H
#define BUSRT_CLIENTFUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../netfuzz/nf.h"

/* ---- Options ---------------------------------------------------------------- */

struct cf_opts {
    const char *cmd;        /* client command, {addr} replaced */
    const char *vectors;    /* spec/vectors directory */
    const char *out_dir;    /* cases go to OUT/cases/ */
    const char *replay;     /* --replay CASE.json, or NULL */
    uint64_t seed;
    long streams;           /* stop after this many (0: no limit) */
    long first;             /* number of the first stream */
    double seconds;         /* stop after this long (0: no limit) */
    int start_ms;           /* bound on start, connect, handshake and "ready" */
    int wait_ms;            /* bound of every wait for an expected event */
    int exit_ms;            /* bound on the exit after the connection ends */
    int settle_ms;          /* after a write, wait this long at most for the
                               client to read it (SIOCOUTQ) */
    int spin_pct;           /* CPU use in an idle window that is a finding */
    long max_rss_mb;        /* peak RSS that is a finding */
    int max_cases;          /* cases written per kind of finding */
    long progress;          /* a progress line every N streams */
    int verbose;
};

/* ---- Streams ------------------------------------------------------------------ */

/* What one unit of the stream is, and what a client must do with it. */
enum cf_utype {
    U_FRAME = 0, /* a well-formed delivery: must be delivered, exactly */
    U_BADTEXT,   /* a delivery whose sender or topic is not UTF-8: delivered
                    exactly, or discarded (then an error or a close) */
    U_NOSEP,     /* a delivery without a required NUL: never delivered; the
                    client may report an error and go on, or close
                    (REQ-DLV-7) */
    U_NOP,       /* a NOP (bytes 1..5 may be anything): ignored (REQ-DLV-4) */
    U_ACK,       /* an ACK for an op id nobody waits for: ignored (REQ-ACK-7) */
    U_FATAL,     /* a first byte that is no frame type: nothing after it may
                    be delivered, the client must close (REQ-DLV-8) */
    U_HUGE,      /* a header whose length is far beyond what follows: no
                    delivery; the client may close (REQ-LIM-7) or wait */
    U_CUT,       /* the start of a frame, then the connection ends */
    U_TRAIL      /* bytes after a fatal unit: never looked at */
};

/* How a stream ends. */
enum cf_end {
    END_CLOSE = 0, /* the fuzzer closes after everything was delivered */
    END_FATAL,     /* the client must close (U_FATAL) */
    END_CUT,       /* the fuzzer closes in the middle of a frame */
    END_HUGE,      /* the fuzzer holds a frame open, then closes */
    END_HS         /* a hostile handshake: the client must not become ready */
};

struct cf_span {
    size_t off, len; /* into the stream's bytes */
};

struct cf_unit {
    uint8_t type;        /* enum cf_utype */
    size_t off, len;     /* its bytes in the stream */
    const char *req;     /* the requirement it exercises */
    char what[120];      /* how it was made (for reports) */
    /* U_FRAME, U_BADTEXT: the delivery a client must report */
    uint8_t kind, rt;    /* rt: the realtime byte as sent */
    struct cf_span sender, topic, payload;
};

/* A hostile handshake (END_HS). */
enum cf_hs {
    HS_NONE = 0,
    HS_GREETING,   /* a greeting other than EB 01 00 (REQ-HS-7) */
    HS_GREET_CUT,  /* part of the greeting, then EOF */
    HS_REPLY1,     /* a reply other than 01 to the greeting echo */
    HS_REPLY2,     /* a reply other than 01 to the name */
    HS_EOF2        /* EOF instead of the reply to the name */
};

struct cf_stream {
    uint64_t seed;
    long index;
    int hs;                 /* enum cf_hs */
    uint8_t hs_bytes[3];    /* HS_GREETING: the greeting; HS_GREET_CUT: its
                               first hs_len bytes; HS_REPLY1/2: [0] = the code */
    size_t hs_len;
    struct nf_buf bytes;    /* the stream after the handshake */
    size_t pre_len;         /* bytes [0, pre_len) go before the subscribe ACK */
    struct cf_unit *u;
    size_t nu, cu;
    size_t *split;          /* write boundaries in (pre_len, bytes.len) */
    size_t nsplit, csplit;
    int end;                /* enum cf_end */
    size_t end_off;         /* END_FATAL/CUT/HUGE: offset of the last unit */
    int drain;              /* deliver everything before end_off first */
    int idle_ms;            /* an idle window for the CPU check (END_CLOSE) */
    int hold_ms;            /* END_HUGE: how long the frame stays open */
    char mode[48];          /* how the writes were split */
};

/* ---- Vectors (cf_vec.c) ----------------------------------------------------- */

struct cf_blob {
    uint8_t *p;
    size_t n;
    char id[24];
};

/* A delivered body from frame_body.json, with its expected split. */
struct cf_vbody {
    struct cf_blob b;
    uint8_t kind;
    int ok; /* 0: nosep */
    struct cf_span sender, topic, payload;
};

struct cf_vec {
    struct cf_blob *hdr_bad;   /* headers with a first byte that is no type */
    size_t nhdr_bad;
    struct cf_blob *hdr_nop;   /* NOP headers (any bytes 1..5) */
    size_t nhdr_nop;
    struct cf_blob *hdr_ok;    /* valid delivered headers (1, 12, 13) */
    size_t nhdr_ok;
    struct cf_vbody *body;
    size_t nbody;
    struct cf_blob *ack;
    size_t nack;
    struct cf_blob *utf8_bad, *utf8_good, *names, *greet_bad;
    size_t nutf8_bad, nutf8_good, nnames, ngreet_bad;
    long checked;              /* vectors checked against the fuzzer's model */
};

/* Loads the vectors of dir and checks each one used against the fuzzer's
 * own model of Section 6. 0, or -1 with a message on stderr. */
int cf_vec_load(struct cf_vec *v, const char *dir);
void cf_vec_free(struct cf_vec *v);

/* ---- Generation (cf_gen.c) ---------------------------------------------------- */

void cf_stream_gen(struct cf_stream *st, const struct cf_vec *v, uint64_t seed, long index);
void cf_stream_free(struct cf_stream *st);
struct cf_unit *cf_unit_add(struct cf_stream *st, int type, size_t off, size_t len,
                            const char *req);
const char *cf_utype_name(int t);
const char *cf_end_name(int e);
const char *cf_hs_name(int h);
const char *cf_kind_name(uint8_t kind);

/* ---- Running a stream (cf_run.c) ---------------------------------------------- */

/* A frame the client reported. */
struct cf_frame {
    int kind;            /* the kind byte (-1: not understood) */
    struct nf_buf sender, topic, payload;
    int rt;              /* 0, 1, or -1 when the client does not report it */
};

struct cf_viol {
    char key[96];        /* "REQ-X-n: category": findings of one kind */
    char what[1024];
};

struct cf_result {
    struct cf_frame *fr;
    size_t nfr, cfr;
    struct nf_buf lines;      /* every line the client printed */
    int ready;                /* it printed "ready" */
    int errors;               /* "error" events */
    int closed_ev;            /* it printed "closed" */
    int sock_eof;             /* it closed its end of the connection */
    int exited;               /* the process ended */
    int status;               /* its wait status */
    long cpu_ms;              /* its CPU time (user + system) */
    long maxrss_kb;
    long pings;               /* pings it sent */
    uint32_t sub_op;          /* op id of its subscribe */
    int sub_qos;
    int64_t ms;               /* wall time of the stream */
    struct cf_viol *v;
    size_t nv, cv;
    struct nf_buf sent;       /* the bytes actually sent after the handshake */
    size_t *wrote;            /* the write boundaries actually used */
    size_t nwrote, cwrote;
};

struct cf_env {
    const struct cf_opts *o;
    char dir[256];            /* temporary directory: socket, client log */
    char addr[300];
    char log[1100];           /* the client's stderr (appended) */
    int lfd;                  /* listening socket */
};

int cf_env_open(struct cf_env *e, const struct cf_opts *o);
void cf_env_close(struct cf_env *e);
/* Runs one stream against a fresh client process. Findings go to r->v.
 * Returns 0, or -1 when the fuzzer itself failed (message on stderr). */
int cf_run(struct cf_env *e, const struct cf_stream *st, struct cf_result *r);
void cf_result_free(struct cf_result *r);
void cf_viol(struct cf_result *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- Case files (cf_case.c) ---------------------------------------------------- */

/* Writes the stream and what happened as OUT/cases/ID.json; the path goes
 * to path. 0, or -1 (message on stderr). */
int cf_case_write(const struct cf_opts *o, const struct cf_stream *st,
                  const struct cf_result *r, char *path, size_t cap);
/* Reads a case file into st (and the command it names into cmd, which the
 * caller frees; NULL when absent). 0, or -1 (message on stderr). */
int cf_case_read(const char *path, struct cf_stream *st, char **cmd);

#endif
