/* busrt-bench: CPU placement: the --pin policy and the placement probe. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "busrt/codes.h"

const char *pin_name(struct bench *b)
{
    if (b->o.pin == 0 || b->ncpus < 1) {
        return "unpinned (the scheduler places the processes; see the placement probe)";
    }
    if (b->o.pin == 1 || b->ncpus < 2) {
        (void)snprintf(b->pin_text, sizeof b->pin_text,
                       "pinned: the bench processes and the brokers on CPU %d", b->cpus[0]);
    } else {
        (void)snprintf(b->pin_text, sizeof b->pin_text,
                       "pinned: the bench processes on CPU %d, brokers on CPU %d", b->cpus[0],
                       b->cpus[1]);
    }
    return b->pin_text;
}

/* Pins the peer to cpu (-1: restores its mask). Returns 0 or -1. */
static int pin_peer(struct bench *b, int cpu)
{
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.qos = cpu;
    if (ctl_send_args(&b->ctl, CTL_PIN, &a) != 0 ||
        ctl_wait(&b->ctl, CTL_OK, 0, &a, b->timeout) != CTL_OK) {
        return -1;
    }
    return 0;
}

void apply_pin(struct bench *b)
{
    int ca = b->ncpus > 0 ? b->cpus[0] : -1;
    int cb = b->o.pin == 2 && b->ncpus > 1 ? b->cpus[1] : ca;
    int mode = b->ncpus > 0 ? b->o.pin : 0;
    (void)pin_to(0, mode == 0 ? -1 : ca);
    if (pin_peer(b, mode == 0 ? -1 : ca) != 0) {
        msg("the peer could not set its CPU affinity");
    }
    for (int t = 0; t < b->nt; t++) {
        if (b->t[t].bpid <= 0) {
            continue;
        }
        int rc = mode == 0 ? pin_restore(b->t[t].bpid, t) : pin_to(b->t[t].bpid, cb);
        if (rc != 0 && mode != 0) {
            msg("target %s: cannot set the broker's CPU affinity", b->t[t].label);
        }
    }
}

/* Placement probe (QoS 2, 100 B): the floor with A and B on one CPU and on
 * two CPUs, and each spawned broker with every process on one CPU, with the
 * broker on the other CPU, and with B on the other CPU. On machines where a
 * wake-up on another CPU is expensive (virtual machines), placement
 * dominates the round trip; the scheduler picks one of these placements at
 * random in the normal (unpinned) measurements. */

enum { P_MAX = 2 + 3 * MAX_TARGETS, P_REP = 64 };

struct place {
    int a, b, broker; /* CPUs; broker -1: not pinned */
    int target;       /* -1: floor */
    char test[64];
    struct result *row;
    struct samples s;
    double rep[P_REP];
    size_t nrep;
    uint64_t errors;
};

struct probe {
    struct place *pl;
    int np;
    size_t nrep, nb, warm, floor_len;
};

static struct place *place_add(struct probe *p, int a, int cpu_b, int broker, int target)
{
    struct place *x = &p->pl[p->np++];
    x->a = a;
    x->b = cpu_b;
    x->broker = broker;
    x->target = target;
    return x;
}

/* The placements: the floor's two, then three for every broker whose
 * process is known and answers. */
static void probe_list(struct bench *b, struct probe *p, int c0, int c1)
{
    const size_t cap = sizeof p->pl[0].test;
    (void)snprintf(place_add(p, c0, c0, -1, -1)->test, cap, "floor: A+B on CPU %d", c0);
    (void)snprintf(place_add(p, c0, c1, -1, -1)->test, cap, "floor: A on CPU %d, B on CPU %d",
                   c0, c1);
    for (int t = 0; t < b->nt; t++) {
        if (b->t[t].bpid <= 0 || b->t[t].dead) {
            continue; /* the broker's process is unknown (TCP to another host?) or failed */
        }
        (void)snprintf(place_add(p, c0, c0, c0, t)->test, cap, "A+B+broker on CPU %d", c0);
        (void)snprintf(place_add(p, c0, c0, c1, t)->test, cap, "A+B on CPU %d, broker on CPU %d",
                       c0, c1);
        (void)snprintf(place_add(p, c0, c1, c0, t)->test, cap, "A+broker on CPU %d, B on CPU %d",
                       c0, c1);
    }
    for (int i = 0; i < p->np; i++) {
        p->pl[i].row = res_new(b, SEC_PLACE, p->pl[i].test, p->pl[i].target);
        p->pl[i].row->qos = b->o.probe_qos;
        p->pl[i].row->payload = 100;
    }
}

