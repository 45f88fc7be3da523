// What the override layer calls: the core allocator, or in libmallocim-debug.so
// (MALLOCIM_DEBUG_HEAP) the debug heap that wraps it.
#pragma once
#include "core/alloc.h"
#include "debug/debug_heap.h"

namespace mallocim::entry {

#if MALLOCIM_DEBUG_HEAP
MI_INLINE void* allocate(size_t n, AllocKind k = AllocKind::malloc_family) { return debug_allocate(n, 0, k); }
MI_INLINE void* allocate_aligned(size_t a, size_t n, AllocKind k = AllocKind::malloc_family) {
  return debug_allocate(n, a, k);
}
MI_INLINE void* callocate(size_t c, size_t n) { return debug_callocate(c, n); }
MI_INLINE void* reallocate(void* p, size_t n) { return debug_reallocate(p, n); }
MI_INLINE void release(void* p, AllocKind k = AllocKind::malloc_family, size_t sized = kUnknownSize) {
  debug_release(p, k, sized);
}
MI_INLINE size_t usable(const void* p) { return debug_usable(p); }
#else
MI_INLINE void* allocate(size_t n, AllocKind = AllocKind::malloc_family) { return alloc(n); }
MI_INLINE void* allocate_aligned(size_t a, size_t n, AllocKind = AllocKind::malloc_family) {
  return alloc_aligned(a, n);
}
MI_INLINE void* callocate(size_t c, size_t n) { return calloc_impl(c, n); }
MI_INLINE void* reallocate(void* p, size_t n) { return realloc_impl(p, n); }
MI_INLINE void release(void* p, AllocKind = AllocKind::malloc_family, size_t = kUnknownSize) { dealloc(p); }
MI_INLINE size_t usable(const void* p) { return usable_size(p); }
#endif

}  // namespace mallocim::entry
