// Conformance of the allocation entry points, run with libmallocim preloaded.
//
// One named check per point of the contract; one line per check and a summary at the end; exit
// status 1 when any check fails. Without --require-lib the program also runs on glibc's malloc
// ("glibc mode"): checks of things the library promises beyond glibc are then skipped. That mode
// exists to validate the test itself.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "check.h"
#include "mallocim.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);
}

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="
#endif

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;
bool g_lib = false;             // libmallocim is loaded
check_owns_fn g_owns = nullptr;  // im_owns, when loaded
size_t g_page = 4096;

void* opq(void* p) { return check_opaque(p); }
size_t opq(size_t n) { return check_opaque_size(n); }
bool aligned_to(const void* p, size_t a) { return a == 0 || ((uintptr_t)p & (a - 1)) == 0; }
size_t round_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

// Position-dependent byte pattern, so a block copied to the wrong offset is noticed.
inline uint8_t pat(size_t i, unsigned seed) {
  return (uint8_t)(((i + seed) * 2654435761u) >> 13);
}
void fill(void* p, size_t from, size_t to, unsigned seed) {
  uint8_t* b = (uint8_t*)p;
  for (size_t i = from; i < to; i++) b[i] = pat(i, seed);
}
// Returns the first bad offset, or SIZE_MAX when the range holds the pattern.
size_t verify(const void* p, size_t from, size_t to, unsigned seed) {
  const uint8_t* b = (const uint8_t*)p;
  for (size_t i = from; i < to; i++)
    if (b[i] != pat(i, seed)) return i;
  return SIZE_MAX;
}
// Sampled variants for big blocks: 16 bytes at the start of every page and the last 16 bytes.
void fill_sampled(void* p, size_t n, unsigned seed) {
  for (size_t off = 0; off < n; off += 4096) fill(p, off, std::min(off + 16, n), seed);
  fill(p, n > 16 ? n - 16 : 0, n, seed);
}

// ---- ownership -----------------------------------------------------------------------------

const char* const kCSymbols[] = {
    "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc",
    "memalign", "valloc", "pvalloc", "malloc_usable_size", "malloc_trim", "mallinfo", "mallinfo2",
    "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc", "__libc_memalign",
    "__libc_valloc", "__libc_pvalloc",
};
// All C++17 replaceable operator new/delete forms (Itanium mangling, 64-bit size_t).
const char* const kCxxSymbols[] = {
    "_Znwm",                                   // new(size_t)
    "_Znam",                                   // new[](size_t)
    "_ZnwmRKSt9nothrow_t",                     // new(size_t, nothrow)
    "_ZnamRKSt9nothrow_t",                     // new[](size_t, nothrow)
    "_ZnwmSt11align_val_t",                    // new(size_t, align)
    "_ZnamSt11align_val_t",                    // new[](size_t, align)
    "_ZnwmSt11align_val_tRKSt9nothrow_t",      // new(size_t, align, nothrow)
    "_ZnamSt11align_val_tRKSt9nothrow_t",      // new[](size_t, align, nothrow)
    "_ZdlPv",                                  // delete(void*)
    "_ZdaPv",                                  // delete[](void*)
    "_ZdlPvm",                                 // delete(void*, size_t)
    "_ZdaPvm",                                 // delete[](void*, size_t)
    "_ZdlPvRKSt9nothrow_t",                    // delete(void*, nothrow)
    "_ZdaPvRKSt9nothrow_t",                    // delete[](void*, nothrow)
    "_ZdlPvSt11align_val_t",                   // delete(void*, align)
    "_ZdaPvSt11align_val_t",                   // delete[](void*, align)
    "_ZdlPvmSt11align_val_t",                  // delete(void*, size_t, align)
    "_ZdaPvmSt11align_val_t",                  // delete[](void*, size_t, align)
    "_ZdlPvSt11align_val_tRKSt9nothrow_t",     // delete(void*, align, nothrow)
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",     // delete[](void*, align, nothrow)
};

void check_symbol_owner_one(const char* sym) {
  std::string name = std::string("owner.") + sym;
  check_begin(name.c_str());
  if (!g_lib) {
    check_skip(name.c_str(), "library not loaded (glibc mode)");
    return;
  }
  void* addr = nullptr;
  const char* owner = check_symbol_owner(sym, &addr);
  check_result(name.c_str(), strstr(owner, "libmallocim") != nullptr, "dlsym=%p resolves into '%s'",
               addr, owner[0] ? owner : "(nothing)");
}

void check_blocks_owned() {
  const char* name = "owner.blocks_come_from_library";
  check_begin(name);
  if (!g_owns) {
    check_skip(name, "im_owns not available (glibc mode)");
    return;
  }
  std::string bad;
  auto probe = [&](const char* what, void* p) {
    if (!p || !g_owns(p)) bad += std::string(bad.empty() ? "" : ", ") + what;
  };
  void* p;
  p = malloc(opq((size_t)24)); probe("malloc", p); free(p);
  p = malloc(opq((size_t)300 * KiB)); probe("malloc(300K)", p); free(p);
  p = malloc(opq((size_t)5 * MiB)); probe("malloc(5M)", p); free(p);
  p = calloc(3, opq((size_t)40)); probe("calloc", p); free(p);
  p = realloc(nullptr, opq((size_t)100)); probe("realloc(NULL)", p);
  p = realloc(p, opq((size_t)5000)); probe("realloc(grow)", p); free(p);
  p = reallocarray(nullptr, 10, opq((size_t)10)); probe("reallocarray", p); free(p);
  p = nullptr; if (posix_memalign(&p, 256, opq((size_t)100)) == 0) probe("posix_memalign", p); else probe("posix_memalign", nullptr); free(p);
  p = aligned_alloc(64, opq((size_t)128)); probe("aligned_alloc", p); free(p);
  p = memalign(128, opq((size_t)100)); probe("memalign", p); free(p);
  p = valloc(opq((size_t)100)); probe("valloc", p); free(p);
  p = pvalloc(opq((size_t)100)); probe("pvalloc", p); free(p);
  p = __libc_malloc(opq((size_t)48)); probe("__libc_malloc", p); free(p);
  p = __libc_calloc(2, opq((size_t)48)); probe("__libc_calloc", p); __libc_free(p);
  p = __libc_realloc(nullptr, opq((size_t)48)); probe("__libc_realloc", p); __libc_free(p);
  p = __libc_memalign(64, opq((size_t)48)); probe("__libc_memalign", p); __libc_free(p);
  p = __libc_valloc(opq((size_t)48)); probe("__libc_valloc", p); __libc_free(p);
  p = __libc_pvalloc(opq((size_t)48)); probe("__libc_pvalloc", p); __libc_free(p);
  // Allocations glibc makes internally must reach the library too (strdup, asprintf, stdio).
  p = strdup((const char*)opq((void*)"interposition")); probe("strdup (inside libc)", p); free(p);
  char* s = nullptr;
  if (asprintf(&s, "%d-%s", 42, "x") > 0) probe("asprintf (inside libc)", s); else probe("asprintf", nullptr);
  free(s);
  p = ::operator new(opq((size_t)32)); probe("operator new", p); ::operator delete(p);
  p = ::operator new[](opq((size_t)32)); probe("operator new[]", p); ::operator delete[](p);
  p = ::operator new(opq((size_t)32), std::align_val_t(256)); probe("operator new(align)", p);
  ::operator delete(p, std::align_val_t(256));
  {
    std::string str(200, 'x');  // libstdc++ allocating through operator new
    probe("std::string (inside libstdc++)", str.data());
  }
  check_result(name, bad.empty(), bad.empty() ? nullptr : "not owned by the library: %s", bad.c_str());
}

