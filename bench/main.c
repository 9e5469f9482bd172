/* busrt-bench: the bench process's main: set-up, the sections in order,
 * tear-down, the report and the exit status.
 *
 * Every figure is measured the same way on every target, in interleaved
 * blocks, beside a floor (the same ping-pong or flow over a bare socketpair
 * between the same two processes) measured in the same run. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

/* The selected sections, in their order. */
static void run_sections(struct bench *b)
{
    if ((b->o.only & ONLY_LAT) != 0) {
        phase_latency(b, 0);
        if (!b->o.no_place) {
            phase_placement(b);
        }
    }
    if ((b->o.only & ONLY_TPUT) != 0) {
        (void)set_echo_qos(b, 0);
        phase_rates(b, SEC_TPUT);
    }
    if ((b->o.only & ONLY_LOAD) != 0) {
        ensure_capacity(b);
        if (load_start(b) == 0) {
            phase_latency(b, 1);
            reap_child(b, &b->load, &b->lctl, KID_LOAD);
        } else {
            b->failed++;
        }
    }
    if ((b->o.only & ONLY_FANOUT) != 0) {
        phase_rates(b, SEC_FANOUT);
    }
    if ((b->o.only & ONLY_SCALE) != 0) {
        (void)set_echo_qos(b, 2); /* the scale round trips are QoS 2 both ways */
        phase_scale(b);
    }
}

/* Errors seen by the echo side. */
static void peer_report(struct bench *b)
{
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    if (ctl_send(&b->ctl, CTL_PAUSE, NULL, 0) != 0 ||
        ctl_wait(&b->ctl, CTL_RESULT, 0, &a, b->timeout) != CTL_RESULT) {
        msg("the peer process does not report");
        b->failed++;
    } else if (a.errors > 0 || a.count > 0) {
        msg("the peer saw %llu errors and %llu lost connections", (unsigned long long)a.errors,
            (unsigned long long)a.count);
        b->failed++;
    }
}

/* Prints the table and goals, writes the files asked for; the verdict.
 * Returns the exit status. */
static int report(struct bench *b, const struct machine *m, int argc, char **argv)
{
    char line[1024];
    size_t off = 0;
    for (int i = 1; i < argc && off < sizeof line - 2; i++) {
        int w = snprintf(line + off, sizeof line - off, "%s%s", i > 1 ? " " : "", argv[i]);
        off += w > 0 ? (size_t)w : 0u;
    }
    const struct bench_opts *o = &b->o;
    struct report rep = {b->t, b->nt, b->res, b->nres, *m, line, o->rounds, o->repeats,
                         o->tput_repeats, o->duration, o->window, o->quick, pin_name(b),
                         b->rt_skipped, o->rt_prio > 0};
    report_table(&rep, stdout);
    report_goals(&rep, stdout);
    int out_failed = 0;
    if (o->csv != NULL && report_csv(&rep, o->csv) != 0) {
        out_failed = 1;
    }
    if (o->json != NULL && report_json(&rep, o->json) != 0) {
        out_failed = 1;
    }
    if (o->plot != NULL && report_plot(&rep, o->plot) != 0) {
        out_failed = 1;
    }
    size_t bad = 0;
    for (size_t i = 0; i < b->nres; i++) {
        bad += b->res[i].ok ? 0u : 1u;
    }
    int dead = 0;
    for (int i = 0; i < b->nt; i++) {
        dead += b->t[i].dead;
    }
    if (bad > 0 || b->failed > 0 || dead > 0) {
        printf("\nFAILED: %zu of %zu measurements incomplete or lost frames, %d of %d targets "
               "failed (see the notes above)\n", bad, b->nres, dead, b->nt);
        return 1;
    }
    printf("\nOK: %zu measurements, every one produced numbers, no frame lost\n", b->nres);
    return out_failed;
}

int main(int argc, char **argv)
{
    static struct bench bench; /* the one run; zeroed */
    struct bench *b = &bench;
    if (argc > 1 && strcmp(argv[1], "--inproc") == 0) {
        return bench_inproc(argc - 1, argv + 1); /* inproc.c: a run of its own */
    }
    b->load = -1;
    parse_args(b, argc, argv);
    g_tag = (unsigned long)getpid();
    b->timeout = (int64_t)(b->o.timeout * 1e9);
    ka_set_interval((int64_t)(b->o.ping * 1e9));
    setvbuf(stdout, NULL, _IOLBF, 0);

    char lim_err[160];
    (void)nofile_raise(lim_err, sizeof lim_err); /* children inherit it */
    if (lim_err[0] != '\0') {
        msg("%s", lim_err);
    }
    signals_install(b);
    double est = estimate_seconds(b);
    double max_time = b->o.max_time > 0 ? b->o.max_time : est * 3 + 120 + 30 * b->nt;
    (void)alarm((unsigned)max_time);

    b->ncpus = affinity_init(b->cpus, 4);
    b->payload = xmalloc(16u * 1024u * 1024u + 4096u);
    memset(b->payload, 0xa5, 16u * 1024u * 1024u + 4096u);
    progress_init(b->o.quiet);
    progress_set_total(est);

    struct machine m;
    struct machine_mark mark;
    machine_start(&m, &mark);

    /* the peer first: it must not inherit broker connections */
    if (peer_start(b) != 0 || targets_spawn(b) != 0) {
        return 1;
    }
    if (targets_connect(b) == 0) {
        msg("no target answers; nothing to measure");
        b->failed++;
    } else {
        if (b->o.pin != 0) {
            apply_pin(b);
        }
        msg("%d target(s); estimated %.0f s (watchdog %.0f s); %s", b->nt, est, max_time,
            pin_name(b));
        run_sections(b);
        peer_report(b);
    }
    progress_done();
    targets_close(b);
    reap_child(b, &b->peer, &b->ctl, KID_PEER);
    targets_stop(b);
    (void)alarm(0);

    machine_end(&m, &mark);
    return report(b, &m, argc, argv);
}
