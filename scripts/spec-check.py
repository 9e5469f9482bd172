#!/usr/bin/env python3
"""Consistency checks of spec/busrt-v1.md and of everything that cites it.

    python3 scripts/spec-check.py             check the tree (exit 1 on
                                              problems)
    python3 scripts/spec-check.py --root DIR  check another tree of the
                                              same layout
    python3 scripts/spec-check.py --selftest  run the checks on the fixtures
                                              in scripts/spec-check-fixtures/
                                              and verify each fails as expected

Standard library only. Every problem is printed as "file:line: [check] what";
the exit status is 1 when there is any. The checks:

[req-def]       A requirement is a paragraph that starts with a bold id,
                "**REQ-AREA-N** text", and runs to the next blank line; its
                section is the number of the nearest heading above it. An id
                defined twice, a bold id that does not start a paragraph, or
                an area that Section 2.4 does not list is a problem.
[req-cite]      Every REQ-AREA-N cited in the files listed in CITE_ROOTS (the
                specification itself, the vectors, their README and gen.py,
                conformance cases and exemptions, and the sources and docs of
                ref/ fuzz/ proofs/ conformance/ bench/ ...) must be defined.
[vector-req]    Every vector of spec/vectors/*.json carries at least one id,
                and each id is defined in a section that VECTOR_REQ_SECTIONS
                in spec/vectors/gen.py allows for its file.
[vector-readme] The requirement table of spec/vectors/README.md lists exactly
                the ids the vector files use.
[index]         Appendix B has one row per defined id, in the order of the
                areas of Section 2.4 and by number; its Section column is the
                section of the definition; "All N requirements" counts them.
[level]         The Level column is the strongest RFC 2119 keyword of the
                requirement's paragraph (inline code ignored): MUST when the
                paragraph has MUST, REQUIRED or SHALL, MUST NOT when its only
                keywords of that strength are negative; likewise SHOULD /
                SHOULD NOT (RECOMMENDED, NOT RECOMMENDED); else MAY (MAY,
                OPTIONAL). A paragraph with no keyword states what a conforming
                implementation does and is MUST.
[party]         The Party column is broker, client or both. Section 2.4: a
                requirement applies to the broker unless its text names the
                client. Checked from the subjects of the keywords: a clause
                whose subject is a client, client library, caller, server,
                RPC endpoint or receiver and that carries MUST/SHOULD/SHALL
                makes "broker" wrong; one whose subject is the broker or
                `.broker` makes "client" wrong ("X MUST receive" and "X MUST
                be <done>" do not make X the acting party). Requirements
                stating a format without naming a party are not checked
                beyond the value.
[hex]           Annotated hex examples: every ```text block whose first line
                is "; client -> broker: ..." or "; broker -> client: ..."
                (Appendix A). Parsed: lines "HH HH ..  comment"; the
                "; total N bytes" line must count the bytes; a client frame
                (9-byte header) must have body length = bytes after the
                header, except a ping (flags 00, exactly 9 bytes); a name
                registration's u16 length = name bytes; a delivered frame
                (kind 01, 12, 13; 6-byte header) must have body length = bytes
                after the header; an ACK or NOP is 6 bytes. Comments are
                checked against their bytes where they state a value:
                "body length = N", "name length = N", "op id = N",
                "call id = N", "flags = 0xFF = op 0xOO ... + 64 x QoS Q",
                "kind = 0xKK", "RPC kind 0xKK", "result (code) 0xRR",
                "code = N (i16 LE", "realtime = R", a leading "text" (the
                bytes are its UTF-8) and msgpack str "text". Also the hex
                cells of the table of A.9 (greeting, name, ping, ACK rows). Not
                checked: hex in running text, diagrams, and ```text blocks
                without a direction line (such as the ping of Section 5.4).
[keyword]       A lower-case "must", "should", "may", "required" or "shall"
                in Sections 1-20 (outside code and subsections marked
                "(informative)") is a problem unless ALLOWED below matches it.
                An ALLOWED entry that matches nothing is a problem too.
"""

import ast
import json
import os
import re
import shutil
import sys
import tempfile

SPEC = "spec/busrt-v1.md"
VECTORS = "spec/vectors"
FIXTURES = "scripts/spec-check-fixtures"

# Where requirement ids are cited: directories are walked (text files only),
# files are read as they are.
CITE_ROOTS = ["spec", "ref", "fuzz", "proofs", "conformance", "bench",
              "contrib", "man", "scripts", "README.md", "CHANGELOG.md"]
CITE_SKIP_DIRS = {".git", "build", "__pycache__", "spec-check-fixtures"}

