/* kit-diff: the kit's differential harness (kit_diff.c) against an
 * implementation in any language, through the pipe protocol (kit_pipe.c).
 * Inputs are the seed files given (kit_seeds.py writes them) and
 * deterministic mutations of them; requests go out in batches. At the
 * first difference kit_diff.c prints the input and both results and
 * aborts. Usage: kit-diff --help. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "busrt/codes.h"
#include "busrt_kit.h"
#include "kit_pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    uint8_t *p;
    size_t n;
};

static struct input *seeds;
static size_t nseeds;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: kit-diff --pipe CMD --seeds DIR [OPTIONS]\n"
            "Compares the functions of fuzz/kit/busrt_kit.h, answered by CMD (run as\n"
            "sh -c 'exec CMD') over the pipe protocol of fuzz/README.md, with the reference\n"
            "core, on the seed files of DIR (python3 fuzz/kit/kit_seeds.py writes them) and\n"
            "on mutations of them. At the first difference it prints the input and both\n"
            "results and aborts; else its last line is \"N inputs, C comparisons, ...\".\n"
            "\n"
            "  --pipe CMD       the implementation (it answers requests on stdin/stdout)\n"
            "  --seeds DIR      seed inputs, one file each (repeatable)\n"
            "  --seconds N      stop after N seconds (default 10)\n"
            "  --inputs N       stop after N inputs (default 0 = no limit)\n"
            "  --seed S         the mutation PRNG seed (default 1)\n"
            "  --batch N        inputs per batch of requests (default 4096; 1 = one\n"
            "                   request at a time, as under libFuzzer)\n"
            "  -h, --help       show this help and exit\n");
}

static void add_seed(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return;
    }
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == 0) {
        return;
    }
    seeds = realloc(seeds, (nseeds + 1) * sizeof *seeds);
    uint8_t *p = malloc(n);
    if (seeds == NULL || p == NULL) {
        fprintf(stderr, "kit-diff: out of memory\n");
        exit(2);
    }
    memcpy(p, buf, n);
    seeds[nseeds++] = (struct input){p, n};
}

static int load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "kit-diff: cannot read the seed directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        add_seed(path);
    }
    closedir(d);
    return 0;
}

static uint64_t rng;

static uint32_t pick(uint32_t n)
{
    rng += 0x9E3779B97F4A7C15ull;
    uint64_t z = rng;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return n > 0 ? (uint32_t)((z >> 11) % n) : 0;
}

/* The selector bytes (kit_diff.c) whose checks the implementation takes. */
static int sel_ok(unsigned f, unsigned sel)
{
    static const unsigned need[9] = {KIT_F_CLIENT_HEADER, KIT_F_FRAME_HEADER | KIT_F_ACK,
                                     KIT_F_TOPIC, KIT_F_MASK, KIT_F_UTF8, KIT_F_NAME, KIT_F_LIST,
                                     KIT_F_CLIENT_BODY, KIT_F_FRAME_BODY};
    return (f & need[sel % 9u]) != 0;
}

