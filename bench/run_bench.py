#!/usr/bin/env python3
"""Runs the malloc-im benchmark workloads under several allocators and compares them.

Each workload binary (BUILD_DIR/bench/bench_NAME) runs once per allocator, repetition and,
for the multi-threaded workloads, thread count. The allocator is chosen with LD_PRELOAD
(glibc: no preload). The start-up case runs /bin/true many times instead. Runs are
interleaved: every repetition goes through all cases, in a new (seeded) order, so slow
drifts of a shared machine spread over all allocators. The tables show medians and ratios
against a baseline allocator (--baseline, mimalloc by default): allocator / baseline, so below 1
is faster (or smaller) than the baseline; see docs/BENCHMARKS.md.
"""

import argparse
import csv
import math
import os
import random
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
# the sampled profile costs side by side with the plain library; malloc-im with the fixed size
# classes only, to measure what adaptive classes buy.
VARIANTS = ["mallocim-profile", "mallocim-fixed"]
PROFILE_DIR = tempfile.mkdtemp(prefix="mallocim-bench-profile-")
atexit.register(shutil.rmtree, PROFILE_DIR, True)


def variant_env(allocator):
    """Environment a variant adds to the allocator's run."""
    if allocator == "mallocim-profile":
        return {"MALLOCIM_PROFILE": os.path.join(PROFILE_DIR, "p")}
    if allocator == "mallocim-fixed":
        return {"MALLOCIM_ADAPTIVE_CLASSES": "0"}
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
    # Fragmentation suite (--suite NAME): members run only when their suite is asked for (or
    # by name with --only), take --trace FILE, and are compared with the best peer.
    suite: str = ""
    script: str = ""  # a Python program in bench/ (run by PYTHON) instead of bench_BINARY
    env: dict = field(default_factory=dict)  # added to the run's environment
    # The allocator goes to the program as "--preload PATH" (glibc: libc.so.6) instead of
    # LD_PRELOAD: a driver that starts the measured program itself (redis).
    preload_arg: bool = False
    requires: str = ""  # a program that must exist, else the workload is skipped


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
# The fragmentation suite (--suite frag): long-running programs in compressed time. Each run
# writes a trace (RSS and live bytes over time); the tables compare peak RSS with the best
# (lowest) of the peers. frag above is a member too.
SUITE_WORKLOADS = {
    "cache": Workload("key/value cache, skewed value sizes, LRU eviction, sizes shift halfway",
                      False, ["--capacity-mb", "96", "--turnover", "24"],
                      ["--capacity-mb", "32", "--turnover", "16"],
                      [("rss_full_kb", "full MiB", 1024)], suite="frag"),
    "phases": Workload("batch job: phases of different size profiles, 8% survive each drop",
                       False, ["--live-mb", "128", "--phases", "12"],
                       ["--live-mb", "32", "--phases", "6"],
                       [("rss_after_drop_kb", "after drop MiB", 1024)], suite="frag"),
    "server": Workload("producer/consumer requests and responses, cross-thread frees, load peak",
                       False, ["--ops", "600000", "--hold", "500"],
                       ["--ops", "150000", "--hold", "250"], suite="frag"),
    "burst": Workload("steady live set, 8x burst, free, quiet period without allocator calls",
                      False, ["--base-mb", "16", "--quiet-ms", "3000"],
                      ["--base-mb", "8", "--quiet-ms", "1200"],
                      [("rss_after_free_kb", "after free MiB", 1024),
                       ("rss_after_quiet_kb", "after quiet MiB", 1024),
                       ("rss_after_resume_kb", "resumed MiB", 1024)], suite="frag"),
    "sparse": Workload("mass free leaving 1 in 20 small blocks, refill with new sizes",
                       False, ["--live-mb", "128"], ["--live-mb", "32"],
                       [("rss_after_free_kb", "after free MiB", 1024),
                        ("rss_refill_kb", "refilled MiB", 1024)], suite="frag"),
    "types": Workload("a program's own types: a dozen fixed sizes over 256 B, skewed, set changes",
                      False, ["--live-mb", "128"], ["--live-mb", "32"],
                      [("rss_full_kb", "full MiB", 1024)], suite="frag"),
    "redis": Workload("redis-server: fill keys of 16-512 B, delete half, refill with 64-1024 B",
                      False, ["--keys", "1000000"], ["--keys", "100000"],
                      [("used_refill_kb", "used_memory MiB", 1024),
                       ("rss_fill_kb", "RSS fill MiB", 1024),
                       ("rss_delete_kb", "RSS del MiB", 1024),
                       ("rss_refill_kb", "RSS refill MiB", 1024)],
                      suite="frag", script="frag_redis.py", preload_arg=True,
                      requires="/usr/bin/redis-server"),
    "python": Workload("python3 (pymalloc on): phases of dicts, strings, bytes, records",
                       False, ["--live-mb", "64", "--phases", "12"],
                       ["--live-mb", "32", "--phases", "6"],
                       [("rss_after_drop_kb", "after drop MiB", 1024)],
                       suite="frag", script="frag_python.py"),
    "python-malloc": Workload("the python workload with PYTHONMALLOC=malloc (every object "
                              "from malloc)", False, ["--live-mb", "64", "--phases", "12"],
                              ["--live-mb", "32", "--phases", "6"],
                              [("rss_after_drop_kb", "after drop MiB", 1024)],
                              suite="frag", script="frag_python.py",
                              env={"PYTHONMALLOC": "malloc"}),
}
WORKLOADS.update(SUITE_WORKLOADS)
SUITES = {"frag": ["frag", "cache", "phases", "server", "burst", "sparse", "types", "redis", "python",
                   "python-malloc"]}