ID_RE = re.compile(r"(?<![A-Za-z0-9_-])REQ-[A-Z0-9]+-[0-9]+(?![0-9])")
DEF_RE = re.compile(r"^\*\*(REQ-[A-Z0-9]+-[0-9]+)\*\*")
BOLD_ID_RE = re.compile(r"\*\*(REQ-[A-Z0-9]+-[0-9]+)\*\*")
HEAD_RE = re.compile(r"^(#{2,3}) (?:(Appendix [A-Z])\.|(\d+(?:\.\d+)*)\.?) ")

LEVELS = ("MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY")
PARTIES = ("broker", "client", "both")
INDEX_HEADER = "| Id | Section | Level | Party | Summary |"

# Lower-case keywords that are not rules: (phrase, reason). The phrase is a
# regular expression; an occurrence is allowed when a match of the phrase on
# its line covers it.
ALLOWED = [
    (r"\brequired NUL\b",
     "adjective: the NUL separator a body layout needs (REQ-BODY-4); "
     "not a requirement keyword"),
    (r"\bDeployers should read\b",
     "advice to the reader, not a requirement on an implementation"),
    (r"\bAdministrators of brokers reachable by untrusted local users "
     r"should\b",
     "operational advice to administrators; no broker or client behaviour"),
    (r"\bApplications that matter should check\b",
     "advice to application authors; no broker or client library behaviour"),
    (r"\bexposed to untrusted local users should set\b",
     "operational advice to administrators (setting the limits of 16)"),
    (r"\bhas no authorization of its own; a server should\b",
     "advice to application servers (check who sends a request); the RPC "
     "layer has no authorization"),
]


class Problems:
    def __init__(self):
        self.items = []

    def add(self, path, line, check, msg):
        self.items.append((path, line, check, msg))

    def text(self):
        out = []
        for path, line, check, msg in self.items:
            where = "%s:%d" % (path, line) if line else path
            out.append("%s: [%s] %s" % (where, check, msg))
        return "\n".join(out)


# ---------------------------------------------------------------------------
# The specification
# ---------------------------------------------------------------------------

class Req:
    def __init__(self, rid, line, section, top):
        self.id = rid
        self.line = line
        self.section = section
        self.top = top          # top-level heading: "4", "Appendix B", ...
        self.text = ""


class Spec:
    """Lines, sections, code blocks and requirement paragraphs."""

    def __init__(self, path, rel, problems):
        self.rel = rel
        with open(path, encoding="utf-8") as fh:
            self.lines = fh.read().split("\n")
        self.reqs = {}
        self.order = []
        self.section_of_line = []   # (section, top, informative) per line
        self.in_code = []
        section, top, informative = "", "", False
        top_informative = False
        code = False
        cur = None
        prev_blank = True
        for i, line in enumerate(self.lines, 1):
            if line.startswith("```"):
                code = not code
                self.in_code.append(True)
                self.section_of_line.append((section, top, informative))
                prev_blank = False
                continue
            self.in_code.append(code)
            m = None if code else HEAD_RE.match(line)
            if m:
                if m.group(2):
                    section = m.group(2)[len("Appendix "):]
                    top = m.group(2)
                else:
                    section = m.group(3)
                    if m.group(1) == "##":
                        top = section
                informative = "(informative)" in line
                if m.group(1) == "##":
                    top_informative = informative
                else:
                    informative = informative or top_informative
            self.section_of_line.append((section, top, informative))
            if cur is not None:
                if line.strip() == "":
                    cur = None
                else:
                    cur.text += " " + line
            if not code:
                d = DEF_RE.match(line)
                for bm in BOLD_ID_RE.finditer(line):
                    if d and bm.start() == 0:
                        continue
                    problems.add(rel, i, "req-def",
                                 "bold %s does not start a paragraph; a "
                                 "requirement is defined by a paragraph "
                                 "starting with its bold id" % bm.group(1))
                if d:
                    rid = d.group(1)
                    if not prev_blank:
                        problems.add(rel, i, "req-def",
                                     "%s is defined inside a paragraph (no "
                                     "blank line before it)" % rid)
                    if rid in self.reqs:
                        problems.add(rel, i, "req-def",
                                     "%s is defined twice (first at line %d)"
                                     % (rid, self.reqs[rid].line))
                    else:
                        cur = Req(rid, i, section, top)
                        cur.text = line[d.end():]
                        self.reqs[rid] = cur
                        self.order.append(rid)
            prev_blank = line.strip() == "" or m is not None

    def find_line(self, regex, start=0):
        r = re.compile(regex)
        for i in range(start, len(self.lines)):
            if r.search(self.lines[i]):
                return i + 1
        return 0


