#!/usr/bin/env python3
"""The HTML report in a real browser: headless Chromium loads pages made from the synthetic
profiles (make_fixture.py) and must run their script without an error and draw every figure.

    test_browser.py [--tool tools/report/mallocim_report.py] [--module fixture_module]

1. Each page (fragmentation, leak, crash-truncated, empty, nothing at all) is loaded with
   --dump-dom: <body data-rendered="ok"> (set by the page once every figure drew), no
   data-error (set by window.onerror), no "Uncaught" console message on stderr.
2. The fragmentation page again with a script appended that clicks and hovers everything
   (toggles, table sort, stack rows, flame graph zoom in and out, tooltips, a resize): still no
   error, the zoom widened the chosen frame, the sort put the biggest allocator first.
3. A screenshot (--screenshot, PNG read here with zlib): inside each figure's box (the page
   writes data-box="x,y,w,h" on each) a good fraction of the pixels is not the card's white,
   several distinct colours are present, and the colours of the figure's data series are there.
4. Negative controls, so that the checks above can fail: a page with a script error must be
   caught, and the pixel check must reject a blank area.

Exits 77 (ctest: skipped) when no Chromium is installed (or MALLOCIM_CHROMIUM names none); 0 when every check passes, 1 otherwise.
Everything is written under one temporary directory (the browser's HOME and profile included),
removed at the end.
"""

import argparse
import html.parser
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import make_fixture  # noqa: E402
from checks import check, verdict  # noqa: E402
import pngread  # noqa: E402

SKIP = 77
PLOTS = ["timeline", "sizes", "lifetimes", "flame", "frag", "breakdown"]


def find_chromium():
    """$MALLOCIM_CHROMIUM when set (a name or path; one that does not exist means: skip), else
    Debian's chromium or another Chromium-based browser in PATH."""
    if os.environ.get("MALLOCIM_CHROMIUM"):
        return shutil.which(os.environ["MALLOCIM_CHROMIUM"])
    for c in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome",
              "google-chrome-stable"):
        p = shutil.which(c)
        if p:
            return p
    return None


class Browser:
    def __init__(self, exe, tmp):
        self.exe = exe
        self.tmp = tmp
        self.n = 0

    def run(self, url, mode, height=4000, out=None):
        """mode 'dom' (returns the DOM) or 'shot' (writes the PNG out); returns (stdout, stderr)."""
        self.n += 1
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        # the browser's HOME, profile, caches and crash database all stay in the temporary dir
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
               "XDG_CONFIG_HOME": os.path.join(home, ".config"),
               "XDG_CACHE_HOME": os.path.join(home, ".cache"), "LC_ALL": "C.UTF-8"}
        args = [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-breakpad", "--user-data-dir=" + os.path.join(self.tmp, "ud%d" % self.n),
                "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                "--window-size=1280,%d" % height]
        args += ["--dump-dom"] if mode == "dom" else ["--screenshot=" + out]
        args.append(url)
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, start_new_session=True)
        try:
            so, se = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)  # the browser we started, and its helpers
            so, se = p.communicate()
            se += "\n(timed out)"
        return so, se


class DomScan(html.parser.HTMLParser):
    """The body's attributes and those of every element with data-plot or data-table."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.body = None
        self.boxes = {}
        self.finding = []
        self._in_finding = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body" and self.body is None:
            self.body = a
        key = a.get("data-plot") or a.get("data-table")
        if key:
            self.boxes[key] = a
        if a.get("id") == "finding":
            self._in_finding = 1
        elif self._in_finding:
            self._in_finding += 1

    def handle_endtag(self, tag):
        if self._in_finding:
            self._in_finding -= 1

    def handle_data(self, data):
        if self._in_finding:
            self.finding.append(data)


def dom_check(browser, path, name, expect_error=False):
    so, se = browser.run("file://" + path, "dom")
    scan = DomScan()
    scan.feed(so)
    body = scan.body or {}
    uncaught = [ln for ln in se.splitlines() if "Uncaught" in ln]
    err = body.get("data-error")
    if expect_error:
        check(bool(uncaught) or bool(err), "%s: the injected script error is detected" % name)
        return scan
    check(body.get("data-rendered") == "ok",
          "%s: page marks itself rendered (body %r; stderr tail %s)" % (name, body, se[-400:]))
    check(not err, "%s: no script error: %s" % (name, err))
    check(not uncaught, "%s: no 'Uncaught' on the console: %s" % (name, uncaught[:3]))
    return scan


def box_of(attrs):
    try:
        x, y, w, h = (int(v) for v in attrs["data-box"].split(","))
        return x, y, w, h
    except (KeyError, ValueError):
        return None


def hexrgb(h, opacity=1.0):
    """The colour #rrggbb drawn at opacity over the white card."""
    c = [int(h[i:i + 2], 16) for i in (1, 3, 5)]
    return tuple(round(opacity * v + (1 - opacity) * 255) for v in c)


