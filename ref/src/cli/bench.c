/* busrt CLI: the benchmark command. The stages and their traffic follow
 * the deployed tool: each worker has its own client NAME-W; "null" targets
 * (NAME-W-null) are names nobody registered. libbusrt clients cannot
 * answer their own calls, so rpc.call+handle calls a second client per
 * worker (NAME-W-h) served by its own thread. */
#define _DEFAULT_SOURCE
#include "cli.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busrt/rpc.h"

enum stage {
    ST_SEND_NO,
    ST_SENDRECV_NO,
    ST_SEND_PROC,
    ST_SENDRECV_PROC,
    ST_RPC_CALL,
    ST_RPC_HANDLE,
    ST_RPC_CALL0,
    ST_COUNT
};

static const char *const stage_names[ST_COUNT] = {
    "send.qos.no",     "send+recv.qos.no",  "send.qos.processed", "send+recv.qos.processed",
    "rpc.call",        "rpc.call+handle",   "rpc.call0"};

struct worker {
    const struct cli_opts *o;
    busrt_client *c;
    busrt_client *h; /* handler client */
    char name[300];
    char null_target[320];
    char handler[320];
    const uint8_t *data;
    size_t psize;
    unsigned long iters;
    enum stage stage;
    int err;            /* first error of the stage */
    int herr;           /* the handler thread's error (read after join) */
    char what[64];
    pthread_t th, hth;
    atomic_int hstop;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(struct worker *w, const char *what, int err)
{
    if (w->err == 0) {
        w->err = err;
        snprintf(w->what, sizeof w->what, "%s", what);
    }
    return err;
}

/* Receives n frames (ACKs and NOPs are skipped by busrt_recv). */
static int recv_n(struct worker *w, unsigned long n, int timeout_ms)
{
    struct busrt_frame f;
    for (unsigned long k = 0; k < n; k++) {
        int r = busrt_recv(w->c, &f, timeout_ms);
        if (r != 0) {
            return fail(w, "recv", r);
        }
    }
    return 0;
}

static int run_stage(struct worker *w)
{
    busrt_client *c = w->c;
    const char *self = w->name;
    int to = w->o->timeout_ms;
    unsigned long got = 0;
    struct busrt_frame f;
    struct busrt_rpc_reply rep;
    uint32_t op;
    int r;
    for (unsigned long i = 0; i < w->iters; i++) {
        switch (w->stage) {
        case ST_SEND_NO:
            r = busrt_send(c, w->null_target, w->data, w->psize, BUSRT_QOS_NO, NULL);
            if (r != 0) {
                return fail(w, "send", r);
            }
            break;
        case ST_SENDRECV_NO:
            r = busrt_send(c, self, w->data, w->psize, BUSRT_QOS_NO, NULL);
            if (r != 0) {
                return fail(w, "send", r);
            }
            while (got < w->iters && busrt_recv(c, &f, 0) == 0) {
                got++;
            }
            break;
        case ST_SEND_PROC:
        case ST_SENDRECV_PROC:
            r = busrt_send(c, w->stage == ST_SEND_PROC ? w->null_target : self, w->data,
                           w->psize, BUSRT_QOS_REALTIME_PROCESSED, &op);
            if (r != 0) {
                return fail(w, "send", r);
            }
            r = busrt_wait_ack(c, op, to);
            if (r != 0 && !BUSRT_E_IS_RC(r)) {
                return fail(w, "ack", r);
            }
            if (w->stage == ST_SENDRECV_PROC && recv_n(w, 1, to) != 0) {
                return w->err;
            }
            break;
        case ST_RPC_CALL:
        case ST_RPC_HANDLE:
            r = busrt_rpc_call(c, w->stage == ST_RPC_CALL ? ".broker" : w->handler,
                               w->stage == ST_RPC_CALL ? "benchmark.test" : "benchmark.selftest",
                               w->data, w->psize, BUSRT_QOS_REALTIME_PROCESSED, to, &rep);
            if (r != 0) {
                return fail(w, "rpc.call", r);
            }
            if (rep.len != w->psize || (w->psize > 0 && memcmp(rep.data, w->data, w->psize) != 0)) {
                return fail(w, "rpc.call (reply differs from params)", BUSRT_E_PROTO);
            }
            break;
        case ST_RPC_CALL0:
            r = busrt_rpc_call0(c, w->null_target, "test", w->data, w->psize,
                                BUSRT_QOS_REALTIME_PROCESSED, &op);
            if (r != 0) {
                return fail(w, "call0", r);
            }
            r = busrt_wait_ack(c, op, to);
            if (r != 0 && !BUSRT_E_IS_RC(r)) {
                return fail(w, "ack", r);
            }
            break;
        default:
            break;
        }
    }
    if (w->stage == ST_SENDRECV_NO && got < w->iters) {
        return recv_n(w, w->iters - got, to);
    }
    return 0;
}

static void *stage_thread(void *arg)
{
    struct worker *w = arg;
    (void)run_stage(w);
    return NULL;
}

static int selftest(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                    struct busrt_rpc_result *res)
{
    (void)ctx;
    (void)c;
    if (strcmp(ev->method, "benchmark.selftest") != 0) {
        return BUSRT_RPC_E_METHOD_NOT_FOUND;
    }
    res->data = ev->data;
    res->len = ev->data_len;
    return 0;
}

static void *handler_thread(void *arg)
{
    struct worker *w = arg;
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    s.on_call = selftest;
    s.reply_qos = BUSRT_QOS_REALTIME;
    while (!atomic_load(&w->hstop)) {
        int r = busrt_rpc_serve(w->h, &s, 100);
        if (r != 0 && r != BUSRT_E_TIMEOUT) {
            w->herr = r;
            break;
        }
    }
    return NULL;
}

/* Drops whatever is still queued for a worker's client. */
static void clear(struct worker *w)
{
    struct busrt_frame f;
    while (busrt_recv(w->c, &f, 20) == 0) {
    }
}

size_t cli_benchmark_max_body(const char *name, unsigned workers, size_t payload_size)
{
    /* The last worker has the longest names. */
    char self[300], null_target[320], handler[320];
    snprintf(self, sizeof self, "%s-%u", name, workers);
    snprintf(null_target, sizeof null_target, "%s-null", self);
    snprintf(handler, sizeof handler, "%s-h", self);
    size_t ls = strlen(self), ln = strlen(null_target), lh = strlen(handler);
    /* target, NUL, RPC header (request: kind, call id, method, NUL; reply:
     * kind, call id) */
    size_t bodies[] = {
        ln + 1u,                                  /* send.qos.* to nobody */
        ls + 1u,                                  /* send+recv.qos.* to itself */
        strlen(".broker") + 1u + 6u + strlen("benchmark.test"), /* rpc.call */
        lh + 1u + 6u + strlen("benchmark.selftest"),            /* rpc.call+handle */
        ls + 1u + 5u,                             /* its reply */
        ln + 1u + 6u + strlen("test"),            /* rpc.call0 */
    };
    size_t most = 0;
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        most = bodies[i] > most ? bodies[i] : most;
    }
    return most + payload_size;
}

