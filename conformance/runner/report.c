/* Output of the conformance runner: the line per case, the summaries per
 * requirement and per level, JUnit XML and JSON reports. */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <string.h>

static const char *status_word(const struct run *r, const struct kase *k,
                               const struct result *res)
{
    int xf = run_is_xfail(r, k->id, res);
    enum status s = res->st;
    if (s == ST_PASS) {
        return xf ? "XPASS" : "ok";
    }
    return s == ST_FAIL ? (xf ? "xfail" : "FAIL") : "skip";
}

static void print_indented(FILE *out, const char *prefix, const char *text)
{
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        fprintf(out, "%s%.*s\n", prefix, (int)n, p);
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
        prefix = "            ";
    }
}

void report_case_line(struct run *r, struct spec *sp, struct kase *k, struct result *res,
                      int n, FILE *out)
{
    const char *ind = r->tap ? "  # " : "      ";
    if (r->tap) {
        int xf = run_is_xfail(r, k->id, res);
        fprintf(out, "%s %d - %s", res->st == ST_FAIL || (xf && res->st == ST_PASS) ? "not ok"
                                                                                  : "ok",
                n, k->id);
        if (res->st == ST_SKIP) {
            fprintf(out, " # SKIP %s", buf_str(&res->msg));
        } else if (xf && res->st == ST_FAIL) {
            fprintf(out, " # TODO known failure (expected failure list)");
        } else if (xf) {
            fprintf(out, " (listed in --xfail but passed)");
        }
        fprintf(out, " [%s]", level_name(k->level));
        if (res->variant[0] != '\0') {
            fprintf(out, " (variant: %s)", res->variant);
        }
        fputc('\n', out);
    } else {
        fprintf(out, "%-5s %-44s %-12s %-9s %5lld ms", status_word(r, k, res), k->id,
                level_name(k->level), k->profile, (long long)res->ms);
        if (res->variant[0] != '\0') {
            fprintf(out, "  [variant: %s]", res->variant);
        }
        if (res->st == ST_SKIP) {
            fprintf(out, "  (%s)", buf_str(&res->msg));
        }
        fputc('\n', out);
    }
    if (res->st != ST_FAIL) {
        return;
    }
    char pre[64];
    snprintf(pre, sizeof pre, "%swhy:      ", ind);
    print_indented(out, pre, buf_str(&res->msg));
    if (buf_len(&res->expected) > 0) {
        snprintf(pre, sizeof pre, "%sexpected: ", ind);
        print_indented(out, pre, buf_str(&res->expected));
    }
    if (buf_len(&res->received) > 0) {
        snprintf(pre, sizeof pre, "%sreceived: ", ind);
        print_indented(out, pre, buf_str(&res->received));
    }
    if (buf_len(&res->steptext) > 0) {
        fprintf(out, "%sstep:     %s\n", ind, buf_str(&res->steptext));
    }
    fprintf(out, "%scase:     %s (%s)\n", ind, k->desc, k->file);
    size_t i;
    json_t *rq;
    json_array_foreach(k->reqs, i, rq) {
        struct req *q = spec_find(sp, json_string_value(rq));
        if (q != NULL) {
            fprintf(out, "%s%s (Section %s): %s\n", ind, q->id, q->section,
                    q->text != NULL ? q->text + strlen(q->id) : "");
        }
    }
}

