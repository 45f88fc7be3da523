// The im_* API of libmallocim-debug.so: the same functions as the core's (which are weak), going
// through the debug heap so that blocks from malloc and from im_malloc mix freely.
#include <errno.h>

#include "core/alloc.h"
#include "debug/debug_heap.h"
#include "mallocim.h"

using namespace mallocim;

extern "C" {
void* im_malloc(size_t size) { return debug_allocate(size, 0, AllocKind::malloc_family); }
void* im_calloc(size_t count, size_t size) { return debug_callocate(count, size); }
void* im_realloc(void* p, size_t size) { return debug_reallocate(p, size); }
void im_free(void* p) { debug_release(p, AllocKind::malloc_family, kUnknownSize); }
size_t im_usable_size(const void* p) { return p ? debug_usable(p) : 0; }
void* im_aligned_alloc(size_t alignment, size_t size) {
  if (alignment == 0 || (alignment & (alignment - 1)) || alignment > kMaxAlign) {
    errno = EINVAL;
    return nullptr;
  }
  return debug_allocate(size, alignment, AllocKind::malloc_family);
}
}
