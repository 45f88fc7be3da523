#!/usr/bin/env bash
# Runs real programs with and without libmallocim preloaded and requires identical results.
#
# usage: real_programs.sh LIB CASE [BIN_DIR]
#   LIB      path to libmallocim.so
#   CASE     python | sqlite3 | gxx | threads | sort_xz | all
#   BIN_DIR  directory holding the threaded_checksum test program (CASE threads)
# Exit status: 0 pass, 1 fail, 77 skipped (the program is not installed).
set -u

LIB=${1:?usage: real_programs.sh LIB CASE [BIN_DIR]}
CASE=${2:?usage: real_programs.sh LIB CASE [BIN_DIR]}
BIN_DIR=${3:-}
SKIP=77

die() { echo "FAIL $*"; exit 1; }
skip() { echo "SKIP $*"; exit $SKIP; }

[ -f "$LIB" ] || die "library '$LIB' does not exist"
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
# Whatever the caller's environment preloads, the reference runs use no preload at all.
unset LD_PRELOAD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mallocim-real.XXXXXX") || die "mktemp"
trap 'rm -rf "$WORK"' EXIT

# ld.so only warns when a preload fails; make sure the library really is mapped.
preload_works() {
  # shellcheck disable=SC2002 # cat must read its own /proc/self/maps
  LD_PRELOAD=$LIB cat /proc/self/maps 2>"$WORK/preload.err" | grep -q libmallocim ||
    die "preload: libmallocim is not mapped in a preloaded process: $(cat "$WORK/preload.err")"
}

# run_pair NAME CMD...: runs CMD in $WORK/NAME.glibc and $WORK/NAME.lib (as the current
# directory, so files it writes do not collide), and compares exit status and stdout.
run_pair() {
  local name=$1; shift
  local mode rc_glibc rc_lib t0 t1
  for mode in glibc lib; do
    mkdir -p "$WORK/$name.$mode"
    t0=$(date +%s.%N)
    if [ "$mode" = lib ]; then
      (cd "$WORK/$name.$mode" && LD_PRELOAD=$LIB "$@") >"$WORK/$name.$mode.out" 2>"$WORK/$name.$mode.err"
    else
      (cd "$WORK/$name.$mode" && "$@") >"$WORK/$name.$mode.out" 2>"$WORK/$name.$mode.err"
    fi
    local rc=$?
    t1=$(date +%s.%N)
    printf '  %-18s %-5s exit %d, %s s, %d lines of output\n' "$name" "$mode" "$rc" \
      "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" "$(wc -l <"$WORK/$name.$mode.out")"
    if [ "$mode" = lib ]; then rc_lib=$rc; else rc_glibc=$rc; fi
  done
  if grep -q "ld.so" "$WORK/$name.lib.err"; then
    cat "$WORK/$name.lib.err"; die "$name: the dynamic loader complained about the preload"
  fi
  if [ "$rc_glibc" != 0 ]; then
    echo "--- stderr without the library:"; tail -n 20 "$WORK/$name.glibc.err"
    die "$name: fails even without the library (exit $rc_glibc): test problem"
  fi
  if [ "$rc_lib" != "$rc_glibc" ]; then
    echo "--- stderr with the library:"; tail -n 30 "$WORK/$name.lib.err"
    die "$name: exit status $rc_lib with the library, $rc_glibc without"
  fi
  if ! cmp -s "$WORK/$name.glibc.out" "$WORK/$name.lib.out"; then
    echo "--- diff (glibc vs libmallocim), first 40 lines:"
    diff "$WORK/$name.glibc.out" "$WORK/$name.lib.out" | head -n 40
    die "$name: output differs with the library"
  fi
  echo "PASS $name: identical output with and without libmallocim"
}