# Per figure, colours its data must show (the page's palette; areas at their fill opacity).
SERIES = {
    "timeline": [hexrgb("#5b8def"), hexrgb("#2fa36b")],      # RSS and live lines
    "sizes": [hexrgb("#5b8def")],
    "lifetimes": [hexrgb("#a66bd6"), hexrgb("#9aa3b5", 0.85)],  # freed, never freed
    "frag": [hexrgb("#5b8def", 0.85)],                         # the biggest class
    "breakdown": [hexrgb("#2fa36b"), hexrgb("#f08a4b")],     # live, free in the biggest class
    "flame": [],
}


def drawn(img, box, bg=(255, 255, 255)):
    """(fraction of pixels not background, number of distinct colours of at least 20 pixels,
    {colour: pixels})."""
    x, y, w, h = box
    px = img.region(x, y, x + w, y + h)
    if not px:
        return 0.0, 0, {}
    non_bg = 0
    colours = {}
    for c in px:
        if max(abs(c[0] - bg[0]), abs(c[1] - bg[1]), abs(c[2] - bg[2])) > 24:
            non_bg += 1
        colours[c] = colours.get(c, 0) + 1
    return non_bg / len(px), sum(1 for n in colours.values() if n >= 20), colours


def has_colour(colours, rgb, tol=10, min_px=40):
    n = sum(k for c, k in colours.items()
            if max(abs(c[0] - rgb[0]), abs(c[1] - rgb[1]), abs(c[2] - rgb[2])) <= tol)
    return n >= min_px