def area_of(rid):
    return rid.split("-")[1]


def num_of(rid):
    return int(rid.split("-")[2])


def spec_areas(spec, problems):
    """The areas named in Section 2.4 ("The areas are ADDR (...), HS ...")."""
    start = spec.find_line(r"^The areas are ")
    if not start:
        problems.add(spec.rel, 0, "req-def",
                     'Section 2.4 has no paragraph "The areas are ..."')
        return []
    text = []
    for line in spec.lines[start - 1:]:
        if not line.strip():
            break
        text.append(line)
    text = " ".join(text)[len("The areas are "):]
    text = re.sub(r"\([^)]*\)", "", text)
    return re.findall(r"\b[A-Z][A-Z0-9]+\b", text)


def check_definitions(spec, problems):
    areas = spec_areas(spec, problems)
    for rid in spec.order:
        r = spec.reqs[rid]
        if areas and area_of(rid) not in areas:
            problems.add(spec.rel, r.line, "req-def",
                         "%s: area %s is not one of the areas of Section 2.4"
                         % (rid, area_of(rid)))
    return areas


# ---------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------

def is_text(path):
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    return b"\0" not in head


def cite_files(root):
    for entry in CITE_ROOTS:
        p = os.path.join(root, entry)
        if os.path.isfile(p):
            yield p
        elif os.path.isdir(p):
            for d, dirs, files in os.walk(p):
                dirs[:] = sorted(x for x in dirs if x not in CITE_SKIP_DIRS
                                 and not x.startswith("."))
                for f in sorted(files):
                    yield os.path.join(d, f)


def check_citations(root, spec, problems):
    n = 0
    for path in cite_files(root):
        if not is_text(path):
            continue
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().split("\n")
        except OSError:
            continue
        n += 1
        for i, line in enumerate(lines, 1):
            if "REQ-" not in line:
                continue
            for m in ID_RE.finditer(line):
                if m.group(0) not in spec.reqs:
                    problems.add(rel, i, "req-cite",
                                 "%s is cited but not defined in %s"
                                 % (m.group(0), SPEC))
    return n


# ---------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------

def section_allowed(section, allowed):
    return any(section == a or section.startswith(a + ".") for a in allowed)


def vector_table(root, problems):
    """VECTOR_REQ_SECTIONS from gen.py, read without running gen.py."""
    path = os.path.join(root, VECTORS, "gen.py")
    rel = os.path.relpath(path, root)
    try:
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
    except (OSError, SyntaxError) as e:
        problems.add(rel, 0, "vector-req", "cannot read: %s" % e)
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "VECTOR_REQ_SECTIONS"):
            return ast.literal_eval(node.value)
    problems.add(rel, 0, "vector-req", "no VECTOR_REQ_SECTIONS table")
    return None


def check_vectors(root, spec, problems):
    table = vector_table(root, problems)
    vdir = os.path.join(root, VECTORS)
    used = set()
    count = 0
    if table is None or not os.path.isdir(vdir):
        return used, count
    for name in sorted(os.listdir(vdir)):
        if not name.endswith(".json"):
            continue
        rel = os.path.join(VECTORS, name)
        with open(os.path.join(vdir, name), encoding="utf-8") as fh:
            text = fh.read()
        try:
            doc = json.loads(text)
        except ValueError as e:
            problems.add(rel, 0, "vector-req", "not JSON: %s" % e)
            continue
        line_of = {}
        for i, line in enumerate(text.split("\n"), 1):
            m = re.match(r'\s*"id": "([^"]+)"', line)
            if m:
                line_of[m.group(1)] = i
        allowed = table.get(name)
        if allowed is None:
            problems.add(rel, 0, "vector-req",
                         "no entry for %s in VECTOR_REQ_SECTIONS of gen.py"
                         % name)
            continue
        bad = 0
        for v in doc.get("vectors", []):
            count += 1
            vid = v.get("id", "?")
            reqs = v.get("req") or []
            msgs = []
            if not reqs:
                msgs.append("vector %s has no requirement id" % vid)
            for rid in reqs:
                used.add(rid)
                r = spec.reqs.get(rid)
                if r is None:
                    msgs.append("vector %s: %s is not defined in %s"
                                % (vid, rid, SPEC))
                elif not section_allowed(r.section, allowed):
                    msgs.append("vector %s: %s is defined in Section %s, "
                                "which VECTOR_REQ_SECTIONS does not allow for "
                                "%s (%s)" % (vid, rid, r.section, name,
                                             ", ".join(allowed)))
            for msg in msgs:
                bad += 1
                if bad <= 10:
                    problems.add(rel, line_of.get(vid, 0), "vector-req", msg)
        if bad > 10:
            problems.add(rel, 0, "vector-req",
                         "... and %d more such problems" % (bad - 10))
    for name in sorted(table):
        if not os.path.exists(os.path.join(vdir, name)):
            problems.add(os.path.join(VECTORS, "gen.py"), 0, "vector-req",
                         "VECTOR_REQ_SECTIONS names %s, which does not exist"
                         % name)
    return used, count


