#!/usr/bin/env python3
"""mallocim_report.py: turn a malloc-im profile (docs/profile-format.md) into a report.

    mallocim_report.py PROFILE [-o report.html] [--collapsed FILE] [--pprof FILE] [--text]

Writes one self-contained HTML page (default PROFILE.html); optionally collapsed stacks for
flamegraph.pl / speedscope, a gzip-compressed pprof heap profile, and a plain-text summary.
Standard library only. How every figure is computed: docs/report.md.
"""

import argparse
import bisect
import gzip
import json
import math
import os
import re
import shutil
import subprocess
import sys

EXIT_USAGE = 2

# Modules whose frames are "plumbing" rather than the program's own code: a site label skips past
# them to the first frame of the program (strdup <- parse_line reads better than strdup alone).
SYSTEM_MODULE_RE = re.compile(
    r"(^|/)(libc[.-]|libstdc\+\+|libm[.-]|ld-linux|ld64|libpthread|libgcc_s|libdl[.-]|"
    r"libmallocim|libpython[0-9.]*\.so)")


# ------------------------------------------------------------------------------------------------
# units


def fmt_bytes(b):
    """Human units, powers of 1024, as the page prints them."""
    a = abs(b)
    if a < 1024:
        return "%d B" % round(b)
    v = float(b)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        v /= 1024.0
        if abs(v) < 1024 or unit == "TiB":
            return ("%.1f %s" % (v, unit)) if abs(v) < 10 else ("%d %s" % (round(v), unit))
    return "%d B" % b  # not reached


