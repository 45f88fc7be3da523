#!/usr/bin/env bash
# callgrind_pair.sh: instructions per small malloc/free pair for each allocator, counted by
# valgrind's callgrind tool.
#
# Method (docs/SPEED.md): bench/callgrind_pair.c is compiled with -O2 -fno-builtin -fno-plt
# (direct calls through the GOT, so the callees callgrind sees are malloc and free themselves,
# not PLT stubs) and run under `valgrind --tool=callgrind --toggle-collect=run_pairs` with the
# allocator in LD_PRELOAD (glibc: no preload), once with N1 and once with N2 pairs. Callgrind,
# unlike memcheck and the other heap-checking tools, does not replace malloc, so the preloaded
# allocator's own code runs and is counted; the script checks that malloc and free were bound to
# the expected library. Only instructions inside run_pairs() (the loop and everything it calls)
# are counted, and (count(N2) - count(N1)) / (N2 - N1) cancels what does not grow with N. The
# same is done for the inclusive cost of the malloc and free calls; "loop" is what the loop
# itself adds (calls, store, branch).
#
# Two cases per allocator: KEEP 0 (the loop's block is the only live block of its size class,
# so allocators that count live blocks per page take their "page became empty" path on every
# free) and KEEP 1 (one more block of the size stays live, so the page stays in use: the plain
# fast path).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$ROOT/build/release
SIZE=32
N1=100000
N2=600000
KEEPS="0 1"
ALLOCS="glibc jemalloc mimalloc tcmalloc mallocim"
declare -A LIB=()

usage() {
  cat <<EOF
usage: bench/callgrind_pair.sh [OPTIONS]

Counts instructions per malloc/free pair under valgrind --tool=callgrind for each allocator.

options:
  --build-dir DIR     tree with libmallocim.so (default build/release; ./mallocim lib builds it)
  --size N            block size in bytes (default $SIZE)
  --n1 N, --n2 N      pair counts of the two runs (default $N1 and $N2)
  --keep "K..."       blocks of the size kept live during the loop (default "$KEEPS")
  --allocators LIST   comma-separated subset of glibc,jemalloc,mimalloc,tcmalloc,mallocim
  --lib NAME=PATH     library to preload for NAME instead of the one found
  -h, --help          this text

Needs valgrind and a C compiler (cc). Prints one row per allocator and KEEP value.
EOF
}

die() { echo "callgrind_pair.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --n1) N1=$2; shift 2 ;;
    --n2) N2=$2; shift 2 ;;
    --keep) KEEPS=$2; shift 2 ;;
    --allocators) ALLOCS=${2//,/ }; shift 2 ;;
    --lib) LIB[${2%%=*}]=${2#*=}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[ "$N2" -gt "$N1" ] || die "--n2 must be larger than --n1"
command -v valgrind >/dev/null || die "valgrind not found (Debian: apt-get install valgrind)"
command -v callgrind_annotate >/dev/null || die "callgrind_annotate not found (part of valgrind)"
CC=${CC:-cc}
command -v "$CC" >/dev/null || die "no C compiler ($CC)"

MULTIARCH=$(gcc -print-multiarch 2>/dev/null || true)
[ -n "$MULTIARCH" ] || MULTIARCH=$(uname -m)-linux-gnu
find_lib() { # names...
  local n d
  for n in "$@"; do
    for d in /usr/lib/$MULTIARCH /lib/$MULTIARCH /usr/lib64 /usr/lib /usr/local/lib; do
      [ -f "$d/$n" ] && { echo "$d/$n"; return 0; }
    done
  done
  return 1
}
lib_of() { # allocator -> path to preload ("" for glibc), or fails
  local a=$1
  if [ -n "${LIB[$a]:-}" ]; then echo "${LIB[$a]}"; return 0; fi
  case $a in
    glibc) echo "" ;;
    jemalloc) find_lib libjemalloc.so.2 libjemalloc.so ;;
    mimalloc) find_lib libmimalloc.so.2 libmimalloc.so ;;
    tcmalloc) find_lib libtcmalloc_minimal.so.4 libtcmalloc_minimal.so libtcmalloc.so.4 ;;
    mallocim) [ -f "$BUILD_DIR/libmallocim.so" ] && echo "$BUILD_DIR/libmallocim.so" ;;
    *) die "unknown allocator $a" ;;
  esac
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$CC" -O2 -fno-builtin -fno-plt -o "$TMP/pair" "$ROOT/bench/callgrind_pair.c" -ldl