def check_vectors_readme(root, used, problems):
    rel = os.path.join(VECTORS, "README.md")
    path = os.path.join(root, rel)
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    listed = {}
    in_section = False
    for i, line in enumerate(lines, 1):
        if line.startswith("## "):
            in_section = line.strip() == "## Requirement ids"
            continue
        if in_section and line.startswith("| REQ-"):
            cell = line.split("|")[1]
            for rid in ID_RE.findall(cell):
                if rid in listed:
                    problems.add(rel, i, "vector-readme",
                                 "%s is listed twice (line %d)"
                                 % (rid, listed[rid]))
                listed[rid] = i
    if not listed:
        problems.add(rel, 0, "vector-readme",
                     'no table rows under "## Requirement ids"')
        return
    for rid in sorted(used - set(listed)):
        problems.add(rel, 0, "vector-readme",
                     "%s is used by vectors but missing from the requirement "
                     "table" % rid)
    for rid in sorted(set(listed) - used):
        problems.add(rel, listed[rid], "vector-readme",
                     "%s is in the requirement table but no vector uses it"
                     % rid)


# ---------------------------------------------------------------------------
# Appendix B: index, Level, Party
# ---------------------------------------------------------------------------

KW_RE = re.compile(r"\b(MUST NOT|MUST|SHALL NOT|SHALL|REQUIRED|SHOULD NOT|"
                   r"SHOULD|NOT RECOMMENDED|RECOMMENDED|MAY|OPTIONAL)\b")


def strip_code(text):
    return re.sub(r"`[^`]*`", "CODE", text)


def level_of(text):
    kws = set(KW_RE.findall(strip_code(text)))
    if kws & {"MUST", "MUST NOT", "SHALL", "SHALL NOT", "REQUIRED"}:
        return "MUST" if kws & {"MUST", "SHALL", "REQUIRED"} else "MUST NOT"
    if kws & {"SHOULD", "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED"}:
        return "SHOULD" if kws & {"SHOULD", "RECOMMENDED"} else "SHOULD NOT"
    if kws & {"MAY", "OPTIONAL"}:
        return "MAY"
    return "MUST"


# A subject: an optional determiner, the noun, then the keyword or a
# relative clause ("A client that ...", "A client receiving ...").
SUBJ_END = r"(?=\s*(?:$|,|\(|that\b|which\b|whose\b|receiving\b))"
CLIENT_SUBJ = re.compile(
    r"^(?:(?:a|an|the|each|every|any)\s+)?(?:RPC-capable\s+)?"
    r"(?:client librar(?:y|ies)|clients?|callers?|servers?|RPC endpoint|"
    r"receivers?)" + SUBJ_END, re.I)
BROKER_SUBJ = re.compile(r"^(?:(?:a|an|the)\s+)?(?:broker|\.broker)"
                         + SUBJ_END, re.I)
LEAD_CLAUSE = re.compile(r"^(?:when|if|once|where|for|before|after|because|"
                         r"as soon as|on)\b[^,]*,\s*", re.I)
LEAD_WORDS = re.compile(r"^(?:and|but|then|otherwise|in particular|also)\s+",
                        re.I)
# Where a clause starts: after a sentence or clause mark, after ", and" /
# ", but", before "and a/the ...", or after the previous keyword (whose
# subject then carries over and is not looked at again).
CLAUSE_START = re.compile(r"[.;:]\s|,\s(?:and|but|or)\s|"
                          r"\sand\s(?=(?:a|an|the|each|every)\s)")
# "X MUST receive Y" says what X is sent, and "X MUST be checked" what is
# done to X: X is not the party that acts.
NOT_ACTOR = re.compile(r"\s+(?:NOT\s+)?(?:then\s+)?"
                       r"(?:receive\b|be\s+\w+(?:ed|en|nt)\b)")


