/* Soak test of busrtd: one process drives N non-blocking client connections
 * with poll() against a broker started through wire.c (BUSRTD,
 * BUSRTD_WRAPPER), for a given duration, and checks that nothing is lost,
 * duplicated or reordered for the well-behaved clients while other clients
 * misbehave. See README.md in this directory for the roles and the checks.
 *
 *   soak [--duration S] [--clients N] [--rate R] [--busy-rate R] [--seed N]
 *        [--queue-size Q] [--warmup S] [--drain S] [--label TEXT]
 *        [--keep-log FILE] [--verbose]
 *
 * Output: progress lines, one "soak: ..." summary line, one line per check
 * ("PASS name" / "FAIL name: why"), and "soak: N passed, M failed". Exit
 * status 0 when every check passed. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "busrt/frame.h"
#include "busrt/le.h"
#include "wire.h"
#include "../../src/common/procinfo.h"

/* ---- options -------------------------------------------------------------- */

static struct {
    double duration;  /* seconds of load */
    int clients;      /* connections at the start (churner secondaries come on top) */
    double rate;      /* operations per second per well-behaved client */
    double busy_rate; /* publications per second per busy publisher */
    unsigned long seed;
    int queue_size; /* the broker's --queue-size */
    double warmup;  /* when the "start" figures are taken */
    double drain;   /* longest wait for frames in flight after the load */
    const char *label;
    const char *keep_log;
    int verbose;
    const char *alloc_count; /* the interposer's count file (make soak-alloc) */
    long alloc_max;          /* most allocator calls allowed; -1: report only */
    int hostile;             /* flooders and announcers on top (make soak-memory) */
    double flood_rate;       /* frames per second per flooder */
    long memory_limit;       /* the broker's --memory-limit, for the memory check */
} O = {60.0, 200, 4.0, 80.0, 1, 1024, -1.0, -1.0, "soak", NULL, 0, NULL, -1, 0, 10.0, 0};

#define PAYLOAD_LIMIT 65536u /* the broker's --payload-size-limit (--hostile: 16 MiB) */
#define HOSTILE_PAYLOAD_LIMIT (16u << 20)
#define ANN_NAME_LEN 30000u /* bytes of an announcer's name */
#define BUSY_PAYLOAD 1024u
#define HDR_LEN 28u /* our payload header, see put_payload */
#define MAX_INBUF (8u * 1024u * 1024u)

static int g_valgrind; /* broker under valgrind: scale waits */
static uint32_t g_payload_limit = PAYLOAD_LIMIT;

/* ---- time, randomness ---------------------------------------------------- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + (int64_t)(ts.tv_nsec / 1000);
}

static int64_t T0; /* start of the load phase */

static double secs(int64_t t)
{
    return (double)(t - T0) / 1e6;
}

static uint64_t g_rng;

static uint64_t rnd64(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return n == 0u ? 0u : (uint32_t)(rnd64() % n);
}

/* A duration in microseconds, uniformly in [lo_ms, hi_ms). */
static int64_t rnd_ms(int lo_ms, int hi_ms)
{
    return ((int64_t)lo_ms + (int64_t)rnd_below((uint32_t)(hi_ms - lo_ms))) * 1000;
}

static int64_t scaled_us(double s)
{
    return (int64_t)(s * 1e6) * (g_valgrind ? 5 : 1);
}

/* ---- violations -------------------------------------------------------------- */

static unsigned long g_nviol;

static void viol(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void viol(const char *fmt, ...)
{
    g_nviol++;
    if (g_nviol > 40u) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak: VIOLATION at %.3f s: ", T0 != 0 ? secs(now_us()) : 0.0);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- population --------------------------------------------------------------- */

enum role { R_W, R_CHURN, R_SEC, R_SLOW, R_MAL, R_HOST };

static int NW, NCH, NSL, NMA, NBUSY, G, NHF, NHA;

/* Stream kinds: the third byte of every payload we send. */
enum kind {
    K_PUB = 1,  /* W publication on its own topic */
    K_MSG,      /* W -> W message */
    K_BCAST,    /* W broadcast to one group */
    K_PFOR,     /* W publish-for to one W */
    K_BUSY,     /* busy-topic publication */
    K_CPUB,     /* churner publication */
    K_CMSG,     /* churner -> W message */
    K_CBCAST,   /* churner broadcast to every churner */
    K_TOCHURN,  /* W -> churner message */
    K_TOSLOW,   /* W -> slow consumer message */
    K_RPC,      /* W -> .broker RPC call */
    K_NKINDS
};
#define NK 6 /* per-sender stream slots at a W receiver: kinds 1..5 */

static const char *const kind_name[K_NKINDS] = {
    "?", "publish", "message", "broadcast", "publish-for", "busy publish", "churner publish",
    "churner message", "churner broadcast", "message to churner", "message to slow consumer",
    "RPC call"};

/* Names. */
static char (*wname)[32];
static char (*chname)[32];
static char (*secname)[32];
static char (*slname)[32];
static char (*maname)[32];
static char **hname; /* --hostile: flooders, then announcers */

static int w_group(int i)
{
    return i % G;
}

/* Members of group g: g, g + G, g + 2G, ... below NW. */
static int group_size(int g)
{
    return (NW - g + G - 1) / G;
}

static int group_member(int g, int k)
{
    return g + G * (k % group_size(g));
}

/* ---- connections --------------------------------------------------------------- */

enum cstate {
    CS_IDLE,      /* no socket; t_next says when to connect */
    CS_HS_GREET,  /* waiting for the broker's greeting */
    CS_HS_OK,     /* waiting for the reply to our greeting */
    CS_HS_NAME,   /* waiting for the reply to our name */
    CS_REFUSED,   /* the broker refused; waiting for EOF */
    CS_REG,       /* registered; frames flow */
};

struct ackent {
    uint32_t id;
    uint8_t allow; /* bit set of accepted codes, see ACK_* */
    uint8_t what;  /* enum kind, or one of the W_* setup tags */
};
#define ACK_OK 1u
#define ACK_NOTREG 2u
#define ACK_NOTDELIV 4u
#define ACK_OTHER 8u /* 74 */
#define WHAT_SETUP 100u
#define WHAT_PROBE 101u
#define WHAT_CHURN 102u /* a churner's subscribe-family frame */

struct conn {
    int fd;
    enum role role;
    int idx;
    enum cstate st;
    int phase;
    const char *name;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    int broken; /* a write failed with EPIPE/ECONNRESET */
    struct ackent *acks;
    size_t ack_head, ack_n, ack_cap;
    uint32_t next_op;
    int64_t last_tx;
    int64_t t_next;     /* role timer */
    int64_t t_deadline; /* role deadline */
    int pidx;           /* index in the pollfd array, -1 when not polled */
    void *rs;           /* role state */
};

static struct conn *conns;
static size_t nconns;
static struct wc_broker g_b;
static int g_running;  /* load phase: new work may start */
static int g_stopping; /* after the load: wind down */

/* ---- statistics --------------------------------------------------------------- */

static struct {
    uint64_t sent[K_NKINDS];
    uint64_t sent_qos[4];
    uint64_t recv[K_NKINDS];
    uint64_t recv_bytes;
    uint64_t lost, dup, order, misrouted, corrupt;
    uint64_t acks[256];
    uint64_t ack_viol;
    uint64_t rpc_ok;
    uint64_t rpc_method[4]; /* test, info, stats, client.list calls sent */
    uint64_t announcements; /* .broker/info publications received */
    uint64_t sub_churn;     /* churners' subscribe-family frames */
    uint64_t churn_cycles, churn_viol, churn_busy, churn_half_frames, churn_recv;
    uint64_t sec_opened, sec_closed;
    uint64_t slow_cycles, slow_drops, slow_closed_by_us;
    double slow_drop_time;
    uint64_t mal_cycles, mal_ok, mal_viol, mal_probe_acks_before_eof;
    uint64_t mal_class[16];
    uint64_t hs_refusals;
    uint64_t connect_retries;
    uint64_t w_lost_conn;
    uint64_t flood_frames, flood_bytes, flood_74, host_cycles, host_closed, host_refused;
} S;

/* ---- payloads --------------------------------------------------------------- */

static uint8_t filler(uint32_t seq, size_t j, uint8_t kind)
{
    return (uint8_t)(seq * 131u + (uint32_t)j * 7u + kind);
}

/* Payload: 'K' role kind 0 | idx u32 | gen u32 | seq u32 | global u64 |
 * target u32 | filler bytes up to len (len >= HDR_LEN). */
static void put_payload(uint8_t *p, size_t len, uint8_t role, uint8_t kind, uint32_t idx,
                        uint32_t gen, uint32_t seq, uint64_t global, uint32_t target)
{
    p[0] = 'K';
    p[1] = role;
    p[2] = kind;
    p[3] = 0;
    busrt_put_le32(p + 4, idx);
    busrt_put_le32(p + 8, gen);
    busrt_put_le32(p + 12, seq);
    busrt_put_le32(p + 16, (uint32_t)global);
    busrt_put_le32(p + 20, (uint32_t)(global >> 32));
    busrt_put_le32(p + 24, target);
    for (size_t j = HDR_LEN; j < len; j++) {
        p[j] = filler(seq, j, kind);
    }
}

struct pl {
    uint8_t role, kind;
    uint32_t idx, gen, seq, target;
    uint64_t global;
};

/* Returns 0 when p is one of our payloads with intact filler. */
static int get_payload(const uint8_t *p, size_t len, struct pl *o)
{
    if (len < HDR_LEN || p[0] != 'K') {
        return -1;
    }
    o->role = p[1];
    o->kind = p[2];
    o->idx = busrt_get_le32(p + 4);
    o->gen = busrt_get_le32(p + 8);
    o->seq = busrt_get_le32(p + 12);
    o->global = (uint64_t)busrt_get_le32(p + 16) | ((uint64_t)busrt_get_le32(p + 20) << 32);
    o->target = busrt_get_le32(p + 24);
    if (o->kind == 0u || o->kind >= K_NKINDS) {
        return -1;
    }
    for (size_t j = HDR_LEN; j < len; j++) {
        if (p[j] != filler(o->seq, j, o->kind)) {
            return -1;
        }
    }
    return 0;
}

static size_t small_len(void)
{
    return HDR_LEN + rnd_below(200);
}

/* ---- role state ----------------------------------------------------------------- */

struct wst {
    /* routing (see README.md) */
    int a, c, x, y, b, pf;
    uint32_t targets[4];
    int busy_pub, busy_reader, churn_watcher;
    int ready; /* subscriptions acknowledged */
    /* sender side */
    uint64_t global;
    uint32_t pub_seq, bcast_seq, pfor_seq, busy_seq;
    uint32_t *msg_seq;     /* [NW] */
    uint32_t *tochurn_seq; /* [NCH] */
    int64_t t_busy;
    uint32_t rpc_next;
    uint32_t rpc_pending[8];
    uint8_t rpc_test[8]; /* the call was "test": its reply is known byte for byte */
    int rpc_n;
    /* receiver side */
    uint32_t *last;  /* [NW * NK] highest in-order seq per sender and kind */
    uint64_t *glast; /* [NW] highest global counter seen per sender */
    uint32_t *cgp, *cp, *cgm, *cm; /* [NCH] churner publication/message gen and seq */
};

/* Receive state of a churner connection (primary or secondary). */
struct crx {
    uint32_t *wpub; /* [NW] last publication seq from each W (0: none yet) */
    uint32_t *wmsg; /* [NW] last message seq from each W */
    uint32_t *bgen, *bseq; /* [NCH] broadcasts from each churner */
};

enum { CH_HS, CH_SUB, CH_ACTIVE, CH_WAIT_SEC };
enum { SEC_NONE, SEC_HS, SEC_SUB, SEC_ACTIVE, SEC_EXPECT_EOF };

struct cst {
    uint32_t gen;
    uint64_t global;
    uint32_t pub_seq, bcast_seq;
    uint32_t *msg_seq; /* [NW] */
    int k;             /* W group whose publications it follows */
    struct crx rx;
    struct conn *sec;
    int sec_phase;
    struct crx srx;
    int64_t t_active_end;
    uint64_t registered, sec_registered, sec_closed;
};

enum { SL_SUB, SL_SILENT };
struct slst {
    int64_t silent_since;
    uint64_t registered, drops;
    int closed_in_handshake; /* closed by us before the reply to its name came */
};

/* Malformed-frame classes. Classes below MAL_HS are sent after registration
 * and close a registered client (reason logged); the others are handshake
 * errors. */
#define MAL_NCLASS 10
#define MAL_HS 8
static const struct {
    const char *what;
    const char *reason; /* the broker's "disconnected:" reason */
} mal_class[MAL_NCLASS] = {
    {"unknown operation code", "invalid frame header"},
    {"publish body without NUL", "malformed frame body"},
    {"message target not UTF-8", "invalid UTF-8"},
    {"body length over --payload-size-limit", "frame too large"},
    {"publish-for body with one NUL", "malformed frame body"},
    {"subscribe pattern not UTF-8", "invalid UTF-8"},
    {"op 0 with QoS 1, body without NUL", "malformed frame body"},
    {"broadcast mask with truncated UTF-8", "invalid UTF-8"},
    {"greeting with protocol version 2", NULL},
    {"name not UTF-8", NULL},
};
#define MAL_CLOSED 99 /* we closed it ourselves */

enum { M_PROBE_WAIT, M_EXPECT_EOF, M_DONE };
struct mast {
    int cls;
    int combined; /* probe and malformed frame in one write */
    uint32_t probe_id;
    int probe_acked;
    int *expect; /* reasons the log must show, in order: class or MAL_CLOSED */
    size_t nexpect, capexpect;
};

/* ---- connection I/O ---------------------------------------------------------------- */

static void grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return;
    }
    size_t n = *cap == 0 ? 4096u : *cap;
    while (n < need) {
        n *= 2u;
    }
    uint8_t *p = realloc(*buf, n);
    if (p == NULL) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    *buf = p;
    *cap = n;
}

static void conn_flush(struct conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t w = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        c->broken = 1; /* EPIPE, ECONNRESET: the read side sees EOF next */
        c->out_len = 0;
        return;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
}

