#include "core/segmap.h"

#include "platform/os.h"

namespace mallocim {

// 2^26 entries of 8 bytes: 512 MiB of address space, reserved without backing; only the pages
// covering granules in use ever become resident (one 4 KiB page per 2 GiB of heap).
std::atomic<RegionHeader*>* g_segmap = nullptr;

bool segmap_init() {
  if (g_segmap) return true;
  size_t bytes = kSegmapEntries * sizeof(g_segmap[0]);
  g_segmap = static_cast<std::atomic<RegionHeader*>*>(os::map_aligned(bytes, os::hw().page_size));
  return g_segmap != nullptr;
}

void segmap_set(void* base, size_t size, RegionHeader* h) {
  uintptr_t first = uintptr_t(base) >> kGranuleShift;
  for (size_t i = 0; i < size >> kGranuleShift; ++i)
    g_segmap[first + i].store(h, std::memory_order_release);
}

void segmap_clear(void* base, size_t size) { segmap_set(base, size, nullptr); }

}  // namespace mallocim
