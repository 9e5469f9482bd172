/* busrt-bench: the bench process (A) itself: its options, the state of one
 * run, and what each of its modules exports. The forked processes (peer.c)
 * do not use it. */
#ifndef BUSRT_BENCH_RUN_H
#define BUSRT_BENCH_RUN_H

#include "bench.h"

/* Sections selected by --only / --no-load. */
enum { ONLY_LAT = 1, ONLY_LOAD = 2, ONLY_TPUT = 4, ONLY_FANOUT = 8, ONLY_SCALE = 16 };

/* Slots of the forked children in struct bench.kids. */
enum { KID_PEER, KID_LOAD, KID_HOLDER };

/* The options, defaults applied (opts.c). */
struct bench_opts {
    int only;
    size_t rounds;
    int repeats;
    double duration;
    int tput_repeats;
    int quick;
    uint64_t window;
    size_t payloads[8];
    int npayloads;
    int qos[4];
    int nqos;
    size_t scale_k[4];
    int nscale;
    size_t scale_rounds;
    double scale_duration;
    const char *csv, *json, *plot, *broker_log;
    double timeout;
    double max_time;
    double ping;
    int quiet;
    int no_place;
    int no_load;   /* applied to `only` once every option is read */
    int probe_qos; /* QoS of the placement probe's broker rows */
    const char *hook;
    int pin; /* 0 none, 1 one CPU, 2 split */
    /* --broker-rt N[:LIST]: a realtime twin of every --spawn target */
    int rt_prio;          /* 0: off */
    const char *rt_cpus;  /* the twins' --cpu LIST; NULL: the last CPU of ours */
};

/* One run: the options and everything its phases share. main() makes the
 * one instance and passes it down. */
struct bench {
    struct bench_opts o;
    struct target t[MAX_TARGETS];
    int nt;
    struct ctl ctl;   /* to the peer (B); also the floor */
    pid_t peer;
    pid_t load;       /* the load process (L); <= 0 when not running */
    struct ctl lctl;  /* to the load process */
    uint8_t *payload; /* the payload bytes of every frame sent */
    int64_t timeout;  /* --timeout in ns */
    char tmpdir[64];  /* spawned brokers' sockets and logs; "" none */
    struct result *res;
    size_t nres, rescap;
    int failed;       /* failures that belong to no result row */
    int echo_qos;     /* QoS of the peer's echoes (-1 after a failed change) */
    int cpus[4], ncpus;
    char pin_text[96];
    /* processes to stop from a signal handler */
    volatile pid_t kids[4]; /* KID_* */
    volatile pid_t brokers[MAX_TARGETS];
    volatile pid_t placed[MAX_TARGETS]; /* brokers whose CPU mask was changed */
    char rt_skipped[400]; /* --broker-rt twins not measured, and why; "" none */
};

/* ---- opts.c: the command line ------------------------------------------------ */

/* Fills b->o and the targets; prints and exits on a usage error (2) and on
 * --help / --version (0). */
void parse_args(struct bench *b, int argc, char **argv);

/* ---- run.c: results, failed targets, pauses, time estimates ------------------ */

struct result *res_new(struct bench *b, enum section sec, const char *test, int target);
void res_fail(struct bench *b, struct result *r, const char *why);
/* A target that stopped answering is not waited for again. */
void mark_dead(struct target *t, const char *why);
/* Sleeps while keeping connections alive. */
void nap(int ms);
/* Seconds a round trip / the set-up of clients is expected to take. */
double est_rtt_s(size_t payload);
double est_setup_s(size_t clients);
/* Seconds the selected sections are expected to take. */
double estimate_seconds(const struct bench *b);

/* ---- procs.c: the forked children, signals, --hook --------------------------- */

/* SIGPIPE ignored; SIGINT, SIGTERM and SIGALRM (the watchdog) stop every
 * child and spawned broker and exit. */
void signals_install(struct bench *b);
void child_signals_default(void);
/* Restores placed brokers' CPU masks, kills the children, stops the spawned
 * brokers, removes the temporary directory (async-signal-safe). */
void stop_everything_now(struct bench *b);
void remove_tmpdir(const struct bench *b);
/* Forks a child connected by a socketpair: returns its pid in the parent,
 * 0 in the child, -1 on failure. *parent_fd: this side's end. */
pid_t fork_child(struct bench *b, int *parent_fd, int slot);
/* Asks the child to quit, waits (bounded), kills it if it does not. */
void reap_child(struct bench *b, pid_t *pid, struct ctl *k, int slot);
/* In a forked child: the targets' addresses to hand to its main function,
 * "" for a failed target and for one not in in[] (NULL: every target). */
