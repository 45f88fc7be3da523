// C++ operator new and delete, every form. The only code of the library that uses the C++
// runtime: a failed allocation calls the installed new_handler and retries, and throws
// std::bad_alloc when there is none; the nothrow forms return nullptr instead.
#include <new>

#include "core/alloc.h"

#define MI_EXPORT __attribute__((visibility("default")))

using namespace mallocim;

namespace {

__attribute__((noinline)) void* new_slow(size_t size, size_t align, bool nothrow) {
  for (;;) {
    void* p = align <= 16 ? alloc(size) : alloc_aligned(align, size);
    if (p) return p;
    std::new_handler handler = std::get_new_handler();
    if (!handler) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        handler();
      } catch (...) {
        return nullptr;
      }
    } else {
      handler();
    }
  }
}

MI_INLINE void* new_impl(size_t size) {
  void* p = alloc(size);
  return MI_LIKELY(p != nullptr) ? p : new_slow(size, 0, false);
}

MI_INLINE void* new_nothrow(size_t size) noexcept {
  void* p = alloc(size);
  return MI_LIKELY(p != nullptr) ? p : new_slow(size, 0, true);
}

MI_INLINE void* new_aligned(size_t size, std::align_val_t al, bool nothrow) {
  size_t a = static_cast<size_t>(al);
  void* p = alloc_aligned(a, size);
  return MI_LIKELY(p != nullptr) ? p : new_slow(size, a, nothrow);
}

}  // namespace

MI_EXPORT void* operator new(size_t n) { return new_impl(n); }
MI_EXPORT void* operator new[](size_t n) { return new_impl(n); }
MI_EXPORT void* operator new(size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n); }
MI_EXPORT void* operator new[](size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n); }
MI_EXPORT void* operator new(size_t n, std::align_val_t a) { return new_aligned(n, a, false); }
MI_EXPORT void* operator new[](size_t n, std::align_val_t a) { return new_aligned(n, a, false); }
MI_EXPORT void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_aligned(n, a, true);
}
MI_EXPORT void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_aligned(n, a, true);
}

MI_EXPORT void operator delete(void* p) noexcept { dealloc(p); }
MI_EXPORT void operator delete[](void* p) noexcept { dealloc(p); }
MI_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { dealloc(p); }
MI_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { dealloc(p); }
MI_EXPORT void operator delete(void* p, size_t) noexcept { dealloc(p); }
MI_EXPORT void operator delete[](void* p, size_t) noexcept { dealloc(p); }
MI_EXPORT void operator delete(void* p, std::align_val_t) noexcept { dealloc(p); }
MI_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { dealloc(p); }
MI_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { dealloc(p); }
MI_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { dealloc(p); }
MI_EXPORT void operator delete(void* p, size_t, std::align_val_t) noexcept { dealloc(p); }
MI_EXPORT void operator delete[](void* p, size_t, std::align_val_t) noexcept { dealloc(p); }
