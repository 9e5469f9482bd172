/* busrt_kit.h answered by a child process over a pipe (kit_pipe.h; the
 * protocol is in fuzz/README.md, "Pipe protocol"): every kit_* call
 * becomes a request on the child's stdin, its answer is read from the
 * child's stdout. Requests can be batched: planned with the reference
 * core's answers, sent together, then replayed (kit_pipe_main.c). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "busrt/le.h"
#include "busrt/match.h"
#include "busrt/utf8.h"
#include "busrt_kit.h"
#include "kit_pipe.h"

#define KP_TIMEOUT_MS 10000

unsigned long long kit_pipe_calls;

struct kbuf {
    uint8_t *p;
    size_t len, cap;
};

static void kb_add(struct kbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 4096;
        while (cap < b->len + n) {
            cap *= 2;
        }
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL) {
            fprintf(stderr, "kit_pipe: out of memory\n");
            exit(2);
        }
        b->p = q;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
}

static void kb_u32(struct kbuf *b, uint32_t v)
{
    uint8_t x[4];
    busrt_put_le32(x, v);
    kb_add(b, x, 4);
}

static struct {
    pid_t pid;
    int in, out;           /* the child's stdin (we write) and stdout (we read) */
    unsigned features;
    enum { SYNC, PLAN, REPLAY } mode;
    struct kbuf cur;       /* the request being built (with its length prefix) */
    struct kbuf reqs;      /* planned requests, back to back */
    size_t *req_off;       /* offset of each planned request in reqs */
    size_t nreq, creq;
    size_t *first;         /* the first request of each planned input */
    size_t ninput, cinput;
    struct kbuf resp;      /* the answers to the planned requests */
    size_t *resp_off;
    size_t cresp;
    size_t cursor, stop;   /* REPLAY: next request of this input, its end */
    int diverged;          /* REPLAY: a call differed from the plan */
    struct kbuf rbuf;      /* bytes read from the child */
    size_t rpos;
    struct kbuf one;       /* the answer of a sync call */
} K = {.in = -1, .out = -1};

static void fatal(const char *fmt, const char *what)
{
    fprintf(stderr, "kit_pipe: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    kit_pipe_stop();
    exit(2);
}

/* Reads more of the child's output into rbuf (waiting up to the timeout).
 * Writes pending bytes of out[*pos, n) meanwhile, so that neither side
 * can block the other. */
static void pump(const uint8_t *out, size_t n, size_t *pos, int need_read)
{
    for (;;) {
        struct pollfd p[2];
        nfds_t k = 0;
        int wi = -1;
        p[k++] = (struct pollfd){K.out, POLLIN, 0};
        if (out != NULL && *pos < n) {
            p[k] = (struct pollfd){K.in, POLLOUT, 0};
            wi = (int)k++;
        }
        int rc = poll(p, k, KP_TIMEOUT_MS);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc <= 0) {
            fatal("the command did not answer within %s ms", "10000");
        }
        if (wi >= 0 && (p[wi].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
            ssize_t w = write(K.in, out + *pos, n - *pos);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                fatal("cannot write to the command: %s", strerror(errno));
            }
            if (w > 0) {
                *pos += (size_t)w;
            }
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            uint8_t buf[65536];
            ssize_t r = read(K.out, buf, sizeof buf);
            if (r == 0) {
                fatal("the command ended%s", " (end of its output)");
            }
            if (r < 0 && errno != EAGAIN && errno != EINTR) {
                fatal("cannot read from the command: %s", strerror(errno));
            }
            if (r > 0) {
                if (K.rpos > 0 && K.rpos == K.rbuf.len) {
                    K.rbuf.len = K.rpos = 0;
                }
                kb_add(&K.rbuf, buf, (size_t)r);
                if (need_read) {
                    return;
                }
            }
        }
        if (!need_read && (out == NULL || *pos >= n)) {
            return;
        }
    }
}

/* One answer from the child: its body into dst (replacing it). */
static void read_answer(struct kbuf *dst)
{
    for (;;) {
        size_t avail = K.rbuf.len - K.rpos;
        if (avail >= 4) {
            uint32_t m = busrt_get_le32(K.rbuf.p + K.rpos);
            if (m > (64u << 20)) {
                fatal("the command sent an answer of %s bytes", "more than 64 MiB");
            }
            if (avail >= 4 + (size_t)m) {
                dst->len = 0;
                kb_add(dst, K.rbuf.p + K.rpos + 4, m);
                K.rpos += 4 + (size_t)m;
                return;
            }
        }
        pump(NULL, 0, NULL, 1);
    }
}

