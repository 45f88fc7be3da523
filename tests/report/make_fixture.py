#!/usr/bin/env python3
"""Synthetic malloc-im profiles (docs/profile-format.md) with known patterns, for the report tests.

    make_fixture.py KIND OUT [--module ELF] [--truncate FRACTION]

KIND is one of:
  frag     a 48-byte class whose pages stay resident after parse_line frees 15/16 of its blocks
           (about 45 MiB free in that class: the biggest finding), plus a small leak
  leak     the same, but leaky_cache_insert never frees 120 MiB allocated steadily over the run
           (the biggest finding)
  empty    snapshots of a program that allocates nothing the sampler sees
  nothing  header, meta and end only

Five sites in every non-empty kind: long_lived_table (8 MiB allocated in the first 100 ms, freed
at the end), load_config (12 MiB allocated in the first 100 ms and never freed, more than the
small leak of the frag kind: long-lived, not a leak), parse_line (48-byte class),
short_lived_tmp via strdup (freed within 1-3 ms) and leaky_cache_insert (never freed).
With --module (fixture_module.c built with -g) the program frames point into that binary, so the
report's addr2line step sees real debug info, an inlined frame included; without it they name a
missing module and carry dynamic symbols.
The libc, C++ and unnamed frames always name missing modules (the fallback paths).

Sampling is deterministic: each site's expected number of samples per tick accumulates and a
sample is emitted per whole unit, each with the weight of the format's Poisson estimator, so the
estimates match the allocated bytes closely and the snapshots' live bytes (computed from the same
samples) match the estimate exactly.
"""

import argparse
import math
import os
import subprocess
import sys

RATE = 65536
TICK = 10          # ms between simulated allocation batches
DURATION = 10000   # ms
INTERVAL = 100     # ms between snapshots
PAGE = 4096
MiB = 1 << 20
CLASSES = [16, 32, 48, 64, 96, 128, 256, 512, 1024, 2048]
NON_ALLOCATOR = 6 * MiB
APP_BASE = 0x555555554000
LIBC = "/nonexistent/lib/libc.so.6"
LIBCACHE = "/nonexistent/lib/libcache.so"
LIBGONE = "/nonexistent/lib/libgone.so"
APP_MISSING = "/nonexistent/bin/fixture_app"
BASES = {LIBC: 0x7f1000000000, LIBCACHE: 0x7f2000000000, LIBGONE: 0x7f3000000000,
         APP_MISSING: APP_BASE}

APP_FUNCS = ["long_lived_table", "parse_line", "short_lived_tmp", "leaky_cache_insert",
             "load_config", "process_file", "main"]


def module_addresses(module):
    """VADDR per program function: an address inside it (ADDR, the return address, is VADDR + 1,
    as the producer writes them). For long_lived_table, one that lies in the inlined table_slot,
    when the compiler made one. Returns ({func: vaddr}, inlined) or None when nm fails."""
    try:
        out = subprocess.run(["nm", "-S", "--defined-only", module], capture_output=True,
                             text=True, check=True, env={"PATH": os.environ.get("PATH", ""),
                                                         "LC_ALL": "C"}).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tT" and f[3] in APP_FUNCS:
            syms[f[3]] = (int(f[0], 16), int(f[1], 16))
    if set(syms) != set(APP_FUNCS):
        return None
    vaddrs = {}
    for name, (start, size) in syms.items():
        vaddrs[name] = start + min(5, size - 1)
    inlined = False
    start, size = syms["long_lived_table"]
    try:
        q = "".join("0x%x\n" % a for a in range(start, start + size))
        r = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", module], input=q,
                           capture_output=True, text=True, check=True,
                           env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"}).stdout
        groups, cur = [], None
        for line in r.splitlines():
            if line.startswith("0x") and len(line) == 18:
                cur = [int(line, 16)]
                groups.append(cur)
            elif cur is not None:
                cur.append(line)
        def is_inlined(g):
            funcs = g[1::2]
            return len(funcs) >= 2 and funcs[0] == "table_slot" and funcs[-1] == "long_lived_table"
        # the first address of an inlined range, so that VADDR-1 would resolve without the
        # inlined frame: the test then notices a lookup at the wrong address
        for prv, g in zip(groups, groups[1:]):
            if is_inlined(g) and not is_inlined(prv):
                vaddrs["long_lived_table"] = g[0]
                inlined = True
                break
    except (OSError, subprocess.CalledProcessError):
        pass
    return vaddrs, inlined