static void conn_write(struct conn *c, const void *p, size_t n)
{
    if (c->fd < 0 || c->broken) {
        return;
    }
    grow(&c->out, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    c->last_tx = now_us();
    conn_flush(c);
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->st = CS_IDLE;
    c->in_len = 0;
    c->out_len = 0;
    c->broken = 0;
    c->ack_n = 0;
    c->ack_head = 0;
}

/* Starts a connection (non-blocking). Returns 0, or -1 to retry later. */
static int conn_open(struct conn *c)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, g_b.sock, strlen(g_b.sock) + 1u);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        S.connect_retries++;
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        S.connect_retries++;
        return -1;
    }
    c->fd = fd;
    c->st = CS_HS_GREET;
    c->in_len = c->out_len = 0;
    c->broken = 0;
    c->ack_n = c->ack_head = 0;
    c->next_op = 0;
    c->last_tx = now_us();
    return 0;
}

static void ack_push(struct conn *c, uint32_t id, uint8_t allow, uint8_t what)
{
    if (c->ack_n == c->ack_cap) {
        size_t ncap = c->ack_cap == 0 ? 64u : c->ack_cap * 2u;
        struct ackent *n = malloc(ncap * sizeof *n);
        if (n == NULL) {
            exit(2);
        }
        for (size_t i = 0; i < c->ack_n; i++) {
            n[i] = c->acks[(c->ack_head + i) % c->ack_cap];
        }
        free(c->acks);
        c->acks = n;
        c->ack_cap = ncap;
        c->ack_head = 0;
    }
    c->acks[(c->ack_head + c->ack_n) % c->ack_cap] = (struct ackent){id, allow, what};
    c->ack_n++;
}

/* Sends a frame: body = part1 NUL [part2 NUL] payload (parts may be NULL:
 * then the body is the payload alone). Returns the op id. */
static uint32_t send_frame(struct conn *c, uint8_t op, uint8_t qos, const char *p1,
                           const char *p2, const uint8_t *pl, size_t plen, uint8_t allow,
                           uint8_t what)
{
    size_t l1 = p1 != NULL ? strlen(p1) + 1u : 0u;
    size_t l2 = p2 != NULL ? strlen(p2) + 1u : 0u;
    size_t blen = l1 + l2 + plen;
    uint8_t stackbuf[2048];
    uint8_t *buf = blen + 9u <= sizeof stackbuf ? stackbuf : malloc(blen + 9u);
    if (buf == NULL) {
        exit(2);
    }
    struct busrt_client_header h;
    h.op_id = ++c->next_op;
    h.op = op;
    h.qos = qos;
    h.body_len = (uint32_t)blen;
    (void)busrt_client_header_encode(&h, buf, 9);
    size_t o = 9;
    if (p1 != NULL) {
        memcpy(buf + o, p1, l1); /* includes the NUL */
        o += l1;
    }
    if (p2 != NULL) {
        memcpy(buf + o, p2, l2);
        o += l2;
    }
    if (plen > 0) {
        memcpy(buf + o, pl, plen);
    }
    if ((qos & 1u) != 0u) {
        ack_push(c, h.op_id, allow, what);
    }
    conn_write(c, buf, 9u + blen);
    if (buf != stackbuf) {
        free(buf);
    }
    return h.op_id;
}

/* Subscribe-family frame: patterns joined by NUL. */
static void send_topics(struct conn *c, uint8_t op, uint8_t qos, const char *const *t,
                        size_t n, uint8_t what)
{
    uint8_t body[1024];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(t[i]);
        if (i > 0) {
            body[o++] = 0;
        }
        memcpy(body + o, t[i], k);
        o += k;
    }
    (void)send_frame(c, op, qos, NULL, NULL, body, o, ACK_OK, what);
}