static void send_all(const uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        pump(p, n, &pos, 0);
    }
}

static const uint8_t flush_req[5] = {1, 0, 0, 0, KP_FLUSH};

/* ---- Requests ------------------------------------------------------------------- */

static void req_begin(uint8_t code)
{
    K.cur.len = 0;
    kb_u32(&K.cur, 0);
    kb_add(&K.cur, &code, 1);
}

static void req_end(void)
{
    busrt_put_le32(K.cur.p, (uint32_t)(K.cur.len - 4));
}

/* The answer to the current request: NULL while planning (the caller then
 * answers with the reference core), else its bytes and length. */
static const uint8_t *call(size_t *len)
{
    req_end();
    if (K.mode == PLAN) {
        if (K.nreq == K.creq) {
            K.creq = K.creq > 0 ? K.creq * 2 : 1024;
            K.req_off = realloc(K.req_off, K.creq * sizeof *K.req_off);
            if (K.req_off == NULL) {
                fatal("%s", "out of memory");
            }
        }
        K.req_off[K.nreq++] = K.reqs.len;
        kb_add(&K.reqs, K.cur.p, K.cur.len);
        return NULL;
    }
    kit_pipe_calls++;
    if (K.mode == REPLAY && !K.diverged && K.cursor < K.stop) {
        size_t off = K.req_off[K.cursor];
        size_t rl = 4 + (size_t)busrt_get_le32(K.reqs.p + off);
        if (rl == K.cur.len && memcmp(K.reqs.p + off, K.cur.p, rl) == 0) {
            size_t a = K.resp_off[K.cursor++];
            *len = busrt_get_le32(K.resp.p + a);
            return K.resp.p + a + 4;
        }
        K.diverged = 1;
    }
    send_all(K.cur.p, K.cur.len);
    send_all(flush_req, sizeof flush_req);
    read_answer(&K.one);
    *len = K.one.len;
    return K.one.p;
}

static int32_t get_i32(const uint8_t *p)
{
    uint32_t u = busrt_get_le32(p);
    return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(0xFFFFFFFFu - u) - 1;
}

static const uint8_t *answer(size_t want, const char *fn)
{
    size_t len = 0;
    const uint8_t *a = call(&len);
    if (a != NULL && len < want) {
        fatal("a short answer to %s", fn);
    }
    return a;
}

static struct kit_span span_at(const uint8_t *p)
{
    struct kit_span s = {busrt_get_le32(p), busrt_get_le32(p + 4)};
    return s;
}

static struct kit_span kspan(struct busrt_span s)
{
    struct kit_span k = {s.off, s.len};
    return k;
}

/* ---- busrt_kit.h ------------------------------------------------------------------ */

unsigned kit_features(void)
{
    return K.features;
}

int kit_client_header_decode(const uint8_t *buf, size_t len, uint32_t max_body,
                             uint32_t *op_id, uint8_t *op, uint8_t *qos, uint32_t *body_len)
{
    req_begin(KP_CLIENT_HEADER);
    kb_u32(&K.cur, max_body);
    kb_add(&K.cur, buf, len);
    const uint8_t *a = answer(14, "client_header_decode");
    if (a == NULL) {
        struct busrt_client_header h;
        int rc = busrt_client_header_decode(buf, len, max_body, &h);
        if (rc == 9) {
            *op_id = h.op_id;
            *op = h.op;
            *qos = h.qos;
            *body_len = busrt_client_body_len(&h);
        }
        return rc;
    }
    *op_id = busrt_get_le32(a + 4);
    *op = a[8];
    *qos = a[9];
    *body_len = busrt_get_le32(a + 10);
    return get_i32(a);
}

int kit_client_body_split(uint8_t op, const uint8_t *body, size_t len, struct kit_span *target,
                          struct kit_span *receiver, struct kit_span *payload)
{
    req_begin(KP_CLIENT_BODY);
    kb_add(&K.cur, &op, 1);
    kb_add(&K.cur, body, len);
    const uint8_t *a = answer(28, "client_body_split");
    if (a == NULL) {
        struct busrt_client_body b;
        int rc = busrt_client_body_split(op, body, len, &b);
        *target = kspan(b.target);
        *receiver = kspan(b.receiver);
        *payload = kspan(b.payload);
        return rc;
    }
    *target = span_at(a + 4);
    *receiver = span_at(a + 12);
    *payload = span_at(a + 20);
    return get_i32(a);
}

