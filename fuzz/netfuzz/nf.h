/* busrt-netfuzz: a network fuzzer for any BUS/RT v1 broker.
 *
 * A session is a sequence of actions by several clients of one broker:
 * registrations (valid and invalid), every client operation with random
 * fields, raw garbage, partial frames and disconnects. An independent model
 * written from spec/busrt-v1.md (nf_model.c, using ref/tests/model for
 * topic/mask matching and UTF-8) predicts, for every byte a client sends,
 * what the broker must do: which clients receive which frames, which ACKs
 * come back, which connections the broker closes. The driver (nf_session.c
 * and the files its internal header nf_sess_int.h names) sends the bytes,
 * reads every socket with bounded waits and compares each received frame
 * with the model; after the session a fresh client must still register and
 * round-trip a probe message.
 *
 * Inputs are a byte source: a fuzz input (libFuzzer, AFL++, --input FILE)
 * or a PRNG seeded per session (--seed S), so a run is deterministic per
 * seed apart from timing and the session name prefix. */
#ifndef BUSRT_NETFUZZ_H
#define BUSRT_NETFUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NF_MAXC 14       /* client slots per session, the control client included */
#define NF_MAXPAT 48     /* patterns a client may hold in the model (see README) */
#define NF_SYNC_BASE 0x5E000000u  /* op ids of sync frames: 0x5E0000xx */
#define NF_BAD_BASE 0xDEAD0000u   /* op ids of closing (garbage) frames */
#define NF_MIN_T_MS 2000          /* the smallest broker timeout T assumed (REQ-KA-2, -3) */

/* ---- Small utilities (nf_util.c) ----------------------------------------- */

struct nf_buf {
    uint8_t *p;
    size_t len, cap;
};

void nf_buf_add(struct nf_buf *b, const void *p, size_t n);
void nf_buf_addc(struct nf_buf *b, uint8_t c);
void nf_buf_adds(struct nf_buf *b, const char *s);
void nf_buf_consume(struct nf_buf *b, size_t n);
void nf_buf_free(struct nf_buf *b);
int nf_buf_eq(const struct nf_buf *b, const void *p, size_t n);
/* Appends the contents of the file at path. 0, or -1 (errno set) when it
 * cannot be opened or read. */
int nf_buf_read_file(struct nf_buf *b, const char *path);
void *nf_xmalloc(size_t n);
void *nf_xrealloc(void *p, size_t n);

/* A numeric command-line option: its name, range, C type and destination. */
enum nf_num_type { NF_U64, NF_U32, NF_LONG, NF_INT, NF_DBL };
struct nf_numopt {
    const char *name;
    double lo, hi;
    enum nf_num_type type;
    void *dst;
};
/* Parses option a with value v when t (n entries) names it. Returns 0, -1
 * when the value is missing or out of range (reported on stderr, prefixed
 * with prog), or 1 when a is not in t. */
int nf_numopt_parse(const char *prog, const struct nf_numopt *t, size_t n, const char *a,
                    const char *v);

/* Appends cmd with every "{addr}" replaced by addr (a command line given
 * with --spawn or --cmd). */
void nf_expand_addr(struct nf_buf *b, const char *cmd, const char *addr);

int64_t nf_now_ms(void);
void nf_sleep_ms(int ms);
/* Appends "hh hh ..." (lower case, no spaces when compact). */
void nf_hex(struct nf_buf *out, const uint8_t *p, size_t n);

/* The byte source every choice is drawn from. */
struct nf_src {
    const uint8_t *data; /* fuzz input, or NULL for the PRNG */
    size_t len, pos;
    uint64_t s;          /* PRNG state */
    int exhausted;       /* a fuzz input ran out */
    int compact;         /* a fuzz input: one byte stands for a whole payload */
    struct nf_buf *rec;  /* when set, each choice is appended as the bytes
                          * that make nf_src_replay() choose the same */
};

void nf_src_prng(struct nf_src *s, uint64_t seed, uint64_t session);
void nf_src_data(struct nf_src *s, const uint8_t *d, size_t n);
/* Bytes recorded from another source: every choice, payload bytes
 * included, is read from d (not compact). */
