/* busrt-netfuzz --minimize: shrinks a violation case against the broker.
 *
 * A session is a function of its choices (struct nf_src): the case file
 * names its seed and session, so the session is rerun once with every
 * choice recorded as bytes, and from then on replayed from those bytes.
 * Shrinking edits the bytes and reruns the session against the broker; an
 * edit is kept when the same requirements are still violated:
 *
 *   1. actions: delta debugging over the session's actions (each action is
 *      the run of bytes it consumed), removing groups of them;
 *   2. choices: zeroing the choices of an action after its kind and client
 *      (zero is the smallest choice everywhere: fewest frames, shortest
 *      payloads, first patterns), first all of them, then halves;
 *   3. bytes: zeroing single bytes, while time remains.
 *
 * The shortest case found is written by the session itself, so its steps
 * and expectations are those the model computes for it. Everything is
 * bounded by --minimize-seconds; timing can make a run pass once, which
 * only loses an edit, never keeps a wrong one. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busrt/le.h"
#include "nf.h"

struct mctx {
    struct nf_opts o;          /* the caller's options, sessions made long */
    struct nf_broker *br;
    struct nf_sess S;
    char req[128];             /* the requirements to keep violating */
    int compact;               /* a fuzz input, not recorded choices */
    int64_t t0, deadline, last_progress;
    long runs, kept;
    /* the current best input and its actions (from its last run) */
    struct nf_buf cur;
    size_t *off;
    size_t nact, act_end;
    struct nf_pay *pay;
    size_t npay;
    struct nf_frm *frm;
    size_t nfrm;
};

static int time_left(const struct mctx *m)
{
    return nf_now_ms() < m->deadline;
}

static void progress(struct mctx *m, const char *phase)
{
    int64_t now = nf_now_ms();
    if (now - m->last_progress < 5000) {
        return;
    }
    m->last_progress = now;
    fprintf(stderr, "busrt-netfuzz: minimize: %.0f s, %ld runs, %s: %zu actions, %zu bytes "
                    "of choices\n", (double)(now - m->t0) / 1000.0, m->runs, phase, m->nact,
            m->cur.len);
}

static int restart_broker(struct mctx *m)
{
    char why[160];
    if (m->o.spawn == NULL || nf_broker_alive(m->br, why, sizeof why)) {
        if (m->o.spawn == NULL || m->br->pid > 0) {
            return 0;
        }
    }
    fprintf(stderr, "busrt-netfuzz: minimize: restarting the broker (%s)\n",
            m->br->why[0] != 0 ? m->br->why : "it ended");
    return nf_broker_start(m->br, &m->o);
}

/* Runs the session on d[0..n) (actions: how many, for recorded choices).
 * 1 when it violates the same requirements; the input's actions are then
 * in m->S. */
static int attempt(struct mctx *m, const uint8_t *d, size_t n, size_t actions, int write)
{
    if (restart_broker(m) != 0) {
        return 0;
    }
    struct nf_sess *S = &m->S;
    if (m->compact) {
        nf_src_data(&S->src, d, n);
        S->replay = 0;
    } else {
        nf_src_replay(&S->src, d, n);
        S->replay = 1;
        S->replay_actions = (int)actions;
    }
    S->no_case = !write;
    char path[1200];
    int v = nf_session_run(S, path, sizeof path);
    m->runs++;
    if (write && path[0] != 0) {
        fprintf(stderr, "busrt-netfuzz: minimize: case: %s\n", path);
    }
    return v != 0 && strcmp(S->vreq, m->req) == 0;
}

/* Keeps d as the new best input; its actions are those of the last run.
 * A violation before the last action makes the rest unused: cut. */
static void keep(struct mctx *m, const uint8_t *d, size_t n)
{
    const struct nf_sess *S = &m->S;
    size_t end = S->act_end <= n ? S->act_end : n;
    if (S->loop_violated) {
        n = end; /* nothing after the action loop ran */
    }
    struct nf_buf b = {0};
    nf_buf_add(&b, d, n);
    nf_buf_free(&m->cur);
    m->cur = b;
    m->off = nf_xrealloc(m->off, (S->nact + 1) * sizeof *m->off);
    memcpy(m->off, S->act_off, S->nact * sizeof *m->off);
    m->nact = S->nact;
    m->act_end = end;
    m->off[m->nact] = end;
    m->pay = nf_xrealloc(m->pay, (S->npay + 1) * sizeof *m->pay);
    memcpy(m->pay, S->pay, S->npay * sizeof *m->pay);
    m->npay = S->npay;
    m->frm = nf_xrealloc(m->frm, (S->nfrm + 1) * sizeof *m->frm);
    memcpy(m->frm, S->frm, S->nfrm * sizeof *m->frm);
    m->nfrm = S->nfrm;
    m->kept++;
}

