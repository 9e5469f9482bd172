/* busrt-bench: what every phase of a run shares: result rows, failed
 * targets, pauses that keep connections alive, time estimates. */
#define _DEFAULT_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

struct result *res_new(struct bench *b, enum section sec, const char *test, int target)
{
    /* Allocated once: callers keep pointers to their rows while adding more.
     * The count is bounded (sections x cells x MAX_TARGETS + 1, well below). */
    if (b->res == NULL) {
        b->rescap = 4096u;
        b->res = calloc(b->rescap, sizeof *b->res);
        if (b->res == NULL) {
            msg("out of memory");
            _exit(3);
        }
    }
    if (b->nres == b->rescap) {
        msg("too many results (%zu)", b->nres);
        _exit(3);
    }
    struct result *r = &b->res[b->nres++];
    memset(r, 0, sizeof *r);
    r->sec = sec;
    (void)snprintf(r->test, sizeof r->test, "%s", test);
    r->target = target;
    r->ok = 1;
    return r;
}

void res_fail(struct bench *b, struct result *r, const char *why)
{
    if (r->ok) {
        b->failed++;
    }
    r->ok = 0;
    if (r->note[0] == '\0') {
        copy_str(r->note, sizeof r->note, why);
    }
}

void mark_dead(struct target *t, const char *why)
{
    if (!t->dead) {
        t->dead = 1;
        copy_str(t->dead_why, sizeof t->dead_why, why);
        msg("target %s failed: %s; its remaining measurements are skipped", t->label, why);
    }
}

void nap(int ms)
{
    int64_t end = now_ns() + (int64_t)ms * 1000000;
    while (now_ns() < end) {
        (void)poll(NULL, 0, ms_left(end, 50));
        ka_tick(now_ns());
    }
}

double est_rtt_s(size_t payload)
{
    return 60e-6 + (double)payload * 3e-9;
}

double est_setup_s(size_t clients)
{
    return (double)clients * 60e-6;
}

double estimate_seconds(const struct bench *b)
{
    const struct bench_opts *o = &b->o;
    double s = 0;
    double nt = (double)b->nt;
    if ((o->only & ONLY_LAT) != 0) {
        for (int j = 0; j < o->npayloads; j++) {
            s += (double)o->nqos * (nt + 1) * (double)o->rounds * 1.1 * est_rtt_s(o->payloads[j]);
        }
    }
    if ((o->only & ONLY_LAT) != 0 && !o->no_place) {
        s += (2 + 3 * nt) * (double)o->rounds / 2 * 1.1 * est_rtt_s(100);
    }
    if ((o->only & ONLY_LOAD) != 0) {
        s += (double)o->nqos * 2 * nt * (double)o->rounds * 1.1 * est_rtt_s(100) * 2;
    }
    if ((o->only & ONLY_TPUT) != 0) {
        s += 5 * (nt + 1) * o->tput_repeats * (o->duration + 0.1);
    }
    if ((o->only & ONLY_FANOUT) != 0) {
        s += 2 * (nt + 1) * o->tput_repeats * (o->duration + 0.1);
    }
    if ((o->only & ONLY_SCALE) != 0) {
        s += 2 * o->nscale * 2 * nt * o->tput_repeats *
             (o->scale_duration + 0.1 + (double)o->scale_rounds / o->tput_repeats * est_rtt_s(100));
        for (int k = 0; k < o->nscale; k++) {
            s += nt * est_setup_s(o->scale_k[k]);
        }
    }
    return s;
}
