// C++ operator new and delete, every form. The only code of the library that uses the C++
// runtime: a failed allocation calls the installed new_handler and retries, and throws
// std::bad_alloc when there is none; the nothrow forms return nullptr instead.
#include <new>

#include "override/entry.h"

#define MI_EXPORT __attribute__((visibility("default")))

using namespace mallocim;

namespace {

constexpr AllocKind kScalar = AllocKind::new_scalar, kArray = AllocKind::new_array;

__attribute__((noinline)) void* new_slow(size_t size, size_t align, AllocKind kind, bool nothrow) {
  for (;;) {
    void* p = align <= 16 ? entry::allocate(size, kind) : entry::allocate_aligned(align, size, kind);
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

MI_INLINE void* new_impl(size_t size, AllocKind kind) {
  void* p = entry::allocate(size, kind);
  return MI_LIKELY(p != nullptr) ? p : new_slow(size, 0, kind, false);
}

MI_INLINE void* new_nothrow(size_t size, AllocKind kind) noexcept {
  void* p = entry::allocate(size, kind);
  return MI_LIKELY(p != nullptr) ? p : new_slow(size, 0, kind, true);
}

MI_INLINE void* new_aligned(size_t size, std::align_val_t al, AllocKind kind, bool nothrow) {
  size_t a = static_cast<size_t>(al);
  void* p = entry::allocate_aligned(a, size, kind);
  return MI_LIKELY(p != nullptr) ? p : new_slow(size, a, kind, nothrow);
}

}  // namespace

MI_EXPORT void* operator new(size_t n) { return new_impl(n, kScalar); }
MI_EXPORT void* operator new[](size_t n) { return new_impl(n, kArray); }
MI_EXPORT void* operator new(size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n, kScalar); }
MI_EXPORT void* operator new[](size_t n, const std::nothrow_t&) noexcept { return new_nothrow(n, kArray); }
MI_EXPORT void* operator new(size_t n, std::align_val_t a) { return new_aligned(n, a, kScalar, false); }
MI_EXPORT void* operator new[](size_t n, std::align_val_t a) { return new_aligned(n, a, kArray, false); }
MI_EXPORT void* operator new(size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_aligned(n, a, kScalar, true);
}
MI_EXPORT void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_aligned(n, a, kArray, true);
}

MI_EXPORT void operator delete(void* p) noexcept { entry::release(p, kScalar); }
MI_EXPORT void operator delete[](void* p) noexcept { entry::release(p, kArray); }
MI_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept { entry::release(p, kScalar); }
MI_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept { entry::release(p, kArray); }
MI_EXPORT void operator delete(void* p, size_t n) noexcept { entry::release(p, kScalar, n); }
MI_EXPORT void operator delete[](void* p, size_t n) noexcept { entry::release(p, kArray, n); }
MI_EXPORT void operator delete(void* p, std::align_val_t) noexcept { entry::release(p, kScalar); }
MI_EXPORT void operator delete[](void* p, std::align_val_t) noexcept { entry::release(p, kArray); }
MI_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  entry::release(p, kScalar);
}
MI_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  entry::release(p, kArray);
}
MI_EXPORT void operator delete(void* p, size_t n, std::align_val_t) noexcept { entry::release(p, kScalar, n); }
MI_EXPORT void operator delete[](void* p, size_t n, std::align_val_t) noexcept { entry::release(p, kArray, n); }