/* Runs the candidate c (and frees it); keeps it when it still violates. */
static int attempt_keep(struct mctx *m, struct nf_buf *c, size_t actions)
{
    int ok = attempt(m, c->p, c->len, actions, 0);
    if (ok) {
        keep(m, c->p, c->len);
    }
    nf_buf_free(c);
    return ok;
}

/* Action i occupies cur[off[i], off[i+1]). */
static int drop_actions(struct mctx *m, size_t from, size_t count)
{
    struct nf_buf c = {0};
    nf_buf_add(&c, m->cur.p, m->off[from]);
    nf_buf_add(&c, m->cur.p + m->off[from + count], m->cur.len - m->off[from + count]);
    return attempt_keep(m, &c, m->nact - count);
}

/* Phase 1: delta debugging over actions (removing complements is left
 * out: with sessions this short, removing groups finds the same). */
static void shrink_actions(struct mctx *m)
{
    size_t gran = 2;
    while (m->nact > 0 && time_left(m)) {
        size_t n = m->nact, size = (n + gran - 1) / gran;
        int removed = 0;
        for (size_t start = 0; start < n && time_left(m); start += size) {
            size_t count = start + size <= n ? size : n - start;
            progress(m, "removing actions");
            if (drop_actions(m, start, count)) {
                removed = 1;
                break;
            }
        }
        if (removed) {
            gran = gran > 2 ? gran - 1 : 2;
        } else if (gran >= n) {
            break;
        } else {
            gran = gran * 2 <= n ? gran * 2 : n;
        }
    }
}

/* Replaces cur[from, to) with the n bytes rep; keeps the result when it
 * still violates. */
static int splice(struct mctx *m, size_t from, size_t to, const uint8_t *rep, size_t n)
{
    if (from > to || to > m->cur.len) {
        return 0;
    }
    struct nf_buf c = {0};
    nf_buf_add(&c, m->cur.p, from);
    nf_buf_add(&c, rep, n);
    nf_buf_add(&c, m->cur.p + to, m->cur.len - to);
    return attempt_keep(m, &c, m->nact);
}

/* Frames of an op batch, last first: one fewer in the count, its choices
 * cut. */
static void shrink_frames(struct mctx *m)
{
    for (size_t i = m->nfrm; i-- > 0 && time_left(m);) {
        if (i >= m->nfrm) {
            continue;
        }
        const struct nf_frm f = m->frm[i];
        if (f.n >= f.s || f.s > f.e || f.e > m->cur.len || m->cur.p[f.n] % 4u == 0) {
            continue; /* the batch's only frame: removing the action covers it */
        }
        progress(m, "removing frames");
        struct nf_buf c = {0};
        nf_buf_add(&c, m->cur.p, f.s);
        c.p[f.n] = (uint8_t)(m->cur.p[f.n] % 4u - 1u);
        nf_buf_add(&c, m->cur.p + f.e, m->cur.len - f.e);
        (void)attempt_keep(m, &c, m->nact);
    }
}

/* Payloads: their content is one choice per byte, so zeroing a length
 * would shift every later choice. Each payload, last first, is made empty
 * (kind 0 and its other choices cut), else small and empty after its tag
 * (kind 4, length 0). */