// ---- failures: NULL + ENOMEM ------------------------------------------------------------------

void check_malloc_enomem() {
  const char* name = "malloc.huge_request_fails_with_enomem";
  check_begin(name);
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX - 2 * MiB, (size_t)PTRDIFF_MAX + 1};
  std::string bad;
  for (size_t s : sizes) {
    errno = 0;
    void* p = malloc(opq(s));
    int e = errno;
    if (p || e != ENOMEM) {
      char buf[128];
      snprintf(buf, sizeof buf, " malloc(%#zx)=%p errno=%d;", s, p, e);
      bad += buf;
      free(p);
    }
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_calloc_overflow() {
  const char* name = "calloc.overflow_fails_with_enomem";
  check_begin(name);
  struct { size_t n, s; } cases[] = {
      {(SIZE_MAX >> 1) + 1, 2},  // product wraps to exactly 0
      {(size_t)1 << 33, (size_t)1 << 33},  // wraps to 0 as well
      {SIZE_MAX, SIZE_MAX},
      {SIZE_MAX / 3 + 1, 3},
      {2, SIZE_MAX / 2 + 8},
      {1, SIZE_MAX},  // no overflow, just impossible
  };
  std::string bad;
  for (auto& c : cases) {
    errno = 0;
    void* p = calloc(opq(c.n), opq(c.s));
    int e = errno;
    if (p || e != ENOMEM) {
      char buf[128];
      snprintf(buf, sizeof buf, " calloc(%#zx,%#zx)=%p errno=%d;", c.n, c.s, p, e);
      bad += buf;
      free(p);
    }
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_reallocarray_overflow() {
  const char* name = "reallocarray.overflow_fails_with_enomem_and_keeps_block";
  check_begin(name);
  std::string bad;
  errno = 0;
  void* p = reallocarray(nullptr, opq((SIZE_MAX >> 1) + 1), 2);
  if (p || errno != ENOMEM) { bad += " reallocarray(NULL, wrap)"; free(p); }
  void* q = malloc(100);
  fill(q, 0, 100, 7);
  errno = 0;
  p = reallocarray(q, opq((size_t)1 << 33), (size_t)1 << 33);
  if (p || errno != ENOMEM) { bad += " reallocarray(p, wrap) did not fail with ENOMEM"; if (p) q = p; }
  if (verify(q, 0, 100, 7) != SIZE_MAX) bad += " old block changed";
  p = reallocarray(q, 25, 8);  // ordinary use still works
  if (!p || verify(p, 0, 100, 7) != SIZE_MAX) bad += " reallocarray(p, 25, 8) lost contents";
  free(p ? p : q);
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_realloc_fail_keeps_block() {
  const char* name = "realloc.failure_returns_null_enomem_and_keeps_block";
  check_begin(name);
  std::string bad;
  const size_t olds[] = {100, 100 * KiB, 3 * MiB};
  for (size_t n : olds) {
    void* q = malloc(n);
    fill(q, 0, n, 3);
    const size_t news[] = {SIZE_MAX, SIZE_MAX - 8192, (size_t)PTRDIFF_MAX + 1};
    for (size_t s : news) {
      errno = 0;
      void* p = realloc(q, opq(s));
      if (p || errno != ENOMEM) {
        char buf[96];
        snprintf(buf, sizeof buf, " realloc(%zu-byte block, %#zx)=%p errno=%d;", n, s, p, errno);
        bad += buf;
        if (p) q = p;
      }
    }
    if (verify(q, 0, n, 3) != SIZE_MAX) bad += " contents changed;";
    free(q);
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_aligned_enomem() {
  const char* name = "aligned.huge_request_fails_with_enomem";
  check_begin(name);
  std::string bad;
  char buf[128];
  const size_t aligns[] = {16, 64, 4096, 64 * KiB, 4 * MiB};
  const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - 4 * MiB + 1, (size_t)PTRDIFF_MAX + 1};
  for (size_t a : aligns) {
    for (size_t s : sizes) {
      void* p = (void*)1;
      int r = posix_memalign(&p, opq(a), opq(s));
      if (r != ENOMEM) {
        snprintf(buf, sizeof buf, " posix_memalign(%zu,%#zx)=%d;", a, s, r);
        bad += buf;
        if (r == 0) free(p);
      }
      errno = 0;
      p = aligned_alloc(opq(a), opq(s & ~(a - 1)));
      if (p || errno != ENOMEM) {
        snprintf(buf, sizeof buf, " aligned_alloc(%zu,%#zx)=%p errno=%d;", a, s & ~(a - 1), p, errno);
        bad += buf;
        free(p);
      }
      errno = 0;
      p = memalign(opq(a), opq(s));
      if (p || errno != ENOMEM) {
        snprintf(buf, sizeof buf, " memalign(%zu,%#zx)=%p errno=%d;", a, s, p, errno);
        bad += buf;
        free(p);
      }
    }
  }
  // A valid but impossible alignment (2^63) is ENOMEM, not EINVAL.
  void* p = nullptr;
  int r = posix_memalign(&p, opq((size_t)1 << 63), 16);
  if (r != ENOMEM) {
    snprintf(buf, sizeof buf, " posix_memalign(2^63,16)=%d;", r);
    bad += buf;
    if (r == 0) free(p);
  }
  errno = 0;
  p = valloc(opq(SIZE_MAX));
  if (p || errno != ENOMEM) { bad += " valloc(SIZE_MAX);"; free(p); }
  errno = 0;
  p = pvalloc(opq(SIZE_MAX - 10));  // rounding up to a page overflows
  if (p || errno != ENOMEM) { bad += " pvalloc(SIZE_MAX-10);"; free(p); }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

// ---- alignment and sizes ----------------------------------------------------------------------

void check_natural_alignment() {
  const char* name = "malloc.blocks_of_16_and_up_are_16_aligned";
  check_begin(name);
  std::string bad;
  std::vector<void*> keep;
  std::vector<size_t> sizes;
  for (size_t s = 1; s <= 1024; s++) sizes.push_back(s);
  for (size_t s = 1024; s <= 16 * MiB; s = s * 5 / 4) { sizes.push_back(s); sizes.push_back(s + 7); }
  for (size_t s : sizes) {
    for (int rep = 0; rep < 3; rep++) {
      size_t want = s >= 16 ? 16 : s >= 8 ? 8 : 1;
      void* ps[3] = {malloc(opq(s)), calloc(1, opq(s)), realloc(nullptr, opq(s))};
      for (int k = 0; k < 3; k++) {
        if (!ps[k] || !aligned_to(ps[k], want)) {
          char buf[96];
          snprintf(buf, sizeof buf, " %s(%zu)=%p;", k == 0 ? "malloc" : k == 1 ? "calloc" : "realloc", s, ps[k]);
          if (bad.size() < 300) bad += buf;
        }
        if (s <= 4096) keep.push_back(ps[k]); else free(ps[k]);
      }
    }
  }
  for (void* p : keep) free(p);
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_malloc_zero() {
  const char* name = "malloc.zero_returns_unique_freeable_pointers";
  check_begin(name);
  std::vector<void*> v;
  bool null_seen = false;
  for (int i = 0; i < 1000; i++) {
    void* p = malloc(opq((size_t)0));
    if (!p) null_seen = true;
    v.push_back(p);
  }
  std::vector<void*> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  bool dup = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
  bool owned = true;
  if (g_owns)
    for (void* p : v) owned = owned && p && g_owns(p);
  for (void* p : v) free(p);
  void* p = malloc(opq((size_t)0));
  p = realloc(p, 64);  // a zero-size block can grow
  bool grow_ok = p != nullptr;
  if (p) memset(p, 1, 64);
  free(p);
  check_result(name, !null_seen && !dup && owned && grow_ok, "null=%d duplicates=%d owned=%d realloc_ok=%d",
               null_seen, dup, owned, grow_ok);
}

void check_usable_size() {
  const char* name = "malloc_usable_size.at_least_request_and_writable";
  check_begin(name);
  std::string bad;
  std::vector<size_t> sizes;
  for (size_t s = 0; s <= 4096; s++) sizes.push_back(s);
  for (size_t s = 4096; s <= 64 * MiB; s *= 2) { sizes.push_back(s - 1); sizes.push_back(s + 1); sizes.push_back(s * 3 / 2); }
  for (size_t s : sizes) {
    void* p = malloc(opq(s));
    size_t u = malloc_usable_size(p);
    if (!p || u < s) {
      char buf[96];
      snprintf(buf, sizeof buf, " malloc(%zu)=%p usable=%zu;", s, p, u);
      if (bad.size() < 300) bad += buf;
    } else {
      memset(p, 0xa5, u);  // the whole usable size belongs to the caller
    }
    free(p);
  }
  // After realloc and for aligned blocks too.
  void* p = malloc(1000);
  p = realloc(p, 50);
  if (malloc_usable_size(p) < 50) bad += " after shrink;";
  memset(p, 1, malloc_usable_size(p));
  free(p);
  p = memalign(4096, 5000);
  if (malloc_usable_size(p) < 5000) bad += " memalign;";
  memset(p, 1, malloc_usable_size(p));
  free(p);
  size_t z = malloc_usable_size(nullptr);
  if (z != 0) bad += " malloc_usable_size(NULL)!=0;";
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_posix_memalign_einval() {
  const char* name = "posix_memalign.bad_alignment_is_einval";
  check_begin(name);
  const size_t bad_aligns[] = {0, 1, 2, 4, 3, 12, 24, 48, 100, 4097, 3 * MiB, ((size_t)1 << 63) + 8};
  std::string bad;
  for (size_t a : bad_aligns) {
    void* p = nullptr;
    int r = posix_memalign(&p, opq(a), 64);
    if (r != EINVAL) {
      char buf[64];
      snprintf(buf, sizeof buf, " align %zu -> %d;", a, r);
      bad += buf;
      if (r == 0) free(p);
    }
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_alignments(const char* name, int which) {
  // which: 0 posix_memalign, 1 aligned_alloc, 2 memalign
  check_begin(name);
  std::string bad;
  size_t max_align = 4 * MiB;
  for (size_t a = (which == 0 ? sizeof(void*) : 1); a <= max_align; a *= 2) {
    std::vector<size_t> sizes = {1, 8, a / 2 + 1, a - 1, a, a + 1, 2 * a, 3 * a + 5, 100, 5000};
    if (which == 1)  // aligned_alloc: sizes that are multiples of the alignment
      sizes = {a, 2 * a, 3 * a, round_up(100, a), round_up(70000, a)};
    for (size_t s : sizes) {
      if (s == 0) continue;
      void* p = nullptr;
      if (which == 0) {
        int r = posix_memalign(&p, opq(a), opq(s));
        if (r != 0) p = nullptr;
      } else if (which == 1) {
        p = aligned_alloc(opq(a), opq(s));
      } else {
        p = memalign(opq(a), opq(s));
      }
      size_t u = p ? malloc_usable_size(p) : 0;
      if (!p || !aligned_to(p, a) || !aligned_to(p, s >= 16 ? 16 : 1) || u < s || (g_owns && !g_owns(p))) {
        char buf[96];
        snprintf(buf, sizeof buf, " (align %zu, size %zu) -> %p usable %zu;", a, s, p, u);
        if (bad.size() < 400) bad += buf;
      }
      if (p) {
        fill(p, 0, std::min(s, (size_t)64 * KiB), 9);
        memset(p, 0x33, s);  // all of it writable
      }
      free(p);
    }
  }
  // Larger alignments: either ENOMEM or honoured.
  for (size_t a = 8 * MiB; a <= 64 * MiB; a *= 2) {
    void* p = nullptr;
    int r = posix_memalign(&p, opq(a), 100);
    if ((r == 0 && !aligned_to(p, a)) || (r != 0 && r != ENOMEM)) {
      char buf[96];
      snprintf(buf, sizeof buf, " (align %zu) -> r=%d %p;", a, r, p);
      bad += buf;
    }
    if (r == 0) free(p);
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_aligned_alloc_einval() {
  const char* name = "aligned_alloc.non_power_of_two_is_null_einval";
  check_begin(name);
  if (!g_lib) {
    check_skip(name, "glibc 2.36 rounds the alignment up (glibc mode)");
    return;
  }
  const size_t bad_aligns[] = {0, 3, 12, 24, 48, 100, 4097, 3 * MiB};
  std::string bad;
  for (size_t a : bad_aligns) {
    errno = 0;
    void* p = aligned_alloc(opq(a), 96);
    if (p || errno != EINVAL) {
      char buf[80];
      snprintf(buf, sizeof buf, " align %zu -> %p errno=%d;", a, p, errno);
      bad += buf;
      free(p);
    }
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_valloc_pvalloc() {
  const char* name = "valloc_pvalloc.page_aligned_pvalloc_rounds_up";
  check_begin(name);
  std::string bad;
  const size_t sizes[] = {1, 100, 4095, 4096, 4097, 5000, 65536 + 3, 1 * MiB + 1, 3 * MiB + 5};
  for (size_t s : sizes) {
    void* v = valloc(opq(s));
    void* pv = pvalloc(opq(s));
    void* lv = __libc_valloc(opq(s));
    void* lpv = __libc_pvalloc(opq(s));
    size_t want = round_up(s, g_page);
    char buf[128];
    if (!v || !aligned_to(v, g_page) || malloc_usable_size(v) < s) {
      snprintf(buf, sizeof buf, " valloc(%zu)=%p;", s, v); bad += buf;
    }
    if (!lv || !aligned_to(lv, g_page) || malloc_usable_size(lv) < s) {
      snprintf(buf, sizeof buf, " __libc_valloc(%zu)=%p;", s, lv); bad += buf;
    }
    if (!pv || !aligned_to(pv, g_page) || malloc_usable_size(pv) < want) {
      snprintf(buf, sizeof buf, " pvalloc(%zu)=%p usable=%zu;", s, pv, pv ? malloc_usable_size(pv) : 0);
      bad += buf;
    } else {
      memset(pv, 0x11, want);  // the rounded size is the caller's
    }
    if (!lpv || !aligned_to(lpv, g_page) || malloc_usable_size(lpv) < want) {
      snprintf(buf, sizeof buf, " __libc_pvalloc(%zu)=%p;", s, lpv); bad += buf;
    } else {
      memset(lpv, 0x11, want);
    }
    if (v) memset(v, 0x22, s);
    free(v); free(pv); __libc_free(lv); free(lpv);
  }
  void* z = pvalloc(0);  // rounds up to nothing or one page: a freeable pointer either way
  if (z && !aligned_to(z, g_page)) bad += " pvalloc(0) not page aligned;";
  free(z);
  check_result(name, bad.empty(), "%s", bad.c_str());
}

// ---- calloc ---------------------------------------------------------------------------------

size_t first_nonzero(const void* p, size_t n) {
  const uint8_t* b = (const uint8_t*)p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return i;
  return SIZE_MAX;
}

void check_calloc_zero_reuse() {
  const char* name = "calloc.zero_even_when_reusing_dirty_blocks";
  check_begin(name);
  std::string bad;
  const size_t sizes[] = {1, 8, 16, 24, 40, 48, 100, 256, 1000, 4096, 10000, 65536, 200000,
                          1 * MiB, 3 * MiB, 9 * MiB};
  for (size_t s : sizes) {
    int n = s >= 1 * MiB ? 4 : s >= 65536 ? 16 : 128;
    std::vector<void*> v(n);
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < n; i++) {
        v[i] = malloc(opq(s));
        memset(v[i], 0xEE, malloc_usable_size(v[i]));
      }
      for (int i = n - 1; i >= 0; i--) free(v[i]);
      for (int i = 0; i < n; i++) {
        // Same size, a slightly smaller one (same size class), and via __libc_calloc.
        size_t cs = (i & 1) ? s : (s > 8 ? s - s / 8 : s);
        v[i] = (i % 3 == 2) ? __libc_calloc(1, opq(cs)) : calloc(opq(cs), 1);
        size_t off = v[i] ? first_nonzero(v[i], cs) : 0;
        if (!v[i] || off != SIZE_MAX) {
          char buf[96];
          snprintf(buf, sizeof buf, " calloc(%zu) round %d: byte %zu not zero;", cs, round, off);
          if (bad.size() < 300) bad += buf;
        }
      }
      for (int i = 0; i < n; i++) free(v[i]);
    }
  }
  // A block shrunk by realloc leaves a dirty tail behind; calloc must not hand it out dirty.
  for (int i = 0; i < 32; i++) {
    void* p = malloc(256 * KiB);
    memset(p, 0xCC, 256 * KiB);
    p = realloc(p, 1000);
    void* q = calloc(1, 200 * KiB);
    if (first_nonzero(q, 200 * KiB) != SIZE_MAX) { bad += " calloc after realloc shrink;"; break; }
    free(q);
    free(p);
  }
  // And after a trim has purged free pages.
  std::vector<void*> v;
  for (int i = 0; i < 256; i++) { v.push_back(malloc(8000)); memset(v.back(), 0x77, 8000); }
  for (void* p : v) free(p);
  malloc_trim(0);
  for (int i = 0; i < 256; i++) {
    void* p = calloc(8000, 1);
    if (first_nonzero(p, 8000) != SIZE_MAX) { bad += " calloc after malloc_trim;"; free(p); break; }
    free(p);
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

// ---- realloc ----------------------------------------------------------------------------------

void check_realloc_growth() {
  const char* name = "realloc.contents_kept_growing_1B_to_64MiB_and_back";
  check_begin(name);
  std::string bad;
  size_t s = 1, grows = 0, inplace = 0;
  char* p = (char*)malloc(1);
  fill(p, 0, 1, 5);
  while (s < 64 * MiB && bad.empty()) {
    size_t ns = s + s / 3 + 1;
    char* q = (char*)realloc(p, opq(ns));
    if (!q) { bad += " realloc returned NULL"; break; }
    grows++;
    if (q == p) inplace++;
    size_t badoff = verify(q, 0, s, 5);
    if (badoff != SIZE_MAX) {
      char buf[128];
      snprintf(buf, sizeof buf, " grow %zu->%zu: byte %zu differs (moved=%d)", s, ns, badoff, q != p);
      bad += buf;
    }
    if (((uintptr_t)q & 15) != 0 && ns >= 16) bad += " misaligned";
    fill(q, s, ns, 5);
    p = q;
    s = ns;
  }
  size_t shrinks = 0, shrink_inplace = 0;
  while (s > 1 && bad.empty()) {
    size_t ns = s * 2 / 3;
    char* q = (char*)realloc(p, opq(ns));
    if (!q) { bad += " shrink returned NULL"; break; }
    shrinks++;
    if (q == p) shrink_inplace++;
    size_t badoff = verify(q, 0, ns, 5);
    if (badoff != SIZE_MAX) {
      char buf[128];
      snprintf(buf, sizeof buf, " shrink %zu->%zu: byte %zu differs", s, ns, badoff);
      bad += buf;
    }
    p = q;
    s = ns;
  }
  free(p);
  check_result(name, bad.empty(), "%s%s grows %zu (in place %zu), shrinks %zu (in place %zu)",
               bad.c_str(), bad.empty() ? "" : ";", grows, inplace, shrinks, shrink_inplace);
}

void check_realloc_huge_growth() {
  const char* name = "realloc.huge_block_grows_4MiB_to_256MiB_contents_kept";
  check_begin(name);
  std::string bad;
  size_t s = 4 * MiB, steps = 0, inplace = 0;
  char* p = (char*)malloc(s);
  fill_sampled(p, s, 11);
  while (s < 256 * MiB) {
    size_t ns = s + 4 * MiB + 12345;
    char* q = (char*)realloc(p, opq(ns));
    if (!q) { bad += " realloc returned NULL"; break; }
    steps++;
    if (q == p) inplace++;
    // Old sampled points are still valid; the samples at the old end are full bytes too.
    for (size_t off = 0; off < s; off += 4096) {
      size_t b = verify(q, off, std::min(off + 16, s), 11);
      if (b != SIZE_MAX) {
        char buf[96];
        snprintf(buf, sizeof buf, " step %zu (%zu->%zu): byte %zu differs", steps, s, ns, b);
        bad += buf;
        break;
      }
    }
    if (!bad.empty()) break;
    if (verify(q, s - 16, s, 11) != SIZE_MAX) { bad += " tail lost"; break; }
    for (size_t off = round_up(s, 4096); off < ns; off += 4096) fill(q, off, std::min(off + 16, ns), 11);
    fill(q, s - 16, s, 11);
    fill(q, ns - 16, ns, 11);
    p = q;
    s = ns;
  }
  free(p);
  // Grow a 3 MiB block a few times, with full verification.
  s = 3 * MiB;
  p = (char*)malloc(s);
  fill(p, 0, s, 12);
  for (int i = 0; i < 6 && bad.empty(); i++) {
    size_t ns = s * 3 / 2;
    char* q = (char*)realloc(p, ns);
    if (!q) { bad += " realloc NULL"; break; }
    if (verify(q, 0, s, 12) != SIZE_MAX) bad += " full-verify growth lost contents";
    fill(q, s, ns, 12);
    p = q;
    s = ns;
  }
  free(p);
  check_result(name, bad.empty(), "%s%s %zu growth steps, %zu in place", bad.c_str(), bad.empty() ? "" : ";",
               steps, inplace);
}

void check_realloc_inplace_info() {
  // Nice-to-have, reported only: growing the most recently allocated large block, and a huge one.
  const char* name = "realloc.in_place_growth (informational)";
  check_begin(name);
  int large_inplace = 0, huge_inplace = 0;
  for (int i = 0; i < 8; i++) {
    void* a = malloc(300 * KiB);
    void* b = malloc(300 * KiB);
    void* c = realloc(b, 400 * KiB);
    if (c == b) large_inplace++;
    free(a);
    free(c);
    void* h = malloc(8 * MiB);
    void* h2 = realloc(h, 9 * MiB);
    if (h2 == h) huge_inplace++;
    free(h2);
  }
  check_info("realloc in place: last large block %d/8, huge block %d/8", large_inplace, huge_inplace);
}

void check_realloc_null_and_mixed() {
  const char* name = "realloc.null_acts_as_malloc_and_libc_aliases_interoperate";
  check_begin(name);
  std::string bad;
  void* p = realloc(nullptr, 77);
  if (!p) bad += " realloc(NULL,77)=NULL;";
  fill(p, 0, 77, 1);
  p = __libc_realloc(p, 7000);
  if (!p || verify(p, 0, 77, 1) != SIZE_MAX) bad += " __libc_realloc lost contents;";
  __libc_free(p);
  p = __libc_malloc(100);
  void* q = __libc_memalign(4096, 100);
  if (!p || !q || !aligned_to(q, 4096)) bad += " __libc_malloc/__libc_memalign;";
  free(p);
  free(q);
  p = malloc(100);
  __libc_free(p);
  check_result(name, bad.empty(), "%s", bad.c_str());
}

// ---- errno ------------------------------------------------------------------------------------

void check_free_errno() {
  const char* name = "free.never_changes_errno";
  check_begin(name);
  std::string bad;
  const size_t sizes[] = {0, 16, 1000, 100 * KiB, 1 * MiB, 3 * MiB, 64 * MiB};
  for (size_t s : sizes) {
    std::vector<void*> v;
    for (int i = 0; i < 64; i++) v.push_back(malloc(opq(s)));
    for (void* p : v) {
      errno = 12345;
      free(p);
      if (errno != 12345) {
        char buf[64];
        snprintf(buf, sizeof buf, " free(%zu-byte block) set errno=%d;", s, errno);
        bad += buf;
        break;
      }
    }
  }
  errno = 777;
  free(nullptr);
  if (errno != 777) bad += " free(NULL);";
  void* a = aligned_alloc(2 * MiB, 4 * MiB);
  errno = 778;
  free(a);
  if (errno != 778) bad += " free(aligned huge);";
  // Also after many frees of large blocks, so a purge or an munmap would happen in free.
  for (int round = 0; round < 4; round++) {
    std::vector<void*> v;
    for (int i = 0; i < 200; i++) v.push_back(malloc(256 * KiB));
    errno = 779;
    for (void* p : v) free(p);
    if (errno != 779) { bad += " free of many large blocks;"; break; }
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

// ---- C++ operators ----------------------------------------------------------------------------

int g_handler_calls = 0;
int g_handler_limit = 1;
void counting_handler() {
  if (++g_handler_calls >= g_handler_limit) std::set_new_handler(nullptr);
}
struct custom_bad : std::bad_alloc {
  const char* what() const noexcept override { return "custom"; }
};
void throwing_handler() {
  g_handler_calls++;
  throw custom_bad();
}
void bad_alloc_handler() {
  g_handler_calls++;
  throw std::bad_alloc();
}

void check_new_bad_alloc() {
  const char* name = "new.throws_bad_alloc_on_impossible_size";
  check_begin(name);
  std::set_new_handler(nullptr);
  std::string bad;
  auto expect_throw = [&](const char* what, auto fn) {
    try {
      void* p = fn();
      bad += std::string(" ") + what + " returned;";
      (void)p;
    } catch (const std::bad_alloc&) {
    } catch (...) {
      bad += std::string(" ") + what + " threw something else;";
    }
  };
  expect_throw("new(SIZE_MAX)", [] { return ::operator new(opq(SIZE_MAX)); });
  expect_throw("new[](SIZE_MAX)", [] { return ::operator new[](opq(SIZE_MAX)); });
  expect_throw("new(PTRDIFF_MAX+1)", [] { return ::operator new(opq((size_t)PTRDIFF_MAX + 1)); });
  expect_throw("new(SIZE_MAX/2, align 64)", [] { return ::operator new(opq(SIZE_MAX / 2), std::align_val_t(64)); });
  expect_throw("new[](SIZE_MAX/2, align 4096)", [] { return ::operator new[](opq(SIZE_MAX / 2), std::align_val_t(4096)); });
  // Sizes whose rounding up to the alignment overflows. (libstdc++ 12's own aligned new gets
  // these wrong: it rounds to 0 and returns a block, so they are library-only checks.)
  if (g_lib) {
    expect_throw("new(SIZE_MAX, align 64)", [] { return ::operator new(opq(SIZE_MAX), std::align_val_t(64)); });
    expect_throw("new(SIZE_MAX-100, align 4M)", [] { return ::operator new(opq(SIZE_MAX - 100), std::align_val_t(4 * MiB)); });
    expect_throw("new[](SIZE_MAX, align 4096)", [] { return ::operator new[](opq(SIZE_MAX), std::align_val_t(4096)); });
  }
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_new_handler() {
  const char* name = "new.calls_new_handler_until_uninstalled_then_throws";
  check_begin(name);
  std::string bad;
  struct { const char* what; void* (*fn)(); } forms[] = {
      {"new", [] { return ::operator new(opq(SIZE_MAX)); }},
      {"new[]", [] { return ::operator new[](opq(SIZE_MAX)); }},
      {"new(align)", [] { return ::operator new(opq(SIZE_MAX / 2), std::align_val_t(128)); }},
      {"new[](align)", [] { return ::operator new[](opq(SIZE_MAX / 2), std::align_val_t(128)); }},
  };
  for (auto& f : forms) {
    g_handler_calls = 0;
    g_handler_limit = 3;
    std::set_new_handler(counting_handler);
    bool threw = false;
    try {
      void* p = f.fn();
      (void)p;
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    if (!threw || g_handler_calls != 3) {
      char buf[96];
      snprintf(buf, sizeof buf, " %s: threw=%d handler calls=%d (want 3);", f.what, threw, g_handler_calls);
      bad += buf;
    }
  }
  std::set_new_handler(nullptr);
  // An exception thrown by the handler goes through operator new unchanged.
  g_handler_calls = 0;
  std::set_new_handler(throwing_handler);
  bool custom = false;
  try {
    void* p = ::operator new(opq(SIZE_MAX));
    (void)p;
  } catch (const custom_bad&) {
    custom = true;
  } catch (...) {
  }
  std::set_new_handler(nullptr);
  if (!custom || g_handler_calls != 1) bad += " exception from the handler did not propagate;";
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_new_nothrow() {
  const char* name = "new.nothrow_forms_return_nullptr";
  check_begin(name);
  std::string bad;
  std::set_new_handler(nullptr);
  if (::operator new(opq(SIZE_MAX), std::nothrow) != nullptr) bad += " new(nothrow);";
  if (::operator new[](opq(SIZE_MAX), std::nothrow) != nullptr) bad += " new[](nothrow);";
  if (::operator new(opq(SIZE_MAX / 2), std::align_val_t(64), std::nothrow) != nullptr) bad += " new(align,nothrow);";
  if (::operator new[](opq(SIZE_MAX / 2), std::align_val_t(64), std::nothrow) != nullptr) bad += " new[](align,nothrow);";
  if (g_lib && ::operator new(opq(SIZE_MAX), std::align_val_t(64), std::nothrow) != nullptr)
    bad += " new(SIZE_MAX,align,nothrow);";
  // The nothrow forms run the new_handler like the throwing ones, and turn bad_alloc into nullptr.
  g_handler_calls = 0;
  g_handler_limit = 2;
  std::set_new_handler(counting_handler);
  void* p = ::operator new(opq(SIZE_MAX), std::nothrow);
  if (p || g_handler_calls != 2) {
    char buf[80];
    snprintf(buf, sizeof buf, " new(nothrow) with handler: %p, handler calls %d (want 2);", p, g_handler_calls);
    bad += buf;
  }
  g_handler_calls = 0;
  std::set_new_handler(bad_alloc_handler);
  try {
    p = ::operator new[](opq(SIZE_MAX), std::nothrow);
    if (p || g_handler_calls != 1) bad += " new[](nothrow) with throwing handler;";
  } catch (...) {
    bad += " new[](nothrow) let the handler's bad_alloc escape;";
  }
  std::set_new_handler(nullptr);
  // Ordinary nothrow allocations succeed.
  p = ::operator new(100, std::nothrow);
  if (!p) bad += " new(100, nothrow) failed;";
  ::operator delete(p, std::nothrow);
  check_result(name, bad.empty(), "%s", bad.c_str());
}

void check_new_all_forms() {
  const char* name = "new.all_forms_allocate_align_and_delete";
  check_begin(name);
  std::string bad;
  auto probe = [&](const char* what, void* p, size_t align, size_t n) {
    if (!p || !aligned_to(p, align) || (g_owns && !g_owns(p))) {
      char buf[96];
      snprintf(buf, sizeof buf, " %s(%zu, align %zu)=%p;", what, n, align, p);
      if (bad.size() < 400) bad += buf;
    } else {
      memset(p, 0x5c, n);
    }
  };
  const size_t sizes[] = {0, 1, 16, 100, 4000, 70000, 1 * MiB, 3 * MiB};
  for (size_t n : sizes) {
    size_t d = n >= 16 ? 16 : 1;
    void* p;
    p = ::operator new(opq(n)); probe("new", p, d, n); ::operator delete(p);
    p = ::operator new(opq(n)); probe("new", p, d, n); ::operator delete(p, n);
    p = ::operator new[](opq(n)); probe("new[]", p, d, n); ::operator delete[](p);
    p = ::operator new[](opq(n)); probe("new[]", p, d, n); ::operator delete[](p, n);
    p = ::operator new(opq(n), std::nothrow); probe("new nothrow", p, d, n); ::operator delete(p, std::nothrow);
    p = ::operator new[](opq(n), std::nothrow); probe("new[] nothrow", p, d, n); ::operator delete[](p, std::nothrow);
    for (size_t a = 32; a <= 4 * MiB; a *= 4) {
      std::align_val_t al{a};
      p = ::operator new(opq(n), al); probe("new align", p, a, n); ::operator delete(p, al);
      p = ::operator new(opq(n), al); probe("new align", p, a, n); ::operator delete(p, n, al);
      p = ::operator new[](opq(n), al); probe("new[] align", p, a, n); ::operator delete[](p, al);
      p = ::operator new[](opq(n), al); probe("new[] align", p, a, n); ::operator delete[](p, n, al);
      p = ::operator new(opq(n), al, std::nothrow); probe("new align nothrow", p, a, n); ::operator delete(p, al, std::nothrow);
      p = ::operator new[](opq(n), al, std::nothrow); probe("new[] align nothrow", p, a, n); ::operator delete[](p, al, std::nothrow);
    }
  }
  // operator new(0) gives distinct pointers.
  void* z1 = ::operator new(opq((size_t)0));
  void* z2 = ::operator new(opq((size_t)0));
  if (z1 == z2) bad += " new(0) not unique;";
  ::operator delete(z1);
  ::operator delete(z2);
  // delete of nullptr in every form is a no-op.
  ::operator delete(nullptr);
  ::operator delete[](nullptr);
  ::operator delete(nullptr, std::align_val_t(64));
  ::operator delete[](nullptr, std::align_val_t(64));
  // Ordinary expressions.
  auto* vec = new std::vector<std::string>(1000, std::string(50, 'q'));
  delete vec;
  struct alignas(256) big_aligned { char c[300]; };
  auto* ba = new big_aligned[5];
  probe("new big_aligned[5]", ba, 256, sizeof(big_aligned) * 5);
  delete[] ba;
  check_result(name, bad.empty(), "%s", bad.c_str());
}

// ---- statistics -----------------------------------------------------------------------------

void check_mallinfo2() {
  const char* name = "mallinfo2.uordblks_tracks_20MiB_of_4KiB_blocks";
  check_begin(name);
  std::string bad;
  const size_t n = 20 * MiB / (4 * KiB);
  std::vector<void*> v(n);
  struct mallinfo2 before = mallinfo2();
  for (size_t i = 0; i < n; i++) {
    v[i] = malloc(opq(4 * KiB));
    memset(v[i], 1, 64);
  }
  struct mallinfo2 during = mallinfo2();
  for (size_t i = 0; i < n; i++) free(v[i]);
  struct mallinfo2 after = mallinfo2();
  long grew = (long)during.uordblks - (long)before.uordblks;
  long back = (long)after.uordblks - (long)before.uordblks;
  if (grew < (long)(20 * MiB) || grew > (long)(24 * MiB)) bad += " growth outside [20 MiB, 24 MiB];";
  if (back > (long)(256 * KiB) || back < -(long)(256 * KiB)) bad += " did not drop back;";
  if (g_lib && during.arena < during.uordblks - during.hblkhd) bad += " arena < live non-huge bytes;";
  // The freed 20 MiB is either still held (fordblks) or given back (arena shrinks).
  long held = (long)after.fordblks - (long)during.fordblks;
  long returned = (long)during.arena - (long)after.arena;
  if (held + returned < (long)(10 * MiB)) bad += " freed memory shows neither in fordblks nor as a smaller arena;";
  check_result(name, bad.empty(), "%s uordblks before %zu, with 20 MiB live %zu (+%ld), after free %zu (%+ld); "
               "arena %zu -> %zu, fordblks %zu -> %zu", bad.c_str(), before.uordblks, during.uordblks, grew,
               after.uordblks, back, during.arena, after.arena, during.fordblks, after.fordblks);
}

void check_mallinfo2_huge() {
  const char* name = "mallinfo2.hblks_hblkhd_count_huge_blocks";
  check_begin(name);
  if (!g_lib) {
    check_skip(name, "glibc's mmap threshold is dynamic (glibc mode)");
    return;
  }
  std::string bad;
  struct mallinfo2 before = mallinfo2();
  void* h[3];
  for (int i = 0; i < 3; i++) h[i] = malloc(opq(3 * MiB));
  struct mallinfo2 during = mallinfo2();
  for (int i = 0; i < 3; i++) free(h[i]);
  struct mallinfo2 after = mallinfo2();
  long dblks = (long)during.hblks - (long)before.hblks;
  long dhd = (long)during.hblkhd - (long)before.hblkhd;
  long duord = (long)during.uordblks - (long)before.uordblks;
  if (dblks != 3) bad += " hblks did not grow by 3;";
  if (dhd < (long)(9 * MiB) || dhd > (long)(10 * MiB)) bad += " hblkhd growth outside [9 MiB, 10 MiB];";
  // uordblks either counts the huge blocks too or, as glibc does, leaves them to hblkhd.
  bool uord_includes_huge = duord >= (long)(9 * MiB);
  if (!uord_includes_huge && (duord > (long)(256 * KiB) || duord < -(long)(256 * KiB)))
    bad += " uordblks changed by neither ~0 (glibc convention) nor the huge bytes;";
  if (after.hblks != before.hblks || after.hblkhd != before.hblkhd) bad += " not back after free;";
  // Requests of 2 MiB and less are not huge blocks.
  struct mallinfo2 b2 = mallinfo2();
  void* m = malloc(opq(2 * MiB));
  struct mallinfo2 d2 = mallinfo2();
  free(m);
  if (d2.hblks != b2.hblks) bad += " a 2 MiB request was counted as huge;";
  check_result(name, bad.empty(), "%s hblks %+ld, hblkhd %+ld, uordblks %+ld (%s)", bad.c_str(), dblks, dhd, duord,
               uord_includes_huge ? "uordblks includes huge blocks" : "uordblks excludes huge blocks, as glibc");
}

void check_mallinfo_consistency() {
  const char* name = "mallinfo.agrees_with_mallinfo2_and_im_stats";
  check_begin(name);
  std::string bad;
  void* keep = malloc(12345);
  void* huge = malloc(5 * MiB);
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo m1 = mallinfo();
  if ((size_t)(unsigned)m1.uordblks != (m2.uordblks & 0xffffffffu) || (size_t)(unsigned)m1.hblks != m2.hblks ||
      (size_t)(unsigned)m1.hblkhd != (m2.hblkhd & 0xffffffffu) || (size_t)(unsigned)m1.arena != (m2.arena & 0xffffffffu))
    bad += " mallinfo and mallinfo2 differ;";
  // im_stats_get, looked up at run time (the program is not linked against the library).
  typedef void (*stats_fn)(struct im_stats*);
  stats_fn get = (stats_fn)dlsym(RTLD_DEFAULT, "im_stats_get");
  if (get) {
    struct im_stats st;
    memset(&st, 0, sizeof st);
    struct mallinfo2 a = mallinfo2();
    get(&st);
    // uordblks is all live bytes, or (glibc's convention) those outside huge blocks.
    bool uord_ok = st.live_bytes == a.uordblks || st.live_bytes - st.huge_live_bytes == a.uordblks;
    if (!uord_ok || st.huge_blocks != a.hblks || st.huge_live_bytes > a.hblkhd ||
        st.live_bytes != st.small_live_bytes + st.large_live_bytes + st.huge_live_bytes) {
      char buf[300];
      snprintf(buf, sizeof buf, " im_stats live %zu (small %zu large %zu huge %zu) huge_blocks %zu vs mallinfo2 "
               "uordblks %zu hblks %zu hblkhd %zu;", st.live_bytes, st.small_live_bytes, st.large_live_bytes,
               st.huge_live_bytes, st.huge_blocks, a.uordblks, a.hblks, a.hblkhd);
      bad += buf;
    }
  }
  free(huge);
  free(keep);
  check_result(name, bad.empty(), "%s", bad.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bool require_lib = false;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--require-lib")) require_lib = true;
  check_init("conformance", 240);
  g_page = (size_t)sysconf(_SC_PAGESIZE);
  g_lib = check_library_loaded();
  g_owns = check_im_owns();
  printf("conformance: libmallocim %s\n", g_lib ? "loaded" : "NOT loaded (glibc mode)");
  if (require_lib && !g_lib) {
    check_result("library.loaded", 0, "im_malloc not found: run with LD_PRELOAD=libmallocim.so");
    return check_summary();
  }
  // mallinfo first: the counters are cleanest before the other checks churn the heap.
  check_mallinfo2();
  check_mallinfo2_huge();
  check_mallinfo_consistency();

  for (const char* s : kCSymbols) check_symbol_owner_one(s);
  for (const char* s : kCxxSymbols) check_symbol_owner_one(s);
  check_blocks_owned();

  check_malloc_enomem();
  check_calloc_overflow();
  check_reallocarray_overflow();
  check_realloc_fail_keeps_block();
  check_aligned_enomem();
  check_natural_alignment();
  check_malloc_zero();
  check_usable_size();
  check_posix_memalign_einval();
  check_alignments("posix_memalign.alignments_up_to_4MiB_honoured", 0);
  check_alignments("aligned_alloc.alignments_up_to_4MiB_honoured", 1);
  check_alignments("memalign.alignments_up_to_4MiB_honoured", 2);
  check_aligned_alloc_einval();
  check_valloc_pvalloc();
  check_calloc_zero_reuse();
  check_realloc_growth();
  check_realloc_huge_growth();
  check_realloc_inplace_info();
  check_realloc_null_and_mixed();
  check_free_errno();
  check_new_bad_alloc();
  check_new_handler();
  check_new_nothrow();
  check_new_all_forms();
  return check_summary();
}
