#!/usr/bin/env python3
"""Runs the malloc-im benchmark workloads under several allocators and compares them.

Each workload binary (BUILD_DIR/bench/bench_NAME) runs once per allocator, repetition and,
for the multi-threaded workloads, thread count. The allocator is chosen with LD_PRELOAD
(glibc: no preload). The start-up case runs /bin/true many times instead. Runs are
interleaved: every repetition goes through all cases, with the allocator order rotated, so slow
drifts of a shared machine spread over all allocators. The tables show medians and ratios
against a baseline allocator (--baseline, mimalloc by default): allocator / baseline, so below 1
is faster (or smaller) than the baseline; see docs/BENCHMARKS.md.
"""

import argparse
import csv
import math
import os
import select
import shutil
import atexit
import signal
import statistics
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field

ALLOCATORS = ["mallocim", "glibc", "jemalloc", "mimalloc", "tcmalloc"]
# Variants asked for by name only (--allocators): malloc-im with profiling on, to measure what
# the sampled profile costs side by side with the plain library.
VARIANTS = ["mallocim-profile"]
PROFILE_DIR = tempfile.mkdtemp(prefix="mallocim-bench-profile-")
atexit.register(shutil.rmtree, PROFILE_DIR, True)


def variant_env(allocator):
    """Environment a variant adds to the allocator's run."""
    if allocator == "mallocim-profile":
        return {"MALLOCIM_PROFILE": os.path.join(PROFILE_DIR, "p")}
    return {}
PEER_LIBS = {
    "jemalloc": ["libjemalloc.so.2", "libjemalloc.so"],
    "mimalloc": ["libmimalloc.so.2", "libmimalloc.so"],
    "tcmalloc": ["libtcmalloc_minimal.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so.4"],
}


@dataclass
class Workload:
    about: str
    threaded: bool  # runs once per --threads entry
    full: list
    quick: list
    # Extra median columns: (RESULT key, heading, divisor applied before printing).
    extras: list = field(default_factory=list)
    binary: str = ""  # bench_BINARY; default: the workload's name
    startup: bool = False  # runner-side: /bin/true spawned full[0] (quick[0]) times per allocator


WORKLOADS = {
    "churn": Workload("mixed-size random replacement over a working set", True,
                      ["--ops", "20000000", "--slots", "100000"],
                      ["--ops", "5000000", "--slots", "50000"]),
    "xfree": Workload("producer/consumer hand-off, frees on other threads (threads = pairs)", True,
                      ["--ops", "10000000"],
                      ["--ops", "3000000"]),
    "larson": Workload("server-style: threads replace blocks of a shared table", True,
                       ["--ops", "10000000", "--slots", "50000"],
                       ["--ops", "3000000", "--slots", "20000"]),
    "frag": Workload("fragmentation while the size mix shifts, then 90% freed", False,
                     ["--live-mb", "128", "--cycles", "2", "--sleep-ms", "1000"],
                     ["--live-mb", "32", "--cycles", "1", "--sleep-ms", "300"],
                     [("frag_ratio", "peak/live", 1),
                      ("rss_after_sleep_kb", "after-free MiB", 1024)]),
    "bignum": Workload("factoring with a heap number per operation (cfrac-like tiny temporaries)",
                       False, ["--ops", "20000000"], ["--ops", "5000000"]),
    "sets": Workload("cube-cover set manipulation, many small sets made and dropped "
                     "(espresso-like)", False, ["--ops", "600000"], ["--ops", "150000"]),
    "cache-scratch": Workload("passive false sharing: workers free the main thread's "
                              "blocks, then write their own", True,
                              ["--ops", "5000000", "--passive", "1"],
                              ["--ops", "1000000", "--passive", "1"], binary="falseshare"),
    "cache-thrash": Workload("active false sharing: each thread writes its own small "
                             "objects", True,
                             ["--ops", "5000000"], ["--ops", "1000000"], binary="falseshare"),
    "realloc": Workload("growing buffers: appends through realloc, up to 4 MiB, 256 alive", True,
                        ["--ops", "1000000"], ["--ops", "250000"]),
    "calloc": Workload("calloc of 16 B..256 KiB: verified zero, written, freed", True,
                       ["--ops", "400000"], ["--ops", "80000"]),
    "thread-churn": Workload("short-lived threads, a few allocations each (threads = at once)",
                             True, ["--ops", "20000"], ["--ops", "5000"],
                             [("us_per_thread", "us/thread", 1)], binary="threadchurn"),
    "large": Workload("64 KiB..32 MiB blocks, a write per page, small working set", True,
                      ["--ops", "1000"], ["--ops", "150"]),
    "startup": Workload("start-up cost: /bin/true under the allocator (glibc: plain true)", False,
                        ["500"], ["100"], startup=True),
}
# Workloads whose results depend only on the seed: their "digest" must agree across allocators.
DETERMINISTIC = {"bignum", "sets"}