void nf_src_replay(struct nf_src *s, const uint8_t *d, size_t n);
/* A value in [0, n) (n >= 1). Reads 1 input byte when n <= 256, else 4. */
uint32_t nf_pick(struct nf_src *s, uint32_t n);
/* With recorded or replayed choices, nf_pick_fixed() takes exactly one
 * byte whatever n (<= 256) is, and nf_pick_slot() records the client slot
 * a choice resolved to (a replay reads it back and prefers it when that
 * slot can still be chosen), so that removing one client's actions does
 * not shift what the others do. Otherwise they are nf_pick() and a no-op. */
uint32_t nf_pick_fixed(struct nf_src *s, uint32_t n);
int nf_pick_slot(struct nf_src *s, int chosen);
/* 1 with probability pct/100. */
int nf_chance(struct nf_src *s, unsigned pct);
uint64_t nf_mix64(uint64_t x);

/* ---- Options and the broker under test (nf_net.c) ------------------------ */

struct nf_opts {
    const char *target;     /* address clients connect to */
    const char *spawn;      /* broker command ({addr} is replaced), or NULL */
    uint64_t seed;
    double seconds;         /* random mode: stop after this long (0: no limit) */
    long sessions;          /* stop after this many sessions (0: no limit) */
    long first_session;     /* index of the first session (--session K) */
    long progress;          /* a progress line every N sessions */
    const char *out_dir;    /* violations go to OUT/violations/ */
    int wait_ms;            /* bound of every wait for an expected event */
    uint32_t body_limit;    /* the broker's exact body limit, 0 = unknown */
    uint32_t assume_body;   /* bodies up to this are assumed accepted */
    int max_actions;        /* actions per session (random mode) */
    int session_ms;         /* wall-clock bound of one session's actions */
    int max_violations;     /* stop after this many (0: never) */
    int verbose;
    int abort_on_violation; /* libFuzzer/AFL++: abort() so the input is kept */
    const char *minimize;   /* --minimize CASE.json, or NULL */
    double minimize_seconds;/* time budget of --minimize */
};

struct nf_broker {
    pid_t pid;              /* 0 when not spawned by us */
    char dir[256];          /* temp dir (socket, log), "" when none */
    char addr[512];
    char log[600];
    int spawns;
    char why[160];          /* how a spawned broker ended, "" while running */
};

/* Connects to a UNIX path or HOST:PORT; returns a non-blocking fd, or -1
 * (errno set) when nothing accepts within timeout_ms. */
int nf_connect(const char *addr, int timeout_ms);
/* Starts o->spawn (when set) and waits until o->target accepts. 0 or -1. */
int nf_broker_start(struct nf_broker *b, const struct nf_opts *o);
/* 1 when a spawned broker is still running; else 0 and a description of
 * how it ended in why. Always 1 when we did not spawn it. */
int nf_broker_alive(struct nf_broker *b, char *why, size_t cap);
/* Stops a spawned broker (SIGTERM, then SIGKILL). Returns its exit status
 * (128 + signal when killed by a signal), 0 when not spawned, -1 on a
 * timeout. */
int nf_broker_stop(struct nf_broker *b);
void nf_broker_cleanup(struct nf_broker *b);

/* ---- Model (nf_model.c) -------------------------------------------------- */

struct nf_pat {
    uint8_t *p;
    size_t n;
};

struct nf_set {
    struct nf_pat *v;
    size_t n, cap;
};

/* One frame a client is expected to receive. */
struct nf_exp {
    uint8_t *b;        /* the exact bytes: ACK (6) or delivered header + body */
    size_t n;
    uint8_t is_ack;
    uint8_t alt;       /* ACK: a second acceptable result code, 0 = none */
    uint8_t optional;  /* may be absent (ACK of op 0 with QoS, REQ-ACK-9) */
    uint8_t got;       /* ACK: the code received */
    uint32_t seq;      /* the frame (global sequence number) that caused it */
    const char *req;   /* requirement the frame checks */
    size_t ev;         /* its EV_EXPECT event in the transcript */
};

enum nf_cstate {
    NF_FREE = 0, /* slot unused */
    NF_LIVE,     /* registered (model) and connected */
    NF_DYING,    /* the broker must close it: socket read until EOF */
    NF_GONE      /* socket closed */
};

