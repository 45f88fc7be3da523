#include "core/segmap.h"

#include "platform/os.h"
#include "policy/thp.h"

namespace mallocim {

// 2^26 entries of 8 bytes: 512 MiB of address space, reserved without backing; only the pages
// covering granules in use ever become resident (one 4 KiB page per 2 GiB of heap).
Segmap g_segmap = {nullptr, 0};

bool segmap_init() {
  if (g_segmap.entries) return true;
  size_t bytes = kSegmapEntries * sizeof(g_segmap.entries[0]);
  g_segmap.entries =
      static_cast<std::atomic<RegionHeader*>*>(os::map_aligned(bytes, os::hw().page_size));
  if (!g_segmap.entries) return false;
  thp_fine_grained(g_segmap.entries, bytes);  // else one entry written makes 2 MiB of it resident
  __atomic_store_n(&g_segmap.limit, kSegmapEntries, __ATOMIC_RELEASE);
  return true;
}

void segmap_set(void* base, size_t size, RegionHeader* h) {
  uintptr_t first = uintptr_t(base) >> kGranuleShift;
  uintptr_t e = uintptr_t(h) | (h && h->kind == RegionKind::small ? kSegmapSmallTag : 0);
  for (size_t i = 0; i < size >> kGranuleShift; ++i)
    g_segmap.entries[first + i].store(reinterpret_cast<RegionHeader*>(e), std::memory_order_release);
}

void segmap_clear(void* base, size_t size) { segmap_set(base, size, nullptr); }

}  // namespace mallocim