class Site:
    def __init__(self, name, stack, block, size, thread):
        self.name = name
        self.stack = stack  # [(module, vaddr, symbol or '-')], innermost first
        self.block = block
        self.size = size
        self.thread = thread
        self.p = 1.0 - math.exp(-block / RATE)
        self.weight = block / self.p
        self.acc = 0.0

    def samples_for(self, nbytes):
        """How many samples nbytes of this site's allocations yield (deterministic)."""
        self.acc += nbytes / self.block * self.p
        n = int(self.acc)
        self.acc -= n
        return n


def generate(path, kind="frag", module=None, truncate=None):
    """Writes the profile; returns what the tests expect to find in the report."""
    info = {"kind": kind, "inlined": False, "module": None}
    app = APP_MISSING
    vaddr = {n: 0x1000 + 0x40 * i + 5 for i, n in enumerate(APP_FUNCS)}
    if module:
        got = module_addresses(module)
        if got:
            vaddr, info["inlined"] = got
            app = os.path.abspath(module)
            info["module"] = app
            BASES[app] = APP_BASE

    def F(name):
        return (app, vaddr[name], name)
    start = [(LIBC, 0x29d90, "__libc_start_main")]
    sites = {
        "long": Site("long_lived_table", [F("long_lived_table"), F("main")] + start, 1024, 1000, 1),
        "parse": Site("parse_line", [F("parse_line"), F("process_file"), F("main")] + start,
                      48, 40, 1),
        "short": Site("short_lived_tmp", [(LIBC, 0x9a3b2, "strdup"), F("short_lived_tmp"),
                                          F("process_file"), F("main")] + start, 256, 200, 2),
        "config": Site("load_config", [F("load_config"), F("main")] + start, 512, 500, 1),
        "leak": Site("leaky_cache_insert", [F("leaky_cache_insert"),
                                            (LIBCACHE, 0x4512, "_ZN5cache6insertEPKcm"),
                                            (LIBGONE, 0x1234, "-"), F("main")] + start,
                     2048, 2000, 1),
    }
    leak_total = 120 * MiB if kind == "leak" else 8 * MiB

    lines = ["mallocim-profile 1", "meta pid 4242", "meta program /usr/bin/fixture app",
             "meta rate %d" % RATE, "meta version 0.1.0", "meta page_size %d" % PAGE,
             "meta interval_ms %d" % INTERVAL, "meta start_unix_ms 1700000000000"]
    lines += ["class %d %d" % (i, b) for i, b in enumerate(CLASSES)]
    if kind == "nothing":
        lines.append("end 0")
        return _write(path, lines, truncate, info)

    samples = []   # [t_alloc, t_free or None, site]
    if kind != "empty":
        n_parse = 0
        for t in range(0, DURATION, TICK):
            if t < 100:
                for _ in range(sites["long"].samples_for(8 * MiB / 10)):
                    samples.append([t, DURATION - 10, sites["long"]])
                # kept until exit and never freed, but allocated once: not a leak
                for _ in range(sites["config"].samples_for(12 * MiB / 10)):
                    samples.append([t, None, sites["config"]])
            if 1000 <= t < 3000:
                for _ in range(sites["parse"].samples_for(48 * MiB / 200)):
                    # 15 of 16 freed between 3 s and 4 s; the rest held until the end
                    tf = 3000 + (n_parse * 397) % 1000 if n_parse % 16 else DURATION - 5
                    samples.append([t, tf, sites["parse"]])
                    n_parse += 1
            for k in range(sites["short"].samples_for(256 * 1024)):
                samples.append([t, t + 1 + (k % 3), sites["short"]])
            for _ in range(sites["leak"].samples_for(leak_total / (DURATION / TICK))):
                samples.append([t, None, sites["leak"]])

    # events in time order: frees before allocs at the same ms, snapshots last
    events = []
    for i, s in enumerate(samples):
        events.append((s[0], 1, i, "a"))
        if s[1] is not None:
            events.append((s[1], 0, i, "f"))
    for t in range(0, DURATION + 1, INTERVAL):
        events.append((t, 2, t, "s"))
    events.sort()

    stack_ids = {}
    free_ids = []
    next_id = 1
    ids = {}
    live_by_class = {}
    resident = {}
    for t, _, i, what in events:
        if what == "a":
            t0, tf, site = samples[i]
            key = site.name
            if key not in stack_ids:
                stack_ids[key] = len(stack_ids) + 1
                lines.append("stack %d %s" % (stack_ids[key], " ".join(
                    "0x%x" % (BASES[m] + v + 1) for m, v, _ in site.stack)))
            # sample ids are reused after a free, as a producer may do
            if free_ids:
                sid = free_ids.pop()
            else:
                sid = next_id
                next_id += 1
            ids[i] = sid
            c = CLASSES.index(site.block)
            live_by_class[c] = live_by_class.get(c, 0.0) + site.weight
            lines.append("alloc %d %d %d %d %d %.1f %d" % (t, sid, stack_ids[key], site.size,
                                                          site.block, site.weight, site.thread))
        elif what == "f":
            site = samples[i][2]
            c = CLASSES.index(site.block)
            live_by_class[c] -= site.weight
            lines.append("free %d %d" % (t, ids[i]))
            free_ids.append(ids[i])
        else:
            cls_lines = []
            total_live = total_free = 0
            for c in sorted(set(live_by_class) | set(resident)):
                lv = int(round(max(live_by_class.get(c, 0.0), 0.0)))
                need = -(-lv // (64 * 1024)) * 64 * 1024
                if CLASSES[c] == 48:
                    # the fragmenting class: pages stay once touched
                    res = max(resident.get(c, 0), need)
                else:
                    res = need + (64 * 1024 if lv else 0)
                resident[c] = res
                if res:
                    cls_lines.append("cls %d %d %d %d" % (t, c, lv, res))
                total_live += lv
                total_free += res - lv
            meta = 512 * 1024 + (total_live + total_free) // 100
            rss = total_live + total_free + meta + NON_ALLOCATOR
            lines.append("snap %d %d %d %d %d %d" % (t, rss, total_live, total_free, meta,
                                                     2 * MiB))
            lines.extend(cls_lines)
    # frames at exit, then the end line
    seen = set()
    for site in sites.values():
        for m, v, sym in site.stack:
            if (m, v) not in seen:
                seen.add((m, v))
                # ADDR is a return address; VADDR points into the call before it
                lines.append("frame 0x%x 0x%x %s %s" % (BASES[m] + v + 1, v, sym, m))
    lines.append("end %d" % DURATION)

    info.update({
        "leak_site": "leaky_cache_insert", "frag_site": "parse_line", "frag_block": 48,
        "long_site": "long_lived_table", "config_site": "load_config", "short_site": "short_lived_tmp",
        "leak_bytes": sum(s[2].weight for s in samples if s[1] is None and
                          s[2] is sites["leak"]),
        "samples": len(samples),
    })
    return _write(path, lines, truncate, info)


def _write(path, lines, truncate, info):
    text = "\n".join(lines) + "\n"
    if truncate:
        # a crash: the file stops mid-line, before the frame and end lines
        text = text[:int(len(text) * truncate)]
        if text.endswith("\n"):
            text = text[:-1]
        info["truncated"] = True
    with open(path, "w") as f:
        f.write(text)
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind", choices=["frag", "leak", "empty", "nothing"])
    ap.add_argument("out")
    ap.add_argument("--module")
    ap.add_argument("--truncate", type=float)
    a = ap.parse_args()
    info = generate(a.out, a.kind, a.module, a.truncate)
    print(info)


if __name__ == "__main__":
    sys.exit(main())
