#!/usr/bin/env python3
"""Checks the formats passed to Lua's formatter (tests/e2e/lua_formats.sh).

Usage: lua_formats.py [--count] ROOT
Scans ROOT/{engine,cli,reports,adapters}/**/*.c for calls of luaL_error and
lua_pushfstring whose format is a string literal, and prints one line per
problem (nothing when all is well); --count prints how many formats it read.
"""
import os
import re
import sys

FUNCS = ("luaL_error", "lua_pushfstring")
VALID = set("%sdIfpcU")
CASTS = {"d": "(int)", "I": "(lua_Integer)"}


def strip_comments(src):
    out, i, n = [], 0, len(src)
    while i < n:
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(c if c == "\n" else " " for c in src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src[i] in "\"'":
            q, j = src[i], i + 1
            while j < n and src[j] != q:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def split_args(src, start):
    """Arguments of the call whose '(' is at start: list of (text, offset)."""
    args, depth, i, cur = [], 0, start + 1, start + 1
    while i < len(src):
        c = src[i]
        if c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append((src[cur:i], cur))
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append((src[cur:i], cur))
            cur = i + 1
        i += 1
    return args


def literal(text):
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    if not parts or re.sub(r'"((?:[^"\\]|\\.)*)"', "", text).strip():
        return None
    return "".join(parts)


def check(path, rel, problems, counter):
    src = strip_comments(open(path, encoding="utf-8", errors="replace").read())
    for m in re.finditer(r"\b(%s)\s*\(" % "|".join(FUNCS), src):
        args = split_args(src, m.end() - 1)
        if len(args) < 2:
            continue
        fmt = literal(args[1][0])
        if fmt is None:
            continue
        counter[0] += 1
        line = src.count("\n", 0, m.start()) + 1
        convs = []
        i = 0
        while i < len(fmt):
            if fmt[i] == "%":
                c = fmt[i + 1] if i + 1 < len(fmt) else ""
                if c == "%":
                    i += 2
                    continue
                if c not in VALID:
                    problems.append("%s:%d: %s: '%%%s' is not a Lua format option" % (rel, line, m.group(1), c))
                convs.append(c)
                i += 2
            else:
                i += 1
        rest = args[2:]
        if len(rest) != len(convs):
            problems.append("%s:%d: %s: %d conversions, %d arguments" % (rel, line, m.group(1), len(convs), len(rest)))
            continue
        for c, (a, _) in zip(convs, rest):
            cast = CASTS.get(c)
            if cast and not a.strip().startswith(cast):
                problems.append("%s:%d: %s: the argument of %%%s must be cast %s" % (rel, line, m.group(1), c, cast))


def main():
    argv = sys.argv[1:]
    count = argv and argv[0] == "--count"
    root = argv[-1]
    problems, counter = [], [0]
    for top in ("engine", "cli", "reports", "adapters"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith(".c"):
                    p = os.path.join(dirpath, f)
                    check(p, os.path.relpath(p, root), problems, counter)
    if count:
        print(counter[0])
    else:
        for p in problems:
            print(p)


main()