static void send_ping(struct conn *c)
{
    static const uint8_t z[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    conn_write(c, z, 9);
}

static void send_name(struct conn *c, const uint8_t *name, size_t len)
{
    uint8_t buf[2];
    (void)busrt_name_len_encode(len, buf, 2);
    conn_write(c, buf, 2u);
    conn_write(c, name, len);
}

static uint8_t rnd_qos(void)
{
    uint8_t q = (uint8_t)rnd_below(4);
    S.sent_qos[q]++;
    return q;
}

/* ---- per-role callbacks (declared here, defined below) -------------------------- */

static void on_registered(struct conn *c);
static void on_refused(struct conn *c, int code);
static void host_on_registered(struct conn *c);
static void host_on_eof(struct conn *c);
static void host_tick(struct conn *c, int64_t now);
static void on_ack(struct conn *c, uint32_t id, uint8_t code);
static void on_frame(struct conn *c, uint8_t kind, const uint8_t *body, size_t len);
static void on_eof(struct conn *c, int partial);

/* Handles an ACK against the connection's FIFO of expected ACKs. Returns the
 * entry's what tag, or 0 on a violation. */
static uint8_t ack_check(struct conn *c, uint32_t id, uint8_t code)
{
    S.acks[code]++;
    if (c->ack_n == 0) {
        S.ack_viol++;
        viol("%s: ACK id %u code 0x%02x, none expected", c->name, id, code);
        return 0;
    }
    struct ackent e = c->acks[c->ack_head];
    c->ack_head = (c->ack_head + 1u) % c->ack_cap;
    c->ack_n--;
    if (e.id != id) {
        S.ack_viol++;
        viol("%s: ACK id %u arrived where id %u was next (ACK order)", c->name, id, e.id);
        return 0;
    }
    uint8_t bit = code == BUSRT_RC_OK            ? ACK_OK
                  : code == BUSRT_RC_NOT_REGISTERED ? ACK_NOTREG
                  : code == BUSRT_RC_NOT_DELIVERED  ? ACK_NOTDELIV
                  : code == BUSRT_RC_OTHER          ? ACK_OTHER
                                                    : 0u;
    if ((bit & e.allow) == 0u) {
        S.ack_viol++;
        viol("%s: ACK id %u code 0x%02x not acceptable for a %s", c->name, id, code,
             e.what < K_NKINDS ? kind_name[e.what] : "setup frame");
        return 0;
    }
    return e.what;
}

/* Parses the input buffer. */
static void parse_input(struct conn *c)
{
    size_t pos = 0;
    while (c->fd >= 0) {
        size_t avail = c->in_len - pos;
        const uint8_t *p = c->in + pos;
        if (c->st == CS_HS_GREET) {
            if (avail < 3) {
                break;
            }
            if (busrt_greeting_decode(p, 3) != 3) {
                viol("%s: broker greeting %02x %02x %02x", c->name, p[0], p[1], p[2]);
            }
            pos += 3;
            if (c->role == R_MAL && ((struct mast *)c->rs)->cls == 8) {
                static const uint8_t bad[3] = {0xEB, 0x02, 0x00};
                conn_write(c, bad, 3);
            } else {
                conn_write(c, p, 3);
            }
            c->st = CS_HS_OK;
            continue;
        }
        if (c->st == CS_HS_OK || c->st == CS_HS_NAME) {
            if (avail < 1) {
                break;
            }
            uint8_t code = p[0];
            pos += 1;
            if (code != BUSRT_RC_OK) {
                c->st = CS_REFUSED;
                on_refused(c, code);
                continue;
            }
            if (c->st == CS_HS_OK) {
                c->st = CS_HS_NAME;
                if (c->role == R_MAL && ((struct mast *)c->rs)->cls == 9) {
                    uint8_t bad[48];
                    size_t n = strlen(c->name);
                    memcpy(bad, c->name, n);
                    bad[n] = 0xC0; /* overlong '/' */
                    bad[n + 1u] = 0xAF;
                    send_name(c, bad, n + 2u);
                } else {
                    send_name(c, (const uint8_t *)c->name, strlen(c->name));
                }
            } else {
                c->st = CS_REG;
                on_registered(c);
            }
            continue;
        }
        if (c->st == CS_REFUSED) {
            if (avail > 0) {
                viol("%s: %zu bytes after a refusal code", c->name, avail);
                pos += avail;
            }
            break;
        }
        /* CS_REG: ACK, NOP, or delivered frame. */
        if (avail < 6) {
            break;
        }
        if (p[0] == BUSRT_ACK_MARKER) {
            struct busrt_ack a;
            (void)busrt_ack_decode(p, 6, &a);
            pos += 6;
            on_ack(c, a.op_id, a.code);
            continue;
        }
        struct busrt_frame_header h;
        if (busrt_frame_header_decode(p, 6, MAX_INBUF, &h) != 6) {
            viol("%s: bad frame header %02x %02x %02x %02x %02x %02x", c->name, p[0], p[1],
                 p[2], p[3], p[4], p[5]);
            S.corrupt++;
            pos = c->in_len;
            conn_close(c);
            break;
        }
        if (h.kind == BUSRT_KIND_NOP) {
            static const uint8_t zero[6] = {0, 0, 0, 0, 0, 0};
            if (memcmp(p, zero, 6) != 0) {
                viol("%s: NOP with non-zero bytes", c->name);
            }
            pos += 6;
            continue;
        }
        if (avail < 6u + h.body_len) {
            grow(&c->in, &c->in_cap, c->in_len + (6u + h.body_len - avail));
            p = c->in + pos;
            break;
        }
        pos += 6u + h.body_len;
        S.recv_bytes += 6u + h.body_len;
        on_frame(c, h.kind, p + 6, h.body_len);
    }
    if (c->fd >= 0 && pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

/* Reads what is there (bounded per call), parses, handles EOF. */
static void conn_read(struct conn *c)
{
    size_t budget = 1u << 20;
    while (c->fd >= 0 && budget > 0) {
        grow(&c->in, &c->in_cap, c->in_len + 65536u);
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r > 0) {
            c->in_len += (size_t)r;
            budget = (size_t)r >= budget ? 0u : budget - (size_t)r;
            parse_input(c);
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        /* EOF or ECONNRESET */
        int partial = c->in_len > 0;
        on_eof(c, partial);
        return;
    }
}

/* ---- well-behaved clients ------------------------------------------------------- */

static struct wst *W(struct conn *c)
{
    return c->rs;
}

static void w_topic(char *out, size_t cap, int s)
{
    snprintf(out, cap, "soak/pub/g%d/%d", w_group(s), s);
}

static void w_init_routing(int r, struct wst *w)
{
    int gr = w_group(r);
    w->a = (gr + 1) % G;
    w->c = (gr + 2) % G;
    w->x = group_member(w->a, r / G + 1);
    w->y = group_member(w->c, r / G + 2);
    w->b = (gr + 3) % G;
    w->pf = (r * 5 + 3) % NW;
    for (uint32_t k = 0; k < 4u; k++) {
        w->targets[k] = (uint32_t)((r * 7 + (int)k * 13 + 1) % NW);
    }
    w->busy_pub = r < NBUSY;
    w->busy_reader = r >= NW - (NW / 20 > 2 ? NW / 20 : 2);
    w->churn_watcher = r % 10 == 3;
}

/* Is W receiver r entitled to sender s's stream of this kind? */
static int w_entitled(int r, int s, int kind)
{
    const struct wst *rw = conns[r].rs;
    const struct wst *sw = conns[s].rs;
    switch (kind) {
    case K_PUB: {
        int gs = w_group(s);
        return (gs == rw->a || gs == rw->c) && s != rw->y;
    }
    case K_BCAST: return w_group(r) == sw->b;
    case K_PFOR: return sw->pf == r;
    case K_BUSY: return sw->busy_pub && rw->busy_reader;
    case K_MSG: return 1; /* the count says how many were addressed to r */
    default: return 0;
    }
}

/* What sender s has sent to receiver r in stream kind. */
static uint32_t w_expected(int r, int s, int kind)
{
    const struct wst *sw = conns[s].rs;
    if (!w_entitled(r, s, kind)) {
        return 0;
    }
    switch (kind) {
    case K_PUB: return sw->pub_seq;
    case K_BCAST: return sw->bcast_seq;
    case K_PFOR: return sw->pfor_seq;
    case K_BUSY: return sw->busy_seq;
    default: return sw->msg_seq[r];
    }
}

static void w_on_registered(struct conn *c)
{
    struct wst *w = W(c);
    char t1[64], t2[64], t3[64], t4[64];
    snprintf(t1, sizeof t1, "soak/pub/g%d/+", w->a);
    snprintf(t2, sizeof t2, "soak/pub/g%d/%d", w->a, w->x); /* matches t1 too */
    snprintf(t3, sizeof t3, "soak/pub/g%d/#", w->c);
    const char *subs[7] = {t1, t2, t3, "soak/pf/+", NULL, NULL, NULL};
    size_t n = 4;
    if (w->busy_reader) {
        subs[n++] = "soak/busy";
    }
    if (w->churn_watcher) {
        subs[n++] = "soak/churn/#";
        subs[n++] = ".broker/info"; /* the reg/unreg announcements */
    }
    send_topics(c, BUSRT_OP_SUBSCRIBE, BUSRT_QOS_PROCESSED, subs, n, WHAT_SETUP);
    snprintf(t4, sizeof t4, "soak/pub/g%d/%d", w->c, w->y);
    const char *ex[1] = {t4};
    send_topics(c, BUSRT_OP_EXCLUDE, BUSRT_QOS_PROCESSED, ex, 1, WHAT_SETUP);
}

static void w_send_op(struct conn *c)
{
    struct wst *w = W(c);
    int s = c->idx;
    uint8_t pl[256];
    size_t len = small_len();
    uint8_t qos = rnd_qos();
    uint32_t r = rnd_below(100);
    char topic[64];
    if (r < 40) {
        w_topic(topic, sizeof topic, s);
        put_payload(pl, len, R_W, K_PUB, (uint32_t)s, 0, ++w->pub_seq, ++w->global, 0);
        send_frame(c, BUSRT_OP_PUBLISH, qos, topic, NULL, pl, len, ACK_OK, K_PUB);
        S.sent[K_PUB]++;
    } else if (r < 65) {
        uint32_t t = w->targets[rnd_below(4)];
        put_payload(pl, len, R_W, K_MSG, (uint32_t)s, 0, ++w->msg_seq[t], ++w->global, t);
        send_frame(c, BUSRT_OP_MESSAGE, qos, wname[t], NULL, pl, len, ACK_OK, K_MSG);
        S.sent[K_MSG]++;
    } else if (r < 70 && NCH > 0) {
        uint32_t t = rnd_below((uint32_t)NCH);
        put_payload(pl, len, R_W, K_TOCHURN, (uint32_t)s, 0, ++w->tochurn_seq[t], ++w->global,
                    t);
        send_frame(c, BUSRT_OP_MESSAGE, qos, chname[t], NULL, pl, len, ACK_OK | ACK_NOTREG,
                   K_TOCHURN);
        S.sent[K_TOCHURN]++;
    } else if (r < 72 && NSL > 0) {
        uint32_t t = rnd_below((uint32_t)NSL);
        put_payload(pl, len, R_W, K_TOSLOW, (uint32_t)s, 0, 0, ++w->global, t);
        send_frame(c, BUSRT_OP_MESSAGE, (uint8_t)(qos | 1u), slname[t], NULL, pl, len,
                   ACK_OK | ACK_NOTREG | ACK_NOTDELIV, K_TOSLOW);
        S.sent[K_TOSLOW]++;
    } else if (r < 87) {
        char mask[32];
        snprintf(mask, sizeof mask, "soak.w.g%d.*", w->b);
        put_payload(pl, len, R_W, K_BCAST, (uint32_t)s, 0, ++w->bcast_seq, ++w->global, 0);
        send_frame(c, BUSRT_OP_BROADCAST, qos, mask, NULL, pl, len, ACK_OK, K_BCAST);
        S.sent[K_BCAST]++;
    } else if (r < 97 || w->rpc_n >= 8) {
        snprintf(topic, sizeof topic, "soak/pf/%d", s);
        put_payload(pl, len, R_W, K_PFOR, (uint32_t)s, 0, ++w->pfor_seq, ++w->global,
                    (uint32_t)w->pf);
        send_frame(c, BUSRT_OP_PUBLISH_FOR, qos, topic, wname[w->pf], pl, len, ACK_OK, K_PFOR);
        S.sent[K_PFOR]++;
    } else {
        /* RPC call to .broker: 01, call id, method, NUL (no params). Mostly
         * "test"; the other core methods too (client.list without a
         * filter). */
        static const char *const method[8] = {"test", "test", "test", "test",
                                               "info", "stats", "stats", "client.list"};
        uint32_t m = rnd_below(8);
        size_t ml = strlen(method[m]) + 1u;
        uint32_t id = ++w->rpc_next;
        uint8_t req[24];
        req[0] = BUSRT_RPC_REQUEST;
        busrt_put_le32(req + 1, id);
        memcpy(req + 5, method[m], ml);
        send_frame(c, BUSRT_OP_MESSAGE, qos, ".broker", NULL, req, 5u + ml, ACK_OK, K_RPC);
        w->rpc_test[w->rpc_n] = m < 4u;
        w->rpc_pending[w->rpc_n++] = id;
        S.sent[K_RPC]++;
        S.rpc_method[m < 4u ? 0 : m == 4u ? 1 : m == 7u ? 3 : 2]++;
    }
}

static void w_send_busy(struct conn *c)
{
    struct wst *w = W(c);
    uint8_t pl[BUSY_PAYLOAD];
    put_payload(pl, sizeof pl, R_W, K_BUSY, (uint32_t)c->idx, 0, ++w->busy_seq, ++w->global, 0);
    /* QoS 0 or 2 mostly: the busy stream is about volume */
    uint8_t qos = rnd_below(8) == 0 ? 1u : (uint8_t)(rnd_below(2) * 2u);
    S.sent_qos[qos]++;
    send_frame(c, BUSRT_OP_PUBLISH, qos, "soak/busy", NULL, pl, sizeof pl, ACK_OK, K_BUSY);
    S.sent[K_BUSY]++;
}

static void w_tick(struct conn *c, int64_t now)
{
    struct wst *w = W(c);
    if (c->st != CS_REG || !w->ready) {
        return;
    }
    if (g_running) {
        int64_t iv = (int64_t)(1e6 / O.rate);
        int n = 0;
        while (now >= c->t_next && n++ < 4) {
            w_send_op(c);
            c->t_next += iv / 2 + (int64_t)rnd_below((uint32_t)iv); /* mean iv */
        }
        if (now - c->t_next > 1000000) {
            c->t_next = now;
        }
        if (w->busy_pub) {
            int64_t biv = (int64_t)(1e6 / O.busy_rate);
            n = 0;
            while (now >= w->t_busy && n++ < 8) {
                w_send_busy(c);
                w->t_busy += biv;
            }
            if (now - w->t_busy > 1000000) {
                w->t_busy = now;
            }
        }
    }
    if (now - c->last_tx >= 1000000) {
        send_ping(c);
    }
}

/* A stream frame at W receiver r from W sender s. */
static void w_rx_stream(struct conn *c, const struct pl *p, uint8_t fkind, const char *topic,
                        size_t tlen)
{
    int r = c->idx;
    struct wst *rw = W(c);
    int s = (int)p->idx;
    uint8_t want_fkind = p->kind == K_MSG ? BUSRT_KIND_MESSAGE
                         : p->kind == K_BCAST ? BUSRT_KIND_BROADCAST
                                              : BUSRT_KIND_PUBLISH;
    if (fkind != want_fkind) {
        S.corrupt++;
        viol("%s: %s from %s arrived as frame kind 0x%02x", c->name, kind_name[p->kind],
             wname[s], fkind);
        return;
    }
    char want_topic[64] = "";
    if (p->kind == K_PUB) {
        w_topic(want_topic, sizeof want_topic, s);
    } else if (p->kind == K_PFOR) {
        snprintf(want_topic, sizeof want_topic, "soak/pf/%d", s);
    } else if (p->kind == K_BUSY) {
        snprintf(want_topic, sizeof want_topic, "soak/busy");
    }
    if (fkind == BUSRT_KIND_PUBLISH &&
        (tlen != strlen(want_topic) || memcmp(topic, want_topic, tlen) != 0)) {
        S.corrupt++;
        viol("%s: %s from %s on topic '%.*s'", c->name, kind_name[p->kind], wname[s],
             (int)tlen, topic);
        return;
    }
    if ((p->kind == K_MSG || p->kind == K_PFOR) && p->target != (uint32_t)r) {
        S.misrouted++;
        viol("%s: %s from %s meant for %s", c->name, kind_name[p->kind], wname[s],
             p->target < (uint32_t)NW ? wname[p->target] : "?");
        return;
    }
    if (!w_entitled(r, s, p->kind)) {
        S.misrouted++;
        viol("%s: got %s seq %u from %s it is not entitled to", c->name, kind_name[p->kind],
             p->seq, wname[s]);
        return;
    }
    /* REQ-ORD-1: one sender's frames arrive in sending order, whatever their kinds. */
    if (p->global <= rw->glast[s]) {
        S.order++;
        viol("%s: %s from %s has sender counter %llu after %llu (order)", c->name,
             kind_name[p->kind], wname[s], (unsigned long long)p->global,
             (unsigned long long)rw->glast[s]);
    } else {
        rw->glast[s] = p->global;
    }
    uint32_t *last = &rw->last[s * NK + p->kind];
    if (p->seq == *last + 1u) {
        *last = p->seq;
    } else if (p->seq > *last + 1u) {
        S.lost += p->seq - *last - 1u;
        viol("%s: %s from %s: seq %u after %u (%u lost)", c->name, kind_name[p->kind],
             wname[s], p->seq, *last, p->seq - *last - 1u);
        *last = p->seq;
    } else {
        S.dup++;
        viol("%s: %s from %s: seq %u again after %u (duplicate)", c->name, kind_name[p->kind],
             wname[s], p->seq, *last);
    }
}

/* A frame at a W receiver from a churner. */
static void w_rx_churner(struct conn *c, const struct pl *p, uint8_t fkind)
{
    struct wst *rw = W(c);
    uint32_t ch = p->idx;
    uint32_t *gen, *seq;
    if (p->kind == K_CPUB && fkind == BUSRT_KIND_PUBLISH && rw->churn_watcher) {
        gen = &rw->cgp[ch];
        seq = &rw->cp[ch];
    } else if (p->kind == K_CMSG && fkind == BUSRT_KIND_MESSAGE && p->target == (uint32_t)c->idx) {
        gen = &rw->cgm[ch];
        seq = &rw->cm[ch];
    } else {
        S.misrouted++;
        viol("%s: unexpected %s from %s (frame kind 0x%02x)", c->name, kind_name[p->kind],
             chname[ch], fkind);
        return;
    }
    S.churn_recv++;
    if (p->gen < *gen) {
        S.churn_viol++;
        viol("%s: %s from %s connection %u after connection %u", c->name, kind_name[p->kind],
             chname[ch], p->gen, *gen);
        return;
    }
    if (p->gen > *gen) {
        *gen = p->gen;
        *seq = 0;
    }
    /* A churner's frames to a permanent subscriber or target are all
     * delivered while it is connected: contiguous from 1 per connection
     * (only the tail may be lost when it disconnects abruptly). */
    if (p->seq != *seq + 1u) {
        S.churn_viol++;
        viol("%s: %s from %s connection %u: seq %u after %u", c->name, kind_name[p->kind],
             chname[ch], p->gen, p->seq, *seq);
    }
    *seq = p->seq;
}

static void w_rx_broker(struct conn *c, uint8_t fkind, const uint8_t *pl, size_t plen,
                        const char *topic)
{
    struct wst *w = W(c);
    static const uint8_t ok[5] = {0x81, 0xA2, 0x6F, 0x6B, 0xC3};
    if (fkind == BUSRT_KIND_MESSAGE && plen >= 6 && pl[0] == BUSRT_RPC_REPLY) {
        uint32_t id = busrt_get_le32(pl + 1);
        for (int i = 0; i < w->rpc_n; i++) {
            if (w->rpc_pending[i] == id &&
                (!w->rpc_test[i] || (plen == 10 && memcmp(pl + 5, ok, 5) == 0))) {
                w->rpc_n--;
                w->rpc_pending[i] = w->rpc_pending[w->rpc_n];
                w->rpc_test[i] = w->rpc_test[w->rpc_n];
                S.rpc_ok++;
                return;
            }
        }
    }
    if (fkind == BUSRT_KIND_PUBLISH && strcmp(topic, ".broker/info") == 0 &&
        w->churn_watcher) {
        S.announcements++;
        return;
    }
    if (fkind == BUSRT_KIND_PUBLISH && strcmp(topic, ".broker/warn") == 0 && g_stopping) {
        return; /* the shutdown announcement */
    }
    S.misrouted++;
    viol("%s: unexpected frame kind 0x%02x from .broker (%zu payload bytes)", c->name, fkind,
         plen);
}

static void w_on_frame(struct conn *c, uint8_t fkind, const char *sender, size_t slen,
                       const char *topic, size_t tlen, const uint8_t *pl, size_t plen)
{
    if (slen == 7 && memcmp(sender, ".broker", 7) == 0) {
        w_rx_broker(c, fkind, pl, plen, topic);
        return;
    }
    struct pl p;
    if (get_payload(pl, plen, &p) != 0) {
        S.corrupt++;
        viol("%s: corrupt payload (%zu bytes) from '%.*s'", c->name, plen, (int)slen, sender);
        return;
    }
    const char *want = NULL;
    if (p.role == R_W && p.idx < (uint32_t)NW && p.kind <= K_BUSY) {
        want = wname[p.idx];
    } else if (p.role == R_CHURN && p.idx < (uint32_t)NCH) {
        want = chname[p.idx];
    }
    if (want == NULL || strlen(want) != slen || memcmp(want, sender, slen) != 0) {
        S.corrupt++;
        viol("%s: %s claiming role %u index %u arrived from sender '%.*s'", c->name,
             kind_name[p.kind], p.role, p.idx, (int)slen, sender);
        return;
    }
    S.recv[p.kind]++;
    if (p.role == R_W) {
        w_rx_stream(c, &p, fkind, topic, tlen);
    } else {
        w_rx_churner(c, &p, fkind);
    }
}

/* 1 when W receiver r has everything it is entitled to. */
static int w_complete(int r)
{
    const struct wst *rw = conns[r].rs;
    if (conns[r].ack_n > 0 || rw->rpc_n > 0) {
        return 0;
    }
    for (int s = 0; s < NW; s++) {
        for (int k = K_PUB; k <= K_BUSY; k++) {
            if (rw->last[s * NK + k] < w_expected(r, s, k)) {
                return 0;
            }
        }
    }
    return 1;
}

/* Tail losses: what never arrived by the end. */
static uint64_t w_tail_lost(int r, int report)
{
    const struct wst *rw = conns[r].rs;
    uint64_t n = 0;
    for (int s = 0; s < NW; s++) {
        for (int k = K_PUB; k <= K_BUSY; k++) {
            uint32_t e = w_expected(r, s, k);
            uint32_t l = rw->last[s * NK + k];
            if (l < e) {
                n += e - l;
                if (report) {
                    viol("%s: %s from %s: %u sent, last received %u", conns[r].name,
                         kind_name[k], wname[s], e, l);
                }
            } else if (l > e) {
                S.corrupt++;
                viol("%s: %s from %s: received seq %u, only %u sent", conns[r].name,
                     kind_name[k], wname[s], l, e);
            }
        }
    }
    return n;
}

/* ---- churners ---------------------------------------------------------------------- */

static struct cst *CH(struct conn *c)
{
    return c->rs;
}

static void crx_reset(struct crx *x)
{
    memset(x->wpub, 0, (size_t)NW * sizeof *x->wpub);
    memset(x->wmsg, 0, (size_t)NW * sizeof *x->wmsg);
    memset(x->bgen, 0, (size_t)NCH * sizeof *x->bgen);
    memset(x->bseq, 0, (size_t)NCH * sizeof *x->bseq);
}

static void crx_alloc(struct crx *x)
{
    x->wpub = calloc((size_t)NW, sizeof *x->wpub);
    x->wmsg = calloc((size_t)NW, sizeof *x->wmsg);
    x->bgen = calloc((size_t)NCH, sizeof *x->bgen);
    x->bseq = calloc((size_t)NCH, sizeof *x->bseq);
    if (x->wpub == NULL || x->wmsg == NULL || x->bgen == NULL || x->bseq == NULL) {
        exit(2);
    }
}

static void ch_subscribe(struct conn *c, int k)
{
    char t[64];
    snprintf(t, sizeof t, "soak/pub/g%d/+", k);
    const char *subs[1] = {t};
    send_topics(c, BUSRT_OP_SUBSCRIBE, BUSRT_QOS_PROCESSED, subs, 1, WHAT_SETUP);
}

/* A frame at a churner connection (primary or secondary). */
static void ch_on_frame(struct conn *c, struct crx *x, uint8_t fkind, const char *sender,
                        size_t slen, const uint8_t *pl, size_t plen)
{
    struct pl p;
    S.churn_recv++;
    if (get_payload(pl, plen, &p) != 0) {
        S.corrupt++;
        viol("%s: corrupt payload (%zu bytes) from '%.*s'", c->name, plen, (int)slen, sender);
        return;
    }
    const char *want = p.role == R_W && p.idx < (uint32_t)NW        ? wname[p.idx]
                       : p.role == R_CHURN && p.idx < (uint32_t)NCH ? chname[p.idx]
                                                                    : NULL;
    if (want == NULL || strlen(want) != slen || memcmp(want, sender, slen) != 0) {
        S.corrupt++;
        viol("%s: payload of role %u index %u from sender '%.*s'", c->name, p.role, p.idx,
             (int)slen, sender);
        return;
    }
    int k = CH(&conns[NW + c->idx])->k;
    if (p.kind == K_PUB && fkind == BUSRT_KIND_PUBLISH && w_group((int)p.idx) == k) {
        uint32_t *l = &x->wpub[p.idx];
        if (*l != 0 && p.seq != *l + 1u) {
            S.churn_viol++;
            viol("%s: publication from %s: seq %u after %u", c->name, wname[p.idx], p.seq, *l);
        }
        *l = p.seq;
    } else if (p.kind == K_TOCHURN && fkind == BUSRT_KIND_MESSAGE && c->role == R_CHURN &&
               p.target == (uint32_t)c->idx) {
        uint32_t *l = &x->wmsg[p.idx];
        if (p.seq <= *l) {
            S.churn_viol++;
            viol("%s: message from %s: seq %u after %u", c->name, wname[p.idx], p.seq, *l);
        }
        *l = p.seq;
    } else if (p.kind == K_CBCAST && fkind == BUSRT_KIND_BROADCAST) {
        uint32_t *g = &x->bgen[p.idx], *l = &x->bseq[p.idx];
        if (p.gen < *g) {
            S.churn_viol++;
            viol("%s: broadcast from %s connection %u after connection %u", c->name,
                 chname[p.idx], p.gen, *g);
        } else if (p.gen == *g && p.seq != *l + 1u) {
            S.churn_viol++;
            viol("%s: broadcast from %s connection %u: seq %u after %u", c->name,
                 chname[p.idx], p.gen, p.seq, *l);
        }
        *g = p.gen;
        *l = p.seq;
    } else {
        S.misrouted++;
        viol("%s: unexpected %s from %s (frame kind 0x%02x)", c->name, kind_name[p.kind], want,
             fkind);
    }
}

static void ch_send_op(struct conn *c)
{
    struct cst *ch = CH(c);
    uint8_t pl[256];
    size_t len = small_len();
    uint8_t qos = rnd_qos();
    uint32_t r = rnd_below(12);
    if (r < 4) {
        char topic[32];
        snprintf(topic, sizeof topic, "soak/churn/%d", c->idx);
        put_payload(pl, len, R_CHURN, K_CPUB, (uint32_t)c->idx, ch->gen, ++ch->pub_seq,
                    ++ch->global, 0);
        send_frame(c, BUSRT_OP_PUBLISH, qos, topic, NULL, pl, len, ACK_OK, K_CPUB);
        S.sent[K_CPUB]++;
    } else if (r < 8) {
        uint32_t t = rnd_below((uint32_t)NW);
        put_payload(pl, len, R_CHURN, K_CMSG, (uint32_t)c->idx, ch->gen, ++ch->msg_seq[t],
                    ++ch->global, t);
        send_frame(c, BUSRT_OP_MESSAGE, qos, wname[t], NULL, pl, len, ACK_OK, K_CMSG);
        S.sent[K_CMSG]++;
    } else if (r >= 10) {
        /* subscribe / unsubscribe (exclude / unexclude) churn on patterns
         * nobody publishes to */
        char t[48];
        snprintf(t, sizeof t, "soak/void/%c%d/%u", r == 10 ? 's' : 'x', c->idx, rnd_below(4));
        const char *tl[1] = {t};
        int add = (int)rnd_below(2);
        uint8_t op = r == 10 ? (add ? BUSRT_OP_SUBSCRIBE : BUSRT_OP_UNSUBSCRIBE)
                             : (add ? BUSRT_OP_EXCLUDE : BUSRT_OP_UNEXCLUDE);
        send_topics(c, op, qos, tl, 1, WHAT_CHURN);
        S.sub_churn++;
    } else {
        put_payload(pl, len, R_CHURN, K_CBCAST, (uint32_t)c->idx, ch->gen, ++ch->bcast_seq,
                    ++ch->global, 0);
        send_frame(c, BUSRT_OP_BROADCAST, qos, "soak.c.*", NULL, pl, len, ACK_OK, K_CBCAST);
        S.sent[K_CBCAST]++;
    }
}

/* Ends a churner's connection abruptly (sometimes in the middle of a frame). */
static void ch_end(struct conn *c, int64_t now)
{
    struct cst *ch = CH(c);
    if (rnd_below(3) == 0) {
        uint8_t pl[64];
        uint8_t frame[128];
        put_payload(pl, sizeof pl, R_CHURN, K_CPUB, (uint32_t)c->idx, ch->gen, 0, 0, 0);
        struct busrt_client_header h = {++c->next_op, BUSRT_OP_PUBLISH, 1u, 0u};
        const char *topic = "soak/void";
        size_t tl = strlen(topic) + 1u;
        h.body_len = (uint32_t)(tl + sizeof pl);
        (void)busrt_client_header_encode(&h, frame, 9);
        memcpy(frame + 9, topic, tl);
        memcpy(frame + 9 + tl, pl, sizeof pl);
        conn_write(c, frame, 1u + rnd_below((uint32_t)(8u + tl + sizeof pl)));
        S.churn_half_frames++;
    }
    conn_close(c);
    if (ch->sec != NULL && ch->sec_phase == SEC_ACTIVE) {
        ch->sec_phase = SEC_EXPECT_EOF; /* REQ-NAME-6 */
        ch->sec->t_deadline = now + scaled_us(10.0);
        c->phase = CH_WAIT_SEC;
    } else {
        c->phase = CH_HS;
        c->t_next = now + rnd_ms(200, 1000);
    }
}

static void ch_tick(struct conn *c, int64_t now)
{
    struct cst *ch = CH(c);
    if (c->st == CS_IDLE) {
        if (c->phase == CH_WAIT_SEC) {
            if (ch->sec_phase == SEC_NONE) {
                c->phase = CH_HS;
                c->t_next = now + rnd_ms(200, 1000);
            } else if (now > ch->sec->t_deadline) {
                S.churn_viol++;
                viol("%s: still open %.1f s after its primary closed (REQ-NAME-6)",
                     ch->sec->name, (double)scaled_us(10.0) / 1e6);
                conn_close(ch->sec);
                ch->sec_phase = SEC_NONE;
            }
            return;
        }
        if (g_running && now >= c->t_next) {
            if (conn_open(c) != 0) {
                c->t_next = now + 50000;
                return;
            }
            c->phase = CH_HS;
        }
        return;
    }
    if (c->st != CS_REG) {
        return;
    }
    if (c->phase == CH_ACTIVE) {
        int sec_busy = ch->sec != NULL && (ch->sec_phase == SEC_HS || ch->sec_phase == SEC_SUB);
        if ((!g_running || now >= ch->t_active_end) && !sec_busy) {
            ch_end(c, now);
            return;
        }
        if (g_running && now >= c->t_next) {
            ch_send_op(c);
            c->t_next = now + rnd_ms(100, 300);
        }
    }
    if (c->fd >= 0 && now - c->last_tx >= 1000000) {
        send_ping(c);
    }
}

static void sec_tick(struct conn *c, int64_t now)
{
    if (c->fd >= 0 && c->st == CS_REG && now - c->last_tx >= 1000000) {
        send_ping(c);
    }
}

/* ---- slow consumers ------------------------------------------------------------------ */

static void slow_dropped(struct conn *c, int64_t now, const char *how)
{
    struct slst *s = c->rs;
    S.slow_drops++;
    s->drops++;
    S.slow_drop_time += (double)(now - s->silent_since) / 1e6;
    if (O.verbose) {
        fprintf(stderr, "soak: %s dropped (%s) after %.1f s of not reading\n", c->name, how,
                (double)(now - s->silent_since) / 1e6);
    }
    conn_close(c);
    c->t_next = now + rnd_ms(500, 1500);
}

static void slow_tick(struct conn *c, int64_t now)
{
    if (c->st == CS_IDLE) {
        if (g_running && now >= c->t_next) {
            if (conn_open(c) != 0) {
                c->t_next = now + 50000;
                return;
            }
            c->phase = SL_SUB;
            S.slow_cycles++;
        }
        return;
    }
    if (c->st == CS_REG && c->phase == SL_SILENT) {
        if (c->broken) {
            slow_dropped(c, now, "write failed");
            return;
        }
        if (now - c->last_tx >= 1000000) {
            send_ping(c); /* it is slow, not dead: REQ-KA-2 must not be the reason */
        }
    }
}

/* ---- malformed senders ----------------------------------------------------------------- */

static void mal_expect(struct mast *m, int what)
{
    if (m->nexpect == m->capexpect) {
        m->capexpect = m->capexpect == 0 ? 64u : m->capexpect * 2u;
        m->expect = realloc(m->expect, m->capexpect * sizeof *m->expect);
        if (m->expect == NULL) {
            exit(2);
        }
    }
    m->expect[m->nexpect++] = what;
}

static void mal_send_bad(struct conn *c)
{
    struct mast *m = c->rs;
    uint32_t id = c->next_op + 1000u;
    uint8_t b[64];
    switch (m->cls) {
    case 0: { /* flags 0x47: op 7, QoS 1 */
        uint8_t body[5] = {'a', 'b', 0, 'c', 'd'};
        struct busrt_client_header h = {id, BUSRT_OP_PUBLISH, 1u, 5u};
        (void)busrt_client_header_encode(&h, b, 9);
        b[4] = 0x47;
        memcpy(b + 9, body, 5);
        conn_write(c, b, 14);
        break;
    }
    case 1: { /* publish, no NUL */
        struct busrt_client_header h = {id, BUSRT_OP_PUBLISH, 1u, 9u};
        (void)busrt_client_header_encode(&h, b, 9);
        memcpy(b + 9, "soak/void", 9);
        conn_write(c, b, 18);
        break;
    }
    case 2: { /* message to "soak.w.\xC0\xAF" */
        static const uint8_t body[] = {'s', 'o', 'a', 'k', '.', 'w', '.', 0xC0, 0xAF, 0, 'x'};
        struct busrt_client_header h = {id, BUSRT_OP_MESSAGE, 1u, (uint32_t)sizeof body};
        (void)busrt_client_header_encode(&h, b, 9);
        memcpy(b + 9, body, sizeof body);
        conn_write(c, b, 9 + sizeof body);
        break;
    }
    case 3: { /* length over the limit, no body */
        struct busrt_client_header h = {id, BUSRT_OP_PUBLISH, 1u, g_payload_limit + 1u};
        (void)busrt_client_header_encode(&h, b, 9);
        conn_write(c, b, 9);
        break;
    }
    case 4: { /* publish-for: topic NUL receiver, second NUL missing */
        static const uint8_t body[] = {'s', 'o', 'a', 'k', '/', 'v', 0, 's', 'o', 'a', 'k'};
        struct busrt_client_header h = {id, BUSRT_OP_PUBLISH_FOR, 1u, (uint32_t)sizeof body};
        (void)busrt_client_header_encode(&h, b, 9);
        memcpy(b + 9, body, sizeof body);
        conn_write(c, b, 9 + sizeof body);
        break;
    }
    case 5: { /* subscribe "soak/\xED\xA0\x80" (a surrogate) */
        static const uint8_t body[] = {'s', 'o', 'a', 'k', '/', 0xED, 0xA0, 0x80};
        struct busrt_client_header h = {id, BUSRT_OP_SUBSCRIBE, 1u, (uint32_t)sizeof body};
        (void)busrt_client_header_encode(&h, b, 9);
        memcpy(b + 9, body, sizeof body);
        conn_write(c, b, 9 + sizeof body);
        break;
    }
    case 6: { /* op 0, QoS 1, body without NUL */
        struct busrt_client_header h = {id, BUSRT_OP_NOP, 1u, 4u};
        (void)busrt_client_header_encode(&h, b, 9);
        memcpy(b + 9, "abcd", 4);
        conn_write(c, b, 13);
        break;
    }
    default: { /* broadcast to "soak.\xE2\x82" */
        static const uint8_t body[] = {'s', 'o', 'a', 'k', '.', 0xE2, 0x82, 0, 'x'};
        struct busrt_client_header h = {id, BUSRT_OP_BROADCAST, 1u, (uint32_t)sizeof body};
        (void)busrt_client_header_encode(&h, b, 9);
        memcpy(b + 9, body, sizeof body);
        conn_write(c, b, 9 + sizeof body);
        break;
    }
    }
    mal_expect(m, m->cls);
    S.mal_class[m->cls]++;
    c->phase = M_EXPECT_EOF;
    c->t_deadline = now_us() + scaled_us(10.0);
}

static void mal_finish(struct conn *c, int ok)
{
    if (ok) {
        S.mal_ok++;
    } else {
        S.mal_viol++;
    }
    conn_close(c);
    c->phase = M_DONE;
    c->t_next = now_us() + rnd_ms(100, 800);
}

static void mal_tick(struct conn *c, int64_t now)
{
    struct mast *m = c->rs;
    if (c->st == CS_IDLE) {
        if (g_running && now >= c->t_next) {
            if (conn_open(c) != 0) {
                c->t_next = now + 50000;
                return;
            }
            S.mal_cycles++;
            m->cls = (int)((S.mal_cycles + (uint64_t)c->idx) % MAL_NCLASS);
            m->combined = (int)rnd_below(2);
            m->probe_acked = 0;
            c->phase = M_PROBE_WAIT;
            c->t_deadline = now + scaled_us(10.0);
            if (m->cls >= MAL_HS) {
                S.mal_class[m->cls]++;
            }
        }
        return;
    }
    if (now > c->t_deadline) {
        S.mal_viol++;
        viol("%s: class '%s': no EOF within %.0f s (state %d phase %d)", c->name,
             mal_class[m->cls].what, (double)scaled_us(10.0) / 1e6, (int)c->st, c->phase);
        if (c->st == CS_REG && c->phase == M_PROBE_WAIT) {
            mal_expect(m, MAL_CLOSED);
        }
        mal_finish(c, 0);
        return;
    }
    if (c->st == CS_REG && now - c->last_tx >= 1000000) {
        send_ping(c);
    }
}

/* ---- callbacks ---------------------------------------------------------------------- */

static void on_registered(struct conn *c)
{
    switch (c->role) {
    case R_W:
        w_on_registered(c);
        break;
    case R_CHURN: {
        struct cst *ch = CH(c);
        ch->gen++;
        ch->registered++;
        ch->pub_seq = ch->bcast_seq = 0;
        memset(ch->msg_seq, 0, (size_t)NW * sizeof *ch->msg_seq);
        crx_reset(&ch->rx);
        ch_subscribe(c, ch->k);
        c->phase = CH_SUB;
        S.churn_cycles++;
        break;
    }
    case R_SEC: {
        struct cst *ch = CH(&conns[NW + c->idx]);
        ch->sec_registered++;
        crx_reset(&ch->srx);
        ch_subscribe(c, ch->k);
        ch->sec_phase = SEC_SUB;
        break;
    }
    case R_SLOW: {
        struct slst *s = c->rs;
        s->registered++;
        const char *subs[3] = {"soak/busy", "soak/flood", ".broker/info"};
        send_topics(c, BUSRT_OP_SUBSCRIBE, BUSRT_QOS_PROCESSED, subs, O.hostile ? 3u : 1u,
                    WHAT_SETUP);
        c->phase = SL_SUB;
        break;
    }
    case R_HOST:
        host_on_registered(c);
        break;
    case R_MAL: {
        struct mast *m = c->rs;
        if (m->cls >= MAL_HS) {
            S.mal_viol++;
            viol("%s: registered despite '%s'", c->name, mal_class[m->cls].what);
            mal_expect(m, MAL_CLOSED);
            mal_finish(c, 0);
            return;
        }
        uint8_t pl[1] = {'p'};
        m->probe_id = send_frame(c, BUSRT_OP_PUBLISH, BUSRT_QOS_PROCESSED, "soak/void", NULL,
                                 pl, 1, ACK_OK, WHAT_PROBE);
        if (m->combined) {
            mal_send_bad(c);
        }
        break;
    }
    }
}


/* ---- hostile clients (--hostile) ---------------------------------------------------- */

struct hst {
    int announcer;
};

#define FLOOD_MAX (8u << 20)
static uint8_t *g_flood; /* filler of flood publications; nobody checks it */

static void host_on_registered(struct conn *c)
{
    struct hst *h = c->rs;
    int64_t now = now_us();
    if (h->announcer) {
        /* a long pattern too: index nodes and a subscription copy */
        static char pat[4096];
        int k = snprintf(pat, sizeof pat, "soak/void/a%d/", c->idx);
        memset(pat + k, 'y', sizeof pat - 1u - (size_t)k);
        pat[sizeof pat - 1u] = '\0';
        (void)send_frame(c, BUSRT_OP_SUBSCRIBE, BUSRT_QOS_PROCESSED, NULL, NULL,
                         (const uint8_t *)pat, strlen(pat), ACK_OK | ACK_OTHER, WHAT_CHURN);
        c->t_deadline = now + rnd_ms(200, 800);
    } else {
        c->t_next = now;
    }
}

static void flood_one(struct conn *c)
{
    size_t len = rnd_below(10) == 0 ? (2u << 20) + rnd_below(6u << 20)
                                    : (32u << 10) + rnd_below(224u << 10);
    static const char topic[] = "soak/flood";
    uint8_t hdr[9];
    struct busrt_client_header h = {++c->next_op, BUSRT_OP_PUBLISH, (uint8_t)rnd_below(2),
                                    (uint32_t)(sizeof topic + len)};
    (void)busrt_client_header_encode(&h, hdr, sizeof hdr);
    if ((h.qos & 1u) != 0u) {
        ack_push(c, h.op_id, ACK_OK | ACK_OTHER, WHAT_CHURN);
    }
    conn_write(c, hdr, sizeof hdr);
    conn_write(c, topic, sizeof topic);
    conn_write(c, g_flood, len);
    S.flood_frames++;
    S.flood_bytes += len;
}

static void host_tick(struct conn *c, int64_t now)
{
    struct hst *h = c->rs;
    if (c->st == CS_IDLE) {
        if (g_running && now >= c->t_next) {
            if (conn_open(c) != 0) {
                c->t_next = now + 50000;
                return;
            }
            S.host_cycles++;
        }
        return;
    }
    if (!g_running) {
        conn_close(c); /* the hostile ones leave at the end of the load */
        return;
    }
    if (c->st != CS_REG) {
        return;
    }
    if (h->announcer) {
        if (now >= c->t_deadline) {
            conn_close(c); /* the unreg announcement; back soon */
            c->t_next = now + rnd_ms(100, 300);
            return;
        }
    } else if (now >= c->t_next && c->out_len < (1u << 20)) {
        flood_one(c);
        c->t_next += (int64_t)(1e6 / O.flood_rate);
        if (now - c->t_next > 1000000) {
            c->t_next = now;
        }
    }
    if (c->fd >= 0 && now - c->last_tx >= 1000000) {
        send_ping(c);
    }
}

static void host_on_eof(struct conn *c)
{
    if (c->st != CS_REFUSED) {
        S.host_closed++;
    }
    conn_close(c);
    c->t_next = now_us() + 500000;
}

static void on_refused(struct conn *c, int code)
{
    if (c->role == R_HOST) {
        S.host_refused++; /* e.g. 76 while the previous connection closes; EOF follows */
        return;
    }
    if (c->role == R_MAL) {
        struct mast *m = c->rs;
        int want = m->cls == 8   ? (int)BUSRT_RC_NOT_SUPPORTED
                   : m->cls == 9 ? (int)BUSRT_RC_DATA
                                 : -1;
        if (code != want) {
            S.mal_viol++;
            viol("%s: '%s' answered 0x%02x", c->name, mal_class[m->cls].what, code);
        }
        S.hs_refusals++;
        return; /* EOF must follow */
    }
    if (c->role == R_CHURN && code == BUSRT_RC_BUSY) {
        /* Our previous connection closed, but the broker has not read its
         * EOF yet: legitimate; try again shortly. */
        S.churn_busy++;
        return;
    }
    viol("%s: registration refused with 0x%02x", c->name, code);
    if (c->role == R_W) {
        S.w_lost_conn++;
    }
}

static void on_ack(struct conn *c, uint32_t id, uint8_t code)
{
    if (c->role == R_MAL) {
        struct mast *m = c->rs;
        if (id == m->probe_id && !m->probe_acked && code == BUSRT_RC_OK) {
            m->probe_acked = 1;
            c->ack_n = 0;
            if (c->phase == M_PROBE_WAIT) {
                mal_send_bad(c);
            } else {
                S.mal_probe_acks_before_eof++;
            }
            return;
        }
        S.mal_viol++;
        viol("%s: ACK id %u code 0x%02x after '%s' (REQ-ERR-2: no ACK for a closing frame)",
             c->name, id, code, mal_class[m->cls].what);
        return;
    }
    uint8_t what = ack_check(c, id, code);
    if (what == WHAT_SETUP && c->ack_n == 0) {
        switch (c->role) {
        case R_W:
            if (!W(c)->ready) {
                W(c)->ready = 1;
                c->t_next = now_us() + (int64_t)rnd_below((uint32_t)(1e6 / O.rate));
                W(c)->t_busy = now_us();
            }
            break;
        case R_CHURN: {
            struct cst *ch = CH(c);
            int64_t now = now_us();
            c->phase = CH_ACTIVE;
            ch->t_active_end = now + rnd_ms(500, 3000);
            c->t_next = now;
            if (rnd_below(2) == 0 && g_running) {
                struct conn *s = ch->sec;
                if (conn_open(s) == 0) {
                    ch->sec_phase = SEC_HS;
                    S.sec_opened++;
                }
            }
            break;
        }
        case R_SEC:
            CH(&conns[NW + c->idx])->sec_phase = SEC_ACTIVE;
            break;
        case R_SLOW:
            c->phase = SL_SILENT;
            ((struct slst *)c->rs)->silent_since = now_us();
            break;
        default:
            break;
        }
    }
}

static void on_frame(struct conn *c, uint8_t kind, const uint8_t *body, size_t len)
{
    struct busrt_frame_body sp;
    if (busrt_frame_body_split(kind, body, len, &sp) != 0) {
        S.corrupt++;
        viol("%s: delivered frame kind 0x%02x without its NULs", c->name, kind);
        return;
    }
    const char *sender = (const char *)body + sp.sender.off;
    const char *topic = kind == BUSRT_KIND_PUBLISH ? (const char *)body + sp.topic.off : "";
    char tbuf[128];
    size_t tlen = kind == BUSRT_KIND_PUBLISH ? sp.topic.len : 0u;
    snprintf(tbuf, sizeof tbuf, "%.*s", (int)(tlen < 127u ? tlen : 127u), topic);
    const uint8_t *pl = body + sp.payload.off;
    switch (c->role) {
    case R_W:
        w_on_frame(c, kind, sender, sp.sender.len, tbuf, tlen, pl, sp.payload.len);
        break;
    case R_CHURN:
        ch_on_frame(c, &CH(c)->rx, kind, sender, sp.sender.len, pl, sp.payload.len);
        break;
    case R_SEC:
        ch_on_frame(c, &CH(&conns[NW + c->idx])->srx, kind, sender, sp.sender.len, pl,
                    sp.payload.len);
        break;
    case R_MAL:
        S.mal_viol++;
        viol("%s: delivered frame kind 0x%02x from '%.*s'", c->name, kind,
             (int)sp.sender.len, sender);
        break;
    case R_HOST:
        break; /* nothing is checked */
    default: /* slow consumer: publications on soak/busy may follow its subscribe ACK
              * in the same read; nothing else may come */
        if (kind == BUSRT_KIND_MESSAGE) {
            break; /* a message to the slow consumer (K_TOSLOW) */
        }
        if (kind != BUSRT_KIND_PUBLISH || c->phase != SL_SILENT ||
            (strcmp(tbuf, "soak/busy") != 0 &&
             !(O.hostile && (strcmp(tbuf, "soak/flood") == 0 ||
                             strcmp(tbuf, ".broker/info") == 0)))) {
            viol("%s: delivered frame kind 0x%02x topic '%s'", c->name, kind, tbuf);
        }
        break;
    }
}

static void on_eof(struct conn *c, int partial)
{
    int64_t now = now_us();
    switch (c->role) {
    case R_HOST:
        host_on_eof(c);
        break;
    case R_W:
        S.w_lost_conn++;
        viol("%s: the broker closed a well-behaved client's connection", c->name);
        conn_close(c);
        break;
    case R_CHURN:
        if (c->st == CS_REFUSED) {
            conn_close(c);
            c->t_next = now + 100000;
            break;
        }
        S.churn_viol++;
        viol("%s: the broker closed a churner's connection (state %d phase %d)", c->name,
             (int)c->st, c->phase);
        conn_close(c);
        c->phase = CH_HS;
        c->t_next = now + 500000;
        break;
    case R_SEC: {
        struct cst *ch = CH(&conns[NW + c->idx]);
        if (ch->sec_phase == SEC_EXPECT_EOF) {
            ch->sec_closed++;
            S.sec_closed++;
        } else {
            S.churn_viol++;
            viol("%s: secondary closed by the broker while its primary is connected (phase "
                 "%d)", c->name, ch->sec_phase);
        }
        conn_close(c);
        ch->sec_phase = SEC_NONE;
        break;
    }
    case R_SLOW:
        if (c->st == CS_REG && c->phase == SL_SILENT) {
            slow_dropped(c, now, "EOF");
        } else {
            viol("%s: closed while subscribing (state %d)", c->name, (int)c->st);
            conn_close(c);
            c->t_next = now + 1000000;
        }
        break;
    case R_MAL: {
        struct mast *m = c->rs;
        int ok = 1;
        if (partial) {
            ok = 0;
            viol("%s: '%s': EOF in the middle of a frame (%zu bytes)", c->name,
                 mal_class[m->cls].what, c->in_len);
        }
        if (m->cls >= MAL_HS) {
            if (m->cls == 8 && c->st != CS_REFUSED) {
                ok = 0;
                viol("%s: '%s': EOF without the refusal code 75 (REQ-HS-3)", c->name,
                     mal_class[m->cls].what);
            }
            if (c->st == CS_REFUSED || m->cls == 9) {
                if (c->st != CS_REFUSED) {
                    S.hs_refusals++; /* EOF without a code: allowed by REQ-QUIRK-1 */
                }
            }
        } else if (c->phase != M_EXPECT_EOF) {
            ok = 0;
            viol("%s: EOF before the malformed frame was sent (state %d)", c->name, (int)c->st);
            if (c->st == CS_REG) {
                mal_expect(m, MAL_CLOSED); /* logged with some other reason */
            }
        } else if (!m->combined && !m->probe_acked) {
            ok = 0;
            viol("%s: probe not acknowledged", c->name);
        }
        mal_finish(c, ok);
        break;
    }
    }
}

/* ---- broker process figures -------------------------------------------------------- */

static pid_t broker_pid(void)
{
    char buf[64];
    if (wc_read_file(g_b.pidfile, buf, sizeof buf) > 0) {
        long p = strtol(buf, NULL, 10);
        if (p > 0) {
            return (pid_t)p;
        }
    }
    return g_b.pid;
}

static int open_conns(void)
{
    int n = 0;
    for (size_t i = 0; i < nconns; i++) {
        n += conns[i].fd >= 0;
    }
    return n;
}

/* ---- the poll loop ------------------------------------------------------------------- */

static struct pollfd *g_pfd;

static void tick_all(int64_t now)
{
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        switch (c->role) {
        case R_W: w_tick(c, now); break;
        case R_CHURN: ch_tick(c, now); break;
        case R_SEC: sec_tick(c, now); break;
        case R_SLOW: slow_tick(c, now); break;
        case R_MAL: mal_tick(c, now); break;
        case R_HOST: host_tick(c, now); break;
        }
    }
}

static void poll_once(int timeout_ms)
{
    nfds_t n = 0;
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->pidx = -1;
        if (c->fd < 0) {
            continue;
        }
        short ev = 0;
        int silent = c->role == R_SLOW && c->st == CS_REG && c->phase == SL_SILENT;
        if (!silent) {
            ev |= POLLIN;
        }
        if (c->out_len > 0) {
            ev |= POLLOUT;
        }
        g_pfd[n].fd = c->fd;
        g_pfd[n].events = ev;
        g_pfd[n].revents = 0;
        c->pidx = (int)n;
        n++;
    }
    int r = poll(g_pfd, n, timeout_ms);
    if (r <= 0) {
        return;
    }
    int64_t now = now_us();
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->pidx < 0 || c->fd < 0) {
            continue;
        }
        short rev = g_pfd[c->pidx].revents;
        if (rev == 0) {
            continue;
        }
        if ((rev & POLLOUT) != 0) {
            conn_flush(c);
        }
        int silent = c->role == R_SLOW && c->st == CS_REG && c->phase == SL_SILENT;
        if (silent) {
            if ((rev & (POLLHUP | POLLERR)) != 0) {
                slow_dropped(c, now, "hang-up");
            }
            continue;
        }
        if ((rev & (POLLIN | POLLHUP | POLLERR)) != 0) {
            conn_read(c);
        }
    }
}