struct nf_client {
    enum nf_cstate st;
    int reg;                 /* registered according to the model */
    int conn;                /* connection id in the transcript */
    struct nf_buf name;
    size_t plen;             /* length of the primary part of the name */
    int fd;
    struct nf_set subs, excls;
    struct nf_buf sent;      /* model: start of a frame not yet complete */
    struct nf_buf rx;        /* received bytes not yet parsed */
    struct nf_exp *exp;      /* outstanding expectations, in creation order */
    size_t nexp, cexp;
    struct nf_buf pend;      /* driver: rest of a frame whose start was sent */
    int64_t pend_since;
    int pend_body;           /* that start held the whole 9-byte header */
    int64_t last_send;
    int64_t eof_deadline;    /* NF_DYING: EOF must come by then */
    uint32_t close_opid;     /* op id of the frame that closed it */
    int close_opid_set;
    int released;            /* name release confirmed after death */
    const char *close_req;   /* why the broker must close it */
    uint8_t last_ack;        /* code of the last ACK consumed */
    uint32_t last_ack_seq;   /* and the frame it acknowledged */
    int acted;               /* sent complete frames since the last settle */
};

/* What the broker must do with the bytes fed so far. */
enum nf_fate {
    NF_OPEN = 0,  /* connection stays open */
    NF_CLOSED,    /* the broker must close it (REQ-ERR-1) */
    NF_DOOMED     /* the spec allows closing or not: the driver closes it */
};

struct nf_sess;

/* Feeds the n bytes client c is about to send. Returns how many of them to
 * send (fewer when a frame with an implementation-defined outcome ends
 * earlier) and sets *fate. Expectations are appended to the receivers. */
size_t nf_model_feed(struct nf_sess *S, int c, const uint8_t *p, size_t n, int *fate);
/* The reply byte a registration of name must get: 0x01 or an error code;
 * 0 means "close, with no reply byte or with 72" (invalid UTF-8). */
int nf_model_reg_reply(struct nf_sess *S, const uint8_t *name, size_t n);
/* Registers name in slot c (after the broker replied 01). */
void nf_model_register(struct nf_sess *S, int c);
/* The model removes client c (and a primary's secondaries, which become
 * NF_DYING). */
void nf_model_kill(struct nf_sess *S, int c);
int nf_model_in_ns(const struct nf_sess *S, const uint8_t *s, size_t n);
int nf_model_wants_pub(const struct nf_client *c, const uint8_t *t, size_t tn);
void nf_set_free(struct nf_set *s);
void nf_exp_remove(struct nf_client *c, size_t i);
void nf_exp_clear(struct nf_client *c);
/* Explains in out why the model does (not) deliver a publication/broadcast
 * to client c (for violation reports). */
void nf_model_explain(struct nf_sess *S, int c, uint8_t kind, const uint8_t *target,
                      size_t tn, struct nf_buf *out);

/* ---- Transcript and violation cases (nf_case.c) -------------------------- */

enum nf_ev_type {
    EV_CONNECT, EV_SEND, EV_CLOSE, EV_SHUT, EV_RECV, EV_EOF, EV_EXPECT, EV_SETTLE, EV_NOTE,
    EV_REGISTER, /* a registration starts: data = the reply the model expects (0: close/72) */
    EV_HSEXPECT, /* handshake bytes a throwaway connection must receive (flag 1: then EOF) */
    EV_DYING     /* the broker must close this connection now */
};

/* Event flags. */
#define NF_EVF_OPTIONAL 1u  /* EV_EXPECT: may be absent */
#define NF_EVF_ALT 2u       /* EV_EXPECT: data has a 7th byte, an alternative ACK code */
#define NF_EVF_GOT 4u       /* EV_EXPECT: received (the ACK code byte is the one received) */
#define NF_EVF_CANCEL 8u    /* EV_EXPECT: the receiver died before it arrived */
#define NF_EVF_SKIP 16u     /* EV_SEND/EV_EXPECT: timing-dependent, not in the case file */
#define NF_EVF_HS 32u       /* EV_SEND: handshake bytes of a registration */
#define NF_EVF_LATE 64u     /* EV_RECV: after the broker dropped the client (not counted) */

struct nf_ev {
    uint8_t type;
    uint8_t flags;   /* NF_EVF_* */
    int16_t conn;
    size_t off, len; /* bytes in the transcript data */
    int64_t t;       /* ms since the session started */
};

struct nf_conn {
    struct nf_buf name;
    int slot;        /* client slot, -1 for a throwaway handshake connection */
};

struct nf_trace {
    struct nf_ev *ev;
    size_t nev, cev;
    struct nf_buf data;
    struct nf_conn *conn;
    size_t nconn, cconn;
    int64_t t0;
};