@dataclass
class Run:
    workload: str
    threads: int
    allocator: str
    rep: int
    ok: bool
    status: str  # "ok" or why it failed: "exit 3", "SIGSEGV", "timeout 600s", ...
    wall_s: float
    maxrss_kb: int
    result: dict
    stderr_tail: str

    @property
    def seconds(self):
        return float(self.result.get("seconds", self.wall_s))

    @property
    def peak_kb(self):
        # The workload's own VmHWM: wait4's ru_maxrss also counts this Python process's RSS
        # at spawn time, which hides small workloads (see docs/BENCHMARKS.md). The start-up
        # case has no figure of its own (None).
        if WORKLOADS[self.workload].startup:
            return None
        return int(self.result.get("rss_peak_kb", self.maxrss_kb))


def find_library(names):
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{os.uname().machine}-linux-gnu"
    dirs = [f"/usr/lib/{multiarch}", f"/lib/{multiarch}", "/usr/lib64", "/usr/lib",
            "/usr/local/lib"]
    for name in names:
        for d in dirs:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
    return None


def resolve_allocators(wanted, build_dir, overrides):
    """Returns ({name: preload path or None}, [skip messages]) in the order asked for."""
    found, skipped = {}, []
    for name in wanted:
        if name in overrides:
            path = overrides[name]
            if not os.path.isfile(path):
                skipped.append(f"{name}: {path} does not exist, skipped")
                continue
        elif name == "glibc":
            path = None
        elif name in ("mallocim", "mallocim-profile"):
            path = os.path.join(build_dir, "libmallocim.so")
            if not os.path.isfile(path):
                skipped.append(f"mallocim: {path} not built, skipped "
                               f"(cmake --build {build_dir} --target mallocim)")
                continue
        else:
            path = find_library(PEER_LIBS[name])
            if path is None:
                skipped.append(f"{name}: none of {', '.join(PEER_LIBS[name])} found, skipped "
                               "(Debian: apt-get install libjemalloc2 libmimalloc2.0 "
                               "libtcmalloc-minimal4)")
                continue
        found[name] = os.path.abspath(path) if path else None
    return found, skipped


def parse_result(stdout):
    """The RESULT line's fields, or None when there is no usable one."""
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            try:
                float(result["seconds"])
                int(result["rss_peak_kb"])
            except (KeyError, ValueError):
                return None
            return result
    return None