def keyword_subjects(text):
    """(subject kind, keyword) for each keyword: "client", "broker", or None
    when the clause has no such subject."""
    text = text.replace("`", "")
    out = []
    prev_end = 0
    for m in KW_RE.finditer(text):
        start = prev_end
        for c in CLAUSE_START.finditer(text, 0, m.start()):
            start = max(start, c.end())
        prev_end = m.end()
        clause = text[start:m.start()].strip()
        clause = LEAD_CLAUSE.sub("", clause)
        clause = LEAD_WORDS.sub("", clause)
        if NOT_ACTOR.match(text, m.end()):
            kind = None
        elif CLIENT_SUBJ.match(clause):
            kind = "client"
        elif BROKER_SUBJ.match(clause):
            kind = "broker"
        else:
            kind = None
        out.append((kind, m.group(1)))
    return out


def party_problems(req, party):
    msgs = []
    for kind, kw in keyword_subjects(req.text):
        obligation = kw not in ("MAY", "OPTIONAL")
        if kind == "client" and obligation and party == "broker":
            msgs.append("Party is broker, but the text binds a client "
                        "(\"... %s\")" % kw)
        if kind == "broker" and party == "client":
            msgs.append("Party is client, but the text binds the broker "
                        "(\"... %s\")" % kw)
    return sorted(set(msgs))


def appendix_b_lines(spec):
    """(line number, text) of every line of Appendix B, its heading first;
    nothing when there is no Appendix B."""
    start = spec.find_line(r"^## Appendix B\b")
    if not start:
        return
    for i in range(start - 1, len(spec.lines)):
        line = spec.lines[i]
        if line.startswith("## ") and i + 1 != start:
            break
        yield i + 1, line


def index_cells(line):
    """The cells of an Appendix B row (Id, Section, Level, Party, Summary;
    fewer when the row is short), or None for a line that is not a row."""
    if not line.startswith("| REQ-"):
        return None
    return [c.strip() for c in line.strip().strip("|").split("|", 4)]


def index_rows(spec):
    """{id: (line, section, level, party, summary)} of Appendix B, the first
    row of each id with its five cells (for other tools, such as
    scripts/trace.py; check_index reports what is wrong with the table)."""
    rows = {}
    for ln, line in appendix_b_lines(spec):
        cells = index_cells(line)
        if cells and len(cells) == 5 and cells[0] not in rows:
            rows[cells[0]] = (ln,) + tuple(cells[1:])
    return rows


def check_index(spec, areas, problems):
    rel = spec.rel
    start = spec.find_line(r"^## Appendix B\b")
    if not start:
        problems.add(rel, 0, "index", "no Appendix B")
        return
    rows = {}
    row_order = []
    count_line = 0
    header_seen = False
    for ln, line in appendix_b_lines(spec):
        if ln == start:
            continue
        m = re.search(r"\bAll (\d+) requirements\b", line)
        if m:
            count_line = ln
            if int(m.group(1)) != len(spec.reqs):
                problems.add(rel, ln, "index",
                             '"All %s requirements", but %d are defined'
                             % (m.group(1), len(spec.reqs)))
        if line.startswith("| Id "):
            header_seen = True
            if re.sub(r"\s+", " ", line.strip()) != INDEX_HEADER:
                problems.add(rel, ln, "index",
                             "table header must be %r" % INDEX_HEADER)
            continue
        cells = index_cells(line)
        if cells is None:
            continue
        if len(cells) < 5:
            problems.add(rel, ln, "index",
                         "row needs 5 cells: Id, Section, Level, Party, "
                         "Summary")
            continue
        rid, section, level, party, summary = cells
        if rid in rows:
            problems.add(rel, ln, "index", "%s has a second row (first at "
                         "line %d)" % (rid, rows[rid]))
            continue
        rows[rid] = ln
        row_order.append(rid)
        r = spec.reqs.get(rid)
        if r is None:
            problems.add(rel, ln, "index", "%s is not defined in the body"
                         % rid)
            continue
        if section != r.section:
            problems.add(rel, ln, "index",
                         "%s: Section column says %s, but it is defined in "
                         "Section %s (line %d)" % (rid, section, r.section,
                                                   r.line))
        if level not in LEVELS:
            problems.add(rel, ln, "level", "%s: Level %r is not one of %s"
                         % (rid, level, ", ".join(LEVELS)))
        elif level != level_of(r.text):
            problems.add(rel, ln, "level",
                         "%s: Level says %s, but the keywords of its "
                         "paragraph (line %d) make it %s"
                         % (rid, level, r.line, level_of(r.text)))
        if party not in PARTIES:
            problems.add(rel, ln, "party", "%s: Party %r is not one of %s"
                         % (rid, party, ", ".join(PARTIES)))
        else:
            for msg in party_problems(r, party):
                problems.add(rel, ln, "party", "%s: %s (paragraph at line "
                             "%d)" % (rid, msg, r.line))
        if not summary:
            problems.add(rel, ln, "index", "%s: empty summary" % rid)
    if not header_seen:
        problems.add(rel, start, "index", "Appendix B has no table")
    if not count_line:
        problems.add(rel, start, "index",
                     'Appendix B does not say "All N requirements"')
    for rid in spec.order:
        if rid not in rows:
            problems.add(rel, spec.reqs[rid].line, "index",
                         "%s has no row in Appendix B" % rid)
    if areas:
        def key(rid):
            a = area_of(rid)
            return (areas.index(a) if a in areas else len(areas), a,
                    num_of(rid))
        known = [rid for rid in row_order if rid in spec.reqs]
        for a, b in zip(known, known[1:]):
            if key(a) > key(b):
                problems.add(rel, rows[b], "index",
                             "%s comes after %s: rows go by the area order "
                             "of Section 2.4, then by number" % (b, a))


