/* busrt-bench: latency, throughput, fan-out and scale benchmark for BUS/RT v1
 * brokers. Shared declarations of the modules in bench/ (run.h adds those
 * of the bench process's own modules).
 *
 * Processes: the bench process (A, measures and reports), one forked peer
 * (B, echoer and receiver), connected to A by a socketpair that is also the
 * "floor" (the same ping-pong without a broker); a forked load process (L)
 * for latency under load; forked holders (H) of the idle clients and
 * subscriptions of the scale series. Every wait is bounded. */
#ifndef BUSRT_BENCH_H
#define BUSRT_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "busrt/codes.h"
#include "busrt/le.h"

#define BENCH_VERSION BUSRT_VERSION_STRING /* one version for the project */
#define MAX_TARGETS 8
#define MAX_SENDERS 16
#define MAX_SUBS 128
#define NAME_CAP 96
#define ADDR_CAP 256

/* ---- util.c ---------------------------------------------------------------- */

int64_t now_ns(void);
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
/* Copies src into dst[cap], truncated, always terminated. */
void copy_str(char *dst, size_t cap, const char *src);
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Milliseconds left until deadline (ns), clamped to [0, cap_ms]. */
int ms_left(int64_t deadline, int cap_ms);
/* u64 as two little-endian u32 halves, low first (u32: busrt/le.h). */
void put_u64(uint8_t *p, uint64_t v);
uint64_t get_u64(const uint8_t *p);
int set_nonblock(int fd);
/* Reads what fd has into the buffer (*rb)[*rs, *re) of *rcap bytes, having
 * made room for `need` bytes from *rs on (grown, or moved to the front).
 * Returns bytes read (> 0), 0 when nothing is available, -1 on end of file
 * or error. */
ssize_t buf_read(int fd, uint8_t **rb, size_t *rcap, size_t *rs, size_t *re, size_t need);
/* Closes every descriptor above 2 except keep (in a forked child). */
void close_fds_except(int keep);
/* Raises this process's RLIMIT_NOFILE soft limit to the hard limit. Returns
 * the soft limit in force afterwards (0 when unknown or unlimited); err is
 * set (else empty) when the limit could not be read or raised. */
size_t nofile_raise(char *err, size_t errlen);

/* Progress line on stderr (a rewritten line on a TTY, else one line every
 * few seconds). */