static void check_broker_alive(void)
{
    int st = 0;
    if (g_b.pid > 0 && waitpid(g_b.pid, &st, WNOHANG) == g_b.pid) {
        fprintf(stderr, "soak: the broker exited during the run (status 0x%x)\n", st);
        g_b.pid = 0;
        wc_broker_dump_log(&g_b);
        printf("FAIL broker-alive: the broker exited during the run\nsoak: 0 passed, 1 failed\n");
        exit(1);
    }
}

/* ---- log analysis ---------------------------------------------------------------- */

enum reason { RS_PEER, RS_READERR, RS_QFULL, RS_WTIMEOUT, RS_QMEM, RS_HDR, RS_BODY, RS_UTF8,
              RS_BIG, RS_PRIMARY, RS_OTHER, RS_N };
static const char *const reason_text[RS_N] = {
    "peer closed the connection", "read error", "output queue full", "write timeout",
    "output queue over its memory share", "invalid frame header", "malformed frame body",
    "invalid UTF-8", "frame too large", "its primary disconnected", "(other)"};

struct namelog {
    uint32_t regs;
    uint32_t reasons[RS_N];
    int *seq; /* malformed: reasons in order */
    size_t nseq, capseq;
};

static struct {
    struct namelog *w, *ch, *sec, *sl, *ma;
    uint64_t reasons[RS_N];
    uint64_t hs_refused, busy_refused, errors, qfull_warn, wblock_warn, other_reasons;
    long long mem_hw;      /* the broker's memory high-water at shutdown, -1: not logged */
    uint64_t mem_warnings; /* "memory limit" WARN lines */
    char first_error[256];
    char first_other[256];
} L;