case_python() {
  local py
  py=$(command -v python3) || skip "python3 is not installed"
  "$py" -c 'pass' 2>/dev/null || skip "python3 does not run"
  local loaded
  loaded=$(LD_PRELOAD=$LIB "$py" -c 'print(any("libmallocim" in l for l in open("/proc/self/maps")))')
  [ "$loaded" = True ] || die "python: libmallocim not mapped in a preloaded python3 ($loaded)"
  cat >"$WORK/work.py" <<'EOF'
import collections, gc, hashlib, json, math, random, re, sys

rng = random.Random(12345)
out = []

# dicts and strings: word frequencies over generated text
syll = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qu"]
words = ["".join(rng.choice(syll) for _ in range(rng.randint(1, 5))) for _ in range(100000)]
text = " ".join(words)
freq = collections.Counter(text.split())
out.append(("distinct", len(freq)))
out.append(("top", freq.most_common(10)))
index = collections.defaultdict(list)
for i, w in enumerate(words):
    index[w[:2]].append(i)
out.append(("index", sorted((k, len(v), sum(v) % 1000003) for k, v in index.items())))

# lists: sort tuples, slices, comprehensions
rows = [(rng.random(), rng.randint(0, 1000), "r%d" % i) for i in range(150000)]
rows.sort(key=lambda r: (r[1], r[0]))
out.append(("sorted", rows[:3], rows[-3:]))
chunks = [rows[i:i + 1000] for i in range(0, len(rows), 1000)]
out.append(("chunks", len(chunks), sum(len(c) for c in chunks)))

# strings: build, replace, format, regex
big = "".join("%05d:%s;" % (i, w) for i, w in enumerate(words[:50000]))
big2 = big.replace("ka", "KA").upper().lower()
out.append(("strlen", len(big), len(big2), big2.count("ka")))
pat = re.compile(r"(\d{5}):(ka|lo)(\w*);")
out.append(("regex", sum(1 for _ in pat.finditer(big))))

# big integers and floats
f = math.factorial(1400)  # under the default 4300-digit str() limit
out.append(("factorial digits", len(str(f)), sum(int(c) for c in str(f))))
out.append(("fsum", math.fsum(r[0] for r in rows)))

# json round trip of a nested structure
doc = {"k%d" % i: {"list": list(range(i % 50)), "s": words[i], "f": i / 7} for i in range(20000)}
s = json.dumps(doc, sort_keys=True)
back = json.loads(s)
out.append(("json", len(s), back == doc))

# sets, tuples, object graphs with cycles for the collector
class Node:
    __slots__ = ("nxt", "payload", "__weakref__")
    def __init__(self, p):
        self.payload = p
        self.nxt = None
for _ in range(20):
    nodes = [Node("x" * (i % 100)) for i in range(20000)]
    for a, b in zip(nodes, nodes[1:] + nodes[:1]):
        a.nxt = b
    del nodes
    gc.collect()
st = set(words) ^ set(w[::-1] for w in words)
out.append(("sets", len(st), min(st), max(st)))
out.append(("bytes", hashlib.sha256(bytes(range(256)) * 10000).hexdigest()))

digest = hashlib.sha256(repr(out).encode()).hexdigest()
for item in out:
    print(repr(item)[:200])
print("digest", digest)
EOF
  PYTHONHASHSEED=0 run_pair python "$py" "$WORK/work.py"
}

case_sqlite3() {
  local sq
  sq=$(command -v sqlite3) || skip "sqlite3 is not installed"
  cat >"$WORK/work.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t SELECT x, x % 97, printf('name-%06d-%s', x, hex(x * 7919)), (x * 37 % 1000) / 7.0 FROM c;
CREATE INDEX t_grp ON t(grp);
SELECT count(*), sum(grp), total(val) FROM t;
SELECT grp, count(*), round(avg(val), 6), max(name), min(name) FROM t GROUP BY grp ORDER BY grp;
SELECT length(group_concat(name, ',')) FROM t;
SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 1 GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 5;
SELECT name, val FROM t ORDER BY val DESC, name LIMIT 5;
SELECT grp, group_concat(id, '-') FROM (SELECT grp, id FROM t WHERE id % 1000 = 0 ORDER BY id) GROUP BY grp ORDER BY grp LIMIT 20;
UPDATE t SET name = upper(name) || '!' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(length(name)), total(val) FROM t;
CREATE TABLE u AS SELECT grp, count(*) AS n, sum(val) AS s FROM t GROUP BY grp;
SELECT sum(n), round(sum(s), 3) FROM u;
SELECT count(DISTINCT substr(name, 1, 9)) FROM t;
VACUUM;
SELECT count(*) FROM t WHERE name LIKE '%A%';
EOF
  run_pair sqlite3 sh -c "\"$sq\" work.db < \"$WORK/work.sql\""
}

