/* Registrations in a session: the handshake of a new client (greeting,
 * echo, name) checked step by step against the reply the model expects,
 * and the client slots it takes. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "nf_sess_int.h"

/* Reads exactly n bytes from fd within timeout_ms. Returns n, the count
 * read before EOF (0..n-1), or -1 on a timeout. */
long nfs_read_exact(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    int64_t end = nf_now_ms() + timeout_ms;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            return (long)got;
        }
        int64_t left = end - nf_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {fd, POLLIN, 0};
        (void)poll(&p, 1, (int)left);
    }
    return (long)got;
}

int nfs_hs_send(struct nf_sess *S, int fd, int conn, const uint8_t *p, size_t n, int flags)
{
    nf_trace_ev(&S->tr, EV_SEND, conn, p, n, flags);
    size_t off = 0;
    int64_t end = nf_now_ms() + S->o->wait_ms;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR) && nf_now_ms() < end) {
            struct pollfd q = {fd, POLLOUT, 0};
            (void)poll(&q, 1, 10);
        } else {
            return -1;
        }
    }
    return 0;
}

static int slot_free(const struct nf_client *C)
{
    return C->st == NF_FREE || (C->st == NF_GONE && C->fd < 0 && !C->reg && C->released);
}

static int free_slot(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC; i++) {
        if (slot_free(&S->cl[i])) {
            return i;
        }
    }
    return -1;
}

void nfs_slot_reset(struct nf_client *C)
{
    nf_set_free(&C->subs);
    nf_set_free(&C->excls);
    nf_exp_clear(C);
    C->sent.len = C->rx.len = C->pend.len = 0;
    C->name.len = 0;
    C->reg = 0;
    C->acted = 0;
    C->close_opid_set = 0;
    C->close_req = NULL;
    C->released = 1;
    C->fd = -1;
    C->st = NF_FREE;
}

/* Connects, handshakes and registers name in a free slot. Returns the slot
 * (registered), -1 when the model expects a refusal (checked) or there is
 * no slot, -2 when the broker cannot be reached. */
