"""End-to-end conversion throughput and memory on a synthetic Criteo TSV.

    python -m bench.conversion_throughput --rows=2000000 --rows=8000000 --json=conversion.json

Generates the file (datasets.synthetic, not timed), runs `python -m datasets.criteo` in a child process
and reports wall time, rows/s and peak memory of the converter's process tree (parent + forked workers),
sampled every 0.1 s with psutil, two ways: the largest sum of RSS, which counts pages a forked worker
shares with its parent once per process, and the largest sum of PSS (proportional set size: each shared
page split among its sharers), which is what the tree really occupies.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import psutil

from console.quiet import add_verbosity_argument


def convert_once(path, output_dir, workers):
    command = [sys.executable, "-m", "datasets.criteo", f"--input={path}", f"--output_dir={output_dir}",
               "--overwrite"] + ([f"--workers={workers}"] if workers else [])
    started = time.time()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree, peak_rss, peak_pss = psutil.Process(child.pid), 0, 0
    while child.poll() is None:
        try:
            memory = [p.memory_full_info() for p in [tree] + tree.children(recursive=True)]
            peak_rss = max(peak_rss, sum(m.rss for m in memory))
            peak_pss = max(peak_pss, sum(m.pss for m in memory))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.1)
    if child.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {child.returncode}")
    return time.time() - started, peak_rss / 2**20, peak_pss / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_verbosity_argument(parser)
    parser.add_argument("--rows", type=int, action="append", help="Row counts (repeatable); default 2M.")
    parser.add_argument("--workers", type=int, default=None, help="Converter workers (default: all cores).")
    parser.add_argument("--scratch", default=None, help="Directory for the generated files.")
    parser.add_argument("--json", default="conversion_throughput.json", help="Where to write the results.")
    args = parser.parse_args()
    from datasets.synthetic import CRITEO_FULL_MAX, write_criteo_tsv

    results = []
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        for rows in args.rows or [2000000]:
            path = os.path.join(scratch, f"criteo-{rows}.txt")
            write_criteo_tsv(path, rows, seed=0, max_cardinality=CRITEO_FULL_MAX)
            seconds, rss_mb, pss_mb = convert_once(path, os.path.join(scratch, f"out-{rows}"), args.workers)
            results.append({"rows": rows, "bytes": os.path.getsize(path), "seconds": round(seconds, 2),
                            "rows_per_s": round(rows / seconds), "peak_rss_mb": round(rss_mb),
                            "peak_pss_mb": round(pss_mb),
                            "cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]})
            os.remove(path)
    print("| rows | MB | seconds | rows/s | peak sum RSS MB | peak sum PSS MB | cores | load avg |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['bytes'] / 1e6:.0f} | {r['seconds']} | {r['rows_per_s']:,} | {r['peak_rss_mb']} "
              f"| {r['peak_pss_mb']} | {r['cpus']} | {r['load_avg_1m']:.1f} |")
    with open(args.json, "w") as handle:
        json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
