#!/usr/bin/env bash
# usage: expect.sh STATUS REGEX... -- CMD...   (CMD: env LD_PRELOAD=LIB PROGRAM CASE)
# Passes when CMD exits with STATUS (134: the abort after a report) and every REGEX matches a
# line of its stderr.
want=$1; shift
regexes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do regexes+=("$1"); shift; done
shift
err=$("$@" 2>&1 >/dev/null)
status=$?
printf '%s\n' "$err"
if [ "$status" -ne "$want" ]; then
  echo "expected exit status $want, got $status" >&2
  exit 1
fi
for r in "${regexes[@]}"; do
  if ! grep -Eq -- "$r" <<<"$err"; then
    echo "stderr does not match: $r" >&2
    exit 1
  fi
done