int report_summary(struct run *r, struct spec *sp, struct suite *s, struct result *res,
                   FILE *out)
{
    const char *c = r->tap ? "# " : "";
    for (size_t i = 0; i < sp->n; i++) {
        sp->reqs[i].pass = sp->reqs[i].fail = sp->reqs[i].skip = 0;
    }
    int lv[LV_COUNT][3];
    memset(lv, 0, sizeof lv);
    int tot[3] = {0, 0, 0};
    int must_fail = 0, xfails = 0, xpasses = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct kase *k = &s->cases[i];
        if (!k->selected) {
            continue;
        }
        int st = (int)res[i].st;
        lv[k->level][st]++;
        tot[st]++;
        int xf = run_is_xfail(r, k->id, &res[i]);
        xfails += xf && res[i].st == ST_FAIL;
        xpasses += xf && res[i].st == ST_PASS;
        if (res[i].st == ST_FAIL && !xf && (k->level == LV_MUST || k->level == LV_QUIRK)) {
            must_fail = 1;
        }
        size_t j;
        json_t *rq;
        json_array_foreach(k->reqs, j, rq) {
            struct req *q = spec_find(sp, json_string_value(rq));
            if (q == NULL) {
                continue;
            }
            if (st == ST_PASS) {
                q->pass++;
            } else if (st == ST_FAIL) {
                q->fail++;
            } else {
                q->skip++;
            }
        }
    }
    fprintf(out, "%s\n%sPer requirement (spec/busrt-v1.md):\n", c, c);
    int shown = 0;
    for (size_t i = 0; i < sp->n; i++) {
        struct req *q = &sp->reqs[i];
        if (q->pass + q->fail + q->skip == 0) {
            if (q->exempt) {
                fprintf(out, "%s  %-13s %-6s exempt (not observable over the wire)\n", c,
                        q->id, q->section);
            }
            continue;
        }
        shown++;
        const char *verdict = q->fail > 0 ? "FAIL" : q->pass > 0 ? "ok" : "skip";
        fprintf(out, "%s  %-13s %-6s %-4s  %d passed, %d failed, %d skipped", c, q->id,
                q->section, verdict, q->pass, q->fail, q->skip);
        if (q->fail > 0) {
            fputs("  (failed:", out);
            for (size_t k = 0; k < s->n; k++) {
                if (!s->cases[k].selected || res[k].st != ST_FAIL) {
                    continue;
                }
                size_t j;
                json_t *rq;
                json_array_foreach(s->cases[k].reqs, j, rq) {
                    if (strcmp(json_string_value(rq), q->id) == 0) {
                        fprintf(out, " %s", s->cases[k].id);
                    }
                }
            }
            fputc(')', out);
        }
        fputc('\n', out);
    }
    (void)shown;
    fprintf(out, "%s\n%sPer level:\n", c, c);
    for (int l = 0; l < LV_COUNT; l++) {
        fprintf(out, "%s  %-12s %d passed, %d failed, %d skipped\n", c, level_name((enum level)l),
                lv[l][ST_PASS], lv[l][ST_FAIL], lv[l][ST_SKIP]);
    }
    fprintf(out, "%s\n", c);
    if (xfails > 0 || xpasses > 0) {
        fprintf(out, "%s%d failure(s) expected (known-failure list), %d listed case(s) passed (xpass)\n", c,
                xfails, xpasses);
    }
    fprintf(out, "%d passed, %d failed, %d skipped\n", tot[ST_PASS], tot[ST_FAIL],
            tot[ST_SKIP]);
    return must_fail || xpasses > 0;
}

static void xml_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if (ch < 0x20 && ch != '\n' && ch != '\t') {
                fputc('?', f);
            } else {
                fputc(ch, f);
            }
        }
    }
}

int report_junit(const char *path, struct run *r, struct spec *sp, struct suite *s,
                 struct result *res)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    int tests = 0, fails = 0, skips = 0;
    int64_t ms = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->cases[i].selected) {
            continue;
        }
        tests++;
        fails += res[i].st == ST_FAIL;
        skips += res[i].st == ST_SKIP;
        ms += res[i].ms;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"busrt-conformance\" tests=\"%d\" failures=\"%d\" "
               "skipped=\"%d\" time=\"%.3f\">\n", tests, fails, skips, (double)ms / 1000.0);
    fprintf(f, "  <testsuite name=\"busrt-conformance\" tests=\"%d\" failures=\"%d\" "
               "errors=\"0\" skipped=\"%d\" time=\"%.3f\">\n", tests, fails, skips,
            (double)ms / 1000.0);
    for (size_t i = 0; i < s->n; i++) {
        struct kase *k = &s->cases[i];
        if (!k->selected) {
            continue;
        }
        fprintf(f, "    <testcase classname=\"busrt-conformance.%s\" name=\"", k->profile);
        xml_escape(f, k->id);
        fprintf(f, "\" time=\"%.3f\">\n", (double)res[i].ms / 1000.0);
        fprintf(f, "      <properties>\n        <property name=\"level\" value=\"%s\"/>\n",
                level_name(k->level));
        size_t j;
        json_t *rq;
        json_array_foreach(k->reqs, j, rq) {
            fprintf(f, "        <property name=\"requirement\" value=\"%s\"/>\n",
                    json_string_value(rq));
        }
        if (res[i].variant[0] != '\0') {
            fprintf(f, "        <property name=\"variant\" value=\"");
            xml_escape(f, res[i].variant);
            fprintf(f, "\"/>\n");
        }
        fprintf(f, "      </properties>\n");
        int xf = run_is_xfail(r, k->id, &res[i]);
        if (res[i].st == ST_SKIP || (xf && res[i].st == ST_FAIL)) {
            fprintf(f, "      <skipped message=\"%s", xf ? "expected failure: " : "");
            xml_escape(f, buf_str(&res[i].msg));
            fprintf(f, "\"/>\n");
        } else if (xf && res[i].st == ST_PASS) {
            fprintf(f, "      <failure message=\"listed in --xfail but passed\" type=\"xpass\"/>\n");
        } else if (res[i].st == ST_FAIL) {
            fprintf(f, "      <failure message=\"");
            xml_escape(f, buf_str(&res[i].msg));
            fprintf(f, "\" type=\"%s\">", level_name(k->level));
            fprintf(f, "expected: ");
            xml_escape(f, buf_str(&res[i].expected));
            fprintf(f, "\nreceived: ");
            xml_escape(f, buf_str(&res[i].received));
            fprintf(f, "\nstep: ");
            xml_escape(f, buf_str(&res[i].steptext));
            json_array_foreach(k->reqs, j, rq) {
                struct req *q = spec_find(sp, json_string_value(rq));
                if (q != NULL && q->text != NULL) {
                    fprintf(f, "\n%s (Section %s): ", q->id, q->section);
                    xml_escape(f, q->text + strlen(q->id));
                }
            }
            fprintf(f, "</failure>\n");
        }
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return fclose(f) == 0 ? 0 : -1;
}

