// The C entry points: malloc and friends, the glibc extras and __libc_* aliases. Thin wrappers;
// the work happens in core/alloc.h (or the debug heap, in libmallocim-debug.so).
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "override/entry.h"
#include "core/init.h"
#include "core/large.h"
#include "core/page_pool.h"
#include "platform/os.h"
#include "stats/stats.h"

#define MI_EXPORT extern "C" __attribute__((visibility("default")))
#define MI_ALIAS(name) __attribute__((alias(#name), visibility("default")))

#pragma GCC diagnostic ignored "-Wmissing-attributes"  // aliases need not repeat glibc attributes

using namespace mallocim;

namespace {

bool power_of_two(size_t a) { return a != 0 && (a & (a - 1)) == 0; }

// A valid alignment larger than any block can have is out of memory, not an invalid argument.
void* aligned_or_enomem(size_t align, size_t size) {
  if (align > kMaxAlign) {
    errno = ENOMEM;
    return nullptr;
  }
  return entry::allocate_aligned(align, size);
}

size_t page_size() {
  ensure_init();
  return os::hw().page_size;
}

}  // namespace

MI_EXPORT void* malloc(size_t size) { return entry::allocate(size); }
MI_EXPORT void free(void* p) { entry::release(p); }
MI_EXPORT void cfree(void* p) { entry::release(p); }
MI_EXPORT void* calloc(size_t count, size_t size) { return entry::callocate(count, size); }
MI_EXPORT void* realloc(void* p, size_t size) { return entry::reallocate(p, size); }

MI_EXPORT void* reallocarray(void* p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return entry::reallocate(p, total);
}

MI_EXPORT int posix_memalign(void** out, size_t align, size_t size) {
  if (!power_of_two(align) || align % sizeof(void*) != 0) return EINVAL;
  int saved = errno;
  void* p = aligned_or_enomem(align, size);
  errno = saved;  // posix_memalign reports through its result, not errno
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

MI_EXPORT void* aligned_alloc(size_t align, size_t size) {
  if (!power_of_two(align)) {  // C17: an alignment that is not a power of two fails
    errno = EINVAL;
    return nullptr;
  }
  return aligned_or_enomem(align, size);
}

MI_EXPORT void* memalign(size_t align, size_t size) {
  if (align == 0) align = 1;
  if (!power_of_two(align)) {  // glibc rounds up to a power of two
    if (align > (SIZE_MAX >> 1)) {
      errno = ENOMEM;
      return nullptr;
    }
    align = size_t(1) << (64 - __builtin_clzll(align));
  }
  return aligned_or_enomem(align, size);
}

MI_EXPORT void* valloc(size_t size) { return entry::allocate_aligned(page_size(), size); }

MI_EXPORT void* pvalloc(size_t size) {
  size_t ps = page_size();
  size_t rounded = align_up(size ? size : 1, ps);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return entry::allocate_aligned(ps, rounded);
}

MI_EXPORT size_t malloc_usable_size(void* p) { return p ? entry::usable(p) : 0; }

MI_EXPORT int malloc_trim(size_t pad) { return trim_impl() > 0 ? 1 : 0; }

MI_EXPORT struct mallinfo2 mallinfo2(void) {
  im_stats s;
  stats_collect(&s);
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = s.segments * kSegmentSize + s.large_regions * kLargeRegionSize;
  PoolFigures pool = pool_figures();
  mi.ordblks = pool.free_pages_dirty + pool.free_pages_purged + large_figures().free_blocks;
  mi.hblks = s.huge_blocks;
  mi.hblkhd = s.huge_live_bytes;
  mi.uordblks = s.small_live_bytes + s.large_live_bytes;
  mi.fordblks = s.free_bytes;
  mi.keepcost = 0;
  return mi;
}

MI_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo mi;
  mi.arena = int(m2.arena);
  mi.ordblks = int(m2.ordblks);
  mi.smblks = int(m2.smblks);
  mi.hblks = int(m2.hblks);
  mi.hblkhd = int(m2.hblkhd);
  mi.usmblks = int(m2.usmblks);
  mi.fsmblks = int(m2.fsmblks);
  mi.uordblks = int(m2.uordblks);
  mi.fordblks = int(m2.fordblks);
  mi.keepcost = int(m2.keepcost);
  return mi;
}

MI_EXPORT void malloc_stats(void) { stats_print("on malloc_stats()"); }

// glibc tuning knobs do not apply; accept them so programs that set them run unchanged.
MI_EXPORT int mallopt(int param, int value) { return 1; }

MI_EXPORT int malloc_info(int options, FILE* fp) {
  if (options != 0 || fp == nullptr) {
    errno = EINVAL;
    return -1;
  }
  im_stats s;
  stats_collect(&s);
  fprintf(fp,
          "<malloc version=\"mallocim-%s\">\n<total type=\"live\" size=\"%zu\"/>\n"
          "<total type=\"free\" size=\"%zu\"/>\n<total type=\"mapped\" size=\"%zu\"/>\n</malloc>\n",
          MALLOCIM_VERSION_STRING, s.live_bytes, s.free_bytes, s.mapped_bytes);
  return 0;
}

// The names glibc's own code and some programs call directly.
MI_EXPORT void* __libc_malloc(size_t size) MI_ALIAS(malloc);
MI_EXPORT void __libc_free(void* p) MI_ALIAS(free);
MI_EXPORT void* __libc_calloc(size_t count, size_t size) MI_ALIAS(calloc);
MI_EXPORT void* __libc_realloc(void* p, size_t size) MI_ALIAS(realloc);
MI_EXPORT void* __libc_memalign(size_t align, size_t size) MI_ALIAS(memalign);
MI_EXPORT void* __libc_valloc(size_t size) MI_ALIAS(valloc);
MI_EXPORT void* __libc_pvalloc(size_t size) MI_ALIAS(pvalloc);
MI_EXPORT int __posix_memalign(void** out, size_t align, size_t size) MI_ALIAS(posix_memalign);