def fmt_ms(ms):
    if ms is None:
        return "-"
    if ms == math.inf:
        return "live at exit"
    if 0 <= ms < 1:
        return "<1 ms"  # times are whole milliseconds
    if ms < 1000:
        return "%d ms" % round(ms)
    s = ms / 1000.0
    if s < 60:
        return ("%.2f s" % s) if s < 10 else ("%.1f s" % s)
    m = int(s // 60)
    return "%d min %d s" % (m, round(s - 60 * m))


def fmt_count(n):
    if n < 1000:
        return "%d" % round(n)
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            v = n / div
            return ("%.1f%s" % (v, suf)) if v < 10 else ("%d%s" % (round(v), suf))
    return "%d" % n


# ------------------------------------------------------------------------------------------------
# parsing


class Sample:
    __slots__ = ("t", "sid", "stack", "size", "block", "weight", "thread", "t_free",
                 "alloc_ev", "free_ev")

    def __init__(self, t, sid, stack, size, block, weight, thread, alloc_ev):
        self.t = t
        self.sid = sid
        self.stack = stack
        self.size = size
        self.block = block
        self.weight = weight
        self.thread = thread
        self.t_free = None
        self.alloc_ev = alloc_ev
        self.free_ev = None

    @property
    def count(self):
        """Estimated number of allocations this sample stands for."""
        return self.weight / self.block if self.block > 0 else 1.0

    @property
    def waste(self):
        """Estimated rounding waste (block minus request) this sample stands for."""
        return (self.block - self.size) * self.count if self.block > self.size else 0.0


class Profile:
    def __init__(self, path):
        self.path = path
        self.version = None
        self.meta = {}
        self.classes = {}        # class index -> block size
        self.snaps = []          # [t, rss, live, free, meta, released, {class: (live, resident)}]
        self.stacks = {}         # stack id -> [addresses], innermost first
        self.samples = []
        self.events = []         # file order: Sample for an alloc, ~index (negative) for a free
        self.frames = {}         # address -> (vaddr, symbol or None, module)
        self.end_t = None
        self.max_t = 0
        self.bad_lines = 0
        self.bad_examples = []
        self.dropped_partial = False
        self.orphan_frees = 0
        self.missing_stacks = set()


def _num(s):
    return int(s, 16) if s.startswith(("0x", "0X")) else int(s)


def _fnum(s):
    try:
        return _num(s)
    except ValueError:
        return float(s)


def parse_profile(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8", "replace")
    lines = text.split("\n")
    partial_last = None
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        partial_last = len(lines) - 1  # no final newline: maybe cut mid-line by a crash
    if not lines or not lines[0].startswith("mallocim-profile "):
        raise ValueError("%s is not a malloc-im profile (first line must be 'mallocim-profile N')"
                         % path)
    p = Profile(path)
    try:
        p.version = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise ValueError("%s: unreadable version line %r" % (path, lines[0]))
    if p.version != 1:
        print("mallocim report: warning: profile version %d, this reader knows version 1"
              % p.version, file=sys.stderr)

    open_samples = {}  # sample id -> Sample not yet freed (ids may be reused after a free)
    cur_snap = None
    samples, events = p.samples, p.events
    for i in range(1, len(lines)):
        line = lines[i]
        if i == partial_last and not line.startswith("end "):
            p.dropped_partial = True  # a half-written line is worse than none
            continue
        f = line.split(" ")
        tag = f[0]
        try:
            if tag == "alloc":
                if len(f) != 8:
                    raise ValueError("field count")
                try:  # the common case first: plain decimal numbers
                    t = int(f[1])
                    s = Sample(t, int(f[2]), int(f[3]), int(f[4]), int(f[5]), float(f[6]),
                               int(f[7]), len(events))
                except ValueError:
                    t = _num(f[1])
                    s = Sample(t, _num(f[2]), _num(f[3]), _num(f[4]), _num(f[5]),
                               float(_fnum(f[6])), _num(f[7]), len(events))
                if not (s.weight >= 0 and math.isfinite(s.weight)):
                    raise ValueError("weight")
                samples.append(s)
                events.append(s)
                open_samples[s.sid] = s
                if t > p.max_t:
                    p.max_t = t
            elif tag == "free":
                if len(f) != 3:
                    raise ValueError("field count")
                t = _num(f[1])
                s = open_samples.pop(_num(f[2]), None)
                if s is None:
                    p.orphan_frees += 1
                    continue
                s.t_free = t
                s.free_ev = len(events)
                events.append(s)
                if t > p.max_t:
                    p.max_t = t
            elif tag == "stack":
                if len(f) < 2:
                    raise ValueError("field count")
                p.stacks[_num(f[1])] = [int(a, 16) for a in f[2:] if a]
            elif tag == "snap":
                if len(f) != 7:
                    raise ValueError("field count")
                v = [_num(x) for x in f[1:7]]
                cur_snap = v + [{}]
                p.snaps.append(cur_snap)
                if v[0] > p.max_t:
                    p.max_t = v[0]
            elif tag == "cls":
                if len(f) != 5:
                    raise ValueError("field count")
                if cur_snap is not None:
                    cur_snap[6][_num(f[2])] = (_num(f[3]), _num(f[4]))
            elif tag == "frame":
                if len(f) < 5:
                    raise ValueError("field count")
                sym = f[3]
                p.frames[int(f[1], 16)] = (int(f[2], 16), None if sym == "-" else sym,
                                           " ".join(f[4:]))
            elif tag == "class":
                if len(f) != 3:
                    raise ValueError("field count")
                p.classes[_num(f[1])] = _num(f[2])
            elif tag == "meta":
                if len(f) < 3:
                    raise ValueError("field count")
                p.meta[f[1]] = " ".join(f[2:])
            elif tag == "end":
                p.end_t = _num(f[1])
                if p.end_t > p.max_t:
                    p.max_t = p.end_t
            elif tag == "":
                continue
            # other tags: a newer producer; ignored so that old readers keep working
        except (ValueError, IndexError) as e:
            p.bad_lines += 1
            if len(p.bad_examples) < 3:
                p.bad_examples.append("line %d: %s (%s)" % (i + 1, line[:80], e))
    for s in samples:
        if s.stack not in p.stacks:
            p.missing_stacks.add(s.stack)
    return p


# ------------------------------------------------------------------------------------------------
# symbolization


class Frame:
    __slots__ = ("func", "file", "line", "module", "kind", "inlined")

    def __init__(self, func, file=None, line=0, module=None, kind="user", inlined=False):
        self.inlined = inlined  # inlined into the next frame (same address)
        self.func = func
        self.file = file
        self.line = line
        self.module = module
        self.kind = kind  # "user", "sys" (libc and friends) or "unknown" (no name found)

    def loc(self, full=False):
        if not self.file:
            return ""
        name = self.file if full else os.path.basename(self.file)
        return "%s:%d" % (name, self.line) if self.line else name

    def key(self):
        return (self.func, self.file, self.line)


def _tool(name):
    return shutil.which(name, path=os.environ.get("PATH", "/usr/bin:/bin"))


def _clean_env():
    # addr2line must not run under the allocator being profiled (LD_PRELOAD) or a locale that
    # changes its output.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


def demangle_all(names):
    """Demangles C++ symbols with c++filt in one call; returns a dict (identity when absent)."""
    out = {n: n for n in names}
    mangled = sorted(n for n in names if n.startswith("_Z"))
    tool = _tool("c++filt")
    if not mangled or not tool:
        return out
    try:
        r = subprocess.run([tool], input="\n".join(mangled) + "\n", capture_output=True,
                           text=True, env=_clean_env(), timeout=60)
        res = r.stdout.split("\n")
        if r.returncode == 0 and len(res) >= len(mangled):
            for n, d in zip(mangled, res):
                out[n] = d or n
    except (OSError, subprocess.SubprocessError):
        pass
    return out


_ADDR_LINE = re.compile(r"^0x[0-9a-fA-F]+$")
_FILE_LINE = re.compile(r"^(.*):(\d+|\?)(?: \(discriminator \d+\))?$")


def addr2line_module(tool, module, vaddrs):
    """{vaddr: [(func or None, file or None, line)]}, innermost inlined frame first; {} on failure.

    One addr2line run per module with every address on stdin. -a prints each address before its
    frames, which is how the output of several addresses (each possibly several frames with -i)
    is split back apart. VADDR is used as the file gives it: the format defines it as what
    addr2line takes (the producer already points it into the call instruction, not after it).
    """
    order = sorted(set(vaddrs))
    queries = order
    try:
        r = subprocess.run([tool, "-a", "-C", "-f", "-i", "-e", module],
                           input="".join("0x%x\n" % q for q in queries), capture_output=True,
                           text=True, env=_clean_env(), timeout=300)
    except (OSError, subprocess.SubprocessError):
        return {}
    if r.returncode != 0:
        return {}
    out = {}
    lines = r.stdout.split("\n")
    qi = -1
    j = 0
    cur = None
    while j < len(lines):
        ln = lines[j]
        if _ADDR_LINE.match(ln) and qi + 1 < len(queries) and int(ln, 16) == queries[qi + 1]:
            qi += 1
            cur = out.setdefault(order[qi], [])
            j += 1
            continue
        if cur is None or j + 1 >= len(lines):
            j += 1
            continue
        func = ln.strip()
        m = _FILE_LINE.match(lines[j + 1].strip())
        file, line = None, 0
        if m:
            file = None if m.group(1) in ("??", "") else m.group(1)
            line = int(m.group(2)) if m.group(2).isdigit() else 0
        cur.append((None if func in ("??", "") else func, file, line))
        j += 2
    return out


_VERSION_SUFFIX = re.compile(r"@@?[A-Za-z0-9_.]+$")


def symbol_table(module):
    """Sorted [(start, end, name)] of the module's sized symbols (full and dynamic symbol tables,
    demangled), from nm; [] when nm is missing or fails."""
    tool = _tool("nm")
    if not tool:
        return []
    syms = {}
    for extra in ([], ["-D"]):
        try:
            r = subprocess.run([tool, "-C", "-S", "--defined-only"] + extra + [module],
                               capture_output=True, text=True, env=_clean_env(), timeout=300)
        except (OSError, subprocess.SubprocessError):
            continue
        for line in r.stdout.splitlines():
            f = line.split(" ", 3)
            if len(f) != 4 or f[2] not in ("t", "T", "w", "W", "i"):
                continue
            try:
                start, size = int(f[0], 16), int(f[1], 16)
            except ValueError:
                continue
            if size:
                syms.setdefault(start, (start + size, _VERSION_SUFFIX.sub("", f[3])))
    return sorted((a, e, n) for a, (e, n) in syms.items())


def containing_symbol(table, starts, vaddr):
    i = bisect.bisect_right(starts, vaddr) - 1
    if i >= 0 and table[i][0] <= vaddr < table[i][1]:
        return table[i][2]
    return None


def symbolize(profile, use_addr2line=True):
    """Maps every stack address to a list of Frames (inlined frames expanded, innermost first).

    Returns (frames_by_addr, notes)."""
    notes = []
    addrs = set()
    for st in profile.stacks.values():
        addrs.update(st)
    by_module = {}
    for a in addrs:
        fr = profile.frames.get(a)
        if fr:
            by_module.setdefault(fr[2], []).append(fr[0])
    tool = _tool("addr2line") if use_addr2line else None
    if use_addr2line and not tool:
        notes.append("addr2line is not installed (Debian: binutils): functions come from the "
                     "dynamic symbols only, without file:line.")
    resolved = {}  # module -> {vaddr: [(func, file, line)]}
    missing_modules = []
    unnamed = 0
    for module, vaddrs in sorted(by_module.items()):
        if not tool:
            continue
        if not module or module == "-" or not os.path.isfile(module):
            missing_modules.append(module)
            continue
        got = addr2line_module(tool, module, vaddrs)
        # Without debug information addr2line names the nearest symbol before the address, even
        # far past its end (a static function gets its neighbour's name). Such names are checked
        # against the symbols' sizes; an address outside every symbol keeps no name.
        guessed = [v for v, fl in got.items() if not any(f[1] for f in fl)]
        if guessed:
            table = symbol_table(module)
            starts = [t[0] for t in table]
            for v in guessed:
                name = containing_symbol(table, starts, v)
                got[v] = [(name, None, 0)]
                if name is None:
                    unnamed += 1
        resolved[module] = got
    if missing_modules:
        shown = ", ".join(os.path.basename(m) or m for m in missing_modules[:4])
        more = " and %d more" % (len(missing_modules) - 4) if len(missing_modules) > 4 else ""
        notes.append("%d module%s not found on this machine (%s%s): their frames are named from "
                     "the dynamic symbols or as module+offset." % (
                         len(missing_modules), "" if len(missing_modules) == 1 else "s", shown,
                         more))
    if unnamed:
        notes.append("%d address%s in modules without debug information lie outside every "
                     "symbol (static functions of stripped binaries): shown as module+offset. "
                     "Debug symbols (the -dbg or -dbgsym package, or -g) give them names and "
                     "lines." % (unnamed, "" if unnamed == 1 else "es"))
    syms = demangle_all({fr[1].split("+0x")[0] for fr in profile.frames.values() if fr[1]})

    result = {}
    no_frame_lines = 0
    for a in addrs:
        fr = profile.frames.get(a)
        if fr is None:
            no_frame_lines += 1
            result[a] = [Frame("0x%x" % a, kind="unknown")]
            continue
        vaddr, sym, module = fr
        if module in ("?", "-", ""):  # the producer found no module for the address
            result[a] = [Frame(sym or "0x%x" % a, kind="unknown" if not sym else "user")]
            continue
        kind = "sys" if SYSTEM_MODULE_RE.search(module or "") else "user"
        base = os.path.basename(module) if module else "?"
        got = resolved.get(module, {}).get(vaddr)
        frames = []
        if got:
            for k, (func, file, line) in enumerate(got):
                frames.append(Frame(func, file, line, module, kind, inlined=k < len(got) - 1))
        if not frames:
            frames = [Frame(None, None, 0, module, kind)]
        # The outermost entry is the function that holds the address: when addr2line knows no name
        # for it, the dynamic symbol or module+offset stands in.
        for f in frames:
            if not f.func:
                if sym:
                    f.func = syms.get(sym.split("+0x")[0], sym)
                else:
                    f.func = "%s+0x%x" % (base, vaddr)
                    f.kind = "unknown"
        result[a] = frames
    if no_frame_lines and addrs:
        notes.append("%d of %d stack addresses have no frame line (the file ends before the "
                     "program's exit wrote them): they are shown as raw addresses."
                     % (no_frame_lines, len(addrs)))
    return result, notes


# ------------------------------------------------------------------------------------------------
# analysis


def label_frame_of(frames):
    """The frame that names a site: the innermost frame of the program's own code."""
    for f in frames:
        if f.kind == "user":
            return f
    return frames[0] if frames else Frame("?")


class Site:
    """An allocation site: the stacks that allocate from the same place, named by the innermost
    frame (and the program's frame under it when that one is a system library's). The call
    paths that lead there are kept apart in .paths, for the table and the exports."""

    def __init__(self, idx, frames):
        self.idx = idx
        self.frames = frames          # the first path's frames, innermost first
        self.paths = {}               # stack id -> [live at peak, allocated]
        self.samples = []
        self.live_peak = 0.0
        self.alloc_bytes = 0.0
        self.alloc_count = 0.0
        self.unfreed = 0.0

    def label_frame(self):
        return label_frame_of(self.frames)

    def label(self):
        lf = self.label_frame()
        first = self.frames[0] if self.frames else lf
        name = lf.func
        if lf.inlined:
            i = self.frames.index(lf)
            outer = next((f for f in self.frames[i + 1:] if not f.inlined), None)
            if outer:
                name = "%s (inlined in %s)" % (lf.func, outer.func)
        if first is lf:
            return name
        return "%s \u2190 %s" % (first.func, name)

    def loc(self):
        return self.label_frame().loc()

    def named(self):
        loc = self.loc()
        return "%s (%s)" % (self.label(), loc) if loc else self.label()


def weighted_median(pairs):
    """pairs of (value, weight); inf values sort last."""
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    if total <= 0:
        return None
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= total / 2:
            return v
    return pairs[-1][0]


def live_at(samples, t):
    """Samples alive at time t (allocated at or before t, not yet freed at t)."""
    return [s for s in samples if s.t <= t and (s.t_free is None or s.t_free > t)]


def downsample_max(points, tmax, nbins=1200):
    """Step series [(t, v)] reduced to at most nbins points: the maximum within each time bin, so
    that the peak survives."""
    if len(points) <= nbins:
        return [[t, round(v)] for t, v in points]
    width = max(tmax, 1) / nbins
    bins = {}
    for t, v in points:
        b = int(t / width)
        cur = bins.get(b)
        if cur is None or v > cur[1]:
            bins[b] = (t, v)
    return [[t, round(v)] for _, (t, v) in sorted(bins.items())]


# lifetime bucket bounds in ms: 1, 2, 5, 10, 20, 50 ... (a log scale with round numbers)
LIFE_BOUNDS = [m * 10 ** e for e in range(0, 13) for m in (1, 2, 5)]


def life_label(ms):
    if ms < 1000:
        return "%d ms" % ms
    return "%g s" % (ms / 1000.0)


def bucket_size_label(lo, hi):
    if lo == hi:
        return fmt_bytes(lo)
    return "%s\u2013%s" % (fmt_bytes(lo), fmt_bytes(hi))


def analyze(p, frames_by_addr, sym_notes):
    """Everything the page, the text summary and the exports show, computed from the profile."""
    rate = float(p.meta.get("rate", 0) or 0)
    complete = p.end_t is not None
    duration = p.end_t if complete else p.max_t
    samples = p.samples
    notes = list(sym_notes)
    if not complete:
        notes.insert(0, "The file has no 'end' line: the program did not exit normally (a crash, "
                        "a kill, or it is still running). Everything up to the last complete line "
                        "is shown; samples without a free are counted as live when the file ends.")
    if p.dropped_partial:
        notes.append("The last line was cut off mid-write and was left out.")
    if p.bad_lines:
        notes.append("%d malformed line%s ignored (%s)." % (
            p.bad_lines, "" if p.bad_lines == 1 else "s", "; ".join(p.bad_examples)))
    if p.orphan_frees:
        notes.append("%d free line%s named a sample with no alloc line; ignored." % (
            p.orphan_frees, "" if p.orphan_frees == 1 else "s"))
    if p.missing_stacks:
        notes.append("%d stack id%s used by samples had no stack line." % (
            len(p.missing_stacks), "" if len(p.missing_stacks) == 1 else "s"))

    # ---- sites: stacks that allocate from the same place (innermost frame, and the program's
    # frame under it) form one site
    stack_frames = {}
    for sid, addrs in p.stacks.items():
        fl = []
        for a in addrs:
            fl.extend(frames_by_addr.get(a) or [Frame("0x%x" % a, kind="unknown")])
        stack_frames[sid] = fl or [Frame("[empty stack]", kind="unknown")]
    for sid in p.missing_stacks:
        stack_frames[sid] = [Frame("[stack %d: no stack line]" % sid, kind="unknown")]
    site_by_key = {}
    site_of_stack = {}
    sites = []
    for sid in sorted(stack_frames):
        fl = stack_frames[sid]
        key = (fl[0].key() if fl else None, label_frame_of(fl).key())
        site = site_by_key.get(key)
        if site is None:
            site = Site(len(sites), fl)
            site_by_key[key] = site
            sites.append(site)
        site.paths[sid] = [0.0, 0.0]
        site_of_stack[sid] = site

    # ---- the sampled live estimate over time, and its peak (file order: a free always follows
    # its alloc, even when threads make timestamps interleave)
    live = 0.0
    peak_live, peak_ev, peak_t = 0.0, -1, 0
    points = []
    for i, s in enumerate(p.events):
        if s.alloc_ev == i:
            live += s.weight
            t = s.t
        else:
            live -= s.weight
            t = s.t_free
        if live > peak_live + 1e-9:
            peak_live, peak_ev, peak_t = live, i, t
        # one point per millisecond: the highest value within it, so the plot shows the peak
        if points and points[-1][0] == t:
            if live > points[-1][1]:
                points[-1] = (t, live)
        else:
            points.append((t, max(live, 0.0)))
    # a sample is live at the peak when allocated at or before the peak event and freed after it
    at_peak = [s for s in samples
               if s.alloc_ev <= peak_ev and (s.free_ev is None or s.free_ev > peak_ev)]

    for s in samples:
        site = site_of_stack[s.stack]
        site.samples.append(s)
        site.paths[s.stack][1] += s.weight
        site.alloc_bytes += s.weight
        site.alloc_count += s.count
        if s.t_free is None:
            site.unfreed += s.weight
    for s in at_peak:
        site = site_of_stack[s.stack]
        site.live_peak += s.weight
        site.paths[s.stack][0] += s.weight

    # ---- snapshots: the RSS peak, and the breakdown there
    snaps = p.snaps
    rss_peak = max(snaps, key=lambda s: s[1]) if snaps else None
    live_peak_exact = max((s[2] for s in snaps), default=0)

    # ---- size classes: which class a block belongs to (smallest class whose block holds it)
    class_blocks = sorted((b, c) for c, b in p.classes.items())

    class_cache = {}

    def class_of(block):
        c = class_cache.get(block, -1)
        if c == -1:
            c = next((cc for b, cc in class_blocks if b >= block), None)
            class_cache[block] = c
        return c

    # ---- findings: candidates with the bytes they concern; the biggest leads
    findings = []
    site_list = sorted(sites, key=lambda s: (-s.live_peak, -s.alloc_bytes))

    # leak-like growth: a site whose never-freed samples keep its live bytes rising to the end
    leak = None
    if duration > 0:
        for site in sites:
            unfreed = [s for s in site.samples if s.t_free is None]
            if len(unfreed) < 3 or site.unfreed <= 0:
                continue
            def site_live(t, ss=site.samples):
                return sum(s.weight for s in ss if s.t <= t and (s.t_free is None or s.t_free > t))
            quarters = [site_live(duration * q / 4.0) for q in (1, 2, 3)]
            end_live = site.unfreed
            rising = (quarters[0] <= quarters[1] * 1.05 + 1 and quarters[1] <= quarters[2] * 1.05 + 1
                      and quarters[2] <= end_live * 1.05 + 1)
            grew = end_live >= 1.5 * quarters[1] and end_live - quarters[1] >= 0.25 * end_live
            late = max(s.t for s in unfreed) >= duration * 0.75
            if rising and grew and late:
                if leak is None or site.unfreed > leak[1]:
                    leak = (site, site.unfreed, quarters[1])
    if leak:
        site, b, mid = leak
        findings.append({
            "kind": "leak", "bytes": b,
            "text": "Memory grows: %s allocated %s that was never freed, and what it holds kept "
                    "rising until the %s (%s at mid-run) \u2014 a leak?" % (
                        site.named(), fmt_bytes(b), "end" if complete else "file ended",
                        fmt_bytes(mid)),
            "site": site.idx})

    if rss_peak:
        t, rss, slive, sfree, smeta, _rel, cls = rss_peak
        gap = rss - slive
        ratio = rss / slive if slive > 0 else None
        ratio_txt = ("At the RSS peak, RSS is %.1f\u00d7 live (%s vs %s)" % (
            ratio, fmt_bytes(rss), fmt_bytes(slive))
            if ratio else "RSS peaks at %s with nothing live" % fmt_bytes(rss))
        class_free = sorted(((res - lv, c) for c, (lv, res) in cls.items() if res > lv),
                            reverse=True)
        if class_free:
            fb, c = class_free[0]
            block = p.classes.get(c)
            cname = "%s class" % (fmt_bytes(block) if block else "class %d" % c)
            by_site = {}
            for s in samples:
                if block is not None and class_of(s.block) == c:
                    st = site_of_stack[s.stack]
                    by_site[st] = by_site.get(st, 0.0) + s.weight
            who = max(by_site.items(), key=lambda kv: kv[1])[0] if by_site else None
            pct = 100.0 * fb / gap if gap > 0 else 0
            text = "%s: %d%% of the gap is free memory in pages of the %s (%s), " % (
                ratio_txt, round(pct), cname, fmt_bytes(fb))
            if who:
                text += "allocated mostly by %s." % who.named()
            else:
                text += "which no sampled allocation fell into."
            findings.append({"kind": "class_free", "bytes": fb, "text": text, "class": c,
                             "block": block, "site": who.idx if who else None})
        other_free = sfree - sum(res - lv for lv, res in cls.values() if res > lv)
        if other_free > 0:
            findings.append({
                "kind": "large_free", "bytes": other_free,
                "text": "%s free outside the small size classes (large-block regions) was resident "
                        "at the RSS peak, kept for reuse rather than returned to the system."
                        % fmt_bytes(other_free)})
        if smeta > 0:
            findings.append({
                "kind": "metadata", "bytes": smeta,
                "text": "Allocator metadata is %s, %d%% of RSS at its peak." % (
                    fmt_bytes(smeta), round(100.0 * smeta / rss) if rss else 0)})
        nonalloc = rss - slive - sfree - smeta
        if nonalloc > 0:
            findings.append({
                "kind": "non_allocator", "bytes": nonalloc,
                "text": "%s of the %s RSS at its peak (%d%%) is not the heap: the program's code, "
                        "libraries, stacks and other mappings; the allocator holds %s." % (
                            fmt_bytes(nonalloc), fmt_bytes(rss), round(100.0 * nonalloc / rss),
                            fmt_bytes(slive + sfree + smeta))})
        # rounding waste at the RSS peak, estimated from the samples alive then
        alive = live_at(samples, t)
        waste = min(sum(s.waste for s in alive), slive) if alive else 0.0
        if waste > 0:
            by_site = {}
            for s in alive:
                st = site_of_stack[s.stack]
                by_site[st] = by_site.get(st, 0.0) + s.waste
            who, wb = max(by_site.items(), key=lambda kv: kv[1])
            findings.append({
                "kind": "waste", "bytes": waste,
                "text": "Rounding: about %s of the live bytes at the RSS peak (%d%%) is the "
                        "difference between requested sizes and block sizes; most of it (%s) "
                        "from %s." % (fmt_bytes(waste), round(100.0 * waste / slive) if slive else 0,
                                      fmt_bytes(wb), who.named()),
                "site": who.idx})
    else:
        waste = 0.0
    findings.sort(key=lambda f: -f["bytes"])
    headline = None
    if findings:
        top = findings[0]
        # a small problem should not read as the headline when memory is well used
        if (rss_peak and top["kind"] != "leak" and top["bytes"] < 0.1 * rss_peak[1]
                and rss_peak[2] > 0):
            holder = site_list[0] if site_list and site_list[0].live_peak > 0 else None
            text = "Memory is well used: at the RSS peak, RSS is %.2f\u00d7 live (%s vs %s)." % (
                rss_peak[1] / rss_peak[2], fmt_bytes(rss_peak[1]), fmt_bytes(rss_peak[2]))
            if holder:
                text += " The biggest holder at the peak is %s with %s." % (
                    holder.named(), fmt_bytes(holder.live_peak))
            headline = {"kind": "ok", "bytes": 0, "text": text}
        else:
            headline = top
            findings = findings[1:]
    elif samples:
        holder = site_list[0]
        headline = {"kind": "samples_only", "bytes": 0,
                    "text": "No snapshots in the file; the biggest holder at the peak of the "
                            "sampled live estimate is %s with %s." % (holder.named(),
                                                                      fmt_bytes(holder.live_peak))}
    else:
        headline = {"kind": "empty", "bytes": 0,
                    "text": "Nothing to report: the profile holds no snapshots and no sampled "
                            "allocations (the program allocated less than the sampling rate, "
                            "or nothing at all)."}
    also = [f for f in findings if rss_peak is None or f["bytes"] >= 0.02 * rss_peak[1]][:4]

    # ---- tiles
    tiles = []
    if rss_peak:
        tiles.append({"label": "Peak RSS", "value": fmt_bytes(rss_peak[1]),
                      "sub": "at %s" % fmt_ms(rss_peak[0])})
        tiles.append({"label": "Peak live", "value": fmt_bytes(live_peak_exact),
                      "sub": "exact, from snapshots"})
        tiles.append({"label": "RSS / live", "value": ("%.2f\u00d7" % (rss_peak[1] / rss_peak[2]))
                      if rss_peak[2] else "\u2014", "sub": "at the RSS peak"})
    else:
        tiles.append({"label": "Peak live (est.)", "value": fmt_bytes(peak_live),
                      "sub": "no snapshots in file"})
    total_alloc = sum(s.weight for s in samples)
    total_count = sum(s.count for s in samples)
    tiles.append({"label": "Allocated (est.)", "value": fmt_bytes(total_alloc),
                  "sub": "%s allocations" % fmt_count(total_count)})
    tiles.append({"label": "Samples", "value": fmt_count(len(samples)),
                  "sub": ("1 per %s" % fmt_bytes(rate)) if rate else "rate unknown"})
    tiles.append({"label": "Duration", "value": fmt_ms(duration),
                  "sub": "complete" if complete else "file ends early", "warn": not complete})

    # ---- size histogram (requested sizes, log2 buckets)
    size_b = {}
    for s in samples:
        k = s.size.bit_length()  # 0 for size 0; bucket k holds [2^(k-1), 2^k - 1]
        c = s.count
        e = size_b.setdefault(k, [0.0, 0.0])
        e[0] += c
        e[1] += c * s.size
    sizes = []
    if size_b:
        for k in range(min(size_b), max(size_b) + 1):
            lo = 0 if k == 0 else 1 << (k - 1)
            hi = 0 if k == 0 else (1 << k) - 1
            c, b = size_b.get(k, (0.0, 0.0))
            sizes.append({"label": fmt_bytes(lo), "range": bucket_size_label(lo, hi),
                          "count": round(c, 1), "bytes": round(b)})

    # ---- lifetime histogram: <1 ms, then 1-2-5 log buckets of ms (1, 2, 5, 10, 20 ms ...);
    # what was never freed is kept apart
    life_b = {}
    never = [0.0, 0.0]
    for s in samples:
        if s.t_free is None:
            never[0] += s.count
            never[1] += s.weight
            continue
        k = bisect.bisect_right(LIFE_BOUNDS, max(s.t_free - s.t, 0))  # 0: under 1 ms
        e = life_b.setdefault(k, [0.0, 0.0])
        e[0] += s.count
        e[1] += s.weight
    lifetimes = []
    if life_b:
        for k in range(0, max(life_b) + 1):
            c, b = life_b.get(k, (0.0, 0.0))
            if k == 0:
                label, rng = "<1 ms", "under 1 ms"
            else:
                lo, hi = LIFE_BOUNDS[k - 1], LIFE_BOUNDS[k]
                label = life_label(lo)
                rng = "%s to %s" % (life_label(lo), life_label(hi))
            lifetimes.append({"label": label, "range": rng, "count": round(c, 1),
                              "bytes": round(b)})

    # ---- top sites table
    def life_of(s):
        return (s.t_free - s.t) if s.t_free is not None else math.inf
    table = []
    for site in site_list[:200]:
        med = weighted_median([(life_of(s), s.count) for s in site.samples])
        table.append({
            "i": site.idx, "label": site.label(), "loc": site.loc(),
            "live": round(site.live_peak), "alloc": round(site.alloc_bytes),
            "count": round(site.alloc_count, 1),
            "median": None if med is None else ("inf" if med == math.inf else med),
            "samples": len(site.samples),
            # the call paths to the site, biggest first (the page lists them on a click)
            "paths": [{"live": round(v[0]), "alloc": round(v[1]),
                       "stack": [[f.func, f.loc(full=True),
                                  os.path.basename(f.module) if f.module else "",
                                  f.kind, 1 if f.inlined else 0] for f in stack_frames[sid]]}
                      for sid, v in sorted(site.paths.items(),
                                           key=lambda kv: (-kv[1][0], -kv[1][1]))[:5]],
            "npaths": len(site.paths),
        })

    # ---- flame graph of live bytes at the peak, root first
    root = {"n": "all", "v": 0.0, "c": {}, "k": "root"}
    for sid, fl in stack_frames.items():
        live_b = site_of_stack[sid].paths[sid][0]
        if live_b <= 0:
            continue
        root["v"] += live_b
        node = root
        for f in reversed(fl):
            ch = node["c"].get(f.func)
            if ch is None:
                ch = {"n": f.func, "v": 0.0, "c": {}, "k": f.kind, "f": f.loc(),
                      "m": os.path.basename(f.module) if f.module else ""}
                node["c"][f.func] = ch
            ch["v"] += live_b
            node = ch
    min_keep = root["v"] * 2e-4

    def finish(node):
        kids = [finish(c) for c in sorted(node["c"].values(), key=lambda c: -c["v"])
                if c["v"] >= min_keep]
        out = {"n": node["n"], "v": round(node["v"]), "k": node["k"]}
        if node.get("f"):
            out["f"] = node["f"]
        if node.get("m"):
            out["m"] = node["m"]
        if kids:
            out["c"] = kids
        return out
    flame = finish(root) if root["v"] > 0 else None

    # ---- fragmentation over time: free but resident bytes per class (top classes + rest)
    frag = {"times": [], "series": [], "breakdown": [], "at": None}
    if snaps:
        stride = max(1, len(snaps) // 1000)
        chosen = snaps[::stride]
        if rss_peak not in chosen:
            chosen = sorted(chosen + [rss_peak], key=lambda s: s[0])
        maxfree = {}
        for s in snaps:
            for c, (lv, res) in s[6].items():
                if res - lv > maxfree.get(c, 0):
                    maxfree[c] = res - lv
        top = [c for c, _ in sorted(maxfree.items(), key=lambda kv: -kv[1])[:8]]
        frag["times"] = [s[0] for s in chosen]
        for c in top:
            blk = p.classes.get(c)
            frag["series"].append({"name": "%s class" % fmt_bytes(blk) if blk is not None
                                   else "class %d" % c,
                                   "values": [max(s[6].get(c, (0, 0))[1] - s[6].get(c, (0, 0))[0], 0)
                                              for s in chosen]})
        rest = []
        outside = []
        for s in chosen:
            cf = sum(max(res - lv, 0) for lv, res in s[6].values())
            tf = sum(max(s[6][c][1] - s[6][c][0], 0) for c in top if c in s[6])
            rest.append(cf - tf)
            outside.append(max(s[3] - cf, 0))
        if any(rest):
            frag["series"].append({"name": "other classes", "values": rest})
        if any(outside):
            frag["series"].append({"name": "outside small classes", "values": outside})
        # breakdown at the RSS peak: the parts add up to RSS
        t, rss, slive, sfree, smeta, _rel, cls = rss_peak
        parts = [{"label": "live, requested", "bytes": max(slive - waste, 0), "kind": "live"},
                 {"label": "live, rounding waste (est.)", "bytes": waste, "kind": "waste"}]
        cf = sorted(((max(res - lv, 0), c) for c, (lv, res) in cls.items()), reverse=True)
        shown = 0
        for fb, c in cf[:6]:
            if fb <= 0:
                continue
            blk = p.classes.get(c)
            parts.append({"label": "free in %s class pages" % fmt_bytes(blk) if blk is not None
                          else "free in class %d pages" % c, "bytes": fb, "kind": "free"})
            shown += fb
        cls_total = sum(fb for fb, _ in cf)
        if cls_total - shown > 0:
            parts.append({"label": "free in other classes' pages", "bytes": cls_total - shown,
                          "kind": "free"})
        if sfree - cls_total > 0:
            parts.append({"label": "free outside small classes", "bytes": sfree - cls_total,
                          "kind": "free"})
        parts.append({"label": "allocator metadata", "bytes": smeta, "kind": "meta"})
        nonalloc = rss - slive - sfree - smeta
        parts.append({"label": "not the allocator's (program, libraries, stacks)",
                      "bytes": max(nonalloc, 0), "kind": "other"})
        if nonalloc < 0:
            notes.append("At the RSS peak live + free + metadata exceed RSS by %s (pages counted "
                         "before they were touched)." % fmt_bytes(-nonalloc))
        for part in parts:
            part["bytes"] = round(part["bytes"])
        frag["breakdown"] = [x for x in parts if x["bytes"] > 0]
        frag["at"] = t
        frag["rss"] = rss

    # ---- the timeline
    stride = max(1, len(snaps) // 2000)
    snap_pts = [s[:5] for s in snaps[::stride]]
    if rss_peak and rss_peak[:5] not in snap_pts:
        snap_pts = sorted(snap_pts + [rss_peak[:5]])
    timeline = {
        "snap": snap_pts,
        "est": downsample_max(points, duration),
        "peak_est": {"t": peak_t, "bytes": round(peak_live)} if samples else None,
        "peak_rss": {"t": rss_peak[0], "bytes": rss_peak[1]} if rss_peak else None,
    }

    return {
        "file": p.path, "program": p.meta.get("program", ""), "pid": p.meta.get("pid", ""),
        "meta": p.meta, "rate": rate, "complete": complete, "duration_ms": duration,
        "headline": headline, "also": also, "tiles": tiles, "notes": notes,
        "timeline": timeline, "sizes": sizes, "lifetimes": lifetimes,
        "never_freed": {"count": round(never[0], 1), "bytes": round(never[1])},
        "peak": {"t": peak_t, "bytes": round(peak_live), "samples": len(at_peak),
                 "basis": "sampled live estimate" if samples else "none"},
        "sites": table, "site_count": len(sites), "sample_count": len(samples),
        "stack_count": len(stack_frames), "flame": flame, "frag": frag,
        # not serialized: kept for the exports
        "_sites": sites, "_at_peak": at_peak, "_stack_frames": stack_frames,
    }


# ------------------------------------------------------------------------------------------------
# exports


def collapsed_lines(rep):
    """'root;...;leaf BYTES' per distinct stack, bytes live at the peak, biggest first."""
    acc = {}
    for site in rep["_sites"]:
        for sid, (live_b, _alloc_b) in site.paths.items():
            if live_b <= 0:
                continue
            key = ";".join(f.func.replace(";", ":").replace("\n", " ")
                           for f in reversed(rep["_stack_frames"][sid]))
            acc[key] = acc.get(key, 0.0) + live_b
    rows = [(k, int(round(v))) for k, v in acc.items()]
    return ["%s %d" % (k, v) for k, v in sorted(rows, key=lambda kv: -kv[1]) if v > 0]


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fv(num, v):
    """A varint field; zero (the proto3 default) is left out."""
    return (_varint(num << 3) + _varint(v)) if v else b""


def _fb(num, payload):
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _packed(num, values):
    return _fb(num, b"".join(_varint(v) for v in values)) if values else b""


def pprof_bytes(p, rep, frames_by_addr):
    """A profile.proto message (uncompressed) for the samples: one Sample per (stack, block size)
    with alloc_objects, alloc_space, inuse_objects, inuse_space; inuse = live at the peak."""
    strings = [""]
    sidx = {"": 0}

    def S(s):
        i = sidx.get(s)
        if i is None:
            i = len(strings)
            strings.append(s)
            sidx[s] = i
        return i

    out = []
    for typ, unit in (("alloc_objects", "count"), ("alloc_space", "bytes"),
                      ("inuse_objects", "count"), ("inuse_space", "bytes")):
        out.append(_fb(1, _fv(1, S(typ)) + _fv(2, S(unit))))

    # mappings: one per module, from its lowest to its highest address seen; file_offset makes
    # pprof's address-to-offset arithmetic give the file's VADDR for the lowest one
    modules = {}
    for addr, (vaddr, _sym, module) in p.frames.items():
        m = modules.setdefault(module, {"start": addr, "offset": vaddr, "limit": addr + 1})
        if addr < m["start"]:
            m["start"], m["offset"] = addr, vaddr
        m["limit"] = max(m["limit"], addr + 1)
    # pprof takes the first mapping for the main binary: the program, else the non-system
    # module with the most addresses
    nframes = {}
    for _vaddr, _sym, module in p.frames.values():
        nframes[module] = nframes.get(module, 0) + 1
    prog = os.path.realpath(p.meta["program"]) if p.meta.get("program") else None

    def main_first(item):
        module = item[0]
        return (os.path.realpath(module) != prog, bool(SYSTEM_MODULE_RE.search(module)), -nframes[module], module)
    map_id = {}
    for i, (module, m) in enumerate(sorted(modules.items(), key=main_first), 1):
        map_id[module] = i
        has_lines = any(f.file for a, fr in p.frames.items() if fr[2] == module
                        for f in frames_by_addr.get(a, []))
        out.append(_fb(3, _fv(1, i) + _fv(2, m["start"]) + _fv(3, m["limit"]) +
                       _fv(4, m["offset"]) + _fv(5, S(module)) + _fv(7, 1) + _fv(8, int(has_lines)) +
                       _fv(9, int(has_lines)) + _fv(10, int(has_lines))))

    func_id = {}
    funcs = []

    def F(name, file):
        key = (name, file or "")
        i = func_id.get(key)
        if i is None:
            i = len(funcs) + 1
            func_id[key] = i
            funcs.append(_fb(5, _fv(1, i) + _fv(2, S(name)) + _fv(3, S(name)) +
                             _fv(4, S(file or ""))))
        return i

    loc_id = {}
    locs = []

    def L(addr):
        i = loc_id.get(addr)
        if i is None:
            i = len(locs) + 1
            loc_id[addr] = i
            fr = p.frames.get(addr)
            mid = map_id.get(fr[2], 0) if fr else 0
            lines = b"".join(_fb(4, _fv(1, F(f.func, f.file)) + _fv(2, f.line))
                             for f in frames_by_addr.get(addr, [Frame("0x%x" % addr)]))
            locs.append(_fb(4, _fv(1, i) + _fv(2, mid) + _fv(3, addr) + lines))
        return i

    missing_loc = {}

    def missing(sid):
        # a stack with no stack line: one synthetic location so that its bytes still count
        i = missing_loc.get(sid)
        if i is None:
            i = len(locs) + 1
            missing_loc[sid] = i
            name = "[stack %d: no stack line]" % sid
            locs.append(_fb(4, _fv(1, i) + _fb(4, _fv(1, F(name, "")))))
        return i

    at_peak = set(id(s) for s in rep["_at_peak"])
    agg = {}
    for s in p.samples:
        e = agg.setdefault((s.stack, s.block), [0.0, 0.0, 0.0, 0.0])
        e[0] += s.count
        e[1] += s.weight
        if id(s) in at_peak:
            e[2] += s.count
            e[3] += s.weight
    bytes_key = S("bytes")
    for (sid, block), v in sorted(agg.items()):
        if sid in p.stacks:
            ids = [L(a) for a in p.stacks[sid]]
        else:
            ids = [missing(sid)]
        label = _fb(3, _fv(1, bytes_key) + _fv(3, block) + _fv(4, bytes_key))
        out.append(_fb(2, _packed(1, ids) + _packed(2, [int(round(x)) for x in v]) + label))
    out.extend(locs)
    out.extend(funcs)
    # strings are appended last, after every S() call
    comment = S("malloc-im profile %s; inuse_* = live at the peak of the sampled live estimate, "
                "t=%d ms" % (os.path.basename(p.path), rep["peak"]["t"]))
    space, by = S("space"), S("bytes")
    default = S("inuse_space")
    start_ms = 0
    try:
        start_ms = int(p.meta.get("start_unix_ms", "0"))
    except ValueError:
        pass
    tail = (_fv(9, start_ms * 1000000) + _fv(10, int(rep["duration_ms"]) * 1000000) +
            _fb(11, _fv(1, space) + _fv(2, by)) + _fv(12, int(rep["rate"])) +
            _packed(13, [comment]) + _fv(14, default))
    out.extend(_fb(6, s.encode("utf-8")) for s in strings)
    out.append(tail)
    return b"".join(out)


# ------------------------------------------------------------------------------------------------
# outputs


def public_data(rep):
    return {k: v for k, v in rep.items() if not k.startswith("_")}


def render_html(rep):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    sys.dont_write_bytecode = True  # no __pycache__ next to the tool (maybe read-only)
    try:
        import report_page
    finally:
        sys.path.pop(0)
    data = json.dumps(public_data(rep), separators=(",", ":"), allow_nan=False)
    # inside <script>: '</' could close the element, '<!--' could open a comment; both can only
    # occur inside JSON strings, where these escapes keep the JSON valid
    data = data.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    return report_page.render(data, rep)


def text_summary(rep):
    out = []
    status = "complete" if rep["complete"] else "FILE ENDS EARLY (no 'end' line: crash?)"
    out.append("malloc-im report: %s  (program %s, pid %s, %s, %s)" % (
        rep["file"], rep["program"] or "?", rep["pid"] or "?", fmt_ms(rep["duration_ms"]), status))
    out.append("")
    out.append("Finding: " + rep["headline"]["text"])
    for f in rep["also"]:
        out.append("  also: " + f["text"])
    out.append("")
    out.append("  ".join("%s %s" % (t["label"], t["value"]) for t in rep["tiles"]))
    for n in rep["notes"]:
        out.append("note: " + n)
    sites = [s for s in rep["sites"] if s["alloc"] > 0][:10]
    if sites:
        out.append("")
        out.append("Top sites by bytes live at the peak of the sampled live estimate (t=%s):"
                   % fmt_ms(rep["peak"]["t"]))
        out.append("%10s %10s %9s %13s  %s" % ("live", "allocated", "count", "median life",
                                              "site"))
        for s in sites:
            med = s["median"]
            med_s = "-" if med is None else ("live at exit" if med == "inf" else fmt_ms(med))
            out.append("%10s %10s %9s %13s  %s%s" % (
                fmt_bytes(s["live"]), fmt_bytes(s["alloc"]), fmt_count(s["count"]), med_s,
                s["label"], (" (%s)" % s["loc"]) if s["loc"] else ""))
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="mallocim report",
        description="Report on a malloc-im profile (./mallocim run --profile FILE).")
    ap.add_argument("profile", help="the profile file")
    ap.add_argument("-o", "--output", help="the HTML report (default: PROFILE.html)")
    ap.add_argument("--collapsed", metavar="FILE",
                    help="collapsed stacks of bytes live at the peak (flamegraph.pl, speedscope)")
    ap.add_argument("--pprof", metavar="FILE",
                    help="gzip-compressed pprof heap profile (go tool pprof)")
    ap.add_argument("--text", action="store_true", help="print the finding and top sites")
    ap.add_argument("--no-addr2line", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    try:
        p = parse_profile(args.profile)
    except (OSError, ValueError) as e:
        print("mallocim report: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    frames_by_addr, sym_notes = symbolize(p, use_addr2line=not args.no_addr2line)
    rep = analyze(p, frames_by_addr, sym_notes)

    out = args.output or args.profile + ".html"
    try:
        with open(out, "w", encoding="utf-8") as f:
            f.write(render_html(rep))
        if args.collapsed:
            with open(args.collapsed, "w", encoding="utf-8") as f:
                for line in collapsed_lines(rep):
                    f.write(line + "\n")
        if args.pprof:
            with open(args.pprof, "wb") as f:
                # mtime 0: the same profile gives the same bytes
                with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
                    gz.write(pprof_bytes(p, rep, frames_by_addr))
    except OSError as e:
        print("mallocim report: %s" % e, file=sys.stderr)
        return 1
    if args.text:
        sys.stdout.write(text_summary(rep))
        sys.stdout.flush()
    written = [out] + [x for x in (args.collapsed, args.pprof) if x]
    print("mallocim report: wrote %s" % ", ".join(written), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
