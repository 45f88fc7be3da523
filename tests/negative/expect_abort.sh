#!/usr/bin/env bash
# usage: expect_abort.sh REGEX CMD...   (run with the library preloaded by ctest)
# Passes when CMD dies of SIGABRT (status 134) and its stderr matches REGEX.
regex=$1; shift
err=$("$@" 2>&1 >/dev/null)
status=$?
printf '%s\n' "$err"
if [ "$status" -ne 134 ]; then
  echo "expected exit status 134 (SIGABRT), got $status" >&2
  exit 1
fi
if ! grep -Eq -- "$regex" <<<"$err"; then
  echo "stderr does not match: $regex" >&2
  exit 1
fi
