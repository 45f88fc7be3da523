// Huge blocks (> kLargeMax, or alignment beyond what a region offers): each one a mapping of its
// own, whole granules, returned to the OS on free. realloc moves them with mremap (no copy).
#pragma once
#include <stddef.h>

#include "core/segmap.h"

namespace mallocim {

struct HugeHeader {
  RegionHeader header;  // kind == huge
  size_t map_size;      // bytes mapped from the header on, a multiple of kGranule
  size_t offset;        // from the header to the block
  size_t usable;        // bytes usable in the block
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

struct HugeFigures {
  size_t blocks, mapped, usable;
};
HugeFigures huge_figures();

}  // namespace mallocim
