#!/bin/bash
# bench/ab.sh REPS "CMD ARGS" LIB... : REPS interleaved runs of a bench program under each library
# (LD_PRELOAD); prints the median seconds and peak RSS per library, then every run. A LIB may
# carry environment settings: "MALLOCIM_PURGE_DELAY_MS=0 build/release/libmallocim.so".
reps=$1; cmd=$2; shift 2
declare -A S R
for ((i=0;i<reps;i++)); do
  for lib in "$@"; do
    path=${lib##* }; envs=""; [ "$path" != "$lib" ] && envs=${lib% *}
    out=$(env $envs LD_PRELOAD=$path $cmd 2>&1 | grep RESULT)
    s=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out"); r=$(sed -n 's/.* rss_peak_kb=\([0-9]*\).*/\1/p' <<<"$out")
    S[$lib]="${S[$lib]} $s"; R[$lib]="${R[$lib]} $r"
  done
done
echo "== $cmd"
for lib in "$@"; do
  med=$(tr ' ' '\n' <<<"${S[$lib]}" | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  medr=$(tr ' ' '\n' <<<"${R[$lib]}" | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$lib seconds=$med rss_peak_kb=$medr  [${S[$lib]} ] [${R[$lib]} ]"
done