# ---------------------------------------------------------------------------
# Hex examples
# ---------------------------------------------------------------------------

HEX_LINE = re.compile(r"^((?:[0-9A-F]{2} )*[0-9A-F]{2})(?:\s{2,}(.*))?$")


def le(bs):
    return int.from_bytes(bytes(bs), "little")


def check_comment(bs, comment):
    """Problems between one annotated line's bytes and its comment."""
    out = []
    m = re.match(r"(?:body|name) length = (\d+)", comment)
    if m and le(bs) != int(m.group(1)):
        out.append("comment says %s, the bytes say %d"
                   % (m.group(0), le(bs)))
    m = re.match(r"(op id|call id) = (\d+)\b", comment)
    if m and le(bs) != int(m.group(2)):
        out.append("comment says %s, the bytes say %d"
                   % (m.group(0), le(bs)))
    m = re.match(r"flags = 0x([0-9A-F]{2})(?: = op 0x([0-9A-F]{2}) .*"
                 r"\+ 64 x QoS (\d))?", comment)
    if m:
        flags = int(m.group(1), 16)
        if bs != [flags]:
            out.append("comment says flags 0x%02X, the byte is %s"
                       % (flags, " ".join("%02X" % b for b in bs)))
        if m.group(2) and flags != int(m.group(2), 16) + 64 * int(m.group(3)):
            out.append("flags 0x%02X is not op 0x%s + 64 x QoS %s"
                       % (flags, m.group(2), m.group(3)))
    m = re.match(r"(?:kind = |RPC kind |result code |result )0x([0-9A-F]{2})",
                 comment)
    if m and bs != [int(m.group(1), 16)]:
        out.append("comment says %s, the byte differs" % m.group(0))
    m = re.match(r"code = (-?\d+) \(i16 LE", comment)
    code = int.from_bytes(bytes(bs), "little", signed=True)
    if m and code != int(m.group(1)):
        out.append("comment says code %s, the bytes say %d"
                   % (m.group(1), code))
    m = re.match(r"realtime = (\d+)", comment)
    if m and bs != [int(m.group(1))]:
        out.append("comment says %s, the byte differs" % m.group(0))
    m = re.match(r'"((?:[^"\\]|\\.)*)"', comment)
    if m and bytes(bs) != m.group(1).encode("utf-8"):
        out.append('the bytes are not the UTF-8 of "%s"' % m.group(1))
    m = re.match(r'msgpack str "([^"]*)"', comment)
    if m:
        s = m.group(1).encode("utf-8")
        if len(s) < 32 and bytes(bs) != bytes([0xA0 + len(s)]) + s:
            out.append('the bytes are not the MessagePack fixstr "%s"'
                       % m.group(1))
    return out


