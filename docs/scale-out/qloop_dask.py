#!/usr/bin/python3
"""qloop_dask.py — a partitioned qloop run driven by Dask distributed.

Splits one CSV file by lines into N parts (the first keeps the header line,
the others go without it), has the Dask workers judge each part —
`qloop judge --part I/N --input - --out -`, the part streamed in through
standard input and the shard streamed back through standard output, as
Spark's RDD.pipe would — writes the shards into WORKDIR, then merges them
into the store with `qloop merge` and prints the run's JSON summary.

    /usr/bin/python3 qloop_dask.py --qloop /usr/local/bin/qloop --rules rules/ \\
        --dataset pop --data pop.csv --parts 64 --workdir /data/shards \\
        --db /srv/qloop/qloop.db [--workers 8] [--scheduler tcp://host:8786]

Without --scheduler it starts a LocalCluster of --workers processes on this
machine; with it, the workers of that cluster (each must reach the data file
and the rule files at the same paths, and have qloop installed). Only split
by lines when no record holds a line break inside a quoted field; otherwise
give each worker whole files, or let `qloop judge` split the file itself
(no --input). Needs python3-distributed (Debian).
"""
import argparse
import json
import os
import subprocess
import sys

from distributed import Client, LocalCluster


def line_ranges(path, n):
    """Byte ranges [start, end) of n parts of path, cut at line ends (after the header)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header = f.readline()
        body = len(header)
        cuts = [body]
        for i in range(1, n):
            f.seek(max(body, body + (size - body) * i // n - 1))
            if f.tell() > body:
                f.readline()  # to the start of the next line
            cuts.append(max(cuts[-1], f.tell()))
        cuts.append(size)
    return header, [(cuts[i], cuts[i + 1]) for i in range(n)]


def judge_part(qloop, rules, dataset, path, start, end, part, nparts, header_file, extra):
    """One Dask task: stream bytes [start, end) of path (part 1 with its header) into
    qloop judge, and return its exit code, its messages and the shard."""
    args = [qloop, "judge", "--rules", *rules, "--dataset", dataset,
            "--part", f"{part}/{nparts}", "--input", "-", "--out", "-", "--quiet", *extra]
    if part > 1:
        args += ["--header-from", header_file]
    with open(path, "rb") as f:
        head = f.readline() if part == 1 else b""
        f.seek(start)
        data = head + f.read(end - start)
    p = subprocess.run(args, input=data, capture_output=True)
    return p.returncode, p.stderr.decode("utf-8", "replace"), p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qloop", default="qloop")
    ap.add_argument("--rules", nargs="+", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data", required=True, help="the dataset's CSV file")
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--workdir", required=True, help="where the shards are written")
    ap.add_argument("--db", help="the store (default: qloop's)")
    ap.add_argument("--divisions", help="GB/T 2260 table, the same for every part")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", help="address of a running Dask scheduler")
    ap.add_argument("--other-shards", nargs="*", default=[],
                    help="shards of the pack's other datasets, merged together with these")
    a = ap.parse_args()

    qloop = os.path.abspath(a.qloop) if os.path.sep in a.qloop else a.qloop
    rules = [os.path.abspath(r) for r in a.rules]
    data = os.path.abspath(a.data)
    os.makedirs(a.workdir, exist_ok=True)
    header, ranges = line_ranges(data, a.parts)
    header_file = os.path.abspath(os.path.join(a.workdir, a.dataset + ".header.csv"))
    with open(header_file, "wb") as f:
        f.write(header)
    extra = ["--divisions", os.path.abspath(a.divisions)] if a.divisions else []

    cluster = None
    if a.scheduler:
        client = Client(a.scheduler)
    else:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = [client.submit(judge_part, qloop, rules, a.dataset, data, start, end, i + 1,
                                 a.parts, header_file, extra, pure=False)
                   for i, (start, end) in enumerate(ranges)]
        results = client.gather(futures)
    finally:
        client.close()
        if cluster:
            cluster.close()

    shards = []
    for i, (rc, err, shard) in enumerate(results):
        if rc != 0:
            sys.stderr.write(err)
            sys.exit(f"qloop judge failed on part {i + 1}/{a.parts} (exit {rc})")
        path = os.path.join(a.workdir, f"{a.dataset}.{i + 1:05d}.shard")
        with open(path, "wb") as f:
            f.write(shard)
        shards.append(path)

    merge = [qloop, "merge", "--rules", *rules, "--json", "--quiet"]
    if a.db:
        merge += ["--db", a.db]
    p = subprocess.run(merge + shards + a.other_shards, capture_output=True, text=True)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        sys.exit(p.returncode)
    json.dump(json.loads(p.stdout), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
