/* The step executor of busrt-conformance: the state of one running case,
 * the runner's own clients of the broker, and the frames they exchange.
 * Shared by exec.c (the case and its step table), client_io.c, frame_rx.c,
 * frame_tx.c, frame_match.c and the step_*.c files; each section lists what
 * one file exports. */
#ifndef CF_EXEC_H
#define CF_EXEC_H

#include "cf.h"

#include "busrt/frame.h"

/* Where the bytes a client queued so far end in the client protocol: an
 * autoping may only go in between two frames. */
enum trk { TRK_GREETING, TRK_NAMELEN, TRK_NAME, TRK_HEADER, TRK_BODY };

/* A connection the runner holds to the broker under test (a case's
 * "client"); not the broker's own notion of a client. */
struct cf_client {
    char label[32];
    struct buf name;
    int fd;          /* -1 when not connected or closed by the runner */
    int registered;  /* the runner saw the reply 01 to the name */
    int eof;         /* the broker closed (EOF or reset) */
    int reset;
    int wclosed;     /* writing failed (peer gone) */
    int reading;     /* read whenever the runner waits */
    int focus;       /* read during the current step */
    int autoping;
    struct buf in, out;
    enum trk trk;    /* where the bytes queued so far end (for autoping) */
    size_t trk_got;
    uint8_t trk_hdr[9];
    uint64_t trk_left;
    int64_t last_send;
    uint32_t next_op;
};

/* One case being run: its broker instance, clients, timing, and the step
 * under way (named in failure messages). */
struct case_exec {
    struct run *r;
    struct kase *k;
    struct instance *in;
    struct result *res;
    char prefix[48];
    struct cf_client cl[CF_MAX_CLIENTS];
    size_t ncl;
    int64_t T_ms;
    int64_t ping_ms;
    int64_t bound_ms; /* default bound of a wait */
    int stepno;
    const char *stepname;
    json_t *step;
    uint32_t barrier_seq;
};

/* A frame the broker sent. raw is owned. */
enum ftype { F_ACK = 1, F_NOP, F_DLV };

struct bframe {
    enum ftype type;
    uint8_t *raw;
    size_t raw_len;
    uint8_t kind, rt, code;
    struct busrt_frame_body b; /* offsets into raw + 6 */
};

/* A frame built from a case's fields, and what the steps need of it. */
struct built {
    struct buf bytes;
    uint8_t op_id[4];
    uint8_t flags;
};

/* A step: st is its JSON object, c the client it names (NULL for steps
 * that name none). Returns 0, or -1 after failf. */
typedef int (*step_fn)(struct case_exec *ce, const json_t *st, struct cf_client *c);

/* ---- exec.c: the case, failures, step parameters ------------------------- */

/* Records the first failure of the case (later ones are dropped) with the
 * step it happened in. Always returns -1. */