def run_once(argv, env, timeout):
    """Runs argv to completion; returns (failure text or None, wall s, maxrss kB, out, err)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                   (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        t0 = time.monotonic()
        try:
            pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        except OSError as e:
            return f"cannot start: {e.strerror}", 0.0, 0, "", str(e)
        timed_out, pause = False, 0.001
        try:
            while True:
                wpid, status, ru = os.wait4(pid, os.WNOHANG)
                if wpid == pid:
                    break
                if time.monotonic() - t0 > timeout:
                    os.kill(pid, signal.SIGKILL)
                    _, status, ru = os.wait4(pid, 0)
                    timed_out = True
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        except BaseException:  # Ctrl-C: do not leave the child running
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            raise
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if timed_out:
        failure = f"timeout {timeout:g}s"
    elif code < 0:
        try:
            failure = signal.Signals(-code).name
        except ValueError:
            failure = f"signal {-code}"
    elif code != 0:
        failure = f"exit {code}"
    else:
        failure = None
    return failure, wall, ru.ru_maxrss, stdout, stderr


def measure(workload, threads, allocator, rep, cmd, preload, timeout):
    """One run of cmd with preload (None: glibc) in LD_PRELOAD."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(variant_env(allocator))
    if preload:
        env["LD_PRELOAD"] = preload
    failure, wall, maxrss, out, err = run_once(cmd, env, timeout)
    result = parse_result(out) if failure is None else None
    if "cannot be preloaded" in err:  # the loader only warns and goes on without it
        failure = "preload failed"
    elif failure is None and result is None:
        failure = "no RESULT line"
    return Run(workload, threads, allocator, rep, failure is None, failure or "ok", wall,
               maxrss, result or {}, err[-2000:])