int kit_list_split(const uint8_t *body, size_t len, struct kit_span *items, size_t cap)
{
    req_begin(KP_LIST);
    kb_add(&K.cur, body, len);
    size_t alen = 0;
    const uint8_t *a = call(&alen);
    if (a == NULL) {
        size_t pos = 0, k = 0;
        struct busrt_span it;
        while (busrt_list_next(body, len, &pos, &it) == 1) {
            if (k < cap) {
                items[k] = kspan(it);
            }
            k++;
        }
        return (int)k;
    }
    if (alen < 4) {
        fatal("a short answer to %s", "list_split");
    }
    int32_t n = get_i32(a);
    for (size_t k = 0; n > 0 && k < (size_t)n && k < cap; k++) {
        if (alen < 4 + 8 * (k + 1)) {
            fatal("a short answer to %s", "list_split");
        }
        items[k] = span_at(a + 4 + 8 * k);
    }
    return n;
}

int kit_name_valid(const uint8_t *name, size_t len)
{
    req_begin(KP_NAME);
    kb_add(&K.cur, name, len);
    const uint8_t *a = answer(4, "name_valid");
    return a == NULL ? busrt_name_check(name, len) == 0 : get_i32(a);
}

int kit_frame_header_decode(const uint8_t *buf, size_t len, uint32_t max_body, uint8_t *kind,
                            uint32_t *body_len, uint8_t *realtime)
{
    req_begin(KP_FRAME_HEADER);
    kb_u32(&K.cur, max_body);
    kb_add(&K.cur, buf, len);
    const uint8_t *a = answer(10, "frame_header_decode");
    if (a == NULL) {
        struct busrt_frame_header h;
        int rc = busrt_frame_header_decode(buf, len, max_body, &h);
        if (rc == 6) {
            *kind = h.kind;
            *body_len = h.kind == BUSRT_KIND_NOP ? 0u : h.body_len;
            *realtime = h.realtime;
        }
        return rc;
    }
    *kind = a[4];
    *body_len = busrt_get_le32(a + 5);
    *realtime = a[9];
    return get_i32(a);
}

int kit_ack_decode(const uint8_t *buf, size_t len, uint32_t *op_id, uint8_t *code)
{
    req_begin(KP_ACK);
    kb_add(&K.cur, buf, len);
    const uint8_t *a = answer(9, "ack_decode");
    if (a == NULL) {
        struct busrt_ack x;
        int rc = busrt_ack_decode(buf, len, &x);
        if (rc == 6) {
            *op_id = x.op_id;
            *code = x.code;
        }
        return rc;
    }
    *op_id = busrt_get_le32(a + 4);
    *code = a[8];
    return get_i32(a);
}

int kit_frame_body_split(uint8_t kind, const uint8_t *body, size_t len, struct kit_span *sender,
                         struct kit_span *topic, struct kit_span *payload)
{
    req_begin(KP_FRAME_BODY);
    kb_add(&K.cur, &kind, 1);
    kb_add(&K.cur, body, len);
    const uint8_t *a = answer(28, "frame_body_split");
    if (a == NULL) {
        struct busrt_frame_body b;
        int rc = busrt_frame_body_split(kind, body, len, &b);
        *sender = kspan(b.sender);
        *topic = kspan(b.topic);
        *payload = kspan(b.payload);
        return rc;
    }
    *sender = span_at(a + 4);
    *topic = span_at(a + 12);
    *payload = span_at(a + 20);
    return get_i32(a);
}

static int match_call(uint8_t code, const uint8_t *x, size_t xl, const uint8_t *y, size_t yl)
{
    req_begin(code);
    kb_u32(&K.cur, (uint32_t)xl);
    kb_add(&K.cur, x, xl);
    kb_add(&K.cur, y, yl);
    const uint8_t *a = answer(4, code == KP_TOPIC ? "topic_match" : "mask_match");
    if (a == NULL) {
        return code == KP_TOPIC ? busrt_topic_matches(x, xl, y, yl)
                                : busrt_mask_matches(x, xl, y, yl);
    }
    return get_i32(a);
}

int kit_topic_match(const uint8_t *pattern, size_t plen, const uint8_t *topic, size_t tlen)
{
    return match_call(KP_TOPIC, pattern, plen, topic, tlen);
}

int kit_mask_match(const uint8_t *mask, size_t mlen, const uint8_t *name, size_t nlen)
{
    return match_call(KP_MASK, mask, mlen, name, nlen);
}

