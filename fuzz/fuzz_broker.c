/* Several clients scripted against one in-process broker. The input is a
 * sequence of operations (subscribe, unsubscribe, exclude, unexclude,
 * publish, publish-for, message, broadcast, garbage) with fields drawn from
 * small alphabets. A model written from the spec tracks subscriptions,
 * exclusions and live clients; after each operation every delivered frame
 * is decoded and must be exactly what the model allows: the right
 * receivers, each exactly once, nothing to excluded or non-matching
 * clients, and the right ACK. */
#include <string.h>

#include "../ref/src/broker/broker.h"
#include "../ref/src/broker/conn.h"
#include "../ref/src/broker/coreapi.h"
#include "../ref/src/broker/log.h"
#include "../ref/tests/model/model.h"
#include "busrt/frame.h"
#include "fuzz.h"

#define NC 5
#define MAXP 24 /* = --max-subscriptions and --max-exclusions below */
#define MAXLEN 8

static const char *const names[NC] = {"a", "a%%x", "b.x", "b.y", "c"};

struct mclient {
    struct client *c;
    int alive;
    char subs[MAXP][MAXLEN + 1];
    int nsubs;
    char excls[MAXP][MAXLEN + 1];
    int nexcls;
    int got; /* deliveries of the current operation */
};

static struct broker b;
static struct mclient m[NC];

static int find(char (*set)[MAXLEN + 1], int n, const char *s)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(set[i], s) == 0) {
            return i;
        }
    }
    return -1;
}

static int model_wants_pub(int r, const char *topic)
{
    if (!m[r].alive) {
        return 0;
    }
    for (int i = 0; i < m[r].nexcls; i++) {
        if (model_topic((const uint8_t *)m[r].excls[i], strlen(m[r].excls[i]),
                        (const uint8_t *)topic, strlen(topic))) {
            return 0;
        }
    }
    for (int i = 0; i < m[r].nsubs; i++) {
        if (model_topic((const uint8_t *)m[r].subs[i], strlen(m[r].subs[i]),
                        (const uint8_t *)topic, strlen(topic))) {
            return 1;
        }
    }
    return 0;
}

static size_t primary_len(const char *n)
{
    const char *p = strstr(n, "%%");
    return p != NULL ? (size_t)(p - n) : strlen(n);
}

/* Decodes client r's queued bytes; each frame must be allowed. The ACK (if
 * any) for the current operation is returned in *ack. */
static void drain(int r, const char *kind_topic, uint8_t kind, int sender,
                  const char *target, int *ack)
{
    struct client *c = m[r].c;
    struct iovec iov[1];
    while (c->q.count > 0) {
        CHECK(outq_iov(&c->q, iov, 1) == 1);
        const uint8_t *p = iov[0].iov_base;
        size_t n = iov[0].iov_len;
        if (p[0] == BUSRT_ACK_MARKER) {
            struct busrt_ack a;
            CHECK(busrt_ack_decode(p, n, &a) == 6 && n == 6);
            CHECK(*ack == -1 && r == sender); /* one ACK, to the sender */
            *ack = a.code;
        } else {
            struct busrt_frame_header h;
            CHECK(busrt_frame_header_decode(p, n, UINT32_MAX, &h) == 6);
            CHECK(h.body_len == n - 6);
            if (h.kind != BUSRT_KIND_NOP) {
                struct busrt_frame_body fb;
                CHECK(busrt_frame_body_split(h.kind, p + 6, h.body_len, &fb) == 0);
                const char *snd = (const char *)p + 6;
                if (fb.sender.len == 7 && memcmp(snd, ".broker", 7) == 0) {
                    /* an announcement: allowed only to .broker/info subscribers */
                    CHECK(h.kind == BUSRT_KIND_PUBLISH);
                    CHECK(fb.topic.len == 12 && memcmp(p + 6 + fb.topic.off, ".broker/info", 12) == 0);
                    CHECK(model_wants_pub(r, ".broker/info"));
                } else {
                    CHECK(sender >= 0 && h.kind == kind);
                    CHECK(fb.sender.len == strlen(names[sender]) &&
                          memcmp(snd, names[sender], fb.sender.len) == 0);
                    if (kind == BUSRT_KIND_PUBLISH) {
                        CHECK(fb.topic.len == strlen(kind_topic) &&
                              memcmp(p + 6 + fb.topic.off, kind_topic, fb.topic.len) == 0);
                    }
                    m[r].got++;
                }
            }
            (void)target;
        }
        outq_consume(&c->q, n);
    }
}