static enum reason reason_of(const char *r)
{
    for (int i = 0; i < RS_OTHER; i++) {
        if (strcmp(r, reason_text[i]) == 0) {
            return (enum reason)i;
        }
    }
    return RS_OTHER;
}

static struct namelog *log_slot(const char *name)
{
    int idx;
    if (strncmp(name, "soak.w.g", 8) == 0) {
        const char *dot = strchr(name + 8, '.');
        idx = dot != NULL ? atoi(dot + 1) : -1;
        return idx >= 0 && idx < NW ? &L.w[idx] : NULL;
    }
    if (strlen(name) < 8 || strncmp(name, "soak.", 5) != 0 || name[6] != '.') {
        return NULL;
    }
    idx = atoi(name + 7);
    switch (name[5]) {
    case 'c':
        if (idx < 0 || idx >= NCH) {
            return NULL;
        }
        return strstr(name, "%%") != NULL ? &L.sec[idx] : &L.ch[idx];
    case 's': return idx >= 0 && idx < NSL ? &L.sl[idx] : NULL;
    case 'm': return idx >= 0 && idx < NMA ? &L.ma[idx] : NULL;
    default: return NULL;
    }
}

static void parse_log(const char *path)
{
    L.w = calloc((size_t)NW, sizeof *L.w);
    L.ch = calloc((size_t)NCH + 1u, sizeof *L.ch);
    L.sec = calloc((size_t)NCH + 1u, sizeof *L.sec);
    L.sl = calloc((size_t)NSL + 1u, sizeof *L.sl);
    L.ma = calloc((size_t)NMA + 1u, sizeof *L.ma);
    L.mem_hw = -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    char line[2048];
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        const char *p = strstr(line, " busrtd ");
        if (p == NULL) {
            continue;
        }
        p += 8;
        int is_error = strncmp(p, "ERROR ", 6) == 0;
        const char *text = strchr(p, ' ');
        if (text == NULL) {
            continue;
        }
        text++;
        if (is_error) {
            if (L.errors++ == 0) {
                snprintf(L.first_error, sizeof L.first_error, "%s", text);
            }
            continue;
        }
        const char *hw = strstr(text, " bytes held at shutdown, high-water ");
        if (strncmp(text, "memory: ", 8) == 0 && hw != NULL) {
            L.mem_hw = atoll(hw + 36);
            continue;
        }
        if (strstr(text, "memory limit") != NULL) {
            L.mem_warnings++;
        }
        if (strncmp(text, "connection ", 11) == 0 && strstr(text, " refused: ") != NULL) {
            L.hs_refused++;
            continue;
        }
        if (strncmp(text, "client ", 7) != 0) {
            continue;
        }
        const char *name = text + 7;
        const char *d;
        char nm[128];
        if ((d = strstr(name, " disconnected: ")) != NULL) {
            snprintf(nm, sizeof nm, "%.*s", (int)(d - name), name);
            enum reason r = reason_of(d + 15);
            L.reasons[r]++;
            if (r == RS_OTHER && L.other_reasons++ == 0) {
                snprintf(L.first_other, sizeof L.first_other, "%s", text);
            }
            struct namelog *s = log_slot(nm);
            if (s != NULL) {
                s->reasons[r]++;
                if (s->nseq == s->capseq) {
                    s->capseq = s->capseq == 0 ? 64u : s->capseq * 2u;
                    s->seq = realloc(s->seq, s->capseq * sizeof *s->seq);
                    if (s->seq == NULL) {
                        exit(2);
                    }
                }
                s->seq[s->nseq++] = (int)r;
            }
        } else if ((d = strstr(name, " registered (")) != NULL) {
            snprintf(nm, sizeof nm, "%.*s", (int)(d - name), name);
            struct namelog *s = log_slot(nm);
            if (s != NULL) {
                s->regs++;
            }
        } else if (strstr(name, " refused: ") != NULL && strstr(name, "0x76") != NULL) {
            L.busy_refused++;
        } else if (strstr(name, ": output queue full (") != NULL) {
            L.qfull_warn++;
        } else if (strstr(name, ": write blocked for longer") != NULL) {
            L.wblock_warn++;
        }
    }
    fclose(f);
}

