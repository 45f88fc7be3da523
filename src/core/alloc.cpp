#include "core/alloc.h"

#include <errno.h>
#include <string.h>

#include "core/huge.h"
#include "core/init.h"
#include "core/large.h"
#include "core/mixed.h"
#include "core/purge.h"
#include "core/sample.h"
#include "debug/report.h"
#include "mallocim.h"

namespace mallocim {
namespace {

void* out_of_memory() {
  errno = ENOMEM;
  return nullptr;
}

// Smallest class at least `size` whose blocks are aligned to `align`. Pages start on 64 KiB
// boundaries, so a page of one class aligns its blocks to the largest power of two dividing the
// size; guests in mixed pages (core/mixed.h) only up to 64 B, unless the size is a power of two.
// Fixed classes only: their sizes map to themselves through any lookup the tuner writes.
unsigned aligned_class(size_t size, size_t align) {
  for (unsigned c = size_to_fixed_class(size); c < kNumClasses; ++c) {
    size_t bs = kClasses.size[c];
    if (bs % align == 0 && (align <= 64 || (bs & (bs - 1)) == 0)) return c;
  }
  return kNumClasses;
}

}  // namespace

bool g_medium_regions = true;

void* alloc_large_or_huge(size_t size, size_t align) {
  if (!ensure_init()) return out_of_memory();
  // The thread's heap keeps its preferred region: threads that only ever allocate medium or
  // large blocks get one too, so that they do not share one region (and its lock).
  Heap* h = t_heap != &g_empty_heap ? t_heap : heap_for_thread();
  if (!h) return out_of_memory();
  void* p = align <= 16 ? medium_cache_take(h, size) : nullptr;
  if (!p) p = size <= kLargeMax && align <= kLargeMax ? large_malloc(h, size, align) : huge_malloc(size, align);
  if (!p) return out_of_memory();
  if (MI_UNLIKELY(g_sampling)) sample_count_large(p, size);
  return p;
}

void dealloc_other(void* p, RegionHeader* r) {
  if (p == nullptr) return;
  if (r == nullptr) {
    report_misuse("free", p,
                  huge_recently_freed(p) ? "block is already free (double free of a huge block)"
                                         : "not allocated by malloc-im (foreign, stack or static address)");
    return;
  }
  if (MI_UNLIKELY(g_sampling)) {
    int saved_errno = errno;
    sample_on_free(p);
    errno = saved_errno;
  }
  // Commonest: a medium block kept by the thread (no system call there: errno stays).
  if (r->kind == RegionKind::large && medium_cache_put(t_heap, reinterpret_cast<LargeRegion*>(r), p)) return;
  int saved_errno = errno;
  if (r->kind == RegionKind::large)
    large_free(reinterpret_cast<LargeRegion*>(r), p);
  else
    huge_free(reinterpret_cast<HugeHeader*>(r), p);
  errno = saved_errno;
}

void* alloc_aligned(size_t align, size_t size) {
  if (align <= 16) return alloc(size < align ? align : size);
  if (size <= kSmallMax && align <= kSmallMax) {
    unsigned c = aligned_class(size, align);
    if (c < kNumClasses && class_size(c) <= pages_max()) return heap_malloc_small(t_heap, class_size(c));
  }
  if (size > kMaxRequest) return out_of_memory();
  return alloc_large_or_huge(size, align);
}

size_t usable_size(const void* p) {
  RegionHeader* r = segmap_lookup(p);
  if (!r) return 0;
  switch (r->kind) {
    case RegionKind::small: {
      const Page* pg = page_of(reinterpret_cast<Segment*>(r), p);
      // Without residents left, a mixed page's live blocks are all guests of its class.
      bool residents = __atomic_load_n(&pg->mixed, __ATOMIC_ACQUIRE) & kMixedResidents;
      return MI_UNLIKELY(residents) ? mixed_usable(pg, p) : pg->block_size;
    }
    case RegionKind::large: return large_usable(reinterpret_cast<LargeRegion*>(r), p);
    case RegionKind::huge: return huge_usable(reinterpret_cast<HugeHeader*>(r));
  }
  return 0;
}

void* realloc_impl(void* p, size_t size) {
  if (p == nullptr) return alloc(size);
  if (size == 0) {  // glibc frees and returns NULL; programs written against it expect that
    dealloc(p);
    return nullptr;
  }
  RegionHeader* r = segmap_lookup(p);
  if (r == nullptr) {
    report_misuse("realloc", p, "not allocated by malloc-im (foreign, stack or static address)");
    return nullptr;
  }
  if (size > kMaxRequest) return out_of_memory();
  size_t old = usable_size(p);
  if (MI_UNLIKELY(g_sampling) && r->kind != RegionKind::small && sample_is_sampled(p)) {
    // A sampled block moves, so that the profile sees a free and a new allocation.
  } else if (r->kind == RegionKind::small) {
    if (size <= old && size >= old / 2) return p;
  } else if (r->kind == RegionKind::large) {
    if (size > pages_max() && size <= kLargeMax &&
        large_resize_in_place(reinterpret_cast<LargeRegion*>(r), p, size))
      return p;
  } else if (size > kLargeMax || size >= old / 2) {
    void* q = huge_realloc(reinterpret_cast<HugeHeader*>(r), p, size);
    return q ? q : out_of_memory();
  }
  void* q = alloc(size);
  if (!q) return nullptr;
  memcpy(q, p, old < size ? old : size);
  dealloc(p);
  return q;
}

void* calloc_impl(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return out_of_memory();
  void* p = alloc(total);
  // Huge blocks are fresh mappings (zero), unless taken from the cache of freed ones.
  if (p && (total <= kLargeMax || huge_needs_zeroing(p))) memset(p, 0, total);
  return p;
}

size_t trim_impl() {
  if (!ensure_init()) return 0;
  heap_release_cached(t_heap);
  return purge_all();
}

}  // namespace mallocim

