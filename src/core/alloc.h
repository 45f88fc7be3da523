// The allocator's entry points, composed from the heap (small), large and huge layers. The
// override layer and the im_* API both call these; the small paths inline into malloc/free.
#pragma once
#include "core/heap.h"
#include "core/segmap.h"

namespace mallocim {

void* alloc_large_or_huge(size_t size, size_t align);
void dealloc_other(void* p, RegionHeader* r);  // p first: free() leaves it in its register
void* alloc_aligned(size_t align, size_t size);  // align: a power of two
void* realloc_impl(void* p, size_t size);
void* calloc_impl(size_t count, size_t size);
size_t usable_size(const void* p);
size_t trim_impl();

// Medium blocks (over kDirectMax, up to kSmallMax) come from the boundary-tag regions, best fit
// with immediate coalescing (core/large.h), unless MALLOCIM_MEDIUM_REGIONS=0 keeps them in size-
// class pages. Set once at start-up.
extern bool g_medium_regions MI_HIDDEN;
// The largest request size-class pages serve.
MI_INLINE size_t pages_max() { return g_medium_regions ? kDirectMax : kSmallMax; }

MI_INLINE void* alloc(size_t size) {
  if (MI_LIKELY(size <= kDirectMax)) return heap_malloc_small(t_heap, size);
  if (size <= pages_max()) return heap_malloc_small(t_heap, size);
  return alloc_large_or_huge(size, 16);
}

MI_INLINE void dealloc(void* p) {
  uintptr_t e = segmap_entry(p);
  if (MI_LIKELY(e & kSegmapSmallTag)) {
    heap_free_small(reinterpret_cast<Segment*>(e - kSegmapSmallTag), p);
    return;
  }
  dealloc_other(p, reinterpret_cast<RegionHeader*>(e));  // large, huge, or not ours (null)
}

}  // namespace mallocim
