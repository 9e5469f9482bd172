/* Reads the requirement ids and texts from spec/busrt-v1.md.
 *
 * A normative requirement is a paragraph that starts with a bold id,
 * "**REQ-AREA-N** text...", and runs to the next blank line. The section is
 * the number of the nearest heading above it. Appendix B's table rows
 * "| REQ-AREA-N | section | level | party | summary |" give the summaries
 * (the last cell) and the index the body is checked against. */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct buf b;
    buf_init(&b);
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        buf_add(&b, tmp, n);
    }
    fclose(f);
    *len = buf_len(&b);
    char *s = xstrdup(buf_str(&b));
    buf_free(&b);
    return s;
}

/* Length of a requirement id at s ("REQ-" upper/digits "-" digits), or 0. */
static size_t id_len(const char *s)
{
    if (strncmp(s, "REQ-", 4) != 0) {
        return 0;
    }
    size_t i = 4;
    while (isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i])) {
        i++;
    }
    if (i == 4 || s[i] != '-') {
        return 0;
    }
    i++;
    size_t d = i;
    while (isdigit((unsigned char)s[i])) {
        i++;
    }
    return i > d ? i : 0;
}

static struct req *add_req(struct spec *s, const char *id, size_t n)
{
    s->reqs = xrealloc(s->reqs, (s->n + 1u) * sizeof *s->reqs);
    struct req *r = &s->reqs[s->n++];
    memset(r, 0, sizeof *r);
    if (n >= sizeof r->id) {
        n = sizeof r->id - 1u;
    }
    memcpy(r->id, id, n);
    return r;
}

struct req *spec_find(struct spec *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->reqs[i].id, id) == 0) {
            return &s->reqs[i];
        }
    }
    return NULL;
}

void spec_free(struct spec *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->reqs[i].text);
        free(s->reqs[i].summary);
    }
    free(s->reqs);
    memset(s, 0, sizeof *s);
}

static void problem(struct spec *s, const char *fmt, const char *a)
{
    size_t used = strlen(s->problems);
    if (used + 200 < sizeof s->problems) {
        snprintf(s->problems + used, sizeof s->problems - used, fmt, a);
    }
}

int spec_load(const char *path, struct spec *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    size_t len = 0;
    char *text = read_all(path, &len);
    if (text == NULL) {
        snprintf(err, errlen, "cannot read the specification %s", path);
        return -1;
    }
    char section[16] = "";
    int in_index = 0;
    char *line = text;
    struct req *cur = NULL; /* paragraph being collected */
    struct buf para;
    buf_init(&para);
    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        size_t ll = strlen(line);
        if (ll > 0 && line[ll - 1u] == '\r') {
            line[--ll] = '\0';
        }
        if (cur != NULL) {
            if (ll == 0) {
                cur->text = xstrdup(buf_str(&para));
                cur = NULL;
            } else {
                buf_addc(&para, ' ');
                buf_adds(&para, line);
            }
        } else if (strncmp(line, "## ", 3) == 0 || strncmp(line, "### ", 4) == 0) {
            const char *h = line + (line[2] == ' ' ? 3 : 4);
            in_index = strncmp(h, "Appendix B", 10) == 0;
            size_t k = 0;
            while ((isdigit((unsigned char)h[k]) || h[k] == '.') && k + 1 < sizeof section) {
                k++;
            }
            if (k > 0) {
                memcpy(section, h, k);
                section[k] = '\0';
                if (section[k - 1u] == '.') {
                    section[k - 1u] = '\0';
                }
            }
        } else if (strncmp(line, "**REQ-", 6) == 0) {
            size_t n = id_len(line + 2);
            if (n > 0 && strncmp(line + 2 + n, "**", 2) == 0) {
                char id[32];
                snprintf(id, sizeof id, "%.*s", (int)n, line + 2);
                if (spec_find(s, id) != NULL) {
                    problem(s, "duplicate requirement %s in the body; ", id);
                } else {
                    cur = add_req(s, line + 2, n);
                    snprintf(cur->section, sizeof cur->section, "%s", section);
                    buf_reset(&para);
                    buf_adds(&para, cur->id);
                    const char *rest = line + 2 + n + 2;
                    buf_adds(&para, rest);
                }
            }
        } else if (in_index && strncmp(line, "| REQ-", 6) == 0) {
            size_t n = id_len(line + 2);
            if (n > 0) {
                char id[32];
                snprintf(id, sizeof id, "%.*s", (int)n, line + 2);
                struct req *r = spec_find(s, id);
                s->n_index++;
                if (r == NULL) {
                    problem(s, "%s is in Appendix B but not in the body; ", id);
                } else {
                    /* "| id | section | level | party | summary |": the
                     * summary is the last cell */
                    const char *e = strrchr(line + 2 + n, '|');
                    const char *p = NULL;
                    for (const char *q = line + 2 + n; e != NULL && q < e; q++) {
                        if (*q == '|') {
                            p = q;
                        }
                    }
                    if (p != NULL) {
                        p++;
                        while (*p == ' ') {
                            p++;
                        }
                        size_t sl = p < e ? (size_t)(e - p) : 0u;
                        while (sl > 0 && p[sl - 1u] == ' ') {
                            sl--;
                        }
                        r->summary = xmalloc(sl + 1u);
                        memcpy(r->summary, p, sl);
                        r->summary[sl] = '\0';
                    }
                }
            }
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (cur != NULL) {
        cur->text = xstrdup(buf_str(&para));
    }
    buf_free(&para);
    free(text);
    for (size_t i = 0; i < s->n; i++) {
        if (s->reqs[i].summary == NULL) {
            problem(s, "%s is in the body but not in Appendix B; ", s->reqs[i].id);
        }
    }
    if (s->n == 0) {
        snprintf(err, errlen, "no requirement ids found in %s", path);
        spec_free(s);
        return -1;
    }
    (void)len;
    return 0;
}
