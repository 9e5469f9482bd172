/* busrt-conformance: runs the BUS/RT v1 conformance cases against a broker
 * over the wire. Usage: busrt-conformance --help; the case format and the
 * options are documented in conformance/README.md. */
#define _DEFAULT_SOURCE
#include "busrt/codes.h"
#include "cf.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs(
        "Usage: busrt-conformance (--target ADDR | --spawn 'CMD {addr}') [OPTIONS]\n"
        "       busrt-conformance --check-coverage | --list [OPTIONS]\n"
        "Runs the BUS/RT v1 conformance cases against a broker over the wire.\n"
        "\n"
        "Broker:\n"
        "  --target ADDR          test the running broker at ADDR (UNIX path or HOST:PORT);\n"
        "                         cases that need broker options are skipped\n"
        "  --spawn 'CMD'          start the broker per option set: {addr} is replaced by\n"
        "                         the listen address, {opts} (or the end) by the options\n"
        "  --spawn-opt KEY=TMPL   how a case's broker option KEY becomes command-line\n"
        "                         words; {} in TMPL is replaced by the value (repeatable)\n"
        "  --timeout-s T          the broker's timeout T in seconds (default 5)\n"
        "  --reload-signal SIG    signal that makes a spawned broker reload its access\n"
        "                         policy file (HUP, USR1, USR2 or a number)\n"
        "  --wait-t W             bound of every wait for an expected frame, in\n"
        "                         multiples of T (default 2)\n"
        "Selection:\n"
        "  --profile P[,P...]     run only cases of these profiles\n"
        "  --case GLOB            run only cases whose id matches GLOB (repeatable)\n"
        "  --list                 list the selected cases and exit\n"
        "  --xfail GLOB           cases known to fail (repeatable): a failure is reported\n"
        "                         as xfail and does not set the exit status; a pass\n"
        "                         (xpass) does, so that the list is kept current\n"
        "  --xfail-file FILE      known failures of one broker, one per line:\n"
        "                         CASE-GLOB [step=N] [# why]; with step=N a failure at\n"
        "                         another step counts as a new failure\n"
        "  --check-coverage       check that every requirement has a case or an exemption;\n"
        "                         exit 0 only then\n"
        "Files:\n"
        "  --spec FILE            the specification (default spec/busrt-v1.md)\n"
        "  --cases DIR            the case files (default conformance/cases)\n"
        "  --exemptions FILE      (default conformance/exemptions.json)\n"
        "Output:\n"
        "  --tap                  TAP output instead of the line format\n"
        "  --junit FILE           also write a JUnit XML report\n"
        "  --json FILE            also write a JSON report\n"
        "  -v, --verbose          trace every step on stderr\n"
        "  -h, --help, --version\n"
        "\n"
        "Exit status: 0 when no MUST or compat-quirk case failed; 1 when one did;\n"
        "2 on a usage, file or schema error, or when the --target address accepts\n"
        "no connection.\n",
        f);
}

static int in_list(const char *list, const char *word)
{
    size_t wl = strlen(word);
    const char *p = list;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        if (n == wl && strncmp(p, word, n) == 0) {
            return 1;
        }
        if (e == NULL) {
            break;
        }
        p = e + 1;
    }
    return 0;
}

static void make_prefix(struct run *r)
{
    unsigned rnd = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &rnd, sizeof rnd) != (ssize_t)sizeof rnd) {
            rnd = 0;
        }
        close(fd);
    }
    rnd ^= (unsigned)now_ms();
    snprintf(r->run_prefix, sizeof r->run_prefix, "cf%04x%04x",
             (unsigned)getpid() & 0xffffu, rnd & 0xffffu);
}