int kit_utf8_valid(const uint8_t *s, size_t len)
{
    req_begin(KP_UTF8);
    kb_add(&K.cur, s, len);
    const uint8_t *a = answer(4, "utf8_valid");
    return a == NULL ? busrt_utf8_valid(s, len) : get_i32(a);
}

/* ---- The child and batches -------------------------------------------------------- */

int kit_pipe_start(const char *cmd)
{
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0) {
        fprintf(stderr, "kit_pipe: pipe: %s\n", strerror(errno));
        return -1;
    }
    size_t n = strlen(cmd) + 6;
    char *sh = malloc(n);
    if (sh == NULL) {
        return -1;
    }
    snprintf(sh, n, "exec %s", cmd);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "kit_pipe: fork: %s\n", strerror(errno));
        free(sh);
        return -1;
    }
    if (pid == 0) {
        (void)dup2(to[0], 0);
        (void)dup2(from[1], 1);
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
        _exit(127);
    }
    free(sh);
    close(to[0]);
    close(from[1]);
    signal(SIGPIPE, SIG_IGN);
    K.pid = pid;
    K.in = to[1];
    K.out = from[0];
    (void)fcntl(K.in, F_SETFL, fcntl(K.in, F_GETFL) | O_NONBLOCK);
    (void)fcntl(K.out, F_SETFL, fcntl(K.out, F_GETFL) | O_NONBLOCK);
    K.mode = SYNC;
    req_begin(KP_FEATURES);
    size_t len = 0;
    const uint8_t *a = call(&len);
    kit_pipe_calls--;
    if (len < 4) {
        fatal("a short answer to %s", "features");
    }
    K.features = busrt_get_le32(a) & KIT_F_ALL;
    return 0;
}

void kit_pipe_stop(void)
{
    if (K.in >= 0) {
        close(K.in);
        K.in = -1;
    }
    if (K.out >= 0) {
        close(K.out);
        K.out = -1;
    }
    if (K.pid > 0) {
        int st;
        for (int i = 0; i < 200 && waitpid(K.pid, &st, WNOHANG) == 0; i++) {
            usleep(10000);
            if (i == 100) {
                (void)kill(K.pid, SIGKILL);
            }
        }
        K.pid = 0;
    }
}

void kit_pipe_plan_begin(void)
{
    K.mode = PLAN;
    kit_diff_planning = 1;
    K.reqs.len = 0;
    K.nreq = 0;
    K.ninput = 0;
}

void kit_pipe_plan_input(void)
{
    if (K.ninput == K.cinput) {
        K.cinput = K.cinput > 0 ? K.cinput * 2 : 256;
        K.first = realloc(K.first, (K.cinput + 1) * sizeof *K.first);
        if (K.first == NULL) {
            fatal("%s", "out of memory");
        }
    }
    K.first[K.ninput++] = K.nreq;
}

int kit_pipe_exchange(void)
{
    kit_diff_planning = 0;
    K.first[K.ninput] = K.nreq;
    kb_add(&K.reqs, flush_req, sizeof flush_req);
    size_t pos = 0;
    if (K.nreq + 1 > K.cresp) {
        K.cresp = K.nreq + 1;
        K.resp_off = realloc(K.resp_off, K.cresp * sizeof *K.resp_off);
        if (K.resp_off == NULL) {
            fatal("%s", "out of memory");
        }
    }
    K.resp.len = 0;
    size_t got = 0;
    while (pos < K.reqs.len || got < K.nreq) {
        /* Take every complete answer already read. */
        while (got < K.nreq && K.rbuf.len - K.rpos >= 4) {
            uint32_t m = busrt_get_le32(K.rbuf.p + K.rpos);
            if (K.rbuf.len - K.rpos < 4 + (size_t)m) {
                break;
            }
            K.resp_off[got++] = K.resp.len;
            kb_add(&K.resp, K.rbuf.p + K.rpos, 4 + (size_t)m);
            K.rpos += 4 + (size_t)m;
        }
        if (pos < K.reqs.len || got < K.nreq) {
            pump(K.reqs.p, K.reqs.len, &pos, got < K.nreq);
        }
    }
    K.mode = REPLAY;
    return 0;
}

void kit_pipe_replay_input(size_t i)
{
    K.cursor = K.first[i];
    K.stop = K.first[i + 1];
    K.diverged = 0;
}

void kit_pipe_sync(void)
{
    K.mode = SYNC;
    kit_diff_planning = 0;
}
