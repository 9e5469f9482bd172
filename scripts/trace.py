#!/usr/bin/env python3
"""Traceability of spec/busrt-v1.md: for every requirement, the evidence that
covers it.

    python3 scripts/trace.py --out DIR [--check FILE | --update FILE]

writes DIR/trace.md (a Markdown table) and DIR/trace.json. With --check,
FILE (the committed copy, spec/trace.md) must equal DIR/trace.md; with
--update, FILE is rewritten. Standard library only; the specification is
parsed by scripts/spec-check.py (imported, not copied).

Evidence, by kind:

cases        conformance cases (conformance/cases/*.json) whose "reqs" name
             the id
vectors      test vectors (spec/vectors/*.json) whose "req" names the id,
             counted per file
unit, integration, client, soak, faults
             C sources of ref/tests/, ref/tests/integration/,
             ref/tests/client/, ref/tests/soak/ and ref/tests/faults/ that
             cite the id: file:function where the citation is inside a
             function, else the file
fuzz         sources of fuzz/ (harnesses, netfuzz's and clientfuzz's models
             and generators) that cite the id
proof        files of proofs/ (WP, Eva) and ACSL-annotated sources of
             ref/src/core/ that cite the id: file:function, or the file

The exit status is 1, with "file:line: [check] what" messages, when

[no-evidence]   a requirement whose Level in Appendix B is MUST or MUST NOT
                has no evidence of any kind and no exemption in
                conformance/exemptions.json;
[exemption]     an exemption names an unknown id, an id exempted twice, or
                an id that has a conformance case (as the runner's
                --check-coverage reports);
[stale]         --check: the committed copy differs from the generated one
                (run `make trace-update`).
"""