case_gxx() {
  local gxx
  gxx=$(command -v g++) || gxx=$(command -v c++) || skip "g++ is not installed"
  cat >"$WORK/prog.cpp" <<'EOF'
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

template <typename T>
struct Tree {
  std::map<T, std::unique_ptr<Tree>> kids;
  size_t count = 0;
  void add(const std::vector<T>& path, size_t i = 0) {
    count++;
    if (i == path.size()) return;
    auto& k = kids[path[i]];
    if (!k) k = std::make_unique<Tree>();
    k->add(path, i + 1);
  }
  size_t nodes() const {
    size_t n = 1;
    for (auto& [key, kid] : kids) n += kid->nodes();
    return n;
  }
};

int main() {
  unsigned x = 12345;
  auto rnd = [&] { x = x * 1103515245u + 12345u; return (x >> 8) & 0xffff; };
  Tree<std::string> tree;
  std::unordered_map<std::string, int> counts;
  std::vector<std::string> all;
  for (int i = 0; i < 100000; i++) {
    std::vector<std::string> path;
    for (int d = 0; d < 4; d++) path.push_back(std::to_string(rnd() % (7 + d * 3)));
    std::ostringstream os;
    for (auto& p : path) os << p << '/';
    counts[os.str()]++;
    all.push_back(os.str());
    tree.add(path);
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::set<int> values;
  for (auto& [k, v] : counts) values.insert(v);
  printf("nodes %zu distinct %zu min %d max %d first %s last %s\n", tree.nodes(), all.size(),
         *values.begin(), *values.rbegin(), all.front().c_str(), all.back().c_str());
  std::vector<long> v(1000000);
  std::iota(v.begin(), v.end(), 1);
  printf("sum %ld\n", std::accumulate(v.begin(), v.end(), 0L));
  return 0;
}
EOF
  local flags=(-std=c++17 -O2 -frandom-seed=mallocim -o prog "$WORK/prog.cpp")
  # 1. the compiler itself (cc1plus, as, collect2, ld) under the library: its output is the binary.
  run_pair gxx_compile "$gxx" "${flags[@]}"
  if ! cmp -s "$WORK/gxx_compile.glibc/prog" "$WORK/gxx_compile.lib/prog"; then
    die "gxx_compile: the binary compiled under libmallocim differs from the one compiled without"
  fi
  echo "PASS gxx_compile: identical binaries"
  # 2. the produced program, with and without the library.
  run_pair gxx_program "$WORK/gxx_compile.lib/prog"
}

case_threads() {
  local prog=$BIN_DIR/threaded_checksum
  [ -x "$prog" ] || die "threads: '$prog' not built"
  run_pair threaded_checksum "$prog" 4 150
}

case_sort_xz() {
  local have=0
  seq 1 400000 | awk '{ printf "%d %s-%d\n", ($1 * 7919) % 100003, "line", $1 }' >"$WORK/data.txt"
  if command -v sort >/dev/null && sort --parallel=2 -n </dev/null >/dev/null 2>&1; then
    have=1
    run_pair sort_parallel sort --parallel=2 -S 4M -k1,1n -k2,2 "$WORK/data.txt"
  else
    echo "SKIP sort_parallel: sort --parallel is not available"
  fi
  if command -v xz >/dev/null && xz -T2 -c </dev/null >/dev/null 2>&1; then
    have=1
    run_pair xz_compress sh -c "xz -T2 -3 --block-size=1MiB -c \"$WORK/data.txt\" > data.xz && xz -T2 -dc data.xz > data.out && cmp data.out \"$WORK/data.txt\" && echo roundtrip ok"
    cmp -s "$WORK/xz_compress.glibc/data.xz" "$WORK/xz_compress.lib/data.xz" ||
      die "xz_compress: compressed output differs with the library"
    echo "PASS xz_compress: identical compressed output"
  else
    echo "SKIP xz_compress: xz -T is not available"
  fi
  [ $have = 1 ] || skip "neither sort --parallel nor xz -T is installed"
}

preload_works
case "$CASE" in
  python) case_python ;;
  sqlite3) case_sqlite3 ;;
  gxx) case_gxx ;;
  threads) case_threads ;;
  sort_xz) case_sort_xz ;;
  all)
    rc=0
    for c in case_python case_sqlite3 case_gxx case_threads case_sort_xz; do
      [ $c = case_threads ] && [ -z "$BIN_DIR" ] && continue
      ($c); r=$?
      [ $r = 0 ] || [ $r = $SKIP ] || rc=1
    done
    exit $rc ;;
  *) die "unknown case '$CASE'" ;;
esac
exit 0