void nf_trace_reset(struct nf_trace *t);
void nf_trace_free(struct nf_trace *t);
int nf_trace_conn(struct nf_trace *t, const uint8_t *name, size_t n, int slot);
void nf_trace_ev(struct nf_trace *t, int type, int conn, const void *p, size_t n, int flags);
/* Writes the session's violation as a conformance case file
 * (OUT/violations/ID.json, format busrt-conformance-cases/1) and the full
 * transcript (OUT/traces/ID.json); the case path goes to path ("" when it
 * could not be written). */
void nf_case_write(struct nf_sess *S, char *path, size_t cap);
/* Marks the expectations of client c as cancelled (it died). */
void nf_trace_cancel(struct nf_sess *S, struct nf_client *c);

/* ---- Sessions (nf_session.c) --------------------------------------------- */

/* What a session did (summed over a run, printed at the end). */
enum nf_stat {
    NS_OPS, NS_CONC, NS_PARTIAL, NS_REG_OK, NS_REG_REFUSED, NS_HS_JUNK, NS_GARBAGE,
    NS_BROKER_CLOSED, NS_WE_CLOSED, NS_DISCONNECT, NS_HALF_CLOSE, NS_DELIVERIES, NS_ACKS,
    NS_FOREIGN, NS_N
};

/* The choices of one payload, as source offsets: its kind (empty, small,
 * large) at r, its content in [c0, c1); for a large one, its length - 1000
 * in the 4 bytes before c0. */
struct nf_pay {
    size_t r, c0, c1;
    int large;
};

/* One frame of a batch of frames: the batch's count choice at n (count - 1
 * = the byte there, for the counts --minimize edits), the frame's choices
 * in [s, e). */
struct nf_frm {
    size_t n, s, e;
};

struct nf_sess {
    const struct nf_opts *o;
    struct nf_broker *broker;
    struct nf_src src;
    long index;              /* session number */
    char prefix[32];         /* random first chunk of every name and topic; 14
                              * characters, like the conformance runner's
                              * ${p}, so that case files can substitute it */
    size_t prefix_len;
    struct nf_client cl[NF_MAXC];
    int ctl;
    uint32_t seq;            /* frames fed to the model */
    uint32_t nsync;
    uint32_t ntag;           /* payload tags handed out */
    int64_t t_end;           /* end of the action phase */
    struct nf_trace tr;
    uint8_t force_alt;       /* model: alternative code of the next ACKs */
    uint8_t case_skip;       /* trace: NF_EVF_SKIP on what is sent now */
    int violated;
    char vreq[128];          /* requirement ids */
    char vmsg[2048];
    int vconn;               /* connection where it was seen, -1 */
    int actions;
    int replay;              /* run exactly replay_actions actions */
    int replay_actions;
    int no_case;             /* do not write the case file of a violation */
    size_t *act_off;         /* source offset where each action began */
    size_t nact, cact;
    size_t act_end;          /* source offset after the last action */
    int loop_violated;       /* the violation came before the end phase */
    struct nf_pay *pay;      /* where each payload's choices are */
    size_t npay, cpay;
    struct nf_frm *frm;      /* and each frame of an op batch */
    size_t nfrm, cfrm;
    const char *case_id;     /* the case file's id, NULL: derived from the seed */
    int case_steps;          /* the case file written: its steps */
    size_t case_bytes;       /* and the bytes of its send steps */
    long frames_sent, frames_recv;
    long stat[NS_N];          /* accumulated by the caller's choice: never reset here */
};

/* Runs one session: input from S->src, already set up by the caller, as
 * are o, broker and index. Returns 1 when a violation was found (written to
 * the case file, path in case_path), else 0. */
int nf_session_run(struct nf_sess *S, char *case_path, size_t cap);

/* ---- Minimizing a violation (nf_minimize.c) ------------------------------ */

/* Shrinks the violation of o->minimize (a case file written by this tool)
 * against the broker: reruns its session from recorded choices, removes
 * actions and simplifies choices while the same requirements are violated,
 * and writes the shortest case to OUT/minimized/. input: the fuzz input the
 * case came from (--input), or NULL for a random-mode case. Returns 0 when
 * a case was written, 1 when the violation did not reproduce, 2 on errors. */
int nf_minimize(const struct nf_opts *o, struct nf_broker *br, const uint8_t *input,
                size_t input_len);
void nf_violation(struct nf_sess *S, int conn, const char *req, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#endif