int main(int argc, char **argv)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.T = 5.0;
    r.wait_t = 2.0;
    const char *spec_path = "spec/busrt-v1.md";
    const char *cases_dir = "conformance/cases";
    const char *ex_path = "conformance/exemptions.json";
    const char *profiles = NULL;
    const char *globs[64];
    size_t nglobs = 0;
    const char *junit = NULL, *jsonp = NULL;
    int list = 0, check = 0;
    enum {
        O_TARGET = 256, O_SPAWN, O_SPAWN_OPT, O_TIMEOUT, O_WAIT, O_PROFILE, O_CASE, O_LIST,
        O_CHECK, O_SPEC, O_CASES, O_EXEMPT, O_TAP, O_JUNIT, O_JSON, O_VERSION, O_XFAIL, O_XFAIL_FILE,
        O_RELOAD
    };
    static const struct option lo[] = {
        {"target", required_argument, NULL, O_TARGET},
        {"spawn", required_argument, NULL, O_SPAWN},
        {"spawn-opt", required_argument, NULL, O_SPAWN_OPT},
        {"timeout-s", required_argument, NULL, O_TIMEOUT},
        {"wait-t", required_argument, NULL, O_WAIT},
        {"profile", required_argument, NULL, O_PROFILE},
        {"case", required_argument, NULL, O_CASE},
        {"list", no_argument, NULL, O_LIST},
        {"xfail", required_argument, NULL, O_XFAIL},
        {"xfail-file", required_argument, NULL, O_XFAIL_FILE},
        {"reload-signal", required_argument, NULL, O_RELOAD},
        {"check-coverage", no_argument, NULL, O_CHECK},
        {"spec", required_argument, NULL, O_SPEC},
        {"cases", required_argument, NULL, O_CASES},
        {"exemptions", required_argument, NULL, O_EXEMPT},
        {"tap", no_argument, NULL, O_TAP},
        {"junit", required_argument, NULL, O_JUNIT},
        {"json", required_argument, NULL, O_JSON},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
        switch (o) {
        case O_TARGET: r.target = optarg; break;
        case O_SPAWN: r.spawn = optarg; break;
        case O_SPAWN_OPT: {
            char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg || r.nopts >= 64) {
                fprintf(stderr, "busrt-conformance: --spawn-opt wants KEY=TEMPLATE\n");
                return 2;
            }
            r.opts[r.nopts].key = xmalloc((size_t)(eq - optarg) + 1u);
            memcpy(r.opts[r.nopts].key, optarg, (size_t)(eq - optarg));
            r.opts[r.nopts].key[eq - optarg] = '\0';
            r.opts[r.nopts].tmpl = xstrdup(eq + 1);
            r.nopts++;
            break;
        }
        case O_TIMEOUT:
            r.T = strtod(optarg, NULL);
            if (!(r.T > 0.0)) {
                fprintf(stderr, "busrt-conformance: --timeout-s must be positive\n");
                return 2;
            }
            break;
        case O_WAIT:
            r.wait_t = strtod(optarg, NULL);
            if (!(r.wait_t > 0.0)) {
                fprintf(stderr, "busrt-conformance: --wait-t must be positive\n");
                return 2;
            }
            break;
        case O_PROFILE: profiles = optarg; break;
        case O_CASE:
            if (nglobs < 64) {
                globs[nglobs++] = optarg;
            }
            break;
        case O_LIST: list = 1; break;
        case O_RELOAD:
            r.reload_signal = strcmp(optarg, "HUP") == 0 || strcmp(optarg, "SIGHUP") == 0 ? SIGHUP
                              : strcmp(optarg, "USR1") == 0 || strcmp(optarg, "SIGUSR1") == 0
                                  ? SIGUSR1
                              : strcmp(optarg, "USR2") == 0 || strcmp(optarg, "SIGUSR2") == 0
                                  ? SIGUSR2
                                  : atoi(optarg);
            if (r.reload_signal <= 0) {
                fprintf(stderr, "busrt-conformance: bad --reload-signal %s\n", optarg);
                return 2;
            }
            break;
        case O_XFAIL: xfail_add(&r.xf, optarg, 0, "--xfail"); break;
        case O_XFAIL_FILE:
            if (xfail_load(&r.xf, optarg) != 0) {
                xfail_free(&r.xf);
                return 2;
            }
            break;
        case O_CHECK: check = 1; break;
        case O_SPEC: spec_path = optarg; break;
        case O_CASES: cases_dir = optarg; break;
        case O_EXEMPT: ex_path = optarg; break;
        case O_TAP: r.tap = 1; break;
        case O_JUNIT: junit = optarg; break;
        case O_JSON: jsonp = optarg; break;
        case 'v': r.verbose = 1; break;
        case 'h': usage(stdout); return 0;
        case O_VERSION: printf("busrt-conformance %s (suite %s, %s)\n", BUSRT_VERSION_STRING,
                               CF_SUITE_VERSION, CF_FORMAT);
            return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    struct spec sp;
    char err[512];
    if (spec_load(spec_path, &sp, err, sizeof err) != 0) {
        fprintf(stderr, "busrt-conformance: %s\n", err);
        return 2;
    }
    struct suite s;
    if (suite_load(cases_dir, &s) != 0) {
        fprintf(stderr, "busrt-conformance: the case files have errors (see above)\n");
        suite_free(&s);
        spec_free(&sp);
        return 2;
    }
    if (exemptions_load(ex_path, &s) != 0) {
        suite_free(&s);
        spec_free(&sp);
        return 2;
    }
    int stale = xfail_unused(&r.xf, &s);
    if (check) {
        int p = coverage_check(&s, &sp, 1, stdout) + stale;
        suite_free(&s);
        spec_free(&sp);
        return p == 0 ? 0 : 1;
    }
    {
        /* Unknown ids in cases break the per-requirement report: refuse. */
        FILE *devnull = fopen("/dev/null", "w");
        int p = coverage_check(&s, &sp, 0, devnull != NULL ? devnull : stderr);
        if (devnull != NULL) {
            fclose(devnull);
        }
        if (p != 0) {
            fprintf(stderr, "busrt-conformance: warning: the coverage self-check reports %d "
                    "problem(s); run --check-coverage\n", p);
        }
    }
    size_t nsel = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct kase *k = &s.cases[i];
        int sel = profiles == NULL || in_list(profiles, k->profile);
        if (sel && nglobs > 0) {
            int any = 0;
            for (size_t g = 0; g < nglobs; g++) {
                any |= fnmatch(globs[g], k->id, 0) == 0;
            }
            sel = any;
        }
        k->selected = sel;
        nsel += (size_t)sel;
    }
    if (list) {
        for (size_t i = 0; i < s.n; i++) {
            struct kase *k = &s.cases[i];
            if (!k->selected) {
                continue;
            }
            printf("%-44s %-12s %-9s", k->id, level_name(k->level), k->profile);
            size_t j;
            json_t *rq;
            json_array_foreach(k->reqs, j, rq) {
                printf("%s%s", j > 0 ? "," : " ", json_string_value(rq));
            }
            printf("\n    %s\n", k->desc);
        }
        printf("%zu case(s)\n", nsel);
        suite_free(&s);
        spec_free(&sp);
        return 0;
    }
    if ((r.target == NULL) == (r.spawn == NULL)) {
        fprintf(stderr, "busrt-conformance: give exactly one of --target, --spawn\n");
        suite_free(&s);
        spec_free(&sp);
        return 2;
    }
    if (r.spawn != NULL && strstr(r.spawn, "{addr}") == NULL) {
        fprintf(stderr, "busrt-conformance: the --spawn template needs {addr}\n");
        suite_free(&s);
        spec_free(&sp);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (r.target != NULL) {
        /* Without a broker every case would fail on its own with the same
         * cause: say it once, before running any. */
        int64_t ms = (int64_t)(r.T * 1000.0);
        int e = target_probe(r.target, ms < 1000 ? 1000 : ms > 30000 ? 30000 : (int)ms);
        if (e != 0) {
            fprintf(stderr, "busrt-conformance: cannot connect to %s: %s; is the broker "
                    "running? (use --spawn to start one)\n", r.target, strerror(e));
            suite_free(&s);
            spec_free(&sp);
            xfail_free(&r.xf);
            return 2;
        }
    }
    make_prefix(&r);
    struct result *res = xmalloc(s.n * sizeof *res);
    memset(res, 0, s.n * sizeof *res);
    if (r.tap) {
        printf("TAP version 13\n1..%zu\n", nsel);
    } else {
        printf("# busrt-conformance %s: %zu case(s) against %s (T = %g s, names %s*)\n",
               CF_SUITE_VERSION, nsel, r.target != NULL ? r.target : r.spawn, r.T,
               r.run_prefix);
    }
    fflush(stdout);
    int64_t t0 = now_ms();
    int n = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct kase *k = &s.cases[i];
        if (!k->selected) {
            continue;
        }
        if (r.verbose) {
            fprintf(stderr, "# case %s\n", k->id);
        }
        run_case(&r, k, &res[i]);
        xfail_note(&r, k->id, &res[i]);
        report_case_line(&r, &sp, k, &res[i], ++n, stdout);
        fflush(stdout);
    }
    instances_stop_all(&r);
    printf("%s\n%stotal time %.1f s\n", r.tap ? "#" : "", r.tap ? "# " : "",
           (double)(now_ms() - t0) / 1000.0);
    int must_fail = report_summary(&r, &sp, &s, res, stdout);
    fflush(stdout);
    int rc = must_fail ? 1 : 0;
    if (junit != NULL && report_junit(junit, &r, &sp, &s, res) != 0) {
        fprintf(stderr, "busrt-conformance: cannot write %s\n", junit);
        rc = 2;
    }
    if (jsonp != NULL && report_json(jsonp, &r, &sp, &s, res) != 0) {
        fprintf(stderr, "busrt-conformance: cannot write %s\n", jsonp);
        rc = 2;
    }
    for (size_t i = 0; i < s.n; i++) {
        buf_free(&res[i].msg);
        buf_free(&res[i].expected);
        buf_free(&res[i].received);
        buf_free(&res[i].steptext);
    }
    free(res);
    for (size_t i = 0; i < r.nopts; i++) {
        free(r.opts[i].key);
        free(r.opts[i].tmpl);
    }
    xfail_free(&r.xf);
    spec_free(&sp);
    suite_free(&s);
    return rc;
}