def frame_problems(direction, title, bs):
    """Problems of a whole example given its direction and title."""
    n = len(bs)
    t = title.lower()
    if direction == "client -> broker":
        if "greeting" in t:
            return [] if n == 3 else ["a greeting is 3 bytes, not %d" % n]
        if t.startswith("register"):
            if n < 2 or le(bs[:2]) != n - 2:
                return ["name length field %d, but %d name bytes follow"
                        % (le(bs[:2]) if n >= 2 else -1, n - 2)]
            return []
        if n < 9:
            return ["a client frame needs a 9-byte header; %d bytes" % n]
        if bs[4] == 0:
            return [] if n == 9 else ["a ping is exactly 9 bytes, not %d" % n]
        if le(bs[5:9]) != n - 9:
            return ["body length field %d, but %d body bytes follow the "
                    "9-byte header" % (le(bs[5:9]), n - 9)]
        return []
    if n in (1, 3) and ("greeting" in t or "refusal" in t
                        or "registered" in t or "accepted" in t):
        return []
    if n < 6:
        return ["a broker frame needs a 6-byte header; %d bytes" % n]
    if bs[0] in (0xFE, 0x00):
        return [] if n == 6 else ["an ACK or NOP is 6 bytes, not %d" % n]
    if bs[0] in (0x01, 0x12, 0x13):
        if le(bs[1:5]) != n - 6:
            return ["body length field %d, but %d body bytes follow the "
                    "6-byte header" % (le(bs[1:5]), n - 6)]
        return []
    return ["first byte %02X is not a broker-to-client frame" % bs[0]]


def check_hex(spec, problems):
    rel = spec.rel
    lines = spec.lines
    blocks = 0
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```text"):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = lines[i + 1:j]
        m = re.match(r"; (client -> broker|broker -> client): (.*)",
                     body[0] if body else "")
        if m:
            blocks += 1
            check_block(rel, i + 2, m.group(1), m.group(2), body, problems)
        i = j + 1
    return blocks + check_a9(spec, problems)


def check_block(rel, first, direction, title, body, problems):
    bs = []
    total = None
    for k, line in enumerate(body):
        ln = first + k
        t = re.match(r"; total (\d+) bytes?$", line)
        if t:
            total = (int(t.group(1)), ln)
            continue
        if line.startswith(";") or not line.strip():
            continue
        h = HEX_LINE.match(line)
        if not h:
            if line.startswith(" "):
                continue    # a comment continued under the comment column
            problems.add(rel, ln, "hex", "cannot parse this line as hex "
                         "bytes and a comment")
            continue
        lb = [int(x, 16) for x in h.group(1).split()]
        bs += lb
        for msg in check_comment(lb, (h.group(2) or "").strip()):
            problems.add(rel, ln, "hex", msg)
    if total is None:
        problems.add(rel, first, "hex", 'no "; total N bytes" line')
    elif total[0] != len(bs):
        problems.add(rel, total[1], "hex", "total says %d bytes, the example "
                     "has %d" % (total[0], len(bs)))
    for msg in frame_problems(direction, title, bs):
        problems.add(rel, first, "hex", "%s: %s" % (title, msg))


def check_a9(spec, problems):
    """The hex cells of the exchange table in A.9."""
    start = spec.find_line(r"^### A\.9 ")
    if not start:
        return 0
    n = 0
    for i in range(start, len(spec.lines)):
        line = spec.lines[i]
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[0-9A-F ]+`", cells[2]):
            continue
        n += 1
        bs = [int(x, 16) for x in cells[2].strip("`").split()]
        meaning = cells[3]
        msg = None
        if bs[0] == 0xEB and len(bs) != 3:
            msg = "a greeting is 3 bytes"
        elif meaning.startswith("name") and le(bs[:2]) != len(bs) - 2:
            msg = "name length field %d, but %d name bytes" % (
                le(bs[:2]), len(bs) - 2)
        elif meaning == "ping" and (len(bs) != 9 or bs[4] != 0):
            msg = "a ping is 9 bytes with flags 00"
        elif meaning.startswith("ACK of op id"):
            want = int(meaning.split()[-1])
            if len(bs) != 6 or bs[0] != 0xFE or le(bs[1:5]) != want:
                msg = "not the 6-byte ACK of op id %d" % want
        if msg:
            problems.add(spec.rel, i + 1, "hex", msg)
    return n


# ---------------------------------------------------------------------------
# Lower-case keywords
# ---------------------------------------------------------------------------

LOWER_RE = re.compile(r"\b(must|should|may|required|shall)\b")


def check_keywords(spec, problems, allowed):
    used = [0] * len(allowed)
    compiled = [re.compile(p) for p, _ in allowed]
    for i, line in enumerate(spec.lines):
        section, top, informative = spec.section_of_line[i]
        if spec.in_code[i] or informative or not top.isdigit():
            continue
        if not 1 <= int(top) <= 20:
            continue
        # inline code is not prose
        text = re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), line)
        for m in LOWER_RE.finditer(text):
            ok = False
            for k, r in enumerate(compiled):
                for a in r.finditer(text):
                    if a.start() <= m.start() and m.end() <= a.end():
                        ok = True
                        used[k] += 1
            if not ok:
                problems.add(spec.rel, i + 1, "keyword",
                             'lower-case "%s" in Section %s: upper-case it '
                             "if the sentence is a rule, else reword, or "
                             "allow the phrase in ALLOWED of "
                             "scripts/spec-check.py" % (m.group(1), section))
    for k, (p, _) in enumerate(allowed):
        if not used[k]:
            problems.add(spec.rel, 0, "keyword",
                         "ALLOWED entry %r matches nothing; remove it" % p)
    check_upper_outside(spec, problems)