static enum reason mal_reason(int cls)
{
    return reason_of(mal_class[cls].reason);
}

/* ---- checks ------------------------------------------------------------------------ */

static int g_pass, g_fail;
static char g_failures[4096];

static void check(int ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check(int ok, const char *name, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name, why);
    if (ok) {
        g_pass++;
    } else {
        g_fail++;
        size_t l = strlen(g_failures);
        snprintf(g_failures + l, sizeof g_failures - l, " %s", name);
    }
}

/* ---- options ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: soak [--duration S] [--clients N] [--rate R] [--busy-rate R] [--seed N]\n"
            "            [--queue-size Q] [--warmup S] [--drain S] [--label TEXT]\n"
            "            [--keep-log FILE] [--alloc-count FILE [--alloc-max N]] [--verbose]\n"
            "            [--hostile N [--flood-rate R]] [--memory-limit BYTES]\n"
            "--hostile N: N flooders (publications of 32 KiB to 8 MiB on soak/flood, which\n"
            "the slow consumers subscribe to, --flood-rate per second each) and N/2\n"
            "announcers (30000-byte names that register and leave, .broker/info) on top;\n"
            "the broker's --payload-size-limit becomes 16 MiB. --memory-limit: the\n"
            "broker's budget (pass it in BUSRTD_ARGS): its memory high-water, from its\n"
            "log, must stay within it.\n"
            "--alloc-count: the broker runs with alloccount.so preloaded and writing FILE;\n"
            "SIGUSR2 is sent to it once it accepts connections and again before it is\n"
            "stopped, and its allocator calls in between are reported (and checked\n"
            "against --alloc-max).\n"
            "The broker: BUSRTD (default build/obj/busrtd), BUSRTD_WRAPPER (e.g. valgrind);\n"
            "BUSRT_TEST_UNDER_VALGRIND=1 stretches the waits when the broker is slow.\n");
    exit(2);
}

static void parse_opts(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--verbose") == 0) {
            O.verbose = 1;
            continue;
        }
        if (v == NULL) {
            usage();
        }
        i++;
        if (strcmp(a, "--duration") == 0) {
            O.duration = atof(v);
        } else if (strcmp(a, "--clients") == 0) {
            O.clients = atoi(v);
        } else if (strcmp(a, "--rate") == 0) {
            O.rate = atof(v);
        } else if (strcmp(a, "--busy-rate") == 0) {
            O.busy_rate = atof(v);
        } else if (strcmp(a, "--seed") == 0) {
            O.seed = strtoul(v, NULL, 10);
        } else if (strcmp(a, "--queue-size") == 0) {
            O.queue_size = atoi(v);
        } else if (strcmp(a, "--warmup") == 0) {
            O.warmup = atof(v);
        } else if (strcmp(a, "--drain") == 0) {
            O.drain = atof(v);
        } else if (strcmp(a, "--label") == 0) {
            O.label = v;
        } else if (strcmp(a, "--keep-log") == 0) {
            O.keep_log = v;
        } else if (strcmp(a, "--hostile") == 0) {
            O.hostile = atoi(v);
        } else if (strcmp(a, "--flood-rate") == 0) {
            O.flood_rate = atof(v);
        } else if (strcmp(a, "--memory-limit") == 0) {
            O.memory_limit = atol(v);
        } else if (strcmp(a, "--alloc-count") == 0) {
            O.alloc_count = v;
        } else if (strcmp(a, "--alloc-max") == 0) {
            O.alloc_max = atol(v);
        } else {
            usage();
        }
    }
    if (O.duration <= 0 || O.clients < 20 || O.rate <= 0 || O.busy_rate <= 0 ||
        O.queue_size < 16) {
        fprintf(stderr, "soak: need --duration > 0, --clients >= 20, rates > 0, "
                        "--queue-size >= 16\n");
        exit(2);
    }
    if (O.warmup < 0) {
        O.warmup = O.duration / 5.0 < 60.0 ? O.duration / 5.0 : 60.0;
    }
    if (O.drain < 0) {
        O.drain = 30.0;
    }
}

/* ---- setup ---------------------------------------------------------------------------- */

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n == 0 ? 1u : n, sz);
    if (p == NULL) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    return p;
}

static void build_population(void)
{
    int n = O.clients;
    NSL = n / 20 > 2 ? n / 20 : 2;
    NMA = n / 10 > 2 ? n / 10 : 2;
    NCH = n / 5 > 2 ? n / 5 : 2;
    NW = n - NSL - NMA - NCH;
    G = NW / 10 > 3 ? NW / 10 : 3;
    NBUSY = NW / 40 > 1 ? NW / 40 : 1;
    if (O.hostile > 0) {
        NHF = O.hostile;
        NHA = O.hostile / 2 > 1 ? O.hostile / 2 : 1;
    }
    nconns = (size_t)(NW + 2 * NCH + NSL + NMA + NHF + NHA);
    conns = xcalloc(nconns, sizeof *conns);
    g_pfd = xcalloc(nconns, sizeof *g_pfd);
    wname = xcalloc((size_t)NW, sizeof *wname);
    chname = xcalloc((size_t)NCH, sizeof *chname);
    secname = xcalloc((size_t)NCH, sizeof *secname);
    slname = xcalloc((size_t)NSL, sizeof *slname);
    maname = xcalloc((size_t)NMA, sizeof *maname);
    size_t k = 0;
    for (int i = 0; i < NW; i++, k++) {
        snprintf(wname[i], sizeof wname[i], "soak.w.g%d.%d", w_group(i), i);
        struct conn *c = &conns[k];
        c->role = R_W;
        c->idx = i;
        c->name = wname[i];
        struct wst *w = xcalloc(1, sizeof *w);
        w->msg_seq = xcalloc((size_t)NW, sizeof *w->msg_seq);
        w->tochurn_seq = xcalloc((size_t)NCH, sizeof *w->tochurn_seq);
        w->last = xcalloc((size_t)NW * NK, sizeof *w->last);
        w->glast = xcalloc((size_t)NW, sizeof *w->glast);
        w->cgp = xcalloc((size_t)NCH, sizeof *w->cgp);
        w->cp = xcalloc((size_t)NCH, sizeof *w->cp);
        w->cgm = xcalloc((size_t)NCH, sizeof *w->cgm);
        w->cm = xcalloc((size_t)NCH, sizeof *w->cm);
        c->rs = w;
    }
    for (int i = 0; i < NW; i++) {
        w_init_routing(i, conns[i].rs);
    }
    /* conns[NW + i]: churner i; conns[NW + NCH + i]: its secondary */
    for (int i = 0; i < NCH; i++, k++) {
        snprintf(chname[i], sizeof chname[i], "soak.c.%d", i);
        snprintf(secname[i], sizeof secname[i], "soak.c.%d%%%%s", i);
        struct conn *c = &conns[k];
        c->role = R_CHURN;
        c->idx = i;
        c->name = chname[i];
        struct cst *ch = xcalloc(1, sizeof *ch);
        ch->msg_seq = xcalloc((size_t)NW, sizeof *ch->msg_seq);
        ch->k = i % G;
        crx_alloc(&ch->rx);
        crx_alloc(&ch->srx);
        c->rs = ch;
        c->t_next = (int64_t)rnd_below(2000000);
    }
    for (int i = 0; i < NCH; i++, k++) {
        struct conn *c = &conns[k];
        c->role = R_SEC;
        c->idx = i;
        c->name = secname[i];
        CH(&conns[NW + i])->sec = c;
    }
    for (int i = 0; i < NSL; i++, k++) {
        snprintf(slname[i], sizeof slname[i], "soak.s.%d", i);
        struct conn *c = &conns[k];
        c->role = R_SLOW;
        c->idx = i;
        c->name = slname[i];
        c->rs = xcalloc(1, sizeof(struct slst));
        c->t_next = (int64_t)rnd_below(3000000);
    }
    for (int i = 0; i < NMA; i++, k++) {
        snprintf(maname[i], sizeof maname[i], "soak.m.%d", i);
        struct conn *c = &conns[k];
        c->role = R_MAL;
        c->idx = i;
        c->name = maname[i];
        c->rs = xcalloc(1, sizeof(struct mast));
        c->t_next = (int64_t)rnd_below(1000000);
    }
    if (NHF + NHA > 0) {
        g_flood = xcalloc(FLOOD_MAX, 1);
        memset(g_flood, 'f', FLOOD_MAX);
        hname = xcalloc((size_t)(NHF + NHA), sizeof *hname);
    }
    for (int i = 0; i < NHF + NHA; i++, k++) {
        struct conn *c = &conns[k];
        struct hst *h = xcalloc(1, sizeof *h);
        h->announcer = i >= NHF;
        hname[i] = xcalloc(ANN_NAME_LEN + 1u, 1);
        if (h->announcer) { /* soak.a.<i>.xxxx...: announcements of 30000 bytes */
            int n0 = snprintf(hname[i], ANN_NAME_LEN + 1u, "soak.a.%d.", i - NHF);
            memset(hname[i] + n0, 'x', ANN_NAME_LEN - (size_t)n0);
        } else {
            snprintf(hname[i], 32, "soak.f.%d", i);
        }
        c->role = R_HOST;
        c->idx = i;
        c->name = hname[i];
        c->rs = h;
        c->t_next = (int64_t)rnd_below(2000000);
    }
    for (size_t i = 0; i < nconns; i++) {
        conns[i].fd = -1;
    }
}

