// libFuzzer target: random sequences of malloc, calloc, realloc, aligned allocation and free
// through the allocator's API, checked against a shadow model. Every live block's bytes carry a
// known pattern; a block must be at least as large as asked, aligned as asked, not overlap any
// other live block, and keep its contents across realloc. Any divergence aborts.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mallocim.h"

namespace {

constexpr int kSlots = 64;

// Operations checked against the model, printed at exit (a divergence aborts, so a printed
// count means none was seen).
unsigned long long g_ops = 0;
void print_ops() { fprintf(stderr, "alloc_fuzzer: %llu operations checked, 0 divergences\n", g_ops); }

struct Live {
  unsigned char* p;
  size_t size;
  size_t align;
  unsigned char fill;
};

struct Input {
  const uint8_t* data;
  size_t left;
  uint64_t take(int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes && left; ++i, --left) v = (v << 8) | *data++;
    return v;
  }
};

[[noreturn]] void diverged(const char* what, const Live& l) {
  fprintf(stderr, "DIVERGENCE: %s (block %p, size %zu, align %zu)\n", what, static_cast<void*>(l.p),
          l.size, l.align);
  abort();
}

// Sizes skewed to small, with some large and huge ones.
size_t pick_size(Input& in) {
  uint64_t r = in.take(3);
  switch (r & 7) {
    case 0: return 0;
    case 1: case 2: case 3: return (r >> 3) % 256;
    case 4: case 5: return (r >> 3) % 9000;
    case 6: return (r >> 3) % (600 * 1024);
    default: return (r >> 3) % (5 << 20);
  }
}

void check_contents(const Live& l) {
  // First, last and a middle byte, then a sparse walk: enough to see overlap and corruption.
  if (l.size == 0) return;
  size_t step = l.size > 4096 ? 997 : 1;
  for (size_t i = 0; i < l.size; i += step)
    if (l.p[i] != l.fill) diverged("contents changed", l);
  if (l.p[l.size - 1] != l.fill) diverged("last byte changed", l);
}

void check_new(const Live& l, Live* slots) {
  if (im_usable_size(l.p) < l.size) diverged("usable size below the request", l);
  if (l.align && uintptr_t(l.p) % l.align) diverged("misaligned", l);
  if (l.size >= 16 && uintptr_t(l.p) % 16) diverged("not 16-aligned", l);
  size_t n = l.size ? l.size : 1;
  for (int i = 0; i < kSlots; ++i) {
    const Live& o = slots[i];
    if (!o.p || o.p == l.p) continue;
    size_t on = o.size ? o.size : 1;
    if (l.p < o.p + on && o.p < l.p + n) diverged("overlaps another live block", l);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  atexit(print_ops);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Live slots[kSlots] = {};
  Input in{data, size};
  while (in.left) {
    uint64_t op = in.take(1);
    Live& s = slots[in.take(1) % kSlots];
    ++g_ops;
    if (s.p) check_contents(s);
    switch (op % 6) {
      case 0: case 1: {  // free what is there, allocate anew
        im_free(s.p);
        s = Live{};
        size_t n = pick_size(in);
        bool zero = op & 0x40;
        s.p = static_cast<unsigned char*>(zero ? im_calloc(1, n) : im_malloc(n));
        if (!s.p) abort();
        s.size = n;
        if (zero)
          for (size_t i = 0; i < n; ++i)
            if (s.p[i]) diverged("calloc memory not zero", s);
        break;
      }
      case 2: {  // aligned
        im_free(s.p);
        s = Live{};
        size_t align = size_t(1) << (in.take(1) % 23);  // up to 4 MiB
        size_t n = pick_size(in);
        s.p = static_cast<unsigned char*>(im_aligned_alloc(align, n));
        if (!s.p) abort();
        s.size = n;
        s.align = align;
        break;
      }
      case 3: {  // realloc keeps the contents
        if (!s.p) continue;
        size_t n = pick_size(in);
        if (n == 0) n = 1;
        auto* q = static_cast<unsigned char*>(im_realloc(s.p, n));
        if (!q) abort();
        Live moved{q, n, 0, s.fill};
        size_t keep = s.size < n ? s.size : n;
        for (size_t i = 0; i < keep; i += keep > 4096 ? 997 : 1)
          if (q[i] != s.fill) diverged("realloc lost contents", moved);
        s.p = nullptr;  // not in the overlap check against itself
        check_new(moved, slots);
        s = moved;
        break;
      }
      default:  // free
        im_free(s.p);
        s = Live{};
        continue;
    }
    check_new(s, slots);
    s.fill = static_cast<unsigned char>(op * 31 + 7);
    memset(s.p, s.fill, s.size);
  }
  for (auto& s : slots) {
    if (s.p) check_contents(s);
    im_free(s.p);
  }
  return 0;
}