PEERS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]
# Interpreter of the Python workloads: the system's (a pyenv shim is a shell script, which
# would run under the preload too), else the one running this script.
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
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
        elif name.startswith("mallocim"):
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


def measure(workload, threads, allocator, rep, cmd, preload, timeout, extra_env=None,
            use_preload=True):
    """One run of cmd with preload (None: glibc) in LD_PRELOAD (unless use_preload is False:
    the command was given the allocator itself) and extra_env added."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(variant_env(allocator))
    env.update(extra_env or {})
    if preload and use_preload:
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
    """Spawns true_path count times under each allocator (preloads[a], None: plain), interleaved
    run by run so that a busy moment of the machine hits every allocator alike, in a new random
    order each round: a run is slower after a heavy one (tcmalloc's start-up takes 5x glibc's),
    and a fixed cyclic order put the same allocator after it every time. Each run is timed from
    posix_spawn to the exit status, as a shell running a command sees it; a Run per allocator
    (in `order`) holds the median (seconds) and the mean of its runs."""
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
            rng = random.Random(rep)
            for _ in range(count):
                for a in rng.sample(order, len(order)):
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

    def spread_pct(self, key):
        """(max - min) / median of key over the repetitions, in percent; None with one run."""
        if self.failure or len(self.runs) < 2:
            return None
        vals = [key(r) for r in self.runs]
        med = median_of(self.runs, key)
        return 100.0 * (max(vals) - min(vals)) / med if med else None

    def waste_pct(self):
        """Internal waste at the asked-bytes peak, % of the asked bytes (runs made with --waste)."""
        if self.failure or not self.runs:
            return None
        try:
            return median_of(self.runs, lambda r: 100.0 * float(r.result["waste_at_peak_bytes"])
                             / max(1.0, float(r.result["asked_peak_bytes"])))
        except (KeyError, ValueError):
            return None

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
            head = f"{'threads':>7}  {'allocator':<10} {'time s':>9} {'spread %':>8} {'peak RSS MiB':>13}"
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
                    row += f" {t:>9.3f} {fmt(cell.spread_pct(lambda r: r.seconds), 8, 1)}"
                    row += f" {rss / 1024:>13.1f}"
                    row += "".join(f"  {fmt(cell.extra(k, d), 14)}" for k, _, d in wl.extras)
                row += f" {fmt(tr, 11)} {fmt(rr, 10)}"
                print(row)
                if tr is not None:
                    ratios[a][0].append(tr)
                if rr is not None:
                    ratios[a][1].append(rr)
    print(f"\nmedian of {reps} interleaved run(s) per cell; ratios are allocator / {ref} "
          f"(below 1: better than {ref}); spread: (slowest - fastest) / median time of the runs")
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


# ---- the fragmentation suite: ratios to the best peer, traces, plots ------------------------

def trace_path(out_dir, name, allocator, rep):
    return os.path.join(out_dir, "traces", f"{name}.{allocator}.rep{rep}.csv")


def best_peer(cells, name, allocators, key):
    """(peer, median) of the peer with the lowest median of key for workload name, or None."""
    best = None
    for a in allocators:
        cell = cells.get((name, 1, a))
        if a not in PEERS or cell is None:
            continue
        v = cell.median(key)
        if v is not None and (best is None or v < best[1]):
            best = (a, v)
    return best


def print_suite(runs, cases, allocators, reps, quick, waste=False):
    """One table per workload (peak RSS and time against the best peer) and the summary; with
    waste, the internal waste of each allocator at the asked-bytes peak too."""
    cells = {}
    for r in runs:
        cells.setdefault((r.workload, r.threads, r.allocator), Cell([])).runs.append(r)
    names = list(dict.fromkeys(w for w, _ in cases))
    rss_key = lambda r: r.peak_kb
    time_key = lambda r: r.seconds
    matrix = {}  # (workload, allocator) -> RSS ratio to the best peer
    time_ratios = {a: [] for a in allocators}
    waste_of = {a: [] for a in allocators}
    best_of = {}
    floor_of = {}  # workload -> the best peer's live peak / its peak RSS
    print("\npeak RSS: the workload's VmHWM (redis: the server's); ratio = allocator / the best "
          "(lowest) peer of that workload,\nmarked *; spread: (highest - lowest) / median of the "
          "peak RSS over the repetitions; time: the workload's own seconds, ratio to the fastest "
          "peer.\nBelow 1 = better than every peer.")
    for name in names:
        wl = WORKLOADS[name]
        best = best_peer(cells, name, allocators, rss_key)
        fastest = best_peer(cells, name, allocators, time_key)
        best_of[name] = best
        print(f"\n== {name}: {wl.about} ==")
        head = (f"{'allocator':<11} {'peak RSS MiB':>12} {'/best peer':>10} {'spread %':>8} "
                f"{'live MiB':>9} {'peak/live':>9} {'time s':>8} {'/fastest':>8}")
        extras = [e for e in wl.extras if e[0] != "frag_ratio"]  # peak/live is a column
        head += "".join(f"  {h:>14}" for _, h, _ in extras)
        if waste:
            head += f"  {'waste %':>8}"
        print(head)
        for a in allocators:
            cell = cells.get((name, 1, a))
            if cell is None:
                continue
            mark = "*" if best and a == best[0] else " "
            row = f"{a:<10}{mark}"
            if cell.failure:
                print(f"{row} {cell.failure}")
                matrix[(name, a)] = "FAIL"
                continue
            rss = cell.median(rss_key)
            t = cell.median(time_key)
            live = cell.extra("live_peak_bytes", 1 << 20)
            rr = ratio(rss, best[1]) if best else None
            tr = ratio(t, fastest[1]) if fastest else None
            per_live = rss / 1024 / live if live else None
            row += (f" {rss / 1024:>12.1f} {fmt(rr, 10)} {fmt(cell.spread_pct(rss_key), 8, 1)} "
                    f"{fmt(live, 9, 1)} {fmt(per_live, 9)} {t:>8.3f} {fmt(tr, 8)}")
            row += "".join(f"  {fmt(cell.extra(k, d), 14, 1)}" for k, _, d in extras)
            if waste:
                w = cell.waste_pct()
                row += f"  {fmt(w, 8, 1)}"
                if w is not None:
                    waste_of[a].append(w)
            print(row)
            matrix[(name, a)] = rr
            if best and a == best[0] and per_live:
                floor_of[name] = 1 / per_live
            if tr is not None:
                time_ratios[a].append(tr)
        if best:
            print(f"best peer: {best[0]} ({best[1] / 1024:.1f} MiB)"
                  + (f"; fastest peer: {fastest[0]} ({fastest[1]:.3f} s)" if fastest else ""))
        else:
            print("best peer: none (no peer ran successfully): no ratios")
    print(f"\nmedian of {reps} interleaved run(s) per cell, {'quick' if quick else 'full'} "
          "parameters")
    print("\n== summary: peak RSS / best peer's, per workload and geometric mean ==")
    width = max(10, *(len(a) + 1 for a in allocators))
    print(f"{'workload':<14} {'best peer':<10}" + "".join(f"{a:>{width}}" for a in allocators)
          + f"{'floor':>{width}}")
    for name in names:
        best = best_of[name]
        row = f"{name:<14} {best[0] if best else '-':<10}"
        for a in allocators:
            v = matrix.get((name, a))
            row += f"{v:>{width}}" if isinstance(v, str) else fmt(v, width)
        print(row + fmt(floor_of.get(name), width))
    gm = {a: [v for (n, b), v in matrix.items() if b == a and isinstance(v, float)]
          for a in allocators}
    floors = [floor_of[n] for n in names if n in floor_of]
    print(f"{'geomean RSS':<25}" + "".join(fmt(geomean(gm[a]), width) for a in allocators)
          + fmt(geomean(floors) if len(floors) == len(names) else None, width))
    print(f"{'workloads':<25}" + "".join(f"{len(gm[a]):>{width}}" for a in allocators))
    print(f"{'geomean time':<25}" + "".join(fmt(geomean(time_ratios[a]), width)
                                            for a in allocators))
    print("(RSS: allocator / the lowest peer; time: allocator / the fastest peer; geometric "
          "means over the workloads where both ran;\n floor: the best peer's live MiB / its peak "
          "RSS, the ratio of an allocator that kept no byte beyond the live ones)")
    if waste:
        print(f"{'mean waste %':<25}" + "".join(
            fmt(sum(waste_of[a]) / len(waste_of[a]) if waste_of[a] else None, width, 1)
            for a in allocators))
        print("(waste: bytes handed out beyond the bytes asked (malloc_usable_size), over the live "
              "blocks at the asked-bytes peak,\n % of the asked bytes, averaged over the workloads "
              "that measure it; --waste runs pay one malloc_usable_size per block in time)")


PLOT_COLORS = {"mallocim": "#d62728", "glibc": "#1f77b4", "jemalloc": "#2ca02c",
               "mimalloc": "#9467bd", "tcmalloc": "#ff7f0e", "mallocim-profile": "#8c564b",
               "mallocim-fixed": "#e377c2"}


def read_trace(path):
    """[(seconds, rss MiB, live MiB)] from a trace CSV, or [] when there is none."""
    points = []
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                points.append((float(row["ms"]) / 1000, int(row["rss_kb"]) / 1024,
                               int(row["live_bytes"]) / (1 << 20)))
    except (OSError, KeyError, ValueError):
        return []
    return points


def nice_ticks(top, count=5):
    """Round tick values from 0 to at least top."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def svg_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def svg_plot(title, subtitle, series):
    """A self-contained SVG: RSS (top) and live bytes (bottom) over time, one line per
    allocator. series: [(allocator, legend text, points)]."""
    w, left, right, top_pad = 960, 70, 20, 70
    ph, gap = 250, 60  # panel height, space between the panels (x labels)
    h = top_pad + 2 * ph + gap + 60 + 20 * (sum(7 * len(lg) + 52 for _, lg, _ in series) // 800)
    t_max = max((p[0] for _, _, pts in series for p in pts), default=1) or 1
    xt = nice_ticks(t_max)
    x_of = lambda t: left + (w - left - right) * t / xt[-1]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="16" font-weight="bold">{svg_escape(title)}</text>',
           f'<text x="{left}" y="42" fill="#555">{svg_escape(subtitle)}</text>']
    for panel, (idx, label) in enumerate([(1, "RSS (MiB)"), (2, "live bytes (MiB)")]):
        y0 = top_pad + panel * (ph + gap)
        v_max = max((p[idx] for _, _, pts in series for p in pts), default=1)
        yt = nice_ticks(v_max)
        y_of = lambda v, y0=y0, yt=yt: y0 + ph - ph * v / yt[-1]
        out.append(f'<text x="{left}" y="{y0 - 8}" font-weight="bold">{label}</text>')
        for v in yt:
            y = y_of(v)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" '
                       'stroke="#e4e4e4"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
        for t in xt:
            x = x_of(t)
            out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + ph}" '
                       'stroke="#f0f0f0"/>')
            out.append(f'<text x="{x:.1f}" y="{y0 + ph + 16}" text-anchor="middle">{t:g}</text>')
        out.append(f'<rect x="{left}" y="{y0}" width="{w - left - right}" height="{ph}" '
                   'fill="none" stroke="#888"/>')
        out.append(f'<text x="{(left + w - right) / 2}" y="{y0 + ph + 34}" '
                   'text-anchor="middle" fill="#555">seconds since start</text>')
        for a, _, pts in series:
            step = max(1, len(pts) // 3000)
            coords = " ".join(f"{x_of(p[0]):.1f},{y_of(p[idx]):.1f}" for p in pts[::step])
            out.append(f'<polyline fill="none" stroke="{PLOT_COLORS.get(a, "#000")}" '
                       f'stroke-width="1.6" points="{coords}"><title>{a}</title></polyline>')
    ly = top_pad + 2 * ph + gap + 48
    x = left
    for a, legend, _ in series:
        item = 28 + 7 * len(legend) + 24
        if x > left and x + item > w - right:  # next line
            x, ly = left, ly + 20
        out.append(f'<line x1="{x}" y1="{ly - 4}" x2="{x + 22}" y2="{ly - 4}" '
                   f'stroke="{PLOT_COLORS.get(a, "#000")}" stroke-width="3"/>')
        out.append(f'<text x="{x + 28}" y="{ly}">{svg_escape(legend)}</text>')
        x += item
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_plots(runs, cases, allocators, out_dir):
    """One SVG per workload from the traces: per allocator, the run whose peak RSS is the
    median of its repetitions."""
    names = list(dict.fromkeys(w for w, _ in cases))
    for name in names:
        series = []
        for a in allocators:
            ok = [r for r in runs if r.workload == name and r.allocator == a and r.ok]
            if not ok:
                continue
            med = statistics.median(r.peak_kb for r in ok)
            chosen = min(ok, key=lambda r: abs(r.peak_kb - med))
            pts = read_trace(trace_path(out_dir, name, a, chosen.rep))
            if pts:
                series.append((a, f"{a} (peak {chosen.peak_kb / 1024:.0f} MiB)", pts))
        if not series:
            continue
        live_note = {"redis": "live = redis used_memory",
                     "python": "live = sys.getsizeof of the objects held (approximate)",
                     "python-malloc": "live = sys.getsizeof of the objects held (approximate)"}
        subtitle = (f"{WORKLOADS[name].about}; "
                    f"{live_note.get(name, 'live = requested bytes')}")
        with open(os.path.join(out_dir, f"{name}.svg"), "w") as f:
            f.write(svg_plot(f"{name}: RSS and live bytes over time", subtitle, series))


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
    names = [a for a in ALLOCATORS + VARIANTS if a != "glibc"]
    if not sep or name not in names:
        raise argparse.ArgumentTypeError("expected NAME=PATH with NAME one of " + ", ".join(names))
    return name, path


def parse_args(argv):
    workloads = "\n".join(f"  {n:<13} {'(threads) ' if w.threaded else ''}{w.about}"
                          for n, w in WORKLOADS.items() if not w.suite)
    suites = "\n".join(f"  {n:<13} {w.about}" for n, w in WORKLOADS.items() if w.suite)
    p = argparse.ArgumentParser(
        prog="run_bench.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare malloc-im with glibc, jemalloc, mimalloc and tcmalloc on the "
                    "benchmark workloads (see docs/BENCHMARKS.md).",
        epilog=f"workloads ((threads): run once per --threads entry):\n{workloads}\n\n"
               f"fragmentation suite (--suite frag: frag and these; ratios to the best peer, "
               f"traces and plots in --out):\n{suites}\n\n"
               f"allocators: {', '.join(ALLOCATORS)} (missing libraries are skipped).\n"
               "Ratios are allocator / baseline (--baseline): below 1 is better than the "
               "baseline.\nExit status: 0, or 1 when any run failed or a deterministic "
               "workload's results differed.")
    ncpu = len(os.sched_getaffinity(0))
    p.add_argument("--build-dir", required=True, help="build tree with libmallocim.so and bench/")
    p.add_argument("--quick", action="store_true",
                   help="small parameters and 1 repetition (35-80 s on 2 cores; "
                        "--suite frag: about 30 s)")
    p.add_argument("--reps", type=int, metavar="N",
                   help="repetitions per case (default 3, --quick: 1)")
    p.add_argument("--threads", type=thread_list, default=sorted({1, ncpu}), metavar="LIST",
                   help=f"thread counts for the multi-threaded workloads (default 1,{ncpu})")
    p.add_argument("--only", type=lambda s: comma_list(s, list(WORKLOADS), "workload"),
                   metavar="NAME[,NAME]", help="workloads to run (default: all but the suite "
                   "members; with --suite: the suite's)")
    p.add_argument("--suite", choices=list(SUITES),
                   help="run a suite (frag: the fragmentation suite, peak RSS against the best "
                        "peer, with traces and plots) instead of the speed benchmarks")
    p.add_argument("--out", metavar="DIR",
                   help="with --suite: directory for the traces, plots and raw figures "
                        "(default BUILD_DIR/bench-SUITE)")
    p.add_argument("--allocators", type=lambda s: comma_list(s, ALLOCATORS + VARIANTS, "allocator"),
                   default=ALLOCATORS, metavar="LIST", help="allocators to compare "
                   f"(default {','.join(ALLOCATORS)})")
    p.add_argument("--baseline", choices=ALLOCATORS, metavar="NAME",
                   help="allocator the ratios are relative to: allocator / NAME, so below 1 is "
                        "faster (smaller) than NAME (default mimalloc; when it is not run: "
                        "mallocim, else the first allocator)")
    p.add_argument("--lib", type=lib_override, action="append", default=[], metavar="NAME=PATH",
                   help="use this library for an allocator instead of the one found")
    p.add_argument("--waste", action="store_true",
                   help="with --suite: also measure each allocator's internal waste (usable size "
                        "beyond the request) at the peak, in the workloads of our own")
    p.add_argument("--csv", metavar="FILE", help="write every run's raw figures to FILE")
    p.add_argument("--timeout", type=float, default=600, metavar="S",
                   help="seconds per run before it is killed (default 600)")
    args = p.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.reps < 1:
        p.error("--reps must be at least 1")
    if args.only is None:
        args.only = (list(SUITES[args.suite]) if args.suite else
                     [n for n, w in WORKLOADS.items() if not w.suite])
    if args.out and not args.suite:
        p.error("--out needs --suite")
    return args


def main(argv):
    args = parse_args(argv)
    build_dir = os.path.abspath(args.build_dir)
    here = os.path.dirname(os.path.abspath(__file__))
    for n in list(args.only):
        if WORKLOADS[n].requires and not os.access(WORKLOADS[n].requires, os.X_OK):
            print(f"note: {n}: skipped, {WORKLOADS[n].requires} not found "
                  "(Debian: apt-get install redis-server)")
            args.only.remove(n)
    binaries = {n: (os.path.join(here, WORKLOADS[n].script) if WORKLOADS[n].script else
                    os.path.join(build_dir, "bench", f"bench_{WORKLOADS[n].binary or n}"))
                for n in args.only if not WORKLOADS[n].startup}
    missing = sorted({b for n, b in binaries.items()
                      if not os.access(b, os.R_OK if WORKLOADS[n].script else os.X_OK)})
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
    if args.suite:
        peers = [a for a in order if a in PEERS]
        print(f"ratios    allocator / the best peer of this workload (lowest of "
              f"{', '.join(peers) or 'no peer run'}); below 1 = smaller (faster) than every peer")
    else:
        if args.baseline is None and ref != "mimalloc":
            print(f"note: mimalloc is not run; ratios are against {ref}")
        print(f"baseline  {ref}: ratios are allocator / {ref}; below 1 = faster (smaller) than "
              f"{ref}")

    cases = [(n, t) for n in args.only for t in (args.threads if WORKLOADS[n].threaded else [1])]
    out_dir = None
    if args.suite:
        out_dir = os.path.abspath(args.out or os.path.join(build_dir, f"bench-{args.suite}"))
        os.makedirs(os.path.join(out_dir, "traces"), exist_ok=True)
        print(f"output    {out_dir} (traces, one SVG plot per workload, runs.csv)")
    libc = find_library(["libc.so.6"])  # glibc for a driver that preloads (see frag_redis.py)
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
                # A new order for every case and repetition, seeded (reproducible): a rotation
                # would keep each allocator's predecessor the same every time.
                run_order = random.Random(rep * 1000 + ci).sample(order, len(order))
                if wl.startup:  # all allocators at once, interleaved run by run
                    batch = measure_startup(run_order, rep, int(params[0]), true_path, allocs,
                                            args.timeout)
                else:
                    batch = None
                for i, a in enumerate(run_order):
                    if batch is not None:
                        run = batch[i]
                    else:
                        cmd = ([PYTHON] if wl.script else []) + [binaries[name]] + params
                        if wl.threaded:
                            cmd += ["--threads", str(threads)]
                        if wl.preload_arg:  # glibc: libc.so.6 ahead of a linked-in malloc
                            cmd += ["--preload", allocs[a] or libc or ""]
                        if out_dir:
                            cmd += ["--trace", trace_path(out_dir, name, a, rep)]
                        env = dict(wl.env or {}, **({"BENCH_WASTE": "1"} if args.waste else {}))
                        run = measure(name, threads, a, rep, cmd, allocs[a], args.timeout,
                                      env, not wl.preload_arg)
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

    if args.suite:
        print_suite(runs, cases, order, args.reps, args.quick, args.waste)
        write_plots(runs, cases, order, out_dir)
        write_csv(os.path.join(out_dir, "runs.csv"), runs)
        print(f"\ntraces (ms,rss_kb,live_bytes per run): {os.path.join(out_dir, 'traces')}/"
              f"\nplots (RSS and live bytes over time, one SVG per workload): {out_dir}/*.svg"
              f"\nraw figures of every run: {os.path.join(out_dir, 'runs.csv')}")
    else:
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