void progress_init(int quiet);
void progress_set_total(double units);
void progress_add(double units);
void progress_phase(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void progress_done(void);
/* The text of the last progress_phase(). */
const char *progress_text(void);

/* ---- conn.c: a minimal, fast BUS/RT client connection ----------------------- */

struct conn {
    int fd;
    char name[NAME_CAP];
    size_t name_len;
    /* read buffer, parsed in place: unparsed bytes are rb[rs, re) */
    uint8_t *rb;
    size_t rcap, rs, re;
    /* output not yet accepted by the socket: wb[woff, wlen) */
    uint8_t *wb;
    size_t wcap, woff, wlen;
    int64_t last_tx; /* last time a complete frame left (for keep-alive pings) */
    int idle;        /* nobody parses its input: keep-alive may discard it */
    int ka;          /* registered for keep-alive */
    uint32_t next_op;
    uint64_t nops, acks, ack_bad, proto_err;
};

/* One frame read from the broker. Pointers are into the read buffer and
 * stay valid until the next conn_fill(). */
struct dframe {
    uint8_t kind; /* BUSRT_KIND_* or BUSRT_ACK_MARKER */
    uint8_t realtime;
    const uint8_t *body;
    size_t len;
    uint32_t op_id; /* ACK only */
    uint8_t code;   /* ACK only */
};

void conn_init(struct conn *c);
/* Connects and registers name at addr (UNIX path or HOST:PORT). Returns 0;
 * a broker result code (> 0) when the broker refused the name; -1 on a
 * transport error or timeout (err says why). */
int conn_open(struct conn *c, const char *addr, const char *name, int64_t timeout_ns,
              char *err, size_t errlen);
/* Opens n connections in parallel (batches), stopping at the first refused
 * one. Returns the number registered (the first ones of cs). */
size_t conn_open_many(struct conn *cs, size_t n, const char *addr, char (*names)[NAME_CAP],
                      int64_t timeout_ns, char *err, size_t errlen);
void conn_close(struct conn *c);
/* Reads what the socket has. Returns bytes read (> 0), 0 when nothing is
 * available, -1 on end of file or error. */
ssize_t conn_fill(struct conn *c);
/* Takes the next complete frame. Returns 1, 0 when more bytes are needed, -1
 * on a malformed stream. */
int conn_next(struct conn *c, struct dframe *f);
/* Writes iov (whole frames) or queues what the socket does not take.
 * Returns 0, or -1 when the connection failed. */
int conn_writev(struct conn *c, const struct iovec *iov, int n);
/* Sends a client frame: 9-byte header from the core codec, target, NUL,
 * then the payload pieces. */
int conn_send(struct conn *c, uint8_t op, uint8_t qos, uint32_t op_id, const void *target,
              size_t tlen, const struct iovec *pl, int npl);
/* Writes queued output. Returns 1 when all is written, 0 when some is
 * left, -1 on error. */
int conn_flush(struct conn *c);
/* Sends a subscribe-family frame with QoS 1 and waits for its ACK (other
 * frames are skipped). Returns the result code, or -1. */
int conn_list_op(struct conn *c, uint8_t op, const char *const *items, size_t n,
                 int64_t timeout_ns);
/* Waits until every queued byte is written. Returns 0 or -1. */
int conn_drain_out(struct conn *c, int64_t deadline);

/* Keep-alive: every registered connection that sent nothing for the ping
 * interval gets a ping; idle ones also have their input discarded. Call
 * ka_tick() from every loop. */
void ka_add(struct conn *c);
void ka_del(struct conn *c);
void ka_set_interval(int64_t ns);
/* Forgets every registration (in a freshly forked child). */
void ka_reset(void);
void ka_tick(int64_t now);

/* ---- ctl.c: messages between the bench process and its children ------------- */

enum ctl_type {
    CTL_OK = 1,
    CTL_ERR,
    CTL_QUIT,
    CTL_FLOOR,      /* body: opaque bytes, echoed back as CTL_FLOOR */
    CTL_CONNECT,    /* peer: connect to a target */
    CTL_ECHO_QOS,   /* peer: QoS of echoes */
    CTL_RECV_START, /* peer: enter receiver mode */
    CTL_RECV_END,   /* peer: expect this many frames, then report */
    CTL_CREDIT,     /* peer -> bench: frames received so far */
    CTL_RESULT,     /* peer -> bench: final counts */
    CTL_FLOOD,      /* load: flood a target at a rate */
    CTL_PAUSE,      /* load: stop flooding, report */
    CTL_READY,      /* holder: set up done */
    CTL_PIN,        /* peer: pin to CPU qos (-1: restore) */
    CTL_TDATA,      /* bench -> peer: one frame of a floor throughput run */
    CTL_SETUP,      /* holder -> bench: set-up progress (every bounded step) */
};

enum recv_mode {
    RM_MSG = 1, /* messages from nsenders senders to the peer's main connection */
    RM_PUB,     /* publications to the peer's main connection */
    RM_BCAST,   /* broadcasts to the peer's main connection */
    RM_FANOUT,  /* publications to nsubs extra subscriber connections */
    RM_FLOOR,   /* CTL_TDATA messages on the socketpair: the throughput floor */
};

struct ctl_args {
    int32_t tidx;
    int32_t qos;
    int32_t mode;
    int32_t nsubs;
    int32_t nsenders;
    int32_t status;
    uint64_t count;
    uint64_t count2;
    uint64_t errors;
    uint64_t report_every;
    uint64_t window;
    int64_t t_ns;
    int64_t t2_ns;
    double rate;
    char addr[ADDR_CAP];
    char name[NAME_CAP];
    char topic[NAME_CAP];
    char text[256];
};

struct ctl {
    int fd;
    uint8_t *rb;
    size_t rcap, rs, re;
};

void ctl_init(struct ctl *k, int fd);
void ctl_free(struct ctl *k);
/* Writes one message, waiting (bounded) for room. Returns 0 or -1. */
int ctl_send(struct ctl *k, uint32_t type, const void *body, size_t len);
int ctl_send_args(struct ctl *k, uint32_t type, const struct ctl_args *a);
/* Takes the next complete message from the buffer: 1, or 0 when none is
 * complete. Body valid until the next ctl_fill(). */
int ctl_next(struct ctl *k, uint32_t *type, const uint8_t **body, size_t *len);
/* Reads what is available: > 0, 0 nothing, -1 end of file / error. */
ssize_t ctl_fill(struct ctl *k);
/* Waits for a message of one of the two types (0 = any), skipping
 * CTL_CREDIT. Returns its type, or -1 on timeout / end of file. */
int ctl_wait(struct ctl *k, uint32_t want1, uint32_t want2, struct ctl_args *out,
             int64_t timeout_ns);

/* ---- names and topics shared by the processes -------------------------------- */

void name_main_a(char *out, int tidx);
void name_main_b(char *out, int tidx);
void name_sender(char *out, int tidx, int k);
void name_sub(char *out, int tidx, int k);
void name_load(char *out, int tidx, int rx);
void name_other(char *out, int k);
void name_holder(char *out, int k);
void topic_scale(char *out, int tidx);
void topic_fanout(char *out, int tidx);
void mask_scale(char *out, int tidx);
/* Pattern number k of the non-matching subscriptions of the scale series. */
void pattern_other(char *out, size_t cap, size_t k);
extern unsigned long g_tag; /* the bench process id, in every name */

/* ---- peer.c: the forked processes ------------------------------------------- */

/* The echoer and receiver (B). Never returns. */
void peer_main(int fd, int64_t timeout_ns) __attribute__((noreturn));
/* The load generator (L). addrs: one per target. Never returns. */
void load_main(int fd, char (*addrs)[ADDR_CAP], int ntargets, uint64_t window,
               int64_t timeout_ns) __attribute__((noreturn));
/* The holder of non-matching clients or subscriptions (H): sets them up on
 * every target with a non-empty address (the bench gives a holder of
 * clients one target), with a CTL_SETUP after every bounded step and one
 * CTL_READY per target index (count: clients held, count2: subscriptions,
 * t_ns: time spent connecting and registering, rate: clients per second,
 * text: why fewer than asked). Raises its own descriptor limit and never
 * asks for more clients than that limit allows. Never returns. */
void holder_main(int fd, char (*addrs)[ADDR_CAP], int ntargets, int clients, size_t k,
                 int64_t timeout_ns) __attribute__((noreturn));

/* ---- affinity.c: CPU placement for the placement probe ----------------------- */

/* Saves this process's CPU mask; lists its CPUs into cpus. Returns their
 * number (0 when unknown). */
int affinity_init(int *cpus, int max);
/* Pins every thread of pid (0: this process) to cpu; cpu < 0 restores the
 * mask saved by affinity_init. Returns 0 or -1. */
int pin_to(pid_t pid, int cpu);
/* Saves / restores the mask of pid (every thread) in one of a few slots. */
int pin_save(pid_t pid, int slot);
int pin_restore(pid_t pid, int slot);
/* The same for the main thread only: one system call (signal handlers). */
int pin_restore_main(pid_t pid, int slot);
/* The process at the other end of a UNIX socket (SO_PEERCRED), or -1. */
pid_t peer_pid(int fd);

/* ---- util.c: statistics ----------------------------------------------------- */

struct samples {
    int64_t *v;
    size_t n, cap;
};

void samples_add(struct samples *s, int64_t x);
void samples_free(struct samples *s);
/* Sorts s and returns the exact nearest-rank percentile (p in (0, 1]). */
void samples_sort(struct samples *s);
int64_t samples_pct(const struct samples *sorted, double p);
double median_d(double *v, size_t n);


/* ---- results (the phases fill them, report.c prints them) --------------------- */

enum section { SEC_LAT, SEC_PLACE, SEC_LOAD, SEC_TPUT, SEC_FANOUT, SEC_SCALE, SEC_COUNT };

struct result {
    enum section sec;
    char test[64];  /* what was measured */
    int target;     /* target index, -1 for the floor */
    int qos;
    size_t payload;
    size_t others_req, others_got; /* scale: non-matching entries asked for / held */
    /* latency (microseconds) */
    size_t n;
    double p50, p90, p99, p999, max, mean;
    double floor_p50, ratio;   /* ratio = p50 / (2 x floor p50) */
    double floor_p999;
    double rep_min, rep_max;   /* p50 of each repeat: lowest, highest */
    double load_rate;          /* background frames/s achieved while measuring */
    /* rates */
    int runs;
    double rate, rate_min, rate_max; /* frames (publications) per second, median */
    double floor_rate;               /* the same flow over the socketpair, median */
    double rate_ratio;               /* rate (deliveries for fan-out) / floor_rate */
    double deliveries;               /* deliveries per second (fan-out) */
    double per_op_ns;                /* 1e9 / rate */
    double base_ratio;               /* scale: this point / the smallest point */
    /* scale: the broker's memory with the entries held, the holder's set-up */
    long rss_kb;          /* VmRSS of the broker process, kB; 0 unknown */
    double kb_per_client; /* other clients: (RSS - RSS at smallest N) / (held - held there) */
    int have_kb_per_client;
    double setup_rate;    /* other clients: connected and registered per second (holder) */
    uint64_t sent, received, lost, errors;
    int ok;
    char note[200];
};

struct target {
    char label[64];
    char addr[ADDR_CAP];
    char *cmd; /* --spawn command, NULL for --target */
    pid_t pid; /* spawned broker */
    pid_t bpid; /* the broker process: spawned, or the UNIX socket's peer; -1 unknown */
    pid_t mpid; /* the same for /proc readings (RSS, descriptors), also when bpid is not
                   ours to place; -1 unknown */
    struct conn a; /* the bench process's main connection */
    char bname[NAME_CAP];
    double capacity; /* 1->1 QoS 0 100 B frames/s (median), for the load */
    size_t clients_cap; /* other clients held at most when fewer were asked (0: no cap met) */
    int dead;           /* stopped answering: later measurements are skipped */
    char dead_why[160];
    int rt;             /* a --broker-rt twin: the command of target rt_base with the
                           realtime options appended */
    int rt_base;
    int start_status;   /* exit status of a spawned broker that exited at start, else -1 */
};

struct machine {
    long ncpu;
    double load1_start, load1_end;
    double busy_cores;  /* average CPUs busy during the run, all processes */
    double own_cores;   /* of which: this tool, its children, spawned brokers */
    double seconds;
    char uname[160];
    char date[40];
};

struct report {
    struct target *targets;
    int ntargets;
    struct result *res;
    size_t nres;
    struct machine m;
    const char *argv_line;
    size_t rounds;
    int repeats, tput_repeats;
    double duration;
    uint64_t window;
    int quick;
    const char *pin; /* CPU placement of the processes */
    const char *rt_skipped; /* --broker-rt twins not measured, and why; "" none */
    int rt_asked;           /* --broker-rt was given */
};

/* report.c */
void report_table(const struct report *r, FILE *out);
int report_csv(const struct report *r, const char *path);
int report_json(const struct report *r, const char *path);
int report_plot(const struct report *r, const char *path);
/* Goals of the issue, as ratios; never pass/fail. */
void report_goals(const struct report *r, FILE *out);

#endif