import glob
import importlib.util
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_spec_check():
    path = os.path.join(ROOT, "scripts", "spec-check.py")
    spec = importlib.util.spec_from_file_location("spec_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sc = load_spec_check()

CASES = "conformance/cases/*.json"
EXEMPTIONS = "conformance/exemptions.json"
VECTORS = "spec/vectors/*.json"

# Kind of evidence: the files cited in it (globs, relative to the root).
CITING = [
    ("unit", ["ref/tests/*.c", "ref/tests/*.h"]),
    ("integration", ["ref/tests/integration/*.c"]),
    ("client", ["ref/tests/client/*.c"]),
    ("soak", ["ref/tests/soak/*.c"]),
    ("faults", ["ref/tests/faults/*.c"]),
    ("fuzz", ["fuzz/*.c", "fuzz/*.h", "fuzz/*/*.c", "fuzz/*/*.h",
              "fuzz/*/adapters/*.c", "fuzz/*.py"]),
    ("proof", ["proofs/*.c", "proofs/*.md", "proofs/*.sh", "proofs/*.txt",
               "ref/src/core/*.c", "ref/src/core/*.h"]),
]
KINDS = (["cases", "vectors"] + [k for k, _ in CITING])
TESTS = ["unit", "integration", "client", "soak", "faults"]
STRICT = ("MUST", "MUST NOT")


class Problems(sc.Problems):
    pass


# ---------------------------------------------------------------------------
# Citations in C sources, with the enclosing function
# ---------------------------------------------------------------------------

def c_functions(text):
    """The name of the function each line is inside (None outside any), by
    a small lexer: comments, strings and character constants are skipped;
    a function is a '{' at depth 0 after "name(...)" with no '=' or ';'
    between them."""
    funcs = []
    depth = 0
    cur = None
    last = None         # last "name(" at depth 0 since a ';' or '='
    i, n = 0, len(text)
    line_func = None
    ident = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    while i < n:
        c = text[i]
        if c == "\n":
            funcs.append(line_func)
            line_func = cur if depth > 0 else None
            i += 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for _ in range(text.count("\n", i, j)):
                funcs.append(line_func)
                line_func = cur if depth > 0 else None
            i = j
        elif text.startswith("//", i) or (c == "#" and depth == 0 and
                                          (i == 0 or text[i - 1] == "\n")):
            j = text.find("\n", i)
            while j > 0 and c == "#" and text[j - 1] == "\\":
                funcs.append(line_func)
                j = text.find("\n", j + 1)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
        elif c == "{":
            if depth == 0:
                cur = last
                line_func = line_func or cur
            depth += 1
            i += 1
        elif c == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                cur = None
                last = None
            i += 1
        elif c in ";=" and depth == 0:
            last = None
            i += 1
        else:
            m = ident.match(text, i)
            if m:
                j = m.end()
                while j < n and text[j] in " \t":
                    j += 1
                if depth == 0 and j < n and text[j] == "(":
                    last = m.group(0)
                i = m.end()
            else:
                i += 1
    funcs.append(line_func)
    return funcs


def function_below(lines, funcs, i):
    """The function whose definition follows line i (1-based) with no blank
    line between: a citation in the comment above a function is the
    function's."""
    for j in range(i, min(len(lines), i + 15)):
        if not lines[j].strip():
            return None
        if j < len(funcs) and funcs[j]:
            return funcs[j]
    return None


def citations(root, kind, patterns, ev):
    files = sorted({p for g in patterns
                    for p in glob.glob(os.path.join(root, g))})
    for path in files:
        rel = os.path.relpath(path, root)
        if "/findings/" in rel or not sc.is_text(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        if "REQ-" not in text:
            continue
        lines = text.split("\n")
        funcs = (c_functions(text) if rel.endswith((".c", ".h"))
                 else [None] * len(lines))
        for i, line in enumerate(lines, 1):
            for m in sc.ID_RE.finditer(line):
                f = funcs[i - 1] if i - 1 < len(funcs) else None
                if f is None:
                    f = function_below(lines, funcs, i)
                # a function name, or the file alone: line numbers would make
                # the committed trace stale at every edit above a citation
                where = "%s:%s" % (rel, f) if f else rel
                lst = ev.setdefault(m.group(0), {}).setdefault(kind, [])
                if kind == "fuzz":
                    where = rel
                if where not in lst:
                    lst.append(where)


# ---------------------------------------------------------------------------
# Cases, exemptions, vectors
# ---------------------------------------------------------------------------

def id_lines(path):
    """{value of "id": line} of a JSON file."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            for m in re.finditer(r'"id":\s*"([^"]+)"', line):
                out.setdefault(m.group(1), i)
    return out


def read_cases(root, spec, ev, problems):
    n = 0
    for path in sorted(glob.glob(os.path.join(root, CASES))):
        rel = os.path.relpath(path, root)
        lines = id_lines(path)
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        for case in doc.get("cases", []):
            n += 1
            for rid in case.get("reqs", []):
                if rid not in spec.reqs:
                    problems.add(rel, lines.get(case.get("id"), 0), "case",
                                 "case %s names unknown requirement %s"
                                 % (case.get("id"), rid))
                    continue
                ev.setdefault(rid, {}).setdefault("cases", []).append(
                    case["id"])
    return n


def read_exemptions(root, spec, ev, problems):
    path = os.path.join(root, EXEMPTIONS)
    lines = id_lines(path)
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    exempt = {}
    for e in doc.get("exemptions", []):
        rid = e.get("id")
        ln = lines.get(rid, 0)
        if rid not in spec.reqs:
            problems.add(EXEMPTIONS, ln, "exemption",
                         "exemption names unknown requirement %s" % rid)
            continue
        if rid in exempt:
            problems.add(EXEMPTIONS, ln, "exemption",
                         "requirement %s is exempted twice" % rid)
        exempt[rid] = e.get("reason", "")
        ncases = len(ev.get(rid, {}).get("cases", []))
        if ncases:
            problems.add(EXEMPTIONS, ln, "exemption",
                         "exemption %s names a requirement that has %d "
                         "case(s); remove the exemption" % (rid, ncases))
    return exempt


def read_vectors(root, ev):
    n = 0
    for path in sorted(glob.glob(os.path.join(root, VECTORS))):
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
        name = os.path.basename(path)
        for v in doc.get("vectors", []):
            n += 1
            for rid in v.get("req") or []:
                per = ev.setdefault(rid, {}).setdefault("vectors", {})
                per[name] = per.get(name, 0) + 1
    return n


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def md_cell(items):
    return "<br>".join(x.replace("|", "\\|") for x in items)


def build(root):
    problems = Problems()
    spec = sc.Spec(os.path.join(root, sc.SPEC), sc.SPEC, problems)
    rows = sc.index_rows(spec)
    ev = {}
    ncases = read_cases(root, spec, ev, problems)
    exempt = read_exemptions(root, spec, ev, problems)
    nvec = read_vectors(root, ev)
    for kind, patterns in CITING:
        citations(root, kind, patterns, ev)
    reqs = []
    for rid in spec.order:
        r = spec.reqs[rid]
        row = rows.get(rid)
        if row is None:
            problems.add(sc.SPEC, r.line, "index",
                         "%s has no row in Appendix B (make spec-check)" % rid)
            row = (0, r.section, "", "", "")
        _, section, level, party, summary = row
        e = ev.get(rid, {})
        evidence = {k: e[k] for k in KINDS if e.get(k)}
        if level in STRICT and not evidence and rid not in exempt:
            problems.add(sc.SPEC, r.line, "no-evidence",
                         "%s (%s, Section %s) has no evidence: no "
                         "conformance case, vector, test citation, fuzz or "
                         "proof citation, and no exemption in %s"
                         % (rid, level, section, EXEMPTIONS))
        reqs.append({"id": rid, "section": section, "level": level,
                     "party": party, "summary": summary,
                     "exempt": exempt.get(rid), "evidence": evidence})
    counts = {"requirements": len(reqs), "cases": ncases, "vectors": nvec,
              "exempt": sum(1 for q in reqs if q["exempt"] is not None),
              "with_evidence": sum(1 for q in reqs if q["evidence"]),
              "by_kind": {k: sum(1 for q in reqs if k in q["evidence"])
                          for k in KINDS},
              "must_without_evidence": [
                  q["id"] for q in reqs
                  if q["level"] in STRICT and not q["evidence"]]}
    return reqs, counts, problems


def markdown(reqs, counts):
    out = ["# Traceability of spec/busrt-v1.md",
           "",
           "Generated by `make trace` (`scripts/trace.py`); do not edit: "
           "`make trace-update` rewrites it, and `make trace` fails when it "
           "is stale.",
           "",
           "For every requirement, the evidence that covers it: conformance "
           "cases (`conformance/cases/`), test vectors (`spec/vectors/`, "
           "count per file), tests citing the id (unit `ref/tests/`, "
           "integration, client, soak, faults: file:function, or the file "
           "outside a function), fuzz sources citing it (`fuzz/`), and "
           "proof files citing it (`proofs/`, `ref/src/core/`). The WP "
           "proofs of `ref/src/core` are stated per function, not per "
           "requirement (`proofs/README.md`, \"What is proved\"); only "
           "explicit citations are listed here. \"exempt\" marks a "
           "requirement of `conformance/exemptions.json` (no conformance "
           "case possible; its reason is there).",
           "",
           "%d requirements; %d with evidence; by kind: %s; %d exempt from "
           "conformance cases; MUST / MUST NOT without evidence: %s."
           % (counts["requirements"], counts["with_evidence"],
              ", ".join("%s %d" % (k, v)
                        for k, v in counts["by_kind"].items()),
              counts["exempt"],
              ", ".join(counts["must_without_evidence"]) or "none"),
           "",
           "| Id | Level | Party | Cases | Vectors | Tests | Fuzz | Proof |",
           "|---|---|---|---|---|---|---|---|"]
    for q in reqs:
        e = q["evidence"]
        cases = list(e.get("cases", []))
        if q["exempt"] is not None:
            cases.append("exempt")
        vec = ["%s %d" % (f, c) for f, c in e.get("vectors", {}).items()]
        tests = [x for k in TESTS for x in e.get(k, [])]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            q["id"], q["level"], q["party"], md_cell(cases), md_cell(vec),
            md_cell(tests), md_cell(e.get("fuzz", [])),
            md_cell(e.get("proof", []))))
    return "\n".join(out) + "\n"


def main(argv):
    args = argv[1:]
    root = ROOT
    out_dir = None
    check = update = None
    while args:
        a = args.pop(0)
        if a == "--root" and args:
            root = args.pop(0)
        elif a == "--out" and args:
            out_dir = args.pop(0)
        elif a == "--check" and args:
            check = args.pop(0)
        elif a == "--update" and args:
            update = args.pop(0)
        else:
            sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
            return 2
    if out_dir is None:
        sys.stderr.write("trace.py: --out DIR is required\n")
        return 2
    reqs, counts, problems = build(root)
    md = markdown(reqs, counts)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "trace.md"), "w", encoding="utf-8") as fh:
        fh.write(md)
    with open(os.path.join(out_dir, "trace.json"), "w",
              encoding="utf-8") as fh:
        json.dump({"format": "busrt-trace/1", "spec": sc.SPEC,
                   "counts": counts, "requirements": reqs}, fh, indent=1)
        fh.write("\n")
    if update:
        with open(os.path.join(root, update), "w", encoding="utf-8") as fh:
            fh.write(md)
    elif check:
        try:
            with open(os.path.join(root, check), encoding="utf-8") as fh:
                old = fh.read()
        except OSError:
            old = None
        if old != md:
            problems.add(check, 0, "stale",
                         "differs from %s; run `make trace-update` and "
                         "commit it" % os.path.join(out_dir, "trace.md"))
    stats = ("%d requirements, %d with evidence (%s), %d exempt"
             % (counts["requirements"], counts["with_evidence"],
                ", ".join("%s %d" % kv for kv in counts["by_kind"].items()),
                counts["exempt"]))
    if problems.items:
        print(problems.text())
        print("trace: %d problem(s) (%s)" % (len(problems.items), stats))
        return 1
    print("trace: OK (%s); %s" % (stats, os.path.join(out_dir, "trace.md")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
