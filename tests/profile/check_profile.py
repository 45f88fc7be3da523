#!/usr/bin/env python3
"""Runs tests/profile/known.c under MALLOCIM_PROFILE and checks the profile against the truth:
the sampling rate, the live bytes of the leaking site, the frees of the churning sites, the
snapshots of the fragmenting class, and that a forked child writes nothing.
usage: check_profile.py LIBMALLOCIM PROGRAM SOURCE_DIR"""
import glob
import math
import os
import subprocess
import sys
import tempfile

LIB, PROG, SRC = sys.argv[1:4]
RATE = 65536
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def run(mode, tmp):
    prefix = os.path.join(tmp, mode + ".prof")
    env = dict(os.environ, LD_PRELOAD=LIB, MALLOCIM_PROFILE=prefix, MALLOCIM_PROFILE_RATE=str(RATE),
               MALLOCIM_PROFILE_INTERVAL_MS="1")
    out = subprocess.run([PROG, mode], env=env, check=True, capture_output=True, text=True).stdout
    truth = {w[1]: int(w[2]) for w in (l.split() for l in out.splitlines()) if w and w[0] == "truth"}
    files = glob.glob(prefix + ".*")
    return truth, files


def finding(profile):
    """The report's plain-words finding for a profile (tools/report, --text)."""
    tool = os.path.join(SRC, "tools", "report", "mallocim_report.py")
    html = profile + ".html"
    out = subprocess.run([sys.executable, tool, profile, "-o", html, "--text"], check=True,
                         capture_output=True, text=True, env=dict(os.environ, LD_PRELOAD="")).stdout
    check(os.path.getsize(html) > 10000, "the report page is written")
    return next((l for l in out.splitlines() if l.startswith("Finding:")), "")


def parse(path):
    p = {"alloc": {}, "free": {}, "stack": {}, "frame": {}, "snap": [], "cls": [], "end": None}
    for line in open(path):
        w = line.split(" ")
        w[-1] = w[-1].rstrip("\n")
        if w[0] == "alloc":
            p["alloc"][w[2]] = dict(t=int(w[1]), stack=w[3], size=int(w[4]), block=int(w[5]), weight=int(w[6]))
        elif w[0] == "free":
            p["free"][w[2]] = int(w[1])
        elif w[0] == "stack":
            p["stack"][w[1]] = w[2:]
        elif w[0] == "frame":
            p["frame"][w[1]] = (w[2], w[4])
        elif w[0] == "snap":
            p["snap"].append([int(x) for x in w[1:]])
        elif w[0] == "cls":
            p["cls"].append([int(x) for x in w[1:]])
        elif w[0] == "end":
            p["end"] = int(w[1])
    return p


def functions(p):
    """Function name of every address, through addr2line (what the report does)."""
    by_module = {}
    for addr, (vaddr, module) in p["frame"].items():
        by_module.setdefault(module, []).append((addr, vaddr))
    names = {}
    for module, items in by_module.items():
        if not os.path.exists(module):
            continue
        out = subprocess.run(["addr2line", "-f", "-e", module] + [v for _, v in items],
                             capture_output=True, text=True, env={"PATH": os.environ["PATH"]}).stdout
        lines = out.splitlines()
        for i, (addr, _) in enumerate(items):
            names[addr] = lines[2 * i] if 2 * i < len(lines) else "??"
    return names


def site_of(p, names, sample):
    frames = [names.get(a, "??") for a in p["stack"].get(sample["stack"], [])]
    for f in ("leak_site", "churn_site", "big_site", "sparse_site"):
        if f in frames:
            return f
    return "other"


with tempfile.TemporaryDirectory() as tmp:
    # 1. leak: the numbers
    truth, files = run("leak", tmp)
    check(len(files) == 1, f"one profile file for one process (got {len(files)})")
    p = parse(files[0])
    check(p["end"] is not None, "the profile is complete (end line)")
    names = functions(p)
    by_site = {}
    for sid, s in p["alloc"].items():
        site = site_of(p, names, s)
        d = by_site.setdefault(site, {"n": 0, "live": 0, "freed": 0, "bytes": 0})
        d["n"] += 1
        d["bytes"] += s["weight"]
        if sid in p["free"]:
            d["freed"] += 1
        else:
            d["live"] += s["weight"]
    print("sites:", by_site)
    leak_blocks = truth["leak_bytes"] // 40 * 48  # 40-byte requests get 48-byte blocks
    est = by_site.get("leak_site", {}).get("live", 0)
    n = by_site.get("leak_site", {}).get("n", 0)
    # Poisson: about leak_blocks / RATE samples; 4 standard deviations of slack.
    expect_n = leak_blocks / RATE
    check(abs(n - expect_n) < 4 * math.sqrt(expect_n) + 2,
          f"leak_site samples {n} ~ {expect_n:.0f} (one per {RATE} bytes)")
    check(abs(est - leak_blocks) < 0.2 * leak_blocks,
          f"leak_site live estimate {est} within 20% of {leak_blocks}")
    check(by_site.get("leak_site", {}).get("freed", 1) == 0, "no leak_site sample is freed")
    churn = by_site.get("churn_site", {})
    check(churn.get("n", 0) > 0.5 * (128 << 20) / RATE, f"churn_site sampled ({churn.get('n', 0)} samples)")
    check(churn.get("live", 1) < 0.05 * leak_blocks, "churn_site holds (almost) nothing at exit")
    big = by_site.get("big_site", {})
    check(big.get("n", 0) == 100 and big.get("freed", 0) == 100,
          f"each 1 MiB block of big_site sampled and freed (n={big.get('n')}, freed={big.get('freed')})")
    small = [s for s in p["alloc"].values() if s["size"] == 40]
    check(small and all(s["block"] == 48 for s in small), "40-byte requests recorded with 48-byte blocks")
    check(len(p["snap"]) >= 2 and all(s[1] > 0 for s in p["snap"]), "snapshots with RSS")
    last = p["snap"][-1]
    check(abs(last[2] - leak_blocks) < 0.25 * leak_blocks + (12 << 20),
          f"last snapshot's live bytes {last[2]} ~ what the program holds")
    text = finding(files[0])
    check("leak_site" in text and "never freed" in text, f"the report names the leaking site: {text}")
    # 2. frag: the 48-byte class's pages hold far more than their live blocks
    truth, files = run("frag", tmp)
    p = parse(files[0])
    text = finding(files[0])
    check("48 B class" in text and "sparse_site" in text,
          f"the report names the fragmenting class and its site: {text}")
    last_t = max(c[0] for c in p["cls"])
    cls48 = [c for c in p["cls"] if c[0] == last_t and c[1] == 3]
    check(bool(cls48), "the 48-byte class (class 3) appears in the last snapshot")
    if cls48:
        # The exit snapshot is the last one in the file; a background snapshot may carry the
        # same millisecond but figures read earlier.
        live, resident = cls48[-1][2], cls48[-1][3]
        check(resident > 8 * live, f"48-byte class: resident {resident} > 8x live {live} (sparse pages)")
        check(abs(live - truth["sparse_kept_bytes"]) < 0.05 * truth["sparse_kept_bytes"] + 65536,
              f"48-byte class live {live} ~ {truth['sparse_kept_bytes']}")
    # 3. fork: only the parent writes
    truth, files = run("fork", tmp)
    check(truth.get("child_status") == 0, "the forked child ran")
    check(len(files) == 1, f"a forked child writes no profile ({len(files)} files)")
    p = parse(files[0])
    sizes = [s["size"] for s in p["alloc"].values()]
    check(sizes.count(1 << 20) == 0, "no child allocation in the parent's profile")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
