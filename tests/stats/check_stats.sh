#!/usr/bin/env bash
# usage: check_stats.sh LIB HOLD_PROGRAM
# The summary must be printed at exit and on the signal, name the 1024-byte class, count the
# 10 MiB the program holds as live, say how much is in transparent huge pages (where the kernel
# has them), and its parts must add up to no more than the RSS.
set -u
lib=$1 prog=$2
fail() { echo "FAIL: $*"; printf '%s\n' "$out"; exit 1; }

out=$(env LD_PRELOAD="$lib" MALLOCIM_STATS=1 "$prog" 2>&1 >/dev/null) || fail "program failed"
grep -qE "==malloc-im== memory summary at exit: pid [0-9]+ \(stats_hold\)" <<<"$out" || fail "no summary at exit"
live=$(grep -E "^ +[0-9.]+ (MiB|KiB|B)  live:" <<<"$out" | awk '{print $1, $2}')
case "$live" in
  *MiB) awk -v v="${live% MiB}" 'BEGIN { exit !(v >= 10.0 && v < 12.0) }' || fail "live is $live, expected 10-12 MiB" ;;
  *) fail "live is $live, expected MiB" ;;
esac
grep -qE "^ +1024 B +10240 blocks" <<<"$out" || fail "the 1024 B class with 10240 live blocks is not listed"
if [ -e /sys/kernel/mm/transparent_hugepage/enabled ]; then
  grep -qE "^  transparent huge pages: kernel mode (never|madvise|always); [0-9.]+ (B|KiB|MiB|GiB) of the process in huge pages; segments and regions kept out \(MALLOCIM_THP=0\)" <<<"$out" ||
    fail "no line on transparent huge pages"
fi
# live + free + metadata + not the allocator's == RSS now, to rounding
to_kib() { awk -v v="$1" -v u="$2" 'BEGIN { m = (u == "MiB") ? 1024 : (u == "KiB") ? 1 : 1/1024; printf "%d", v * m }'; }
sum=0
for label in "live:" "free but resident:" "metadata:" "not the allocator's:"; do
  line=$(grep -F "  $label" <<<"$out" | head -n 1)
  set -- $line
  sum=$((sum + $(to_kib "$1" "$2")))
done
rss_line=$(grep -E "^  RSS " <<<"$out")
set -- $rss_line
rss=$(to_kib "$2" "$3")
diff=$((sum > rss ? sum - rss : rss - sum))
[ "$diff" -le $((rss / 50 + 512)) ] || fail "parts add up to $sum KiB, RSS is $rss KiB"

out=$(env LD_PRELOAD="$lib" MALLOCIM_STATS_SIGNAL=12 "$prog" signal 2>&1 >/dev/null) || fail "program failed (signal)"
grep -qE "==malloc-im== memory summary on signal 12: pid [0-9]+" <<<"$out" || fail "no summary on the signal"
echo "stats summary: at exit and on signal, live $live, parts $sum KiB vs RSS $rss KiB"