INTERACT = r"""
<script>
(function () {
  function fire(el, type, x, y) {
    el.dispatchEvent(new MouseEvent(type, {bubbles: true, clientX: x, clientY: y}));
  }
  function fullWidth() {
    var svg = document.querySelector('#flame svg'), n = 0;
    if (!svg) return 0;
    var W = +svg.getAttribute('width');
    document.querySelectorAll('#flame rect').forEach(function (r) { if (+r.getAttribute('width') >= W - 1) n++; });
    return n;
  }
  function click(el) { el.dispatchEvent(new MouseEvent('click', {bubbles: true})); }
  var n = 0;
  document.querySelectorAll('.seg button').forEach(function (b) { b.click(); n++; });
  document.querySelectorAll('.seg button.on').forEach(function (b) { b.click(); });
  ['timeline', 'frag'].forEach(function (id) {
    var rs = document.querySelectorAll('#' + id + ' svg rect'), ov = rs[rs.length - 1];
    var b = ov.getBoundingClientRect();
    for (var i = 0; i <= 10; i++) { fire(ov, 'mousemove', b.left + b.width * i / 10, b.top + b.height / 2); n++; }
    fire(ov, 'mouseleave', 0, 0);
  });
  document.querySelectorAll('#sizes rect, #lifetimes rect, #breakdown rect').forEach(function (r) {
    fire(r, 'mousemove', 20, 20); fire(r, 'mouseleave', 0, 0); n++;
  });
  var row = document.querySelector('tr.site');
  row.click(); row.click(); row.click(); n++;
  var more = document.querySelector('button.more'); if (more) { more.click(); n++; }
  document.querySelectorAll('th')[2].click();  // sort by bytes allocated
  document.body.setAttribute('data-first-by-alloc', document.querySelector('tr.site .fn').textContent);
  document.querySelectorAll('th')[0].click();
  document.querySelectorAll('th')[4].click();
  document.querySelectorAll('th')[1].click();
  document.querySelectorAll('#flame rect').forEach(function (r) { fire(r, 'mousemove', 30, 30); n++; });
  var before = fullWidth(), rs = document.querySelectorAll('#flame rect');
  click(rs[rs.length - 1]);  // the last drawn frame: a deep one
  var after = fullWidth();
  document.body.setAttribute('data-flame-zoom', before + ',' + after);
  var z = document.querySelectorAll('#flame rect');
  click(z[z.length - 1]);  // the zoomed frame again: zoom out one level
  click(document.querySelector('#flame rect'));  // the root: all
  window.dispatchEvent(new Event('resize'));
  document.body.setAttribute('data-interactions', String(n));
})();
</script>
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", default=os.path.join(HERE, "..", "..", "tools", "report",
                                                   "mallocim_report.py"))
    ap.add_argument("--module", help="fixture_module built with -g (optional)")
    args = ap.parse_args()
    exe = find_chromium()
    if not exe:
        print("SKIP: no Chromium found (Debian: apt-get install chromium)")
        return SKIP
    tool = os.path.abspath(args.tool)

    with tempfile.TemporaryDirectory(prefix="mallocim-report-browser.") as tmp:
        pngread.self_test(os.path.join(tmp, "selftest.png"))
        browser = Browser(exe, tmp)
        pages = {}
        for name, kind, trunc in (("frag", "frag", None), ("leak", "leak", None),
                                  ("crash", "frag", 0.6), ("empty", "empty", None),
                                  ("nothing", "nothing", None)):
            prof = os.path.join(tmp, name + ".prof")
            make_fixture.generate(prof, kind, args.module, truncate=trunc)
            out = os.path.join(tmp, name + ".html")
            env = dict(os.environ)
            env.pop("LD_PRELOAD", None)
            r = subprocess.run([sys.executable, tool, prof, "-o", out], capture_output=True,
                               text=True, env=env, timeout=120)
            if check(r.returncode == 0, "%s: report tool exits 0: %s" % (name, r.stderr[-400:])):
                pages[name] = out

        # ---- 1. every page renders without an error
        scans = {}
        for name, path in pages.items():
            scans[name] = dom_check(browser, path, name)
        if "frag" in scans:
            s = scans["frag"]
            for p in PLOTS:
                a = s.boxes.get(p, {})
                check(box_of(a) is not None and "data-empty" not in a,
                      "frag: figure %s has a box and data (%r)" % (p, a))
            check("parse_line" in "".join(s.finding), "frag: the finding shows in the page")
        if "nothing" in scans:
            s = scans["nothing"]
            check(all(s.boxes.get(p, {}).get("data-empty") == "1" for p in PLOTS),
                  "nothing: every figure says it has no data (%r)" % s.boxes)

        # ---- 2. interactions
        if "frag" in pages:
            with open(pages["frag"], encoding="utf-8") as f:
                page = f.read()
            inter = os.path.join(tmp, "interact.html")
            with open(inter, "w", encoding="utf-8") as f:
                f.write(page.replace("</body>", INTERACT + "</body>"))
            s = dom_check(browser, inter, "interactions")
            body = s.body or {}
            check(int(body.get("data-interactions", "0")) > 20,
                  "interactions: the script ran (%r)" % body.get("data-interactions"))
            zoom = [int(v) for v in body.get("data-flame-zoom", "0,0").split(",")]
            check(zoom[1] > zoom[0] >= 1,
                  "interactions: zooming into a deep frame widens its chain (%r)" % zoom)
            check("short_lived_tmp" in body.get("data-first-by-alloc", ""),
                  "interactions: sorting by bytes allocated puts short_lived_tmp first (%r)"
                  % body.get("data-first-by-alloc"))

            # ---- 4a. negative control: a script error must be caught
            broken = os.path.join(tmp, "broken.html")
            with open(broken, "w", encoding="utf-8") as f:
                f.write(page.replace("</body>", "<script>noSuchFunction();</script></body>"))
            dom_check(browser, broken, "negative control", expect_error=True)

        # ---- 3. the screenshot: every figure drawn
        if "frag" in scans and "frag" in pages:
            s = scans["frag"]
            height = int(s.body.get("data-page-height", "4000")) + 40
            height = max(800, min(height, 9000))
            shot = os.path.join(tmp, "frag.png")
            _so, se = browser.run("file://" + pages["frag"], "shot", height=height, out=shot)
            if check(os.path.exists(shot), "screenshot written: %s" % se[-400:]):
                img = pngread.read_png(shot)
                check(img.width == 1280 and img.height == height,
                      "screenshot size %dx%d" % (img.width, img.height))
                for p in PLOTS:
                    box = box_of(s.boxes.get(p, {}))
                    if box is None:
                        continue
                    check(box[1] + box[3] <= img.height, "%s: inside the screenshot" % p)
                    frac, ncol, colours = drawn(img, box)
                    print("%-10s box %-22s %5.1f%% drawn, %d colours" % (
                        p, ",".join(map(str, box)), 100 * frac, ncol))
                    check(frac >= 0.08 and ncol >= 4,
                          "%s: drawn (%.1f%% not background, %d colours)" % (p, 100 * frac, ncol))
                    for rgb in SERIES[p]:
                        check(has_colour(colours, rgb),
                              "%s: its data colour %r is on the screen" % (p, rgb))
                # ---- 4b. negative control: the left page margin is not a drawing
                frac, ncol, _c = drawn(img, (0, 400, 40, 600))
                check(not (frac >= 0.08 and ncol >= 4),
                      "negative control: a blank area is not taken for a figure (%.1f%%, %d)"
                      % (100 * frac, ncol))

    return verdict()


if __name__ == "__main__":
    sys.exit(main())