# run ALLOCATOR_LIB N KEEP -> "total malloc_ir free_ir malloc_calls free_calls cg_object
# malloc_from free_from" (callgrind_annotate's inclusive costs of run_pairs' callees).
run() {
  local lib=$1 n=$2 keep=$3 out=$TMP/cg.$RANDOM.out prog
  if [ -n "$lib" ]; then
    prog=$(LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$out" \
      --toggle-collect=run_pairs "$TMP/pair" "$n" "$SIZE" "$keep" 2>"$TMP/vg.err") ||
      { cat "$TMP/vg.err" >&2; die "valgrind failed"; }
  else
    prog=$(env -u LD_PRELOAD valgrind --tool=callgrind --callgrind-out-file="$out" \
      --toggle-collect=run_pairs "$TMP/pair" "$n" "$SIZE" "$keep" 2>"$TMP/vg.err") ||
      { cat "$TMP/vg.err" >&2; die "valgrind failed"; }
  fi
  local total mfrom ffrom
  total=$(awk '/^summary:/ {print $2}' "$out")
  mfrom=$(sed -n 's/^malloc_from=//p' <<<"$prog")
  ffrom=$(sed -n 's/^free_from=//p' <<<"$prog")
  # Callees of run_pairs in the calling tree: "  630,000 (62.8%)  >   ???:free (10,000x) [obj]".
  callgrind_annotate --inclusive=yes --threshold=100 --tree=calling "$out" 2>/dev/null |
    awk -v total="$total" -v mf="${mfrom:-?}" -v ff="${ffrom:-?}" '
      /\*  .*:run_pairs / { inblock = 1; next }
      inblock && /\*  / { inblock = 0 }
      inblock && />   / {
        ir = $1; gsub(",", "", ir)
        match($0, /\(([0-9,]+)x\)/); calls = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", calls)
        match($0, /\[[^]]*\]$/); obj = substr($0, RSTART + 1, RLENGTH - 2)
        if ($0 ~ /:malloc \(/) { m = ir; mc = calls; mobj = obj }
        else if ($0 ~ /:free \(/) { f = ir; fc = calls }
      }
      END {
        printf "%s %s %s %s %s %s %s %s\n", total, m + 0, f + 0, mc + 0, fc + 0, (mobj == "" ? "-" : mobj), mf, ff
      }'
  rm -f "$out"
}

expected_object() { # lib -> realpath of the object malloc must come from
  if [ -n "$1" ]; then readlink -f "$1"; else readlink -f "$(find_lib libc.so.6)"; fi
}

printf "valgrind %s, callgrind; %s-byte blocks; N1=%s N2=%s pairs\n" \
  "$(valgrind --version | sed 's/valgrind-//')" "$SIZE" "$N1" "$N2"
printf "%-9s %4s %11s %8s %8s %6s  %s\n" allocator keep instr/pair malloc free loop \
  "malloc bound to"
status=0
for a in $ALLOCS; do
  if ! lib=$(lib_of "$a") || { [ "$a" != glibc ] && [ -z "$lib" ]; }; then
    echo "note: $a: library not found, skipped" >&2
    continue
  fi
  want=$(expected_object "$lib")
  for keep in $KEEPS; do
    read -r t1 m1 f1 _ _ _ _ _ <<<"$(run "$lib" "$N1" "$keep")"
    read -r t2 m2 f2 mc2 fc2 cgobj mfrom ffrom <<<"$(run "$lib" "$N2" "$keep")"
    # The program's own view (dladdr) must name the expected library for both functions, and
    # callgrind's object for malloc must not be another library. (tcmalloc keeps malloc and free
    # in an ELF section of their own, google_malloc, outside .text; callgrind then shows the
    # object as ???, while the symbol and dladdr are right.)
    note=""
    if [ "$(readlink -f "$mfrom")" != "$want" ] || [ "$(readlink -f "$ffrom")" != "$want" ]; then
      note=" WRONG: malloc from $mfrom, free from $ffrom, expected $want"
      status=1
    elif [ "$cgobj" != "???" ] && [ "$(readlink -f "$cgobj")" != "$want" ]; then
      note=" WRONG: callgrind counted malloc in $cgobj"
      status=1
    elif [ "$cgobj" = "???" ]; then
      note=" (callgrind: object ???, dladdr: $(basename "$mfrom"))"
    fi
    if [ "$mc2" != "$N2" ] || [ "$fc2" != "$N2" ]; then
      note="$note WRONG: $mc2 malloc / $fc2 free calls counted, expected $N2"
      status=1
    fi
    awk -v a="$a" -v k="$keep" -v t1="$t1" -v t2="$t2" -v m1="$m1" -v m2="$m2" -v f1="$f1" \
      -v f2="$f2" -v n1="$N1" -v n2="$N2" -v obj="$(basename "$want")" -v note="$note" 'BEGIN {
        d = n2 - n1; t = (t2 - t1) / d; m = (m2 - m1) / d; f = (f2 - f1) / d
        printf "%-9s %4s %11.1f %8.1f %8.1f %6.1f  %s%s\n", a, k, t, m, f, t - m - f, obj, note
      }'
  done
done
exit $status
