// The segment map: one entry per 4 MiB granule of the address space, pointing at the header of
// the allocator region that covers it, or null. It answers "is this pointer ours, and whose
// metadata describes it" with one load, for every block kind, so free() needs no header in front
// of small blocks and rejects foreign pointers without touching them.
#pragma once
#include <atomic>

#include "core/config.h"

namespace mallocim {

enum class RegionKind : uint32_t { small = 0x534d4c31, large = 0x4c524731, huge = 0x48554731 };

// Common first field of every region header.
struct RegionHeader {
  RegionKind kind;
};

constexpr unsigned kAddressBits = 48;
constexpr size_t kSegmapEntries = size_t(1) << (kAddressBits - kGranuleShift);

struct Segmap {
  std::atomic<RegionHeader*>* entries;
  uintptr_t limit;  // 0 until the map exists: every lookup then answers "not ours"
};
extern Segmap g_segmap MI_HIDDEN;

bool segmap_init();
void segmap_set(void* base, size_t size, RegionHeader* h);  // size: multiple of kGranule
void segmap_clear(void* base, size_t size);

// An entry is the region's header address, with bit 0 set for small segments: free() tells a
// small block from everything else (other kinds, foreign pointers) without reading the header.
constexpr uintptr_t kSegmapSmallTag = 1;

MI_INLINE uintptr_t segmap_entry(const void* p) {
  uintptr_t i = uintptr_t(p) >> kGranuleShift;
  if (MI_UNLIKELY(i >= g_segmap.limit)) return 0;
  return uintptr_t(g_segmap.entries[i].load(std::memory_order_relaxed));
}

MI_INLINE RegionHeader* segmap_lookup(const void* p) {
  return reinterpret_cast<RegionHeader*>(segmap_entry(p) & ~kSegmapSmallTag);
}

}  // namespace mallocim