/* ---- main ------------------------------------------------------------------------------ */

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "soak: watchdog expired; giving up\n";
    (void)write(2, m, sizeof m - 1u);
    _exit(3);
}

int main(int argc, char **argv)
{
    parse_opts(argc, argv);
    if (O.hostile > 0) {
        g_payload_limit = HOSTILE_PAYLOAD_LIMIT;
    }
    signal(SIGPIPE, SIG_IGN);
    g_valgrind = wc_under_valgrind();
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(O.duration + 120.0 + 5.0 * O.drain) * (g_valgrind ? 3u : 1u) + 60u);
    g_rng = (uint64_t)O.seed * 0x2545F4914F6CDD1Dull + 1u;
    (void)wc_raise_nofile(8192);
    build_population();

    char qs[32], mc[32], pl[32];
    snprintf(qs, sizeof qs, "%d", O.queue_size);
    snprintf(mc, sizeof mc, "%zu", nconns + 64u);
    snprintf(pl, sizeof pl, "%u", g_payload_limit);
    const char *extra[] = {"--queue-size", qs, "--max-clients", mc, "--payload-size-limit",
                           pl, "--max-handshakes", mc, NULL};
    printf("soak %s: %d clients (%d well-behaved in %d groups, %d busy publishers; %d churners; "
           "%d slow consumers; %d malformed senders), %.0f s, rate %.1f/s per client, busy "
           "%.0f/s x %d, --queue-size %d, seed %lu%s\n",
           O.label, O.clients, NW, G, NBUSY, NCH, NSL, NMA, O.duration, O.rate, O.busy_rate,
           NBUSY, O.queue_size, O.seed, g_valgrind ? ", broker under valgrind" : "");
    fflush(stdout);
    if (wc_broker_start(&g_b, extra) != 0) {
        printf("FAIL broker-start: the broker did not start\nsoak: 0 passed, 1 failed\n");
        wc_broker_cleanup(&g_b);
        return 1;
    }
    pid_t bpid = broker_pid();
    if (O.alloc_count != NULL) {
        (void)unlink(O.alloc_count);
        kill(bpid, SIGUSR2); /* the interposer starts counting */
    }

    /* Phase 0: every well-behaved client registers and subscribes (QoS 1,
     * ACK awaited) before anyone sends. */
    int64_t t_setup = now_us();
    for (int i = 0; i < NW; i++) {
        while (conn_open(&conns[i]) != 0) {
            wc_sleep_ms(5);
            if (now_us() - t_setup > scaled_us(30.0)) {
                break;
            }
        }
    }
    int ready = 0;
    while (now_us() - t_setup < scaled_us(60.0)) {
        poll_once(10);
        ready = 0;
        for (int i = 0; i < NW; i++) {
            ready += W(&conns[i])->ready;
        }
        if (ready == NW) {
            break;
        }
        check_broker_alive();
    }
    if (ready != NW) {
        printf("FAIL setup: only %d of %d well-behaved clients registered and subscribed\n",
               ready, NW);
        printf("soak: 0 passed, 1 failed\n");
        wc_broker_dump_log(&g_b);
        wc_broker_cleanup(&g_b);
        return 1;
    }
    long fd_base = proc_fd_count(bpid), rss_base = proc_rss_kb(bpid);
    printf("soak: setup done in %.1f s: %d well-behaved clients subscribed; broker fds %ld, "
           "RSS %ld kB\n",
           (double)(now_us() - t_setup) / 1e6, NW, fd_base, rss_base);
    fflush(stdout);

    /* Phase 1: load. */
    T0 = now_us();
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->role == R_W) {
            c->t_next = T0 + (int64_t)rnd_below((uint32_t)(1e6 / O.rate));
            W(c)->t_busy = T0;
        } else {
            c->t_next += T0;
        }
    }
    g_running = 1;
    int64_t t_end = T0 + (int64_t)(O.duration * 1e6);
    int64_t t_warm = T0 + (int64_t)(O.warmup * 1e6);
    int64_t t_report = T0 + 10000000;
    long fd_start = -1, rss_start = -1, fd_end = -1, rss_end = -1;
    int conns_start = 0, conns_end = 0;
    int64_t t_alive = T0;
    for (;;) {
        int64_t now = now_us();
        if (now >= t_end) {
            break;
        }
        tick_all(now);
        poll_once(2);
        if (fd_start < 0 && now >= t_warm) {
            fd_start = proc_fd_count(bpid);
            rss_start = proc_rss_kb(bpid);
            conns_start = open_conns();
        }
        if (now >= t_report) {
            uint64_t sent = 0, recv = 0;
            for (int k = 1; k < K_NKINDS; k++) {
                sent += S.sent[k];
                recv += S.recv[k];
            }
            printf("soak: t=%.0f s: sent %llu, received %llu (+%llu at churners), slow drops "
                   "%llu, malformed %llu, churner cycles %llu, connections %d, broker fds "
                   "%ld, RSS %ld kB, violations %lu\n",
                   secs(now), (unsigned long long)sent, (unsigned long long)recv,
                   (unsigned long long)S.churn_recv, (unsigned long long)S.slow_drops,
                   (unsigned long long)S.mal_cycles, (unsigned long long)S.churn_cycles,
                   open_conns(), proc_fd_count(bpid), proc_rss_kb(bpid), g_nviol);
            fflush(stdout);
            t_report += 10000000;
        }
        if (now - t_alive > 1000000) {
            check_broker_alive();
            t_alive = now;
        }
    }
    fd_end = proc_fd_count(bpid);
    rss_end = proc_rss_kb(bpid);
    conns_end = open_conns();
    if (fd_start < 0) {
        fd_start = fd_end;
        rss_start = rss_end;
        conns_start = conns_end;
    }

    /* Phase 2: wind down. No new work; churners end their connections,
     * slow consumers are closed, malformed senders finish their cycle;
     * well-behaved clients keep reading until everything sent to them
     * arrived. */
    g_running = 0;
    g_stopping = 1;
    int64_t t_stop = now_us();
    for (size_t i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->role == R_SLOW && c->fd >= 0) {
            struct pollfd p = {c->fd, 0, 0};
            if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0 &&
                c->st == CS_REG && c->phase == SL_SILENT) {
                slow_dropped(c, now_us(), "hang-up");
            } else {
                if (c->st == CS_REG) {
                    S.slow_closed_by_us++;
                } else if (c->st == CS_HS_NAME) { /* the broker may have registered it */
                    ((struct slst *)c->rs)->closed_in_handshake = 1;
                }
                conn_close(c);
            }
        }
    }
    int complete = 0;
    while (now_us() - t_stop < (int64_t)(O.drain * 1e6) * (g_valgrind ? 5 : 1)) {
        int64_t now = now_us();
        tick_all(now);
        poll_once(5);
        int busy = 0;
        for (size_t i = (size_t)NW; i < nconns; i++) {
            busy += conns[i].fd >= 0;
        }
        complete = 1;
        for (int r = 0; r < NW && complete; r++) {
            complete = w_complete(r);
        }
        if (complete && busy == 0) {
            break;
        }
        check_broker_alive();
    }
    double drain_s = (double)(now_us() - t_stop) / 1e6;
    for (size_t i = (size_t)NW; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->fd >= 0) {
            viol("%s: still open after the drain (state %d phase %d)", c->name, (int)c->st,
                 c->phase);
            if (c->role == R_MAL && c->st == CS_REG) {
                mal_expect(c->rs, MAL_CLOSED);
            }
            conn_close(c);
        }
    }
    uint64_t tail = 0;
    for (int r = 0; r < NW; r++) {
        tail += w_tail_lost(r, 1);
    }
    S.lost += tail;
    uint64_t acks_missing = 0, rpc_missing = 0;
    for (int r = 0; r < NW; r++) {
        acks_missing += conns[r].ack_n;
        rpc_missing += (uint64_t)W(&conns[r])->rpc_n;
    }

    /* Phase 3: quiescent figures: only the well-behaved clients are
     * connected, as right after the setup. */
    long fd_quiet = -1;
    for (int64_t t = now_us(); now_us() - t < scaled_us(10.0);) {
        poll_once(20);
        tick_all(now_us());
        fd_quiet = proc_fd_count(bpid);
        if (fd_quiet <= fd_base) {
            break;
        }
    }
    long rss_quiet = proc_rss_kb(bpid);

    /* Phase 4: close the well-behaved clients, stop the broker. */
    for (int i = 0; i < NW; i++) {
        conn_close(&conns[i]);
    }
    for (int64_t t = now_us(); now_us() - t < scaled_us(10.0);) {
        long n = proc_fd_count(bpid);
        if (n >= 0 && n <= fd_base - NW) {
            break;
        }
        wc_sleep_ms(20);
    }
    long hwm_kb = -1; /* the broker's peak RSS (VmHWM) */
    {
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%ld/status", (long)bpid);
        if (wc_read_file(path, buf, sizeof buf) > 0) {
            const char *h = strstr(buf, "VmHWM:");
            hwm_kb = h != NULL ? atol(h + 6) : -1;
        }
    }
    if (O.alloc_count != NULL) {
        kill(bpid, SIGUSR2); /* the interposer stops counting and writes the file */
        wc_sleep_ms(100);
    }
    int bstatus = wc_broker_stop(&g_b);
    char allocs[512] = "";
    long long alloc_total = -1;
    if (O.alloc_count != NULL) {
        FILE *af = fopen(O.alloc_count, "r");
        if (af != NULL) {
            if (fgets(allocs, sizeof allocs, af) != NULL) {
                allocs[strcspn(allocs, "\n")] = '\0';
                const char *t = strstr(allocs, "total=");
                alloc_total = t != NULL ? atoll(t + 6) : -1;
            }
            fclose(af);
        }
    }
    parse_log(g_b.err_log);
    if (O.keep_log != NULL) {
        static char copy[1u << 16];
        FILE *in = fopen(g_b.err_log, "r"), *out = fopen(O.keep_log, "w");
        if (in != NULL && out != NULL) {
            size_t n;
            while ((n = fread(copy, 1, sizeof copy, in)) > 0) {
                fwrite(copy, 1, n, out);
            }
        }
        if (in != NULL) {
            fclose(in);
        }
        if (out != NULL) {
            fclose(out);
        }
    }

    /* ---- figures ---- */
    uint64_t sent_total = 0, recv_total = 0, expected_w = 0;
    for (int k = 1; k < K_NKINDS; k++) {
        sent_total += S.sent[k];
        recv_total += S.recv[k];
    }
    for (int r = 0; r < NW; r++) {
        for (int s = 0; s < NW; s++) {
            for (int k = K_PUB; k <= K_BUSY; k++) {
                expected_w += w_expected(r, s, k);
            }
        }
    }
    uint64_t w_recv = 0;
    for (int k = K_PUB; k <= K_BUSY; k++) {
        w_recv += S.recv[k];
    }

    /* ---- log checks ---- */
    uint64_t w_drops = 0, w_bad = 0;
    char w_bad_text[256] = "";
    for (int i = 0; i < NW; i++) {
        struct namelog *s = &L.w[i];
        uint32_t closes = s->reasons[RS_PEER] + s->reasons[RS_READERR];
        uint32_t total = 0;
        for (int r = 0; r < RS_N; r++) {
            total += s->reasons[r];
        }
        if (total - closes > 0 || closes > 1 || s->regs != 1) {
            w_bad++;
            w_drops += total - closes;
            if (w_bad_text[0] == '\0') {
                snprintf(w_bad_text, sizeof w_bad_text, "%s: %u registrations, %u disconnects "
                         "(%u queue full, %u write timeout, %u other)",
                         wname[i], s->regs, total, s->reasons[RS_QFULL],
                         s->reasons[RS_WTIMEOUT], s->reasons[RS_OTHER]);
            }
        }
    }
    uint64_t sl_log_drops = 0, sl_bad = 0;
    char sl_bad_text[256] = "";
    for (int i = 0; i < NSL; i++) {
        struct namelog *s = &L.sl[i];
        struct slst *st = conns[(size_t)(NW + 2 * NCH + i)].rs;
        uint32_t d = s->reasons[RS_QFULL] + s->reasons[RS_WTIMEOUT] + s->reasons[RS_QMEM];
        uint32_t p = s->reasons[RS_PEER] + s->reasons[RS_READERR];
        uint32_t other = 0;
        for (int r = 0; r < RS_N; r++) {
            other += s->reasons[r];
        }
        other -= d + p;
        sl_log_drops += d;
        uint64_t reg = st->registered + (st->closed_in_handshake && s->regs > st->registered);
        if (other != 0 || d < st->drops || d > st->drops + 1u || d + p != reg || s->regs != reg) {
            sl_bad++;
            if (sl_bad_text[0] == '\0') {
                snprintf(sl_bad_text, sizeof sl_bad_text,
                         "%s: %llu registered (log %u), %llu drops seen, log: %u drops, %u "
                         "closes, %u other",
                         slname[i], (unsigned long long)st->registered, s->regs,
                         (unsigned long long)st->drops, d, p, other);
            }
        }
    }
    uint64_t ma_bad = 0, ma_logged = 0;
    char ma_bad_text[256] = "";
    for (int i = 0; i < NMA; i++) {
        struct namelog *s = &L.ma[i];
        struct mast *m = conns[(size_t)(NW + 2 * NCH + NSL + i)].rs;
        int ok = s->nseq == m->nexpect;
        for (size_t j = 0; ok && j < s->nseq; j++) {
            enum reason got = (enum reason)s->seq[j];
            if (m->expect[j] == MAL_CLOSED) {
                ok = got == RS_PEER || got == RS_READERR;
            } else {
                ok = got == mal_reason(m->expect[j]);
            }
            if (!ok && ma_bad_text[0] == '\0') {
                snprintf(ma_bad_text, sizeof ma_bad_text,
                         "%s: disconnect %zu logged as '%s', expected '%s'", maname[i], j + 1u,
                         reason_text[got],
                         m->expect[j] == MAL_CLOSED ? "peer closed the connection"
                                                    : mal_class[m->expect[j]].reason);
            }
        }
        if (!ok && ma_bad_text[0] == '\0') {
            snprintf(ma_bad_text, sizeof ma_bad_text, "%s: %zu disconnects logged, %zu expected",
                     maname[i], s->nseq, m->nexpect);
        }
        ma_bad += !ok;
        ma_logged += s->nseq;
    }
    uint64_t ch_bad = 0;
    char ch_bad_text[256] = "";
    for (int i = 0; i < NCH; i++) {
        struct namelog *s = &L.ch[i], *sc = &L.sec[i];
        struct cst *ch = CH(&conns[NW + i]);
        uint32_t p = s->reasons[RS_PEER] + s->reasons[RS_READERR];
        uint32_t total = 0, stotal = 0;
        for (int r = 0; r < RS_N; r++) {
            total += s->reasons[r];
            stotal += sc->reasons[r];
        }
        int ok = p == total && total == ch->registered && s->regs == ch->registered &&
                 sc->reasons[RS_PRIMARY] == stotal && stotal == ch->sec_registered &&
                 sc->regs == ch->sec_registered;
        if (!ok) {
            ch_bad++;
            if (ch_bad_text[0] == '\0') {
                snprintf(ch_bad_text, sizeof ch_bad_text,
                         "%s: %llu connections (log: %u registered, %u disconnects, %u as "
                         "peer closed/read error); secondary %llu (log: %u registered, %u "
                         "closed with the primary of %u)",
                         chname[i], (unsigned long long)ch->registered, s->regs, total, p,
                         (unsigned long long)ch->sec_registered, sc->regs,
                         sc->reasons[RS_PRIMARY], stotal);
            }
        }
    }
    uint64_t mal_hs_sent = S.mal_class[8] + S.mal_class[9];
    uint64_t ch_closed = 0, w_closed = 0;
    for (int i = 0; i < NCH; i++) {
        ch_closed += L.ch[i].reasons[RS_PEER] + L.ch[i].reasons[RS_READERR];
    }
    for (int i = 0; i < NW; i++) {
        w_closed += L.w[i].reasons[RS_PEER] + L.w[i].reasons[RS_READERR];
    }

    /* ---- summary ---- */
    printf("soak: %s: duration %.1f s (+%.1f s drain), clients %d (+%d secondaries), "
           "messages sent %llu, delivered to well-behaved receivers %llu of %llu expected, "
           "lost %llu, duplicated %llu, out of order %llu, misrouted %llu, corrupt %llu; "
           "drops: slow consumers %llu (output queue full %llu, write timeout %llu, "
           "over memory share %llu), "
           "malformed closed %llu, handshake refusals %llu, churner disconnects %llu, "
           "secondaries closed with primary %llu, well-behaved %llu (%llu closed by "
           "themselves at the end); broker RSS start %ld kB end %ld kB (setup %ld, "
           "quiescent %ld), fds start %ld end %ld (setup %ld, "
           "quiescent %ld), connections start %d end %d\n",
           O.label, O.duration, drain_s, O.clients, NCH, (unsigned long long)sent_total,
           (unsigned long long)w_recv, (unsigned long long)expected_w,
           (unsigned long long)S.lost, (unsigned long long)S.dup, (unsigned long long)S.order,
           (unsigned long long)S.misrouted, (unsigned long long)S.corrupt,
           (unsigned long long)sl_log_drops, (unsigned long long)L.reasons[RS_QFULL],
           (unsigned long long)L.reasons[RS_WTIMEOUT], (unsigned long long)L.reasons[RS_QMEM],
           (unsigned long long)ma_logged,
           (unsigned long long)L.hs_refused,
           (unsigned long long)ch_closed, (unsigned long long)L.reasons[RS_PRIMARY],
           (unsigned long long)w_drops, (unsigned long long)w_closed, rss_start,
           rss_end, rss_base, rss_quiet, fd_start, fd_end, fd_base, fd_quiet, conns_start,
           conns_end);
    printf("soak: sent by kind:");
    for (int k = 1; k < K_NKINDS; k++) {
        printf(" %s %llu;", kind_name[k], (unsigned long long)S.sent[k]);
    }
    printf(" RPC calls test/info/stats/client.list %llu/%llu/%llu/%llu; .broker/info "
           "announcements received %llu; subscribe-family churn frames %llu;",
           (unsigned long long)S.rpc_method[0], (unsigned long long)S.rpc_method[1],
           (unsigned long long)S.rpc_method[2], (unsigned long long)S.rpc_method[3],
           (unsigned long long)S.announcements, (unsigned long long)S.sub_churn);
    printf(" QoS 0/1/2/3: %llu/%llu/%llu/%llu; ACKs 01 %llu, 71 %llu, 77 %llu; RPC replies "
           "%llu\n",
           (unsigned long long)S.sent_qos[0], (unsigned long long)S.sent_qos[1],
           (unsigned long long)S.sent_qos[2], (unsigned long long)S.sent_qos[3],
           (unsigned long long)S.acks[BUSRT_RC_OK],
           (unsigned long long)S.acks[BUSRT_RC_NOT_REGISTERED],
           (unsigned long long)S.acks[BUSRT_RC_NOT_DELIVERED], (unsigned long long)S.rpc_ok);
    printf("soak: broker memory high-water %lld bytes (--memory-limit %ld; 0: none), peak RSS "
           "(VmHWM) %ld kB, \"memory limit\" warnings %llu\n",
           L.mem_hw, O.memory_limit, hwm_kb, (unsigned long long)L.mem_warnings);
    if (NHF + NHA > 0) {
        printf("soak: hostile: %d flooders sent %llu frames (%.1f MB; ACK 74 %llu), %d "
               "announcers (%u-byte names); %llu connections, %llu closed by the broker, "
               "%llu refused\n",
               NHF, (unsigned long long)S.flood_frames, (double)S.flood_bytes / 1e6,
               (unsigned long long)S.acks[BUSRT_RC_OTHER], NHA, ANN_NAME_LEN,
               (unsigned long long)S.host_cycles, (unsigned long long)S.host_closed,
               (unsigned long long)S.host_refused);
    }
    printf("soak: churners: %llu connections, %llu half frames before close, %llu busy "
           "retries, %llu frames received; slow consumers: %llu connections, %llu drops "
           "seen (mean %.1f s after going silent), %llu closed by us; malformed: %llu cycles "
           "(", (unsigned long long)S.churn_cycles, (unsigned long long)S.churn_half_frames,
           (unsigned long long)S.churn_busy, (unsigned long long)S.churn_recv,
           (unsigned long long)S.slow_cycles, (unsigned long long)S.slow_drops,
           S.slow_drops > 0 ? S.slow_drop_time / (double)S.slow_drops : 0.0,
           (unsigned long long)S.slow_closed_by_us, (unsigned long long)S.mal_cycles);
    for (int k = 0; k < MAL_NCLASS; k++) {
        printf("%s%s %llu", k > 0 ? ", " : "", mal_class[k].what,
               (unsigned long long)S.mal_class[k]);
    }
    printf(")\n");

    /* ---- checks ---- */
    check(S.lost == 0 && tail == 0, "lost",
          "%llu frames lost to well-behaved receivers (%llu never arrived by the end)",
          (unsigned long long)S.lost, (unsigned long long)tail);
    check(S.dup == 0, "duplicated", "%llu duplicates", (unsigned long long)S.dup);
    check(S.order == 0, "order",
          "%llu frames out of per-sender order across kinds (REQ-ORD-1)",
          (unsigned long long)S.order);
    check(S.misrouted == 0 && S.corrupt == 0, "routing",
          "%llu misrouted (not entitled, exclusions, publish-for, masks), %llu corrupt",
          (unsigned long long)S.misrouted, (unsigned long long)S.corrupt);
    check(complete && w_recv == expected_w && expected_w > 0, "complete",
          "well-behaved receivers got %llu of %llu frames sent to them",
          (unsigned long long)w_recv, (unsigned long long)expected_w);
    check(S.ack_viol == 0 && acks_missing == 0, "acks",
          "%llu ACK violations, %llu ACKs missing at the end", (unsigned long long)S.ack_viol,
          (unsigned long long)acks_missing);
    check(rpc_missing == 0 && (S.sent[K_RPC] == 0 || S.rpc_ok == S.sent[K_RPC]), "rpc",
          "%llu of %llu .broker test calls answered", (unsigned long long)S.rpc_ok,
          (unsigned long long)S.sent[K_RPC]);
    check(S.w_lost_conn == 0 && w_bad == 0, "well-behaved-kept",
          "%llu well-behaved connections lost; log: %llu well-behaved clients with "
          "unexpected disconnects%s%s",
          (unsigned long long)S.w_lost_conn, (unsigned long long)w_bad,
          w_bad_text[0] ? ": " : "", w_bad_text);
    check(S.churn_viol == 0 && S.churn_cycles > 0 && ch_bad == 0, "churners",
          "%llu connections, %llu violations (in-connection order/contiguity, secondaries "
          "closed with their primary: %llu of %llu); log mismatches %llu%s%s",
          (unsigned long long)S.churn_cycles, (unsigned long long)S.churn_viol,
          (unsigned long long)S.sec_closed, (unsigned long long)S.sec_opened,
          (unsigned long long)ch_bad, ch_bad_text[0] ? ": " : "", ch_bad_text);
    check(S.mal_viol == 0 && S.mal_cycles > 0 && ma_bad == 0, "malformed",
          "%llu cycles, %llu closed as expected, %llu violations; log reason sequences "
          "mismatched for %llu senders%s%s",
          (unsigned long long)S.mal_cycles, (unsigned long long)S.mal_ok,
          (unsigned long long)S.mal_viol, (unsigned long long)ma_bad,
          ma_bad_text[0] ? ": " : "", ma_bad_text);
    check(L.hs_refused == mal_hs_sent && S.hs_refusals == mal_hs_sent &&
              L.busy_refused == S.churn_busy,
          "handshake-refusals",
          "%llu bad handshakes sent, %llu refused as seen by the clients, %llu logged; %llu "
          "busy refusals seen, %llu logged",
          (unsigned long long)mal_hs_sent, (unsigned long long)S.hs_refusals,
          (unsigned long long)L.hs_refused, (unsigned long long)S.churn_busy,
          (unsigned long long)L.busy_refused);
    check(S.slow_drops > 0 && sl_bad == 0, "slow-consumers-dropped",
          "%llu drops seen, %llu logged with a reason (output queue full %llu, write timeout "
          "%llu); mismatches %llu%s%s",
          (unsigned long long)S.slow_drops, (unsigned long long)sl_log_drops,
          (unsigned long long)L.reasons[RS_QFULL], (unsigned long long)L.reasons[RS_WTIMEOUT],
          (unsigned long long)sl_bad, sl_bad_text[0] ? ": " : "", sl_bad_text);
    check(L.errors == 0 && L.other_reasons == 0, "broker-log",
          "%llu ERROR lines, %llu disconnects with an unexpected reason%s%s%s%s",
          (unsigned long long)L.errors, (unsigned long long)L.other_reasons,
          L.first_error[0] ? "; first error: " : "", L.first_error,
          L.first_other[0] ? "; first: " : "", L.first_other);
    long rss_bound = 2 * rss_start + 16384;
    check(rss_start > 0 && rss_end > 0 && rss_end <= rss_bound && rss_quiet <= rss_bound,
          "rss", "broker RSS %ld kB after warm-up, %ld kB at the end, %ld kB quiescent "
          "(bound 2x + 16 MB = %ld kB)", rss_start, rss_end, rss_quiet, rss_bound);
    long conn_diff = conns_end - conns_start > 0 ? conns_end - conns_start : 0;
    check(fd_start > 0 && fd_end - fd_start <= conn_diff + 16 && fd_quiet == fd_base, "fds",
          "broker fds %ld after warm-up, %ld at the end (connections %d -> %d, slack 16); "
          "%ld with only the well-behaved clients connected, as after setup (%ld)",
          fd_start, fd_end, conns_start, conns_end, fd_quiet, fd_base);
    check(bstatus == 0, "broker-exit", "broker exit status %d%s", bstatus,
          g_valgrind ? " (valgrind --error-exitcode=99)" : "");
    if (O.memory_limit > 0) {
        check(L.mem_hw > 0 && L.mem_hw <= O.memory_limit, "memory",
              "broker memory high-water %lld bytes, --memory-limit %ld; peak RSS %ld kB",
              L.mem_hw, O.memory_limit, hwm_kb);
    }
    if (O.alloc_count != NULL) {
        printf("soak: allocator calls in the broker process between ready and shutdown: %s\n",
               allocs[0] != '\0' ? allocs : "(no count file)");
        char bound[64] = "reported, not checked";
        if (O.alloc_max >= 0) {
            snprintf(bound, sizeof bound, "at most %ld allowed", O.alloc_max);
        }
        check(alloc_total >= 0 && (O.alloc_max < 0 || alloc_total <= O.alloc_max),
              "allocations", "%lld allocator calls counted%s (%s)", alloc_total,
              alloc_total < 0 ? " (no count)" : "", bound);
    }
    check(g_nviol == 0, "violations", "%lu violations in total%s", g_nviol,
          g_nviol > 40u ? " (first 40 printed)" : "");

    if (g_fail > 0) {
        printf("soak: failed checks:%s\n", g_failures);
        if (O.keep_log == NULL) {
            fprintf(stderr, "soak: broker log tail:\n");
            char cmd[512];
            snprintf(cmd, sizeof cmd, "tail -n 40 '%s' >&2", g_b.err_log);
            if (system(cmd) != 0) {
                fprintf(stderr, "soak: (could not show the log)\n");
            }
        }
    }
    printf("soak: %d passed, %d failed\n", g_pass, g_fail);
    wc_broker_cleanup(&g_b);
    return g_fail == 0 ? 0 : 1;
}