UPPER_RE = re.compile(r"\b(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY|SHALL NOT|SHALL|"
                      r"REQUIRED|RECOMMENDED)\b")


def check_upper_outside(spec, problems):
    """Section 2.4: every normative statement starts with a bold id, so a
    key word in capitals belongs in a requirement paragraph. Tables (which
    cite requirements) and Section 2.1 (which lists the key words) are
    exempt."""
    in_req = False
    prev_blank = True
    for i, line in enumerate(spec.lines):
        section, top, _ = spec.section_of_line[i]
        if line.strip() == "":
            prev_blank, in_req = True, False
            continue
        if prev_blank:
            in_req = bool(DEF_RE.match(line))
        prev_blank = False
        if (spec.in_code[i] or in_req or line.lstrip().startswith("|")
                or not top.isdigit() or not 1 <= int(top) <= 20
                or section in ("2.1", "2.4")):
            continue
        text = re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), line)
        m = UPPER_RE.search(text)
        if m:
            problems.add(spec.rel, i + 1, "keyword",
                         '"%s" outside a requirement paragraph (Section %s): '
                         "state the rule in a REQ paragraph, or reword"
                         % (m.group(1), section))


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def run(root, allowed):
    problems = Problems()
    spec_path = os.path.join(root, SPEC)
    spec = Spec(spec_path, SPEC, problems)
    areas = check_definitions(spec, problems)
    nfiles = check_citations(root, spec, problems)
    used, nvec = check_vectors(root, spec, problems)
    check_vectors_readme(root, used, problems)
    check_index(spec, areas, problems)
    nhex = check_hex(spec, problems)
    check_keywords(spec, problems, allowed)
    stats = ("%d requirements, %d files scanned for citations, %d vectors, "
             "%d hex examples" % (len(spec.reqs), nfiles, nvec, nhex))
    return problems, stats


def selftest(root):
    """Checks the fixture tree (must pass), then each mutation of it listed
    in mutations.json (must fail with the listed checks and messages)."""
    fdir = os.path.join(root, FIXTURES)
    good = os.path.join(fdir, "good")
    with open(os.path.join(fdir, "mutations.json"), encoding="utf-8") as fh:
        mutations = json.load(fh)
    fixture_allowed = [(r"\bthe fixture may\b", "an allowed phrase")]
    failures = []
    problems, _ = run(good, fixture_allowed)
    if problems.items:
        failures.append("good fixture: expected no problems, got:\n"
                        + problems.text())
    for mu in mutations:
        tmp = tempfile.mkdtemp(prefix="spec-check-")
        try:
            tree = os.path.join(tmp, "t")
            shutil.copytree(good, tree)
            for path, old, new in mu["edits"]:
                p = os.path.join(tree, path)
                with open(p, encoding="utf-8") as fh:
                    text = fh.read()
                if text.count(old) != 1:
                    failures.append("%s: %r occurs %d times in %s"
                                    % (mu["name"], old, text.count(old),
                                       path))
                    break
                with open(p, "w", encoding="utf-8") as fh:
                    fh.write(text.replace(old, new))
            else:
                problems, _ = run(tree, fixture_allowed)
                out = problems.text()
                for want in mu["expect"]:
                    if want not in out:
                        failures.append("%s: expected %r in the output:\n%s"
                                        % (mu["name"], want, out or
                                           "(no problems)"))
        finally:
            shutil.rmtree(tmp)
    if failures:
        sys.stderr.write("spec-check selftest FAILED\n" + "\n".join(failures)
                         + "\n")
        return 1
    print("spec-check selftest: good fixture passes, %d broken fixtures fail "
          "as expected" % len(mutations))
    return 0


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = argv[1:]
    if args[:1] == ["--root"] and len(args) >= 2:
        root = args[1]
        args = args[2:]
    if args == ["--selftest"]:
        return selftest(root)
    if args:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    problems, stats = run(root, ALLOWED)
    if problems.items:
        print(problems.text())
        print("spec-check: %d problem(s) (%s)" % (len(problems.items), stats))
        return 1
    print("spec-check: OK (%s)" % stats)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