int nfs_do_register(struct nf_sess *S, const uint8_t *name, size_t n, int split)
{
    int c = free_slot(S);
    int b = nf_pick_slot(&S->src, c);
    if (b != c && b >= 0 && b < NF_MAXC && slot_free(&S->cl[b])) {
        c = b; /* a replay keeps the slot it recorded */
    }
    if (c < 0) {
        return -1;
    }
    struct nf_client *C = &S->cl[c];
    nfs_slot_reset(C);
    nf_buf_add(&C->name, name, n);
    C->conn = nf_trace_conn(&S->tr, name, n, c);
    const int want = nf_model_reg_reply(S, name, n);
    const uint8_t want_b = (uint8_t)want;
    nf_trace_ev(&S->tr, EV_REGISTER, C->conn, &want_b, 1, 0);
    int fd = nf_connect(S->broker->addr, S->o->wait_ms);
    if (fd < 0) {
        nf_violation(S, C->conn, "REQ-ADDR-1",
                     "the broker does not accept a connection on %s (%s)", S->broker->addr,
                     strerror(errno));
        C->name.len = 0;
        return -2;
    }
    nf_trace_ev(&S->tr, EV_CONNECT, C->conn, NULL, 0, 0);
    uint8_t g[3], r1;
    long k = nfs_read_exact(fd, g, 3, S->o->wait_ms);
    if (k > 0) {
        nf_trace_ev(&S->tr, EV_RECV, C->conn, g, (size_t)k, 0);
    }
    if (k != 3 || busrt_greeting_decode(g, 3) != 3) {
        nf_violation(S, C->conn, "REQ-HS-1", "registration of \"%.*s\": the broker's greeting "
                     "is not EB 01 00 (%ld bytes read)", (int)n, (const char *)name, k);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    uint8_t echo[3];
    (void)busrt_greeting_encode(echo, sizeof echo);
    if (split) {
        (void)nfs_hs_send(S, fd, C->conn, echo, 1, NF_EVF_HS);
        nf_sleep_ms(1);
        (void)nfs_hs_send(S, fd, C->conn, echo + 1, 2, NF_EVF_HS);
    } else {
        (void)nfs_hs_send(S, fd, C->conn, echo, 3, NF_EVF_HS);
    }
    k = nfs_read_exact(fd, &r1, 1, S->o->wait_ms);
    if (k == 1) {
        nf_trace_ev(&S->tr, EV_RECV, C->conn, &r1, 1, 0);
    }
    if (k != 1 || r1 != BUSRT_RC_OK) {
        nf_violation(S, C->conn, "REQ-HS-3", "registration of \"%.*s\": the greeting echo "
                     "got %s 0x%02x instead of 01", (int)n, (const char *)name,
                     k == 1 ? "reply" : "no reply", k == 1 ? r1 : 0);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    uint8_t nl[2];
    (void)busrt_name_len_encode(n, nl, sizeof nl);
    struct nf_buf msg = {0};
    nf_buf_add(&msg, nl, 2);
    nf_buf_add(&msg, name, n);
    if (split) {
        size_t cut = 1 + nf_pick(&S->src, (uint32_t)msg.len);
        (void)nfs_hs_send(S, fd, C->conn, msg.p, cut < msg.len ? cut : msg.len, NF_EVF_HS);
        nf_sleep_ms(1);
        if (cut < msg.len) {
            (void)nfs_hs_send(S, fd, C->conn, msg.p + cut, msg.len - cut, NF_EVF_HS);
        }
    } else {
        (void)nfs_hs_send(S, fd, C->conn, msg.p, msg.len, NF_EVF_HS);
    }
    nf_buf_free(&msg);
    k = nfs_read_exact(fd, &r1, 1, S->o->wait_ms);
    if (k == 1) {
        nf_trace_ev(&S->tr, EV_RECV, C->conn, &r1, 1, 0);
    } else if (k == 0) {
        nf_trace_ev(&S->tr, EV_EOF, C->conn, NULL, 0, 0);
    }
    int ok = want == 0 ? (k == 0 || (k == 1 && r1 == BUSRT_RC_DATA)) : (k == 1 && r1 == want);
    if (!ok) {
        const char *req = want == 0 ? "REQ-NAME-2 REQ-QUIRK-1"
                          : want == BUSRT_RC_DATA ? "REQ-NAME-1"
                          : want == BUSRT_RC_NOT_REGISTERED ? "REQ-NAME-5"
                          : want == BUSRT_RC_BUSY ? "REQ-NAME-3" : "REQ-HS-5";
        nf_violation(S, C->conn, req,
                     "registration of \"%.*s\": %s%02x, the model expects %s%02x", (int)n,
                     (const char *)name, k == 1 ? "reply 0x" : k == 0 ? "EOF, no reply " :
                     "no reply within --wait-ms ", k == 1 ? r1 : 0,
                     want == 0 ? "EOF or reply 0x" : "reply 0x", want == 0 ? 0x72 : want);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    if (want != BUSRT_RC_OK) {
        /* refused: the broker must close without sending anything else */
        S->stat[NS_REG_REFUSED]++;
        uint8_t extra[16];
        k = k == 0 ? 0 : nfs_read_exact(fd, extra, sizeof extra, S->o->wait_ms);
        if (k != 0) {
            nf_violation(S, C->conn, "REQ-HS-5",
                         "registration of \"%.*s\" was refused but the connection %s",
                         (int)n, (const char *)name,
                         k < 0 ? "stayed open" : "carried more bytes before EOF");
        }
        nf_trace_ev(&S->tr, EV_CLOSE, C->conn, NULL, 0, 0);
        close(fd);
        C->name.len = 0;
        return -1;
    }
    C->fd = fd;
    C->last_send = nf_now_ms();
    nf_model_register(S, c);
    S->stat[NS_REG_OK]++;
    return c;
}

/* The prefix and suffix as a name, registered. */
int nfs_register_named(struct nf_sess *S, const char *suffix)
{
    struct nf_buf n = {0};
    nf_buf_add(&n, S->prefix, S->prefix_len);
    nf_buf_adds(&n, suffix);
    int c = nfs_do_register(S, n.p, n.len, 0);
    nf_buf_free(&n);
    return c;
}