int cli_benchmark(const struct cli_opts *o, unsigned workers, size_t payload_size,
                  unsigned long iters)
{
    unsigned long per = iters / workers;
    if (per == 0) {
        per = 1;
    }
    char n1[64], n2[64], n3[64];
    cli_fnum(n1, sizeof n1, iters);
    cli_fnum(n2, sizeof n2, per);
    cli_fnum(n3, sizeof n3, payload_size);
    printf("Starting benchmark, %u worker(s), %s iters, %s iters/worker, %s byte(s) payload\n",
           workers, n1, n2, n3);
    fflush(stdout);
    uint8_t *data = malloc(payload_size > 0 ? payload_size : 1u);
    struct worker *ws = calloc(workers, sizeof *ws);
    int rc = 1;
    double elapsed[ST_COUNT] = {0};
    unsigned started_handlers = 0;
    if (data == NULL || ws == NULL) {
        fputs("busrt: out of memory\n", stderr);
        goto out;
    }
    memset(data, 0xEE, payload_size);
    for (unsigned k = 0; k < workers; k++) {
        struct worker *w = &ws[k];
        w->o = o;
        w->data = data;
        w->psize = payload_size;
        w->iters = per;
        atomic_init(&w->hstop, 0);
        snprintf(w->name, sizeof w->name, "%s-%u", o->name, k + 1u);
        snprintf(w->null_target, sizeof w->null_target, "%s-null", w->name);
        snprintf(w->handler, sizeof w->handler, "%s-h", w->name);
        w->c = cli_connect(o, w->name);
        w->h = w->c != NULL ? cli_connect(o, w->handler) : NULL;
        if (w->c == NULL || w->h == NULL) {
            goto out;
        }
    }
    for (unsigned k = 0; k < workers; k++) {
        if (pthread_create(&ws[k].hth, NULL, handler_thread, &ws[k]) != 0) {
            fputs("busrt: unable to start a thread\n", stderr);
            goto out;
        }
        started_handlers++;
    }
    for (int st = 0; st < ST_COUNT; st++) {
        for (unsigned k = 0; k < workers; k++) {
            clear(&ws[k]);
            ws[k].stage = (enum stage)st;
        }
        char it[64];
        cli_fnum(it, sizeof it, (uint64_t)per * workers);
        if (!o->silent) {
            printf("stage %d/%d %s: %s iters ...\n", st + 1, (int)ST_COUNT, stage_names[st], it);
            fflush(stdout);
        }
        double t0 = now_s();
        unsigned started = 0;
        for (unsigned k = 0; k < workers; k++) {
            if (pthread_create(&ws[k].th, NULL, stage_thread, &ws[k]) != 0) {
                break;
            }
            started++;
        }
        for (unsigned k = 0; k < started; k++) {
            pthread_join(ws[k].th, NULL);
        }
        elapsed[st] = now_s() - t0;
        for (unsigned k = 0; k < workers; k++) {
            if (ws[k].err != 0) {
                char what[400];
                snprintf(what, sizeof what, "benchmark %s, worker %u, %s", stage_names[st],
                         k + 1u, ws[k].what);
                cli_error(what, ws[k].err);
                goto out;
            }
        }
        if (started != workers) {
            fputs("busrt: unable to start a thread\n", stderr);
            goto out;
        }
        if (!o->silent) {
            char rate[64];
            double r = elapsed[st] > 0 ? (double)per * workers / elapsed[st] : 0.0;
            cli_fnum(rate, sizeof rate, (uint64_t)r);
            printf("stage %d/%d %s: done in %.3f s, %s iters/s\n", st + 1, (int)ST_COUNT,
                   stage_names[st], elapsed[st], rate);
            fflush(stdout);
        }
    }
    {
        static const char *const titles[] = {"stage", "iters", "time (s)", "iters/s"};
        struct cli_table t;
        cli_table_init(&t, titles, 4);
        unsigned long total = per * workers;
        for (int st = 0; st < ST_COUNT; st++) {
            char it[64], tm[64], rate[64];
            cli_fnum(it, sizeof it, total);
            snprintf(tm, sizeof tm, "%.3f", elapsed[st]);
            double r = elapsed[st] > 0 ? (double)total / elapsed[st] : 0.0;
            cli_fnum(rate, sizeof rate, (uint64_t)r);
            const char *row[4] = {stage_names[st], it, tm, rate};
            cli_table_add(&t, row);
        }
        cli_table_print(stdout, &t);
        cli_table_free(&t);
    }
    rc = 0;
out:
    if (ws != NULL) {
        for (unsigned k = 0; k < started_handlers; k++) {
            atomic_store(&ws[k].hstop, 1);
        }
        for (unsigned k = 0; k < started_handlers; k++) {
            pthread_join(ws[k].hth, NULL);
        }
        for (unsigned k = 0; k < workers; k++) {
            busrt_client_close(ws[k].c);
            busrt_client_close(ws[k].h);
        }
    }
    free(ws);
    free(data);
    return rc;
}
