/* Known failures: the --xfail globs and the lines of --xfail-file files.
 *
 * An expectation file describes one broker that is known to deviate
 * (conformance/deviations/). One entry per line:
 *
 *     CASE-GLOB [step=N] [# why]
 *
 * With step=N the case is expected to fail at step N only: failing at
 * another step is a new failure, reported as FAIL. That keeps a broker's
 * known defects from hiding a regression inside the same case. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL) {
        fprintf(stderr, "busrt-conformance: out of memory\n");
        exit(2);
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void xfail_add(struct xfail *x, const char *glob, int step, const char *where)
{
    if (x->n == x->cap) {
        size_t cap = x->cap != 0 ? x->cap * 2 : 16;
        struct xfail_entry *v = realloc(x->v, cap * sizeof *v);
        if (v == NULL) {
            fprintf(stderr, "busrt-conformance: out of memory\n");
            exit(2);
        }
        x->v = v;
        x->cap = cap;
    }
    struct xfail_entry *e = &x->v[x->n++];
    e->glob = dup_n(glob, strlen(glob));
    e->step = step;
    e->where = dup_n(where, strlen(where));
}

int xfail_load(struct xfail *x, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "busrt-conformance: --xfail-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int ln = 0, rc = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        ln++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "busrt-conformance: %s:%d: line longer than %zu bytes\n", path, ln,
                    sizeof line - 2);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char *glob = strtok(line, " \t\r\n");
        if (glob == NULL) {
            continue;
        }
        int step = 0;
        char *opt = strtok(NULL, " \t\r\n");
        if (opt != NULL) {
            char *end = NULL;
            long v = strncmp(opt, "step=", 5) == 0 ? strtol(opt + 5, &end, 10) : 0;
            if (end == NULL || *end != '\0' || v < 1 || v > 100000) {
                fprintf(stderr, "busrt-conformance: %s:%d: expected step=N (N >= 1) after "
                        "the case, found \"%s\"\n", path, ln, opt);
                rc = -1;
                break;
            }
            step = (int)v;
            if (strtok(NULL, " \t\r\n") != NULL) {
                fprintf(stderr, "busrt-conformance: %s:%d: unexpected text after step=%d "
                        "(a comment starts with #)\n", path, ln, step);
                rc = -1;
                break;
            }
        }
        char where[600];
        snprintf(where, sizeof where, "%s:%d", path, ln);
        xfail_add(x, glob, step, where);
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "busrt-conformance: --xfail-file %s: read error\n", path);
        rc = -1;
    }
    fclose(f);
    return rc;
}

const struct xfail_entry *xfail_find(const struct xfail *x, const char *id)
{
    for (size_t i = 0; i < x->n; i++) {
        if (fnmatch(x->v[i].glob, id, 0) == 0) {
            return &x->v[i];
        }
    }
    return NULL;
}

int xfail_unused(const struct xfail *x, const struct suite *s)
{
    int n = 0;
    for (size_t i = 0; i < x->n; i++) {
        size_t j = 0;
        while (j < s->n && fnmatch(x->v[i].glob, s->cases[j].id, 0) != 0) {
            j++;
        }
        if (j == s->n) {
            fprintf(stderr, "busrt-conformance: %s: warning: no case matches \"%s\"\n",
                    x->v[i].where, x->v[i].glob);
            n++;
        }
    }
    return n;
}

void xfail_free(struct xfail *x)
{
    for (size_t i = 0; i < x->n; i++) {
        free(x->v[i].glob);
        free(x->v[i].where);
    }
    free(x->v);
    x->v = NULL;
    x->n = x->cap = 0;
}

int run_is_xfail(const struct run *r, const char *id, const struct result *res)
{
    const struct xfail_entry *e = xfail_find(&r->xf, id);
    if (e == NULL) {
        return 0;
    }
    return res->st != ST_FAIL || e->step == 0 || e->step == res->step;
}

void xfail_note(const struct run *r, const char *id, struct result *res)
{
    const struct xfail_entry *e = xfail_find(&r->xf, id);
    if (e != NULL && res->st == ST_FAIL && e->step != 0 && e->step != res->step) {
        buf_printf(&res->msg, "\n(a new failure: %s expects this case to fail at step %d, "
                   "not at step %d)", e->where, e->step, res->step);
    }
}
