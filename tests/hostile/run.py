#!/usr/bin/env python3
"""Runs the hostile rule corpus (tests/hostile/README.md) against a qloop binary.

Usage: run.py QLOOP_BIN [CASE...]      (CASE: a file or folder name; default all)
Environment: QLOOP_HOSTILE_TIMEOUT overrides every case's timeout (seconds);
QLOOP_SLOWDOWN (a number, 1 when unset; the sanitizer build sets 3) multiplies
every case's `seconds` and `timeout`, for builds that run slower by design.

Each case is a rule file NAME.lua, or a folder NAME/ of rule files, whose
leading `-- key: value` comment lines say how to run it and what must happen.
Every case runs in its own temporary folder, next to a generated data.csv
(columns id, v, name, n) and e.csv (id, v), under its own timeout. Whatever
the case says, these always hold: qloop exits with the expected code (never a
signal, never the timeout), within `seconds`; a run that exits 2 leaves the
store exactly as it was (same runs, findings, tickets, audit chain, and
`audit verify` still passes); stderr stays under `max_stderr` bytes.
Prints one line per check and exits 1 when any failed.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = """
dataset "base" { source = "data.csv", key = "id", owner = "基准部门" }
rule "base.v" { field = "v", one_of = { "a", "b", "c" } }
"""
COUNTED = ("runs", "findings", "rule_results", "tickets", "ticket_history", "audit")
DEFAULTS = {"mode": "run", "rows": "5", "exit": "0", "seconds": "20", "max_stderr": "1200000",
            "jobs": "", "timeout": "60"}


def headers(path):
    """The `-- key: value` lines at the top of a case file (repeatable keys listed)."""
    h = {"expect": [], "stderr": [], "not_stderr": [], "stdout": []}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"--\s*([a-z_]+):\s?(.*)$", line.rstrip("\n"))
            if not m:
                if line.startswith("--") or not line.strip():
                    continue
                break
            k, v = m.group(1), m.group(2)
            if k in h and isinstance(h[k], list):
                h[k].append(v)
            else:
                h[k] = v
    for k, v in DEFAULTS.items():
        h.setdefault(k, v)
    return h


def write_data(d, rows):
    with open(os.path.join(d, "data.csv"), "w", encoding="utf-8") as f:
        f.write("id,v,name,n\n")
        for i in range(1, rows + 1):
            f.write("%d,%s,姓名%d,%d\n" % (i, "abcde"[(i - 1) % 5], i, i))
    with open(os.path.join(d, "e.csv"), "w", encoding="utf-8") as f:
        f.write("id,v\n")
        for i in range(1, rows + 1):
            f.write("%d,%s\n" % (i, "abcde"[i % 5]))


def counts(db):
    if not os.path.exists(db):
        return None
    try:
        return count_rows(db, "ro")
    except sqlite3.OperationalError:
        # a run killed mid-transaction (its timeout) leaves a hot journal that a
        # read-only connection cannot roll back; the next open would, so do that
        return count_rows(db, "rw")


def count_rows(db, mode):
    con = sqlite3.connect("file:%s?mode=%s" % (db, mode), uri=True)
    try:
        return tuple(con.execute("SELECT count(*) FROM %s" % t).fetchone()[0] for t in COUNTED)
    finally:
        con.close()


def longest_message(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute("SELECT coalesce(max(length(CAST(message AS BLOB))), 0) FROM findings").fetchone()[0]
    finally:
        con.close()


class Case:
    def __init__(self, qloop, name, path):
        self.qloop, self.name, self.path = qloop, name, path
        self.fails = 0

    def check(self, what, ok, detail=""):
        print("%s: %s: %s%s" % ("ok" if ok else "FAIL", self.name, what,
                                "" if ok else " — " + detail[:2000]))
        if not ok:
            self.fails += 1

    def q(self, args, timeout, env=None):
        t0 = time.monotonic()
        try:
            p = subprocess.run([self.qloop] + args, cwd=self.dir, capture_output=True,
                               timeout=timeout, env=env)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout", e.stdout or b"", e.stderr or b""
        return rc, out.decode("utf-8", "replace"), err, time.monotonic() - t0

    def run(self):
        self.dir = tempfile.mkdtemp(prefix="qloop-hostile.")
        try:
            self._run()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
        return self.fails

    def _run(self):
        if os.path.isdir(self.path):
            files = sorted(f for f in os.listdir(self.path) if f.endswith(".lua"))
            h = headers(os.path.join(self.path, files[0]))
            rules = os.path.join(self.dir, "rules")
            shutil.copytree(self.path, rules)
            target = "rules"
        else:
            h = headers(self.path)
            target = os.path.basename(self.path)
            shutil.copy(self.path, os.path.join(self.dir, target))
        rows = int(h["rows"])
        write_data(self.dir, rows)
        if os.path.isdir(self.path):
            write_data(os.path.join(self.dir, "rules"), rows)
        db = os.path.join(self.dir, "q.db")
        env = dict(os.environ, QLOOP_DB=db, QLOOP_NOW="2026-11-22T02:00:00+08:00")
        mode, want = h["mode"], h["exit"]
        slow = float(os.environ.get("QLOOP_SLOWDOWN", "1"))
        timeout = float(os.environ.get("QLOOP_HOSTILE_TIMEOUT", h["timeout"])) * slow
        seconds = float(h["seconds"]) * slow
        jobs = h["jobs"].split() or [None]
        before = None
        if mode == "run":
            with open(os.path.join(self.dir, "base.lua"), "w", encoding="utf-8") as f:
                f.write(BASELINE)
            rc, _, err, _ = self.q(["run", "--rules", "base.lua", "--quiet"], timeout, env)
            self.check("baseline run", rc == 0, err.decode("utf-8", "replace"))
            before = counts(db)
        results = []
        for j in jobs:
            if mode == "run":
                args = ["run", "--rules", target, "--json", "--quiet"] + (["--jobs", j] if j else [])
            elif mode == "check":
                args = ["check", "--rules", target]
            else:
                args = ["eval", target]
            rc, out, err, secs = self.q(args, timeout, env)
            tag = " (--jobs %s)" % j if j else ""
            errs = err.decode("utf-8", "replace")
            self.check("exit %s%s" % (want, tag), str(rc) == want,
                       "exit %s after %.1f s; stderr: %s" % (rc, secs, errs[-1500:]))
            self.check("within %g s%s" % (seconds, tag), secs <= seconds,
                       "took %.1f s" % secs)
            self.check("stderr bounded%s" % tag, len(err) <= int(h["max_stderr"]),
                       "%d bytes" % len(err))
            for s in h["stderr"]:
                self.check("stderr has %r" % s, s in errs, errs[-1500:])
            for s in h["not_stderr"]:
                self.check("stderr lacks %r" % s, s not in errs, errs[-1500:])
            for s in h["stdout"]:
                self.check("stdout has %r" % s, s in out, out[-500:])
            if mode == "run":
                after = counts(db)
                if str(rc) == "0":
                    self.check("a run was stored", after and before and after[0] == before[0] + 1,
                               "%s -> %s" % (before, after))
                    before = after
                else:
                    self.check("store unchanged", after == before, "%s -> %s" % (before, after))
                vrc, vout, verr, _ = self.q(["audit", "verify"], timeout, env)
                self.check("audit chain whole", vrc == 0, vout + verr.decode("utf-8", "replace"))
                if "max_message" in h and after:
                    n = longest_message(db)
                    self.check("stored messages at most %s bytes" % h["max_message"],
                               n <= int(h["max_message"]), "longest %d" % n)
            d = None
            if mode == "run" and str(rc) == "0":
                try:
                    d = json.loads(out)
                except ValueError:
                    self.check("JSON output", False, out[-500:])
            results.append(d)
            for e in h["expect"]:
                ok, detail = evaluate(e, d, rows)
                self.check("expect %s%s" % (e, tag), ok, detail)
        if len(results) > 1:
            def rule_counts(d):
                return d and sorted((r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"])
            self.check("same counts with --jobs " + " and ".join(jobs),
                       all(rule_counts(r) == rule_counts(results[0]) for r in results),
                       json.dumps([rule_counts(r) for r in results], ensure_ascii=False))


def evaluate(expr, d, rows):
    def rule(rid):
        for r in (d or {}).get("rules", []):
            if r["id"] == rid:
                return r
        raise KeyError("no rule %s in %s" % (rid, json.dumps(d, ensure_ascii=False)[:800]))
    try:
        return bool(eval(expr, {"d": d, "rule": rule, "ROWS": rows})), json.dumps(
            (d or {}).get("rules"), ensure_ascii=False)[:1500]
    except Exception as e:  # a failed expectation names what went wrong
        return False, repr(e)


def main():
    qloop = os.path.abspath(sys.argv[1])
    wanted = set(sys.argv[2:])
    fails = ncases = 0
    for entry in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, entry)
        name = entry[:-4] if entry.endswith(".lua") else entry
        if not (entry.endswith(".lua") or os.path.isdir(path)) or entry.startswith(("_", ".")):
            continue
        if wanted and name not in wanted and entry not in wanted:
            continue
        ncases += 1
        fails += Case(qloop, name, path).run()
    print("%d cases, %d failed checks" % (ncases, fails))
    if ncases == 0:
        print("FAIL: no case found")
        return 1
    return 1 if fails else 0


sys.exit(main())