int failf(struct case_exec *ce, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the name of an allowed behaviour the broker showed to the
 * result's variant list. */
void note_variant(struct case_exec *ce, const char *name);
/* The bound of a wait (within_t, else the default) and the length of a
 * pause (for_t or for_ms), in milliseconds. */
int64_t step_bound(struct case_exec *ce, const json_t *st);
int64_t step_duration(struct case_exec *ce, const json_t *st);

/* ---- client_io.c: clients, their I/O, waiting ------------------------------ */

/* A condition pump waits for. */
typedef int (*pred_fn)(struct case_exec *, void *);

/* The client with this label, created (unconnected) when asked and room is
 * left; else NULL. */
struct cf_client *client_get(struct case_exec *ce, const char *label, int create);
/* Closes the connection and forgets everything but the label. */
void client_reset(struct cf_client *c);
/* Queues bytes to the broker and writes what the socket takes. */
void queue_bytes(struct cf_client *c, const uint8_t *d, size_t n);
/* Runs I/O (reads, writes, autopings) until pred holds or the deadline
 * passes. Returns 1 when pred held (checked once more at the deadline). */
int pump(struct case_exec *ce, int64_t deadline, pred_fn pred, void *arg);
int pred_never(struct case_exec *ce, void *arg);
int pred_eof(struct case_exec *ce, void *arg); /* arg: the client */
/* Waits for n raw bytes. Returns 1 when they are there, 0 on timeout, -1
 * on EOF before n bytes. */
int wait_bytes(struct case_exec *ce, struct cf_client *c, size_t n, int64_t deadline);

/* ---- frame_rx.c: frames from the broker ------------------------------------ */

void bframe_free(struct bframe *f);
/* The bytes of a body field of a delivered frame. */
const uint8_t *bframe_span(const struct bframe *f, struct busrt_span s);
int pred_frame(struct case_exec *ce, void *arg); /* arg: the client */
/* Takes one frame from c->in. Returns 1, 0 when none is complete, or -1 for
 * bytes that are not a valid broker frame (why says which rule). */
int take_frame(struct cf_client *c, struct bframe *f, struct buf *why);
/* Waits for the next frame of c. Returns 1 (frame), 0 (deadline), -1 (EOF
 * with no complete frame), -2 (protocol error, already reported). */
int next_frame(struct case_exec *ce, struct cf_client *c, int64_t deadline, struct bframe *f);
/* 1 for frames every strict step skips (README "Foreign traffic"). */
int ignorable(struct case_exec *ce, const struct bframe *f);

/* ---- frame_tx.c: bytes and frames from case fields ------------------------ */

/* Appends the bytes of field `key` (text, ${p} substituted) or `key_hex`.
 * Returns 1 when one was present, 0 when neither, -1 on bad hex. */
int field_bytes(struct case_exec *ce, const json_t *o, const char *key, struct buf *out);
/* Appends a payload_fill object's bytes. */
void fill_bytes(struct case_exec *ce, const json_t *fill, struct buf *out);
/* Builds the client frame a case's frame object describes (b->bytes is
 * initialised even on failure). Returns 0, or -1 after failf. */
int build_frame(struct case_exec *ce, struct cf_client *c, const json_t *f, struct built *b);
/* build_frame, then queues the bytes to c; b keeps op_id and flags. */
int queue_frame(struct case_exec *ce, struct cf_client *c, const json_t *f, struct built *b);

/* ---- frame_match.c: expected against received frames --------------------- */

/* 1 when f matches m, else 0 with the reason in why. */
int frame_match(struct case_exec *ce, const struct bframe *f, const json_t *m, struct buf *why);
/* frame_match without the reason. */
int frame_matches(struct case_exec *ce, const struct bframe *f, const json_t *m);
/* A matcher for the ACK of op_id with result code (the matcher takes the
 * reference). */
json_t *ack_matcher(const uint8_t op_id[4], json_t *code);
/* The result's expected bytes: the matcher rendered; received bytes: the
 * frame in hex and decoded. */
void set_expected(struct case_exec *ce, const json_t *m);
void set_received(struct case_exec *ce, const struct bframe *f);

/* ---- step_conn.c: connections and what clients send ----------------------- */

/* One handshake attempt; writes the outcome ("01", "72", "close",
 * "preclose", ...) to outcome. Returns 0, or -1 after failf. */
int handshake(struct case_exec *ce, struct cf_client *c, const json_t *st, char *outcome,
              size_t olen);
int step_connect(struct case_exec *ce, const json_t *st, struct cf_client *c);
/* Also the start of connect: the connection without a handshake. */
int step_open(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_send(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_barrier(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_close(struct case_exec *ce, const json_t *st, struct cf_client *c);

/* ---- step_expect.c: what clients must (not) receive ----------------------- */

/* The next frame that is not ignorable must match m. */
int expect_frames_strict(struct case_exec *ce, struct cf_client *c, const json_t *m,
                         int64_t deadline);
/* expect_frames_strict for the ACK of op_id with result code (taken). */
int expect_ack(struct case_exec *ce, struct cf_client *c, const uint8_t op_id[4], json_t *code,
               int64_t deadline);
/* Nothing but EOF may follow (after `after`, named in the failure). */
int expect_raw_close(struct case_exec *ce, struct cf_client *c, int64_t ms, const char *after);
/* next_frame, reporting a failure when no frame came: returns 1 with a
 * frame, 0 when none came in time or the connection closed (reported as
 * `what` against the matcher m), -1 on a protocol error (reported). */
int await_frame(struct case_exec *ce, struct cf_client *c, int64_t deadline, struct bframe *f,
                const json_t *m, const char *what);
int step_expect(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_expect_bytes(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_wait_for(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_expect_none(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_expect_close(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_expect_variant(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_count_nops(struct case_exec *ce, const json_t *st, struct cf_client *c);

/* ---- step_load.c: floods of frames ----------------------------------------- */

int step_flood(struct case_exec *ce, const json_t *st, struct cf_client *c);

/* ---- step_broker.c: acting on the broker instance ------------------------- */

int step_fifo_write(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_fifo_check(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_update_acl(struct case_exec *ce, const json_t *st, struct cf_client *c);
int step_stop_broker(struct case_exec *ce, const json_t *st, struct cf_client *c);

#endif