/* A string of up to MAXLEN bytes over alpha, from the input. */
static size_t take_str(const uint8_t **d, size_t *n, const char *alpha, char *out)
{
    size_t na = strlen(alpha), len = 0;
    if (*n > 0) {
        len = (size_t)(**d) % (MAXLEN + 1u);
        (*d)++;
        (*n)--;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t x = 0;
        if (*n > 0) {
            x = **d;
            (*d)++;
            (*n)--;
        }
        out[i] = alpha[x % na];
    }
    out[len] = '\0';
    return len;
}

static void send_frame(int s, uint8_t op, uint8_t qos, const uint8_t *body, size_t len)
{
    uint8_t hdr[9] = {0x34, 0x12, 0, 0, (uint8_t)(op + qos * 64u), (uint8_t)len, 0, 0, 0};
    if (busrt_op_valid(op) == 1) { /* the garbage operation is written by hand */
        struct busrt_client_header h = {0x1234u, op, qos, (uint32_t)len};
        CHECK(busrt_client_header_encode(&h, hdr, sizeof hdr) == 9);
    }
    client_feed(&b, m[s].c, hdr, sizeof hdr);
    if (len > 0) {
        client_feed(&b, m[s].c, body, len);
    }
}

static void kill_model(int r)
{
    m[r].alive = 0;
    if (primary_len(names[r]) == strlen(names[r])) { /* secondaries go too */
        for (int j = 0; j < NC; j++) {
            if (j != r && primary_len(names[j]) == strlen(names[r]) &&
                strncmp(names[j], names[r], strlen(names[r])) == 0) {
                m[j].alive = 0;
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *argv[] = {"busrtd", "-B", "/nonexistent/fuzz.sock", "--queue-size", "4096",
                           "--max-subscriptions", "24", "--max-exclusions", "24", NULL};
    struct config cfg;
    log_setup(-1, 0);
    CHECK(config_parse(&cfg, 9, argv) == 0);
    CHECK(broker_init(&b, &cfg) == 0);
    memset(m, 0, sizeof m);
    for (int i = 0; i < NC; i++) {
        uint8_t hs[5 + 16] = {0xEB, 1, 0, (uint8_t)strlen(names[i]), 0};
        memcpy(hs + 5, names[i], strlen(names[i]));
        m[i].c = client_new(&b, -1, KIND_UNIX);
        CHECK(m[i].c != NULL && client_start(&b, m[i].c) == 0);
        client_feed(&b, m[i].c, hs, 5 + strlen(names[i]));
        CHECK(m[i].c->registered && !m[i].c->dead);
        m[i].alive = 1;
        strcpy(m[i].subs[0], ".broker/warn");
        m[i].nsubs = 1;
    }
    coreapi_flush_events(&b);
    for (int i = 0; i < NC; i++) {
        outq_consume(&m[i].c->q, m[i].c->q.bytes); /* handshake bytes */
    }
    const uint8_t *d = data;
    size_t n = size;
    while (n >= 2) {
        int s = d[0] % NC;
        int kind = (d[0] / NC) % 9;
        uint8_t qos = d[1] % 4u;
        d += 2;
        n -= 2;
        if (!m[s].alive) {
            continue;
        }
        char a1[MAXLEN + 1] = "", a2[MAXLEN + 1] = "";
        uint8_t body[64];
        size_t l1, l2, blen = 0;
        uint8_t dkind = 0;
        int expect_ack = BUSRT_RC_OK, garbage = 0;
        for (int r = 0; r < NC; r++) {
            m[r].got = 0;
        }
        int want[NC] = {0};
        uint8_t op;
        switch (kind) {
        case 0: case 1: case 2: case 3: /* subscribe-family, two patterns */
            l1 = take_str(&d, &n, "ab/+#", a1);
            l2 = take_str(&d, &n, "ab/+#", a2);
            memcpy(body, a1, l1);
            body[l1] = 0;
            memcpy(body + l1 + 1, a2, l2);
            blen = l1 + 1 + l2;
            op = (uint8_t)(BUSRT_OP_SUBSCRIBE + kind);
            for (int k = 0; k < 2; k++) {
                const char *p = k == 0 ? a1 : a2;
                if (kind == 0 && find(m[s].subs, m[s].nsubs, p) < 0) {
                    if (m[s].nsubs == MAXP) {
                        expect_ack = BUSRT_RC_OTHER; /* the limit refuses it */
                    } else {
                        strcpy(m[s].subs[m[s].nsubs++], p);
                    }
                } else if (kind == 1) {
                    int at = find(m[s].subs, m[s].nsubs, p);
                    if (at >= 0) {
                        memcpy(m[s].subs[at], m[s].subs[--m[s].nsubs], MAXLEN + 1);
                    }
                } else if (kind == 2 && find(m[s].excls, m[s].nexcls, p) < 0) {
                    if (m[s].nexcls == MAXP) {
                        expect_ack = BUSRT_RC_OTHER;
                    } else {
                        strcpy(m[s].excls[m[s].nexcls++], p);
                    }
                } else if (kind == 3) {
                    int at = find(m[s].excls, m[s].nexcls, p);
                    if (at >= 0) {
                        memcpy(m[s].excls[at], m[s].excls[--m[s].nexcls], MAXLEN + 1);
                    }
                }
            }
            break;
        case 4: /* publish */
        case 5: /* publish-for a primary */
            l1 = take_str(&d, &n, "ab/", a1);
            memcpy(body, a1, l1);
            body[l1] = 0;
            blen = l1 + 1;
            if (kind == 5) {
                const char *rcv = names[(n > 0 ? d[0] : 0) % 2 == 0 ? 0 : 2];
                if (n > 0) {
                    d++;
                    n--;
                }
                memcpy(body + blen, rcv, strlen(rcv) + 1);
                blen += strlen(rcv) + 1;
                for (int r = 0; r < NC; r++) {
                    want[r] = primary_len(names[r]) == strlen(rcv) &&
                              strncmp(names[r], rcv, strlen(rcv)) == 0 &&
                              model_wants_pub(r, a1);
                }
            } else {
                for (int r = 0; r < NC; r++) {
                    want[r] = model_wants_pub(r, a1);
                }
            }
            body[blen++] = 'P';
            op = kind == 4 ? BUSRT_OP_PUBLISH : BUSRT_OP_PUBLISH_FOR;
            dkind = BUSRT_KIND_PUBLISH;
            break;
        case 6: /* message to a name, which may not exist */
            l1 = take_str(&d, &n, "abc.%xy", a1);
            if (n > 0 && d[0] % 2 == 0) {
                strcpy(a1, names[d[0] / 2 % NC]);
                l1 = strlen(a1);
            }
            if (n > 0) {
                d++;
                n--;
            }
            memcpy(body, a1, l1);
            body[l1] = 0;
            body[l1 + 1] = 'M';
            blen = l1 + 2;
            op = BUSRT_OP_MESSAGE;
            dkind = BUSRT_KIND_MESSAGE;
            expect_ack = BUSRT_RC_NOT_REGISTERED;
            for (int r = 0; r < NC; r++) {
                if (m[r].alive && strcmp(names[r], a1) == 0) {
                    want[r] = 1;
                    expect_ack = BUSRT_RC_OK;
                }
            }
            break;
        case 7: /* broadcast */
            l1 = take_str(&d, &n, "abcxy.?*%", a1);
            memcpy(body, a1, l1);
            body[l1] = 0;
            body[l1 + 1] = 'B';
            blen = l1 + 2;
            op = BUSRT_OP_BROADCAST;
            dkind = BUSRT_KIND_BROADCAST;
            for (int r = 0; r < NC; r++) {
                want[r] = m[r].alive && model_mask((const uint8_t *)a1, l1,
                                                   (const uint8_t *)names[r], strlen(names[r]));
            }
            break;
        default: /* garbage: an unknown operation closes the sender */
            op = 0x3Fu;
            garbage = 1;
            break;
        }
        send_frame(s, op, qos, body, blen);
        if (garbage) {
            CHECK(m[s].c->dead);
            kill_model(s);
        }
        int ack = -1;
        for (int r = 0; r < NC; r++) {
            if (!m[r].c->dead || m[r].c->q.count > 0) {
                drain(r, a1, dkind, s, a1, &ack);
            }
        }
        coreapi_flush_events(&b);
        for (int r = 0; r < NC; r++) {
            int dummy = 0;
            drain(r, NULL, 0, -1, NULL, &dummy); /* announcements only */
            if (dkind != 0) {
                CHECK(m[r].got == want[r]); /* exactly once, or not at all */
            }
        }
        if (!garbage) {
            CHECK(ack == ((qos & 1u) ? expect_ack : -1));
        }
    }
    broker_reap(&b);
    broker_teardown(&b);
    return 0;
}
