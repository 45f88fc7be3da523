#!/usr/bin/env python3
"""python3 workload of the fragmentation suite (run_bench.py --suite frag): a Python program
whose object sizes shift from phase to phase, run under the allocator being measured
(LD_PRELOAD on the interpreter).

Each phase builds a structure of its own kind of objects until about --live-mb MiB of them are
held (the survivors of earlier phases included), then drops all but --keep-pct percent of what
is held, picked at random: a dict of short strings, a list of 0.5-8 KiB bytes objects, many
small dicts (records), a dict of int tuples, strings of 8-64 KiB, lists of floats of 10-200
items. Then the same kinds again, 12 phases in all by default. CPython serves objects up to
512 bytes from its own arenas (pymalloc) and only larger ones from malloc; run it under
PYTHONMALLOC=malloc (the runner's python-malloc case) to send every object to malloc.

Live bytes are approximate: the sys.getsizeof of each object the script holds (containers and
their items, not the interpreter's own memory). Prints one RESULT line like the C++ workloads
(rss_peak_kb is the interpreter's VmHWM) and, with --trace FILE, writes "ms,rss_kb,live_bytes"
samples taken every 10 ms of work.
"""

import argparse
import array
import gc
import os
import random
import sys
import time

PAGE_KB = os.sysconf("SC_PAGESIZE") // 1024


def rss_kb():
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE_KB


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Tracer:
    def __init__(self, path, interval_ms=10):
        self.path, self.interval = path, interval_ms / 1000
        self.t0 = time.monotonic()
        self.next = 0.0
        # Flat doubles, not a list of tuples: every sample kept as objects would stay live among
        # the workload's own small objects and keep pymalloc arenas from being freed (30 MiB more
        # peak RSS under an allocator that returns memory, whatever the allocator). The array's
        # buffer is one block, grown by realloc.
        self.samples = array.array("d")

    def tick(self, live):
        if self.path is None:
            return
        t = time.monotonic() - self.t0
        if t >= self.next:
            self.samples.extend((t * 1000, rss_kb(), live))
            self.next = t + self.interval

    def write(self, live):
        if self.path is None:
            return
        self.next = 0.0
        self.tick(live)
        with open(self.path, "w") as f:
            f.write("ms,rss_kb,live_bytes\n")
            for i in range(0, len(self.samples), 3):
                ms, rss, lv = self.samples[i:i + 3]
                f.write(f"{ms:.1f},{int(rss)},{int(lv)}\n")


# Each maker returns (object, its approximate size in bytes, including its items).
def make_strings(rng, n):
    d = {}
    size = 0
    for _ in range(n):
        k = "k%x" % rng.getrandbits(48)
        v = "v" * rng.randint(8, 120)
        d[k] = v
        size += sys.getsizeof(k) + sys.getsizeof(v)
    return d, size + sys.getsizeof(d)


def make_bytes(rng, n):
    lst = [rng.randbytes(rng.randint(512, 8192)) for _ in range(n)]
    return lst, sum(map(sys.getsizeof, lst)) + sys.getsizeof(lst)


def make_records(rng, n):
    lst = [{"id": rng.getrandbits(40), "name": "n%x" % rng.getrandbits(24),
            "score": rng.random(), "tags": ["t"] * rng.randint(0, 6)} for _ in range(n)]
    size = sys.getsizeof(lst)
    for r in lst:
        size += sys.getsizeof(r) + sys.getsizeof(r["name"]) + sys.getsizeof(r["tags"]) + 56
    return lst, size


def make_tuples(rng, n):
    d = {i: tuple(range(rng.randint(1, 12))) for i in range(n)}
    return d, sys.getsizeof(d) + sum(sys.getsizeof(t) + 28 for t in d.values())


def make_big_strings(rng, n):
    lst = ["x" * rng.randint(8192, 65536) for _ in range(n)]
    return lst, sum(map(sys.getsizeof, lst)) + sys.getsizeof(lst)


def make_float_lists(rng, n):
    lst = [[rng.random() for _ in range(rng.randint(10, 200))] for _ in range(n)]
    return lst, sys.getsizeof(lst) + sum(sys.getsizeof(x) + 24 * len(x) for x in lst)


# (maker, items per object made): each call makes a structure of about 0.5-2 MiB.
KINDS = [(make_strings, 8000), (make_bytes, 250), (make_records, 3000), (make_tuples, 6000),
         (make_big_strings, 40), (make_float_lists, 250)]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--live-mb", type=int, default=128, help="MiB held at the end of each phase")
    p.add_argument("--phases", type=int, default=12, help="phases (the kinds repeat after 6)")
    p.add_argument("--keep-pct", type=int, default=10, help="percent kept at each drop")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--trace", metavar="FILE", help="write RSS and live bytes over time")
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    trace = Tracer(args.trace)
    target = args.live_mb << 20
    held = []  # (structure, size)
    live = live_peak = ops = 0
    phase_rss = []
    t0 = time.perf_counter()
    for ph in range(args.phases):
        maker, n = KINDS[ph % len(KINDS)]
        while live < target:
            obj, size = maker(rng, n)
            held.append((obj, size))
            live += size
            ops += 1
            live_peak = max(live_peak, live)
            trace.tick(live)
        rng.shuffle(held)
        keep = max(1, len(held) * args.keep_pct // 100)
        while len(held) > keep:
            _, size = held.pop()
            live -= size
            trace.tick(live)
        gc.collect()
        phase_rss.append(rss_kb())
        trace.tick(live)
    rss_last_drop = rss_kb()
    held.clear()
    live = 0
    gc.collect()
    seconds = time.perf_counter() - t0
    peak = status_kb("VmHWM")
    print(f"RESULT name=python threads=1 ops={ops} seconds={seconds:.6f} "
          f"live_peak_bytes={live_peak} rss_peak_kb={peak} rss_end_kb={rss_kb()} "
          f"rss_after_drop_kb={rss_last_drop} "
          f"pymalloc={'off' if os.environ.get('PYTHONMALLOC') == 'malloc' else 'on'} "
          f"frag_ratio={peak * 1024 / max(1, live_peak):.6f} "
          f"phase_rss_kb={','.join(map(str, phase_rss))}", flush=True)
    trace.write(live)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
