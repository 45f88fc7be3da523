#!/usr/bin/env bash
# Every allocation entry point is a defined dynamic symbol of libmallocim.so (what `nm -D` shows).
# usage: check_symbols.sh /path/to/libmallocim.so
set -u
LIB=${1:?usage: check_symbols.sh LIB}
command -v nm >/dev/null || { echo "SKIP nm is not installed"; exit 77; }
[ -f "$LIB" ] || { echo "FAIL $LIB does not exist"; exit 1; }

symbols=(
  malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc pvalloc
  malloc_usable_size malloc_trim mallinfo mallinfo2
  __libc_malloc __libc_free __libc_calloc __libc_realloc __libc_memalign __libc_valloc __libc_pvalloc
  im_malloc im_calloc im_realloc im_aligned_alloc im_free im_usable_size im_owns im_trim im_stats_get
  im_version
  # C++17 operator new/delete: plain, array, nothrow, sized, align_val_t, sized+aligned
  _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t
  _ZnwmSt11align_val_t _ZnamSt11align_val_t
  _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t
  _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t
  _ZdlPvSt11align_val_t _ZdaPvSt11align_val_t _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t
  _ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t
)

defined=$(nm -D --defined-only "$LIB" | awk '$2 ~ /^[TWi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
missing=()
for s in "${symbols[@]}"; do
  grep -qx -- "$s" <<<"$defined" || missing+=("$s")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "FAIL symbols.defined_in_dynamic_table: missing from nm -D $LIB: ${missing[*]}"
  exit 1
fi
echo "PASS symbols.defined_in_dynamic_table: all ${#symbols[@]} entry points exported"
# The library must not need the allocator of anything else (no undefined malloc family symbols).
undef=$(nm -D --undefined-only "$LIB" | awk '{ sub(/@.*/, "", $2); print $2 }' |
  grep -xE 'malloc|free|calloc|realloc|posix_memalign|aligned_alloc|memalign|_Znwm|_Znam|_ZdlPv' || true)
if [ -n "$undef" ]; then
  echo "FAIL symbols.no_undefined_allocator_symbols: $LIB imports: $undef"
  exit 1
fi
echo "PASS symbols.no_undefined_allocator_symbols"
# The core depends on libc alone: nothing else is loaded into every process the library is
# preloaded into (libgcc_s came in once for a popcount helper: one more library mapped and
# relocated at each start).
if command -v readelf >/dev/null; then
  extra=$(readelf -d "$LIB" | awk '/\(NEEDED\)/ { gsub(/[\[\]]/, "", $5); print $5 }' |
    grep -vxE 'libc\.so\.6|ld-linux.*\.so\.[0-9]+' || true)
  if [ -n "$extra" ]; then
    echo "FAIL symbols.needs_only_libc: $LIB needs" $extra
    exit 1
  fi
  echo "PASS symbols.needs_only_libc"
fi