def wait_child(pid, timeout):
    """Blocking wait for pid (no polling delay, for short runs); kills it after timeout s.
    Returns (status, rusage, timed out)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # Python < 3.9 or Linux < 5.3: plain blocking wait
        _, status, ru = os.wait4(pid, 0)
        return status, ru, False
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        _, status, ru = os.wait4(pid, 0)
        return status, ru, not ready
    finally:
        os.close(fd)


def measure_startup(order, rep, count, true_path, preloads, timeout):
    """Spawns true_path count times under each allocator in order (preloads[a], None: plain),
    interleaved run by run so that a busy moment of the machine hits every allocator alike.
    Each run is timed from posix_spawn to the exit status, as a shell running a command sees
    it; a Run per allocator holds the median (seconds) and the mean of its runs."""
    times = {a: [] for a in order}
    failure = {a: None for a in order}
    envs = {}
    for a in order:
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env.update(variant_env(a))
        if preloads[a]:
            env["LD_PRELOAD"] = preloads[a]
        envs[a] = env
    with tempfile.TemporaryDirectory() as tmp:
        errs = {a: open(os.path.join(tmp, f"{a}.err"), "w+b") for a in order}
        try:
            for _ in range(count):
                for a in order:
                    if failure[a]:
                        continue
                    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                               (os.POSIX_SPAWN_DUP2, errs[a].fileno(), 2)]
                    t0 = time.perf_counter()
                    try:
                        pid = os.posix_spawn(true_path, [true_path], envs[a],
                                             file_actions=actions)
                    except OSError as e:
                        failure[a] = f"cannot start: {e.strerror}"
                        continue
                    status, _, timed_out = wait_child(pid, timeout)
                    times[a].append(time.perf_counter() - t0)
                    code = os.waitstatus_to_exitcode(status)
                    if timed_out:
                        failure[a] = f"timeout {timeout:g}s"
                    elif code < 0:
                        failure[a] = f"signal {-code}"
                    elif code != 0:
                        failure[a] = f"exit {code}"
            runs = []
            for a in order:
                errs[a].seek(0)
                stderr = errs[a].read().decode(errors="replace")
                if failure[a] is None and "cannot be preloaded" in stderr:
                    failure[a] = "preload failed"
                result = {}
                if failure[a] is None:
                    result = {"seconds": f"{statistics.median(times[a]):.9f}",
                              "mean_seconds": f"{statistics.fmean(times[a]):.9f}",
                              "runs": str(count)}
                runs.append(Run("startup", 1, a, rep, failure[a] is None, failure[a] or "ok",
                                sum(times[a]), 0, result, stderr[-2000:]))
            return runs
        finally:
            for f in errs.values():
                f.close()


def median_of(runs, key):
    values = [key(r) for r in runs]
    return statistics.median(values) if values else None


def fmt(value, width, decimals=2):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


@dataclass
class Cell:
    """Figures of one (workload, threads, allocator) over its repetitions."""
    runs: list

    @property
    def failure(self):
        bad = [r for r in self.runs if not r.ok]
        return f"FAILED ({bad[0].status}) {len(bad)}/{len(self.runs)}" if bad else None

    def median(self, key):
        if self.failure or not self.runs:
            return None
        return median_of(self.runs, key)

    def extra(self, key, divisor):
        if self.failure or not self.runs:
            return None
        try:
            return median_of(self.runs, lambda r: float(r.result[key])) / divisor
        except (KeyError, ValueError):
            return None


def ratio(peer, ref):
    return peer / ref if peer is not None and ref else None


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def print_tables(runs, cases, allocators, ref, reps):
    """Prints one table per workload and the geometric-mean summary."""
    cells = {}
    for r in runs:
        cells.setdefault((r.workload, r.threads, r.allocator), Cell([])).runs.append(r)
    ratios = {a: ([], []) for a in allocators}  # allocator -> (time ratios, RSS ratios)
    print(f"\nratios: allocator / {ref} (the baseline), for time and peak RSS; "
          f"below 1 = faster or smaller than {ref}, above 1 = slower or larger")
    for name in dict.fromkeys(w for w, _ in cases):
        wl = WORKLOADS[name]
        print(f"\n== {name}: {wl.about} ==")
        if wl.startup:  # time per run in ms; no RSS of its own
            head = f"{'threads':>7}  {'allocator':<10} {'ms/run':>9} {'peak RSS MiB':>13}"
            head += f"  {'+ms vs plain':>14}"
        else:
            head = f"{'threads':>7}  {'allocator':<10} {'time s':>9} {'peak RSS MiB':>13}"
            head += "".join(f"  {h:>14}" for _, h, _ in wl.extras)
        head += f" {'time ratio':>11} {'RSS ratio':>10}"
        print(head)
        for threads in [t for w, t in cases if w == name]:
            ref_cell = cells.get((name, threads, ref))
            ref_time = ref_cell.median(lambda r: r.seconds) if ref_cell else None
            ref_rss = None
            if ref_cell and not wl.startup:
                ref_rss = ref_cell.median(lambda r: r.peak_kb)
            plain = cells.get((name, threads, "glibc"))
            plain_time = plain.median(lambda r: r.seconds) if plain else None
            for a in allocators:
                cell = cells.get((name, threads, a))
                if cell is None:
                    continue
                row = f"{threads:>7}  {a:<10}"
                if cell.failure:
                    print(f"{row} {cell.failure}")
                    continue
                t = cell.median(lambda r: r.seconds)
                tr = ratio(t, ref_time)
                if wl.startup:
                    over = (t - plain_time) * 1000 if plain_time is not None else None
                    row += f" {t * 1000:>9.3f} {'-':>13}  {fmt(over, 14, 3)}"
                    rr = None
                else:
                    rss = cell.median(lambda r: r.peak_kb)
                    rr = ratio(rss, ref_rss)
                    row += f" {t:>9.3f} {rss / 1024:>13.1f}"
                    row += "".join(f"  {fmt(cell.extra(k, d), 14)}" for k, _, d in wl.extras)
                row += f" {fmt(tr, 11)} {fmt(rr, 10)}"
                print(row)
                if tr is not None:
                    ratios[a][0].append(tr)
                if rr is not None:
                    ratios[a][1].append(rr)
    print(f"\nmedian of {reps} interleaved run(s) per cell; ratios are allocator / {ref} "
          f"(below 1: better than {ref})")
    print(f"\n== summary: geometric mean of the ratios to {ref} over all cases ==")
    print(f"{'allocator':<10} {'time ratio':>11} {'cases':>6} {'RSS ratio':>10} {'cases':>6}")
    for a in allocators:
        times, rsss = ratios[a]
        print(f"{a:<10} {fmt(geomean(times), 11)} {len(times):>6} "
              f"{fmt(geomean(rsss), 10)} {len(rsss):>6}")
    if any(WORKLOADS[w].startup for w, _ in cases):
        print("(the start-up case has no RSS figure of its own: it counts in time only)")


def check_digests(runs):
    """Deterministic workloads must compute the same digest under every allocator; returns
    the messages for those that did not."""
    seen = {}
    for r in runs:
        if r.ok and r.workload in DETERMINISTIC and "digest" in r.result:
            seen.setdefault((r.workload, r.threads), {}).setdefault(r.result["digest"], []).append(
                r.allocator)
    return [f"{w} threads={t}: results differ between allocators: "
            + "; ".join(f"{d} from {','.join(sorted(set(a)))}" for d, a in digests.items())
            for (w, t), digests in seen.items() if len(digests) > 1]


def write_csv(path, runs):
    fixed = ["workload", "threads", "allocator", "rep", "status", "seconds", "wall_s",
             "maxrss_kb"]
    keys = sorted({k for r in runs for k in r.result} - set(fixed) - {"name"})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fixed + keys)
        for r in runs:
            w.writerow([r.workload, r.threads, r.allocator, r.rep, r.status,
                        r.result.get("seconds", ""), f"{r.wall_s:.6f}", r.maxrss_kb]
                       + [r.result.get(k, "") for k in keys])


def comma_list(text, allowed, what):
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(bad) or '(empty)'}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def thread_list(text):
    try:
        items = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        items = []
    if not items or min(items) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, e.g. 1,2,4,8")
    return list(dict.fromkeys(items))


def lib_override(text):
    name, sep, path = text.partition("=")
    if not sep or name not in ALLOCATORS or name == "glibc":
        raise argparse.ArgumentTypeError("expected NAME=PATH with NAME one of "
                                         + ", ".join(a for a in ALLOCATORS if a != "glibc"))
    return name, path


def parse_args(argv):
    workloads = "\n".join(f"  {n:<13} {'(threads) ' if w.threaded else ''}{w.about}"
                          for n, w in WORKLOADS.items())
    p = argparse.ArgumentParser(
        prog="run_bench.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare malloc-im with glibc, jemalloc, mimalloc and tcmalloc on the "
                    "benchmark workloads (see docs/BENCHMARKS.md).",
        epilog=f"workloads ((threads): run once per --threads entry):\n{workloads}\n\n"
               f"allocators: {', '.join(ALLOCATORS)} (missing libraries are skipped).\n"
               "Ratios are allocator / baseline (--baseline): below 1 is better than the "
               "baseline.\nExit status: 0, or 1 when any run failed or a deterministic "
               "workload's results differed.")
    ncpu = len(os.sched_getaffinity(0))
    p.add_argument("--build-dir", required=True, help="build tree with libmallocim.so and bench/")
    p.add_argument("--quick", action="store_true",
                   help="small parameters and 1 repetition (35-80 s on 2 cores)")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions per case (default 3, --quick: 1)")
    p.add_argument("--threads", type=thread_list, default=sorted({1, ncpu}), metavar="LIST",
                   help=f"thread counts for the multi-threaded workloads (default 1,{ncpu})")
    p.add_argument("--only", type=lambda s: comma_list(s, list(WORKLOADS), "workload"),
                   default=list(WORKLOADS), metavar="NAME[,NAME]", help="workloads to run")
    p.add_argument("--allocators", type=lambda s: comma_list(s, ALLOCATORS + VARIANTS, "allocator"),
                   default=ALLOCATORS, metavar="LIST", help="allocators to compare "
                   f"(default {','.join(ALLOCATORS)})")
    p.add_argument("--baseline", choices=ALLOCATORS, metavar="NAME",
                   help="allocator the ratios are relative to: allocator / NAME, so below 1 is "
                        "faster (smaller) than NAME (default mimalloc; when it is not run: "
                        "mallocim, else the first allocator)")
    p.add_argument("--lib", type=lib_override, action="append", default=[], metavar="NAME=PATH",
                   help="use this library for an allocator instead of the one found")
    p.add_argument("--csv", metavar="FILE", help="write every run's raw figures to FILE")
    p.add_argument("--timeout", type=float, default=600, metavar="S",
                   help="seconds per run before it is killed (default 600)")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.reps < 1:
        p.error("--reps must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    build_dir = os.path.abspath(args.build_dir)
    binaries = {n: os.path.join(build_dir, "bench", f"bench_{WORKLOADS[n].binary or n}")
                for n in args.only if not WORKLOADS[n].startup}
    missing = sorted({b for b in binaries.values() if not os.access(b, os.X_OK)})
    if missing:
        print(f"run_bench.py: missing workload binaries: {', '.join(missing)}\n"
              f"  build them: cmake --build {args.build_dir} --target bench_workloads",
              file=sys.stderr)
        return 2
    true_path = shutil.which("true") or "/bin/true"
    allocs, skipped = resolve_allocators(args.allocators, build_dir, dict(args.lib))
    for msg in skipped:
        print(f"note: {msg}")
    if not allocs:
        print("run_bench.py: no allocator left to run", file=sys.stderr)
        return 2
    order = list(allocs)
    if args.baseline is not None and args.baseline not in allocs:
        print(f"run_bench.py: baseline {args.baseline} is not among the allocators run "
              f"({', '.join(order)})", file=sys.stderr)
        return 2
    ref = args.baseline or next((a for a in ("mimalloc", "mallocim") if a in allocs), order[0])
    for name, path in allocs.items():
        print(f"allocator {name:<9} {path or '(system malloc, no preload)'}")
    if args.baseline is None and ref != "mimalloc":
        print(f"note: mimalloc is not run; ratios are against {ref}")
    print(f"baseline  {ref}: ratios are allocator / {ref}; below 1 = faster (smaller) than {ref}")

    cases = [(n, t) for n in args.only for t in (args.threads if WORKLOADS[n].threaded else [1])]
    total = len(cases) * len(order) * args.reps
    print(f"{len(cases)} cases x {len(order)} allocators x {args.reps} rep(s) = {total} runs, "
          f"{'quick' if args.quick else 'full'} parameters", flush=True)

    runs = []
    t_start = time.monotonic()
    try:
        for rep in range(args.reps):
            for ci, (name, threads) in enumerate(cases):
                wl = WORKLOADS[name]
                params = wl.quick if args.quick else wl.full
                shift = (rep + ci) % len(order)
                rotated = order[shift:] + order[:shift]
                if wl.startup:  # all allocators at once, interleaved run by run
                    batch = measure_startup(rotated, rep, int(params[0]), true_path, allocs,
                                            args.timeout)
                else:
                    batch = None
                for i, a in enumerate(rotated):
                    if batch is not None:
                        run = batch[i]
                    else:
                        cmd = [binaries[name]] + params
                        if wl.threaded:
                            cmd += ["--threads", str(threads)]
                        run = measure(name, threads, a, rep, cmd, allocs[a], args.timeout)
                    runs.append(run)
                    if not run.ok:
                        shown = f"FAILED ({run.status})"
                    elif wl.startup:
                        shown = f"{run.seconds * 1000:.3f} ms per run (median)"
                    else:
                        shown = f"{run.seconds:.3f} s"
                    print(f"[{len(runs)}/{total}] {name} threads={threads} {a}: {shown}",
                          file=sys.stderr, flush=True)
                    if not run.ok and run.stderr_tail.strip():
                        print("  " + run.stderr_tail.strip().replace("\n", "\n  "),
                              file=sys.stderr)
    except KeyboardInterrupt:
        print("\ninterrupted; figures so far:", file=sys.stderr)

    print_tables(runs, cases, order, ref, args.reps)
    mismatches = check_digests(runs)
    for msg in mismatches:
        print(f"\nWRONG RESULTS: {msg}")
    print(f"\nwall time of the runs: {time.monotonic() - t_start:.1f} s")
    if args.csv:
        write_csv(args.csv, runs)
        print(f"\nraw figures: {args.csv}")
    return 1 if mismatches or any(not r.ok for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
