// C++ operator new and delete, every form. The only code of the library that uses the C++
// runtime: a failed allocation calls the installed new_handler and retries, and throws
// std::bad_alloc when there is none; the nothrow forms return nullptr instead.
//
// libmallocim.so does not depend on libstdc++: a C program that preloads it does not load the C++
// runtime (about 0.6 ms of every process start). The few runtime entry points used here are weak
// references, bound when a C++ program has libstdc++ loaded, and used only when an allocation has
// failed. The nothrow forms with a new_handler installed hand over to libstdc++'s own (found with
// dlsym), which calls this library's malloc in its retry loop and catches what the handler throws.
// The debug library (MALLOCIM_CXX_RUNTIME) links libstdc++ and keeps every allocation's kind.
#include <new>

#include "override/entry.h"

#define MI_EXPORT __attribute__((visibility("default")))

using namespace mallocim;

#ifndef MALLOCIM_CXX_RUNTIME
#include <dlfcn.h>
#include <stdlib.h>

using handler_fn = void (*)();
extern "C" {
// std::get_new_handler(), and what `throw std::bad_alloc()` compiles to, by their symbol names.
handler_fn _ZSt15get_new_handlerv() __attribute__((weak));
void* __cxa_allocate_exception(size_t) __attribute__((weak));
void __cxa_throw(void*, void*, void (*)(void*)) __attribute__((weak, noreturn));
extern void* _ZTVSt9bad_alloc[] __attribute__((weak));  // std::bad_alloc's vtable
extern char _ZTISt9bad_alloc[] __attribute__((weak));   // and its type_info
void _ZNSt9bad_allocD1Ev(void*) __attribute__((weak));  // and destructor
}
#endif

namespace {

constexpr AllocKind kScalar = AllocKind::new_scalar, kArray = AllocKind::new_array;

#ifdef MALLOCIM_CXX_RUNTIME
std::new_handler current_handler() { return std::get_new_handler(); }
[[noreturn]] void throw_bad_alloc() { throw std::bad_alloc(); }
#else
handler_fn current_handler() { return _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : nullptr; }

[[noreturn]] void throw_bad_alloc() {
  // operator new runs only in a program with the C++ runtime: its absence would be a broken link.
  if (!__cxa_allocate_exception || !__cxa_throw || !_ZTVSt9bad_alloc || !_ZTISt9bad_alloc) abort();
  void* e = __cxa_allocate_exception(sizeof(void*));
  *static_cast<void**>(e) = _ZTVSt9bad_alloc + 2;  // the vtable's address point: a std::bad_alloc
  __cxa_throw(e, _ZTISt9bad_alloc, _ZNSt9bad_allocD1Ev);
}

// libstdc++'s nothrow operator new of the same form: it calls malloc (this library's) until the
// handler gives up, and turns the handler's bad_alloc into nullptr.
void* nothrow_from_runtime(size_t size, size_t align, AllocKind kind) {
  const char* name = align <= 16 ? (kind == kArray ? "_ZnamRKSt9nothrow_t" : "_ZnwmRKSt9nothrow_t")
                                 : (kind == kArray ? "_ZnamSt11align_val_tRKSt9nothrow_t"
                                                   : "_ZnwmSt11align_val_tRKSt9nothrow_t");
  void* fn = dlsym(RTLD_NEXT, name);
  if (!fn) return nullptr;
  static const std::nothrow_t tag{};  // not std::nothrow: that object lives in libstdc++
  if (align <= 16) return reinterpret_cast<void* (*)(size_t, const std::nothrow_t&) noexcept>(fn)(size, tag);
  return reinterpret_cast<void* (*)(size_t, std::align_val_t, const std::nothrow_t&) noexcept>(fn)(
      size, std::align_val_t(align), tag);
}
#endif

__attribute__((noinline)) void* new_slow(size_t size, size_t align, AllocKind kind, bool nothrow) {
  for (;;) {
    void* p = align <= 16 ? entry::allocate(size, kind) : entry::allocate_aligned(align, size, kind);
    if (p) return p;
    auto handler = current_handler();
    if (!handler) {
      if (nothrow) return nullptr;
      throw_bad_alloc();
    }
#ifdef MALLOCIM_CXX_RUNTIME
    if (nothrow) {
      try {
        handler();
      } catch (...) {
        return nullptr;
      }
      continue;
    }
#else
    if (nothrow) return nothrow_from_runtime(size, align, kind);
#endif
    handler();
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
