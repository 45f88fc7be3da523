// Huge blocks (> kLargeMax, or alignment beyond what a region offers): each one a mapping of its
// own, whole granules, returned to the OS on free. realloc moves them with mremap (no copy).
#pragma once
#include <stddef.h>

#include "core/lock.h"
#include "core/segmap.h"

namespace mallocim {

struct HugeHeader {
  RegionHeader header;  // kind == huge
  size_t map_size;      // bytes mapped from the header on, a multiple of kGranule
  size_t offset;        // from the header to the block
  size_t usable;        // bytes usable in the block
  bool reused;          // taken from the cache of freed mappings: not zeroed
};

void* huge_malloc(size_t size, size_t align);
void huge_free(HugeHeader* h, void* p);
// Returns the block's (possibly new) address, or null when out of memory (block unchanged).
void* huge_realloc(HugeHeader* h, void* p, size_t new_size);
MI_INLINE size_t huge_usable(const HugeHeader* h) { return h->usable; }
MI_INLINE bool huge_is_block(const HugeHeader* h, const void* p) {
  return reinterpret_cast<const char*>(h) + h->offset == p;
}

// Whether p was among the last huge blocks freed (their mappings are gone, so a second free can
// only be recognised by address).
bool huge_recently_freed(const void* p);

// Freed huge blocks stay mapped in a small cache (MALLOCIM_HUGE_CACHE_MB) for the next huge
// allocation of about their size; what stays there past the purge delay is unmapped. Returns the
// bytes unmapped.
size_t huge_cache_trim(uint64_t older_than_ms);  // all of it: UINT64_MAX
size_t huge_cache_trim_bytes(size_t want);        // the oldest first, until want bytes went
// calloc: a block from the cache has old contents.
bool huge_needs_zeroing(const void* p);
SpinLock& huge_cache_lock();

struct HugeFigures {
  size_t blocks, mapped, usable;
  size_t cached, cached_resident;  // mappings in the cache, and how much of them is resident
};
// resident: ask the kernel how much of the cache is resident (else count all of it).
HugeFigures huge_figures(bool resident = false);

}  // namespace mallocim