int report_json(const char *path, struct run *r, struct spec *sp, struct suite *s,
                struct result *res)
{
    json_t *root = json_object();
    json_object_set_new(root, "suite_version", json_string(CF_SUITE_VERSION));
    json_object_set_new(root, "format", json_string(CF_FORMAT));
    json_object_set_new(root, "broker", json_string(r->target != NULL ? r->target : r->spawn));
    json_object_set_new(root, "mode", json_string(r->target != NULL ? "target" : "spawn"));
    json_object_set_new(root, "timeout_s", json_real(r->T));
    json_t *cases = json_array();
    int tot[3] = {0, 0, 0};
    for (size_t i = 0; i < s->n; i++) {
        struct kase *k = &s->cases[i];
        if (!k->selected) {
            continue;
        }
        tot[res[i].st]++;
        json_t *c = json_object();
        json_object_set_new(c, "id", json_string(k->id));
        json_object_set(c, "reqs", k->reqs);
        json_object_set_new(c, "level", json_string(level_name(k->level)));
        json_object_set_new(c, "profile", json_string(k->profile));
        json_object_set_new(c, "status", json_string(res[i].st == ST_PASS ? "pass"
                                                     : res[i].st == ST_FAIL ? "fail"
                                                                            : "skip"));
        json_object_set_new(c, "ms", json_integer(res[i].ms));
        if (res[i].variant[0] != '\0') {
            json_object_set_new(c, "variant", json_string(res[i].variant));
        }
        if (run_is_xfail(r, k->id, &res[i])) {
            json_object_set_new(c, "xfail", json_true());
        }
        if (res[i].st != ST_PASS) {
            json_object_set_new(c, "message", json_string(buf_str(&res[i].msg)));
        }
        if (res[i].st == ST_FAIL) {
            json_object_set_new(c, "step", json_integer(res[i].step));
            json_object_set_new(c, "expected", json_string(buf_str(&res[i].expected)));
            json_object_set_new(c, "received", json_string(buf_str(&res[i].received)));
        }
        json_array_append_new(cases, c);
    }
    json_object_set_new(root, "cases", cases);
    json_t *reqs = json_array();
    for (size_t i = 0; i < sp->n; i++) {
        struct req *q = &sp->reqs[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(q->id));
        json_object_set_new(o, "section", json_string(q->section));
        if (q->exempt) {
            json_object_set_new(o, "exempt", json_string(q->exempt_reason));
        }
        json_object_set_new(o, "passed", json_integer(q->pass));
        json_object_set_new(o, "failed", json_integer(q->fail));
        json_object_set_new(o, "skipped", json_integer(q->skip));
        json_array_append_new(reqs, o);
    }
    json_object_set_new(root, "requirements", reqs);
    json_object_set_new(root, "summary", json_pack("{s:i, s:i, s:i}", "passed", tot[ST_PASS],
                                                   "failed", tot[ST_FAIL], "skipped",
                                                   tot[ST_SKIP]));
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    return rc;
}