char (*child_addrs(const struct bench *b, const int *in))[ADDR_CAP];
/* Forks the peer (B). Returns 0 or -1. */
int peer_start(struct bench *b);
/* Forks the load process (L) unless it runs. Returns 0 or -1. */
int load_start(struct bench *b);
/* --hook: runs the command around a measurement block on target t. */
void hook(struct bench *b, const char *event, const struct target *t);

/* ---- targets.c: spawned brokers and the bench's connections to targets ------- */

/* Starts every --spawn broker (one that does not start fails its own
 * target). A --broker-rt twin whose broker refuses its realtime options
 * (exit status 2: not permitted here) is removed from the targets and
 * noted in rt_skipped instead. Returns 0, or -1 when no temporary
 * directory could be made. */
int targets_spawn(struct bench *b);
/* Connects A and the peer to every target that did not fail and finds the
 * broker processes. Returns the number of targets that answer. */
int targets_connect(struct bench *b);
/* Restores brokers' CPU masks, counts malformed frames, closes A's
 * connections. */
void targets_close(struct bench *b);
/* Stops the spawned brokers; removes the temporary directory. */
void targets_stop(struct bench *b);

/* ---- rtt.c: round trips through a broker and over the floor ------------------ */

/* One block of round trips A -> broker -> B -> broker -> A through target
 * t. op/dest: a message to B, or a publication / broadcast B receives; B
 * answers every one with a message. The first `warm` are not recorded.
 * Returns 0, or -1 (why set; the target is marked failed). */
int rtt_bus(struct bench *b, struct target *t, uint8_t op, const char *dest, uint8_t qos,
            size_t payload, size_t warm, size_t n, struct samples *out, uint64_t *errors,
            char *why, size_t whylen);
/* The floor: the same ping-pong over the socketpair between the same two
 * processes, frames of frame_len bytes. */
int rtt_floor(struct bench *b, size_t frame_len, size_t warm, size_t n, struct samples *out,
              uint64_t *errors, char *why, size_t whylen);
/* The p50 (us) of the samples from index `from` on. */
double block_p50(const struct samples *s, size_t from);
/* Sorts s; n and the percentiles (us) into r when there are samples. */
void fill_pcts(struct result *r, struct samples *s);
/* fill_pcts, the mean and the spread of the repeats' p50; fails r without
 * samples. */
void fill_lat(struct bench *b, struct result *r, struct samples *s, const double *rep,
              size_t nrep);
/* Sets the QoS of the peer's echoes. Returns 0 or -1. */
int set_echo_qos(struct bench *b, int q);
/* The same, only when q is not already in force. */
int echo_qos(struct bench *b, int q);

/* ---- latency.c: latency idle and under load ---------------------------------- */

void phase_latency(struct bench *b, int loaded);

/* ---- place.c: CPU placement ----------------------------------------------------- */

/* The --pin policy in words. */
const char *pin_name(struct bench *b);
/* Applies the --pin policy to this process, the peer and every broker whose
 * process is known (restores the original masks for --pin none). */
void apply_pin(struct bench *b);
void phase_placement(struct bench *b);

/* ---- tput.c: throughput and fan-out --------------------------------------------- */

struct tspec {
    const char *name;
    int mode; /* enum recv_mode */
    uint8_t qos;
    size_t payload;
    int nsenders;
    int nsubs;
};

struct trun {
    double rate;
    uint64_t sent, received, errors;
    int ok;
    char note[200];
};

/* One flow-controlled run of `duration` seconds on target tidx (-1: the
 * floor). */
void tput_run(struct bench *b, int tidx, const struct tspec *sp, double duration,
              struct trun *out);
/* Median of repeated runs into a result. */
void fill_rate(struct bench *b, struct result *r, const struct trun *runs, int n);
/* The throughput (SEC_TPUT) or fan-out (SEC_FANOUT) section. */
void phase_rates(struct bench *b, enum section sec);
/* Every target's 1->1 rate for the background load, measured when the
 * throughput section did not run. */
void ensure_capacity(struct bench *b);

/* ---- scale.c ------------------------------------------------------------------- */

void phase_scale(struct bench *b);

/* ---- sysinfo.c: the machine during the run ----------------------------------- */

struct machine_mark {
    unsigned long long busy, total; /* /proc/stat CPU ticks */
    int64_t start;
    double own; /* CPU seconds of this process and its children */
};

/* The machine's description and load at the start of the run. */
void machine_start(struct machine *m, struct machine_mark *k);
/* Its load over the run, from the mark taken at the start. */
void machine_end(struct machine *m, const struct machine_mark *k);

/* ---- inproc.c: busrt-bench --inproc ------------------------------------------- */

/* An embedded broker's in-process clients beside its UNIX socket and the
 * floor (argv[0] is "--inproc"). Returns the exit status. */
int bench_inproc(int argc, char **argv);

#endif