// ---- the im_* API ------------------------------------------------------------------------------
// Weak: libmallocim-debug.so routes the allocating ones through its debug heap instead.
using namespace mallocim;

#define MI_WEAK __attribute__((weak))

extern "C" {
MI_WEAK void* im_malloc(size_t size) { return alloc(size); }
MI_WEAK void* im_calloc(size_t count, size_t size) { return calloc_impl(count, size); }
MI_WEAK void* im_realloc(void* p, size_t size) { return realloc_impl(p, size); }
MI_WEAK void im_free(void* p) { dealloc(p); }
MI_WEAK size_t im_usable_size(const void* p) { return p ? usable_size(p) : 0; }
size_t im_trim(void) { return trim_impl(); }
const char* im_version(void) { return MALLOCIM_VERSION_STRING; }

MI_WEAK void* im_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) || alignment > kMaxAlign) {
    errno = EINVAL;
    return nullptr;
  }
  return alloc_aligned(alignment, size);
}

int im_owns(const void* p) {
  RegionHeader* r = segmap_lookup(p);
  if (!r) return 0;
  switch (r->kind) {
    case RegionKind::small: {
      Page* pg = page_of(reinterpret_cast<Segment*>(r), p);
      if (pg->state == PageState::free || pg->block_size == 0) return 0;
      if (__atomic_load_n(&pg->mixed, __ATOMIC_ACQUIRE)) return mixed_classify(pg, p) != MixedBlock::invalid;
      return (uintptr_t(p) - uintptr_t(page_start(pg))) % pg->block_size == 0;
    }
    case RegionKind::large:
      return large_owns_block(reinterpret_cast<LargeRegion*>(r), p) && !medium_cache_holds(p);
    case RegionKind::huge: return huge_is_block(reinterpret_cast<HugeHeader*>(r), p);
  }
  return 0;
}
}