/* A mutation of a seed into out (cap bytes). */
static size_t mutate(uint8_t *out, size_t cap, const struct input *s)
{
    size_t n = s->n < cap ? s->n : cap;
    memcpy(out, s->p, n);
    unsigned k = 1 + pick(4);
    for (unsigned i = 0; i < k && n > 0; i++) {
        switch (pick(6)) {
        case 0:
            out[pick((uint32_t)n)] ^= (uint8_t)(1u << pick(8));
            break;
        case 1:
            out[pick((uint32_t)n)] = (uint8_t)pick(256);
            break;
        case 2:
            if (n > 1) {
                n = 1 + pick((uint32_t)n);
            }
            break;
        case 3:
            for (unsigned j = 1 + pick(16); j > 0 && n < cap; j--) {
                out[n++] = (uint8_t)pick(256);
            }
            break;
        case 4: {
            static const uint8_t interesting[] = {0x00, 0x01, 0x12, 0x13, 0xFE, 0xFF, 0x2F,
                                                  0x2E, 0x23, 0x2B, 0x2A, 0x3F, 0x25, 0xC0,
                                                  0xED, 0xF4, 0x80};
            out[pick((uint32_t)n)] = interesting[pick(sizeof interesting)];
            break;
        }
        default:
            if (n > 2) {
                size_t a = pick((uint32_t)n), b = pick((uint32_t)n);
                uint8_t t = out[a];
                out[a] = out[b];
                out[b] = t;
            }
            break;
        }
    }
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *cmd = NULL;
    double seconds = 10;
    long max_inputs = 0, batch = 4096;
    int ndirs = 0;
    rng = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (v == NULL) {
            fprintf(stderr, "kit-diff: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--pipe") == 0) {
            cmd = v;
        } else if (strcmp(a, "--seeds") == 0) {
            if (load_dir(v) != 0) {
                return 2;
            }
            ndirs++;
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = strtod(v, &end);
        } else if (strcmp(a, "--inputs") == 0) {
            max_inputs = strtol(v, &end, 10);
        } else if (strcmp(a, "--seed") == 0) {
            rng = strtoull(v, &end, 10);
        } else if (strcmp(a, "--batch") == 0) {
            batch = strtol(v, &end, 10);
        } else {
            fprintf(stderr, "kit-diff: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (end != NULL && (*end != 0 || end == v || seconds < 0 || max_inputs < 0 ||
                            batch < 1 || batch > 1000000)) {
            fprintf(stderr, "kit-diff: bad value for %s: %s\n", a, v);
            return 2;
        }
        i++;
    }
    if (cmd == NULL || ndirs == 0) {
        fprintf(stderr, "kit-diff: --pipe and --seeds are required\n");
        usage(stderr);
        return 2;
    }
    if (nseeds == 0) {
        fprintf(stderr, "kit-diff: no seed files\n");
        return 2;
    }
    if (kit_pipe_start(cmd) != 0) {
        return 2;
    }
    const unsigned f = kit_features();
    size_t usable = 0;
    for (size_t i = 0; i < nseeds; i++) {
        if (sel_ok(f, seeds[i].p[0])) {
            seeds[usable++] = seeds[i];
        } else {
            free(seeds[i].p);
        }
    }
    nseeds = usable;
    if (nseeds == 0) {
        fprintf(stderr, "kit-diff: no seed exercises the features 0x%03x the command "
                        "reported\n", f);
        kit_pipe_stop();
        return 2;
    }
    fprintf(stderr, "kit-diff: features 0x%03x, %zu seeds, batches of %ld\n", f, nseeds, batch);
    enum { CAP = 4096 };
    struct input *in = calloc((size_t)batch, sizeof *in);
    uint8_t *pool = malloc((size_t)batch * CAP);
    if (in == NULL || pool == NULL) {
        fprintf(stderr, "kit-diff: out of memory\n");
        return 2;
    }
    double t0 = now_s();
    long inputs = 0;
    size_t next_seed = 0;
    while ((seconds <= 0 || now_s() - t0 < seconds) && (max_inputs == 0 || inputs < max_inputs)) {
        long k = batch;
        if (max_inputs > 0 && max_inputs - inputs < k) {
            k = max_inputs - inputs;
        }
        for (long i = 0; i < k; i++) {
            uint8_t *p = pool + (size_t)i * CAP;
            if (next_seed < nseeds) { /* every seed once as it is */
                size_t n = seeds[next_seed].n < CAP ? seeds[next_seed].n : CAP;
                memcpy(p, seeds[next_seed++].p, n);
                in[i] = (struct input){p, n};
            } else {
                in[i] = (struct input){p, mutate(p, CAP, &seeds[pick((uint32_t)nseeds)])};
            }
        }
        if (batch == 1) {
            (void)LLVMFuzzerTestOneInput(in[0].p, in[0].n);
        } else {
            kit_pipe_plan_begin();
            for (long i = 0; i < k; i++) {
                kit_pipe_plan_input();
                (void)LLVMFuzzerTestOneInput(in[i].p, in[i].n);
            }
            (void)kit_pipe_exchange();
            for (long i = 0; i < k; i++) {
                kit_pipe_replay_input((size_t)i);
                (void)LLVMFuzzerTestOneInput(in[i].p, in[i].n);
            }
            kit_pipe_sync();
        }
        inputs += k;
    }
    double dt = now_s() - t0;
    kit_pipe_stop();
    printf("%ld inputs, %llu comparisons, %.1f s: %.0f inputs/s, %.0f comparisons/s; no "
           "difference\n", inputs, kit_pipe_calls, dt, dt > 0 ? (double)inputs / dt : 0.0,
           dt > 0 ? (double)kit_pipe_calls / dt : 0.0);
    free(in);
    free(pool);
    for (size_t i = 0; i < nseeds; i++) {
        free(seeds[i].p);
    }
    free(seeds);
    return 0;
}