static void shrink_payloads(struct mctx *m)
{
    static const uint8_t empty[1] = {0}, small[2] = {4, 0};
    for (size_t i = m->npay; i-- > 0 && time_left(m);) {
        if (i >= m->npay) {
            continue;
        }
        const struct nf_pay p = m->pay[i];
        if (p.c1 == p.c0 && p.c0 == p.r + 2 && m->cur.p[p.r] == 4) {
            continue; /* already as small as it gets, tag kept */
        }
        progress(m, "shrinking payloads");
        if (splice(m, p.r, p.c1, empty, 1) || splice(m, p.r, p.c1, small, 2) || !p.large) {
            continue;
        }
        /* a large one that must stay large: bisect its length (its
         * content is its last choices, so a shorter one shifts nothing) */
        uint32_t lo = 0, hi = busrt_get_le32(m->cur.p + p.c0 - 4);
        while (lo < hi && time_left(m) && i < m->npay) {
            const struct nf_pay q = m->pay[i];
            uint32_t mid = lo + (hi - lo) / 2;
            uint8_t len[4];
            busrt_put_le32(len, mid);
            struct nf_buf c = {0};
            nf_buf_add(&c, m->cur.p, q.c0 - 4);
            nf_buf_add(&c, len, 4);
            nf_buf_add(&c, m->cur.p + q.c0, 1000u + mid);
            nf_buf_add(&c, m->cur.p + q.c1, m->cur.len - q.c1);
            if (attempt_keep(m, &c, m->nact)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
    }
}

/* Zeroes cur[from, to); keeps the result when it still violates. */
static int zero_range(struct mctx *m, size_t from, size_t to)
{
    to = to <= m->cur.len ? to : m->cur.len;
    if (from >= to) {
        return 0; /* an earlier edit shortened the input */
    }
    size_t i = from;
    while (i < to && m->cur.p[i] == 0) {
        i++;
    }
    if (i == to) {
        return 0; /* already the smallest choices */
    }
    struct nf_buf c = {0};
    nf_buf_add(&c, m->cur.p, m->cur.len);
    memset(c.p + from, 0, to - from);
    return attempt_keep(m, &c, m->nact);
}

/* Phase 2: per action, from the last, zero the choices after its kind and
 * client (the first two choices of an action); then halves of them. */
static void simplify_actions(struct mctx *m)
{
    for (size_t i = m->nact; i-- > 0 && time_left(m);) {
        if (i >= m->nact) {
            continue; /* a kept run may have fewer actions */
        }
        size_t from = m->off[i] + 2, to = m->off[i + 1];
        if (from >= to) {
            continue;
        }
        progress(m, "simplifying choices");
        if (zero_range(m, from, to)) {
            continue;
        }
        for (size_t len = (to - from) / 2; len >= 2 && time_left(m); len /= 2) {
            for (size_t a = from; a + len <= to && i < m->nact && time_left(m); a += len) {
                (void)zero_range(m, a, a + len);
            }
        }
    }
}

/* Phase 3: single bytes, last first (later choices depend on earlier). */
static void simplify_bytes(struct mctx *m)
{
    for (size_t i = m->cur.len; i-- > 0 && time_left(m);) {
        if (i < m->cur.len && m->cur.p[i] != 0) {
            progress(m, "simplifying bytes");
            (void)zero_range(m, i, i + 1);
        }
    }
}

/* Reads what the case says about itself: its requirements and, for a
 * random-mode case, the seed and session that made it. */
/* Steps and bytes of send steps of a case file's text (${p}: 14 bytes). */
static void case_size(const char *s, int *steps, size_t *bytes)
{
    *steps = 0;
    *bytes = 0;
    for (const char *d = strstr(s, "{\"do\": \""); d != NULL; d = strstr(d + 1, "{\"do\": \"")) {
        (*steps)++;
        if (strncmp(d, "{\"do\": \"send\"", strlen("{\"do\": \"send\"")) != 0) {
            continue;
        }
        const char *h = strstr(d, "\"hex\": \"");
        const char *end = h != NULL ? strchr(h + 8, '"') : NULL;
        for (const char *q = h != NULL ? h + 8 : end; q != NULL && q < end;) {
            if (strncmp(q, "${p}", 4) == 0) {
                *bytes += 14;
                q += 4;
            } else {
                *bytes += 1;
                q += 2;
            }
        }
    }
}

static int read_case(const char *path, char *req, size_t cap, uint64_t *seed, long *session,
                     int *is_input, int *steps, size_t *bytes)
{
    struct nf_buf t = {0};
    if (nf_buf_read_file(&t, path) != 0) {
        fprintf(stderr, "busrt-netfuzz: --minimize %s: %s\n", path, strerror(errno));
        return -1;
    }
    nf_buf_addc(&t, 0);
    const char *s = (const char *)t.p;
    const char *d = strstr(s, "busrt-netfuzz violation reproducer (seed ");
    unsigned long long sd = 0;
    if (d == NULL || sscanf(d, "busrt-netfuzz violation reproducer (seed %llu, session %ld",
                            &sd, session) != 2) {
        fprintf(stderr, "busrt-netfuzz: --minimize %s: not a case written by busrt-netfuzz "
                        "(its description does not name a seed and a session)\n", path);
        nf_buf_free(&t);
        return -1;
    }
    *seed = sd;
    *is_input = strstr(d, ", fuzz input)") != NULL;
    case_size(s, steps, bytes);
    const char *r = strstr(s, "\"reqs\": [");
    req[0] = 0;
    if (r != NULL) {
        r += 9;
        size_t used = 0;
        while (*r != ']' && *r != 0) {
            const char *q = strchr(r, '"');
            const char *e = q != NULL ? strchr(q + 1, '"') : NULL;
            const char *close = strchr(r, ']');
            if (q == NULL || e == NULL || (close != NULL && q > close)) {
                break;
            }
            int w = snprintf(req + used, cap - used, "%s%.*s", used > 0 ? " " : "",
                             (int)(e - q - 1), q + 1);
            if (w < 0 || (size_t)w >= cap - used) {
                break;
            }
            used += (size_t)w;
            r = e + 1;
        }
    }
    nf_buf_free(&t);
    if (req[0] == 0) {
        fprintf(stderr, "busrt-netfuzz: --minimize %s: the case names no requirement\n", path);
        return -1;
    }
    return 0;
}

int nf_minimize(const struct nf_opts *o, struct nf_broker *br, const uint8_t *input,
                size_t input_len)
{
    static struct mctx m; /* large; one minimization per process */
    memset(&m, 0, sizeof m);
    m.o = *o;
    m.o.session_ms = 3600 * 1000; /* the choices decide the session's length */
    m.br = br;
    uint64_t seed = 0;
    long session = 0;
    int is_input = 0;
    int steps0 = 0;
    size_t bytes0 = 0;
    if (read_case(o->minimize, m.req, sizeof m.req, &seed, &session, &is_input, &steps0,
                  &bytes0) != 0) {
        return 2;
    }
    if (is_input && input == NULL) {
        fprintf(stderr, "busrt-netfuzz: --minimize %s: the case came from a fuzz input; give "
                        "that input with --input FILE\n", o->minimize);
        return 2;
    }
    m.o.seed = seed;
    m.S.o = &m.o;
    m.S.broker = br;
    m.S.index = session;
    m.t0 = m.last_progress = nf_now_ms();
    m.deadline = m.t0 + (int64_t)(o->minimize_seconds * 1000.0);
    char id[128];
    snprintf(id, sizeof id, "netfuzz.s%" PRIu64 "-k%ld.min", seed, session);
    fprintf(stderr, "busrt-netfuzz: minimize: %s, violating %s; rerunning seed %" PRIu64
                    " session %ld\n", o->minimize, m.req, seed, session);

    /* The original run: record its choices (or take the fuzz input). A
     * violation that depends on timing gets three tries. */
    int ok = 0;
    struct nf_buf rec = {0};
    for (int tries = 0; tries < 3 && !ok && time_left(&m); tries++) {
        if (input != NULL) {
            m.compact = 1;
            ok = attempt(&m, input, input_len, 0, 0);
            if (ok) {
                keep(&m, input, input_len);
            }
            continue;
        }
        if (restart_broker(&m) != 0) {
            return 2;
        }
        rec.len = 0;
        nf_src_prng(&m.S.src, seed, (uint64_t)session);
        m.S.src.rec = &rec;
        m.S.replay = 0;
        m.S.no_case = 1; /* never overwrite the case being minimized */
        char path[1200];
        int v = nf_session_run(&m.S, path, sizeof path);
        m.S.src.rec = NULL;
        m.runs++;
        ok = v != 0 && strcmp(m.S.vreq, m.req) == 0;
        if (ok) {
            keep(&m, rec.p, rec.len);
        }
    }
    nf_buf_free(&rec);
    if (!ok) {
        fprintf(stderr, "busrt-netfuzz: minimize: in %ld runs the session did not violate %s "
                        "again (last run: %s); nothing to shrink\n", m.runs, m.req,
                m.S.violated ? m.S.vreq : "no violation");
        free(m.off);
        nf_buf_free(&m.cur);
        return 1;
    }
    const size_t acts0 = m.nact;

    shrink_actions(&m);
    shrink_frames(&m);
    shrink_payloads(&m);
    simplify_actions(&m);
    shrink_actions(&m); /* simpler choices may make more actions removable */
    shrink_frames(&m);
    shrink_payloads(&m);
    simplify_bytes(&m);

    /* The result: written once, then checked twice more. */
    m.S.case_id = id;
    int wrote = attempt(&m, m.cur.p, m.cur.len, m.nact, 1);
    int again = wrote;
    m.S.case_id = NULL;
    for (int i = 0; i < 2; i++) {
        again += attempt(&m, m.cur.p, m.cur.len, m.nact, 0);
    }
    m.S.case_id = id;
    double secs = (double)(nf_now_ms() - m.t0) / 1000.0;
    if (!wrote) {
        fprintf(stderr, "busrt-netfuzz: minimize: the shortest input did not violate %s on "
                        "its final run; rerun --minimize (the broker's timing varies)\n", m.req);
        free(m.off);
        nf_buf_free(&m.cur);
        return 1;
    }
    printf("minimized %s [%s]: %d steps, %zu bytes sent -> %d steps, %zu bytes sent "
           "(%zu -> %zu actions; %ld runs, %.1f s; reproduced %d of 3 reruns)\n", id, m.req,
           steps0, bytes0, m.S.case_steps, m.S.case_bytes, acts0, m.nact, m.runs, secs, again);
    free(m.off);
    free(m.pay);
    free(m.frm);
    nf_buf_free(&m.cur);
    free(m.S.act_off);
    free(m.S.pay);
    free(m.S.frm);
    nf_trace_free(&m.S.tr);
    return 0;
}