/* One block of placement x: pins the processes, measures, unpins the
 * broker. */
static void probe_block(struct bench *b, const struct probe *p, struct place *x)
{
    char why[200];
    int ok = pin_to(0, x->a) == 0 && pin_peer(b, x->b) == 0;
    if (ok && x->target >= 0) {
        ok = pin_to(b->t[x->target].bpid, x->broker) == 0;
    }
    if (!ok) {
        res_fail(b, x->row, "could not set the CPU affinity");
    } else {
        size_t from = x->s.n;
        int rc = x->target < 0
                     ? rtt_floor(b, p->floor_len, p->warm, p->nb, &x->s, &x->errors, why,
                                 sizeof why)
                     : rtt_bus(b, &b->t[x->target], BUSRT_OP_MESSAGE, b->t[x->target].bname,
                               (uint8_t)b->o.probe_qos, 100, p->warm, p->nb, &x->s, &x->errors,
                               why, sizeof why);
        if (rc != 0) {
            res_fail(b, x->row, why);
        } else if (x->nrep < P_REP) {
            x->rep[x->nrep++] = block_p50(&x->s, from);
        }
    }
    if (x->target >= 0) {
        (void)pin_restore(b->t[x->target].bpid, x->target);
    }
    progress_add((double)(p->nb + p->warm) * est_rtt_s(100));
}

/* The rows' figures; the brokers' beside the floor with A+B on one CPU. */
static void probe_finish(struct bench *b, struct probe *p)
{
    const struct result *fl = p->pl[0].row;
    for (int i = 0; i < p->np; i++) {
        struct place *x = &p->pl[i];
        fill_lat(b, x->row, &x->s, x->rep, x->nrep);
        x->row->errors = x->errors;
        if (x->errors > 0) {
            res_fail(b, x->row, "stray echoes or ACK errors");
        }
        if (x->target >= 0 && fl->n > 0) {
            x->row->floor_p50 = fl->p50;
            x->row->floor_p999 = fl->p999;
            x->row->ratio = x->row->p50 / (2.0 * fl->p50);
        }
        samples_free(&x->s);
    }
}

void phase_placement(struct bench *b)
{
    if (b->ncpus < 2) {
        msg("placement probe skipped: fewer than two CPUs available");
        return;
    }
    struct probe p;
    memset(&p, 0, sizeof p);
    p.pl = calloc(P_MAX, sizeof *p.pl);
    probe_list(b, &p, b->cpus[0], b->cpus[1]);
    if (set_echo_qos(b, (uint8_t)b->o.probe_qos) != 0) {
        b->failed++;
        free(p.pl);
        return;
    }
    p.nrep = (size_t)(b->o.repeats / 2 > 0 ? b->o.repeats / 2 : 1);
    p.nrep = p.nrep > P_REP ? P_REP : p.nrep;
    p.nb = b->o.rounds / (size_t)b->o.repeats;
    p.nb = p.nb < 1 ? 1 : p.nb;
    p.warm = p.nb / 10u < 5u ? 5u : p.nb / 10u;
    p.floor_len = strlen(b->t[0].bname) + 2u + 100u;
    for (size_t r = 0; r < p.nrep; r++) {
        for (int k = 0; k < p.np; k++) {
            struct place *x = &p.pl[((size_t)k + r) % (size_t)p.np];
            if (!x->row->ok) {
                continue;
            }
            progress_phase("placement probe: %s%s%s, repeat %zu/%zu", x->test,
                           x->target >= 0 ? ", " : "", x->target >= 0 ? b->t[x->target].label : "",
                           r + 1, p.nrep);
            probe_block(b, &p, x);
        }
    }
    apply_pin(b); /* back to the run's placement */
    probe_finish(b, &p);
    free(p.pl);
}
