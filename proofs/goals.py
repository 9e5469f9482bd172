#!/usr/bin/env python3
"""Summarise a Frama-C WP run per source file and compare it with
proofs/goals.txt.

Inputs (written by proofs/wp.sh):
  --json  the WP report (-wp-report-json): goals per function and property
  --log   the Frama-C log: WP's own "Proved goals" line, and the goals WP
          settles on the control-flow graph (not in the JSON report)
  --csv   the Report plugin's property table (-report-csv): used only to
          map each function to the file holding its contract (every proved
          function has a `terminates` clause, so its row is unambiguous)
  --goals proofs/goals.txt, the recorded per-file goal counts

Exit status: 0 when every goal is proved and the number of proved goals,
per file and in total, is at least the recorded one; 1 otherwise. --update rewrites the
goals file from this run (only when every goal is proved).
"""
import argparse
import json
import os
import re
import sys


def load_report(path):
    with open(path, encoding="utf-8") as f:
        rep = json.load(f)
    per_fn = {}
    for fn, props in rep.get("wp:functions", {}).items():
        sect = props.get("wp:section", {}).get("wp:main", {})
        per_fn[fn] = (sect.get("valid", 0), sect.get("total", 0))
    glob = rep.get("wp:global", {}).get("wp:main", {})
    return per_fn, (glob.get("valid", 0), glob.get("total", 0))


def load_cfg_goals(path, per_fn):
    """Adds the goals WP settles on the control-flow graph alone (the
    `terminates` goal of a function without loops or calls, an `exits \false`
    without calls): the log lists them as
    `[wp] [CFG] Goal <function>_terminates : Valid (Trivial)`, the
    JSON report leaves them out, WP's own "Proved goals" line counts them.
    Returns (valid, total) of these goals."""
    row = re.compile(r"^\[wp\] \[CFG\] Goal (\w+?)_(?:terminates|exits) : (\w+)")
    valid = total = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = row.match(line)
            if m:
                ok = 1 if m.group(2) == "Valid" else 0
                v, t = per_fn.get(m.group(1), (0, 0))
                per_fn[m.group(1)] = (v + ok, t + 1)
                valid += ok
                total += 1
    return valid, total


def wp_summary(path):
    """WP's own "Proved goals: N / M" line from the log, or None."""
    row = re.compile(r"^\[wp\] Proved goals:\s+(\d+) / (\d+)")
    found = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = row.match(line)
            if m:
                found = (int(m.group(1)), int(m.group(2)))
    return found


def load_fn_files(path):
    """function -> file of its contract, from the `termination clause` rows."""
    row = re.compile(r"^([^\t]*)\t([^\t]+)\t(\d+)\t(\w+)\ttermination clause\t")
    files = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = row.match(line)
            if m:
                files[m.group(4)] = os.path.join(m.group(1), m.group(2))
    return files


def load_goals(path):
    rec = {}
    if not os.path.exists(path):
        return rec
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, count = line.rsplit(None, 1)
                rec[name] = int(count)
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--goals", required=True)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--functions", action="store_true",
                    help="also print the goals of each function")
    args = ap.parse_args()

    per_fn, (g_valid, g_total) = load_report(args.json)
    c_valid, c_total = load_cfg_goals(args.log, per_fn)
    g_valid += c_valid
    g_total += c_total
    fn_file = load_fn_files(args.csv)

    per_file = {}
    unproved = []
    for fn, (val, tot) in sorted(per_fn.items()):
        path = fn_file.get(fn, "(no terminates clause: " + fn + ")")
        v, t = per_file.get(path, (0, 0))
        per_file[path] = (v + val, t + tot)
        if val != tot:
            unproved.append("%s: %d / %d" % (fn, val, tot))
    s_valid = sum(v for v, _ in per_fn.values())
    s_total = sum(t for _, t in per_fn.values())
    if s_total != g_total or s_valid != g_valid:
        # Goals outside functions (global lemmas): count them apart.
        per_file["global-lemmas"] = (g_valid - s_valid, g_total - s_total)
        if g_valid - s_valid != g_total - s_total:
            unproved.append("global lemmas: %d / %d"
                            % (g_valid - s_valid, g_total - s_total))

    rec = load_goals(args.goals)
    print("%-28s %9s %9s" % ("file", "proved", "recorded"))
    for path in sorted(per_file):
        v, t = per_file[path]
        r = rec.get(path)
        note = "" if v == t else "   <-- %d unproved" % (t - v)
        if r is not None and r != v:
            note += "   (recorded %d)" % r
        print("%-28s %4d/%-4d %9s%s" % (path, v, t, "-" if r is None else r, note))
    if args.functions:
        print("\n%-34s %-26s %s" % ("function", "file", "goals"))
        for fn, (val, tot) in sorted(per_fn.items(),
                                     key=lambda kv: (fn_file.get(kv[0], ""), kv[0])):
            print("%-34s %-26s %d/%d" % (fn, fn_file.get(fn, "-"), val, tot))
        print()
    rec_total = rec.get("total", 0)
    print("Proved goals: %d / %d (recorded in %s: %d)"
          % (g_valid, g_total, args.goals, rec_total))

    ok = True
    if unproved or g_valid != g_total:
        ok = False
        print("FAIL: %d goal(s) not proved:" % (g_total - g_valid))
        for u in unproved:
            print("  " + u)
    for path, r in sorted(rec.items()):
        if path == "total":
            continue
        v = per_file.get(path, (0, 0))[0]
        if v < r:
            ok = False
            print("FAIL: %s: %d proved goals, fewer than the %d recorded in %s"
                  % (path, v, r, args.goals))
    if g_valid < rec_total:
        ok = False
        print("FAIL: %d proved goals, fewer than the %d recorded in %s"
              % (g_valid, rec_total, args.goals))
    summary = wp_summary(args.log)
    if summary != (g_valid, g_total):
        ok = False
        print("FAIL: WP's own count %s differs from the reports' %d / %d"
              % (summary, g_valid, g_total))
    if g_total == 0:
        ok = False
        print("FAIL: no goals at all (did Frama-C fail? see the log)")

    if args.update:
        if not ok and g_valid != g_total:
            print("not updating %s: some goals are unproved" % args.goals)
            return 1
        with open(args.goals, "w", encoding="utf-8") as f:
            f.write("# WP goals proved per file by `make proofs` (proofs/wp.sh).\n"
                    "# `make proofs` fails when a count or the total drops below this record\n"
                    "# or when any goal is unproved. Regenerate with\n"
                    "# `make proofs-update` (proofs-broker-update for the broker) after adding proved goals.\n")
            for path in sorted(per_file):
                f.write("%s %d\n" % (path, per_file[path][0]))
            f.write("total %d\n" % g_valid)
        print("updated %s" % args.goals)
        return 0
    if ok:
        print("OK: all %d goals proved" % g_valid)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
