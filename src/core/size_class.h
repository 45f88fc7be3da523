// Small size classes. Up to 128 B, multiples of 16 (plus 8 B for tiny requests); above, eight
// classes per power of two, fitted to the 64 KiB page above 1 KiB (class_size_calc), so that a
// block's share of its page exceeds the request by less than 1/8 above 128 B, and by at most 15 B
// below. These 57 fixed classes always exist; up to kAdaptiveClasses more, placed
// between them at run time (policy/class_tuner.h), give hot request sizes a block of their own
// size. The lookup is one table, by request size in 8-byte steps, that the tuner rewrites: every
// entry it ever holds names a class at least as large as its sizes, so a thread that reads an
// old entry still gets a block that fits. A class, once given a size, keeps it.
#pragma once
#include "core/config.h"

namespace mallocim {

constexpr unsigned kNumClasses = 57;  // the fixed classes; class 56 is 8192 B
constexpr unsigned kAdaptiveClasses = 32;
constexpr unsigned kMaxClasses = kNumClasses + kAdaptiveClasses;

// Memory a block of `size` takes in a page: the page shared among the blocks that fit.
inline constexpr size_t block_footprint(size_t size) { return kPageSize / (kPageSize / size); }
// The largest block size (in 16 B steps) that fits as many blocks in a page as `size` does.
inline constexpr size_t page_tiled(size_t size) { return kPageSize / (kPageSize / size) / 16 * 16; }

// Up to 1 KiB the classes are the steps above. From 1 KiB to 4 KiB each step is widened to the
// largest size that fits as many blocks in a 64 KiB page (2304 B: 28 blocks, so 2336 B): the page's
// tail, which no block could use, goes to the blocks instead. From 4 KiB on, a step (512 B) would
// no longer change how many blocks fit, so the classes are the page divided by 15, 14, ... 8.
inline constexpr size_t class_size_calc(unsigned c) {
  if (c == 0) return 8;
  if (c <= 8) return size_t(c) * 16;
  unsigned b = (c - 9) / 8 + 7;  // power of two below the class
  unsigned j = (c - 9) % 8 + 1;  // step within it
  if (b >= 12) return page_tiled(kPageSize / (15 - (j - 1)));
  size_t step = (size_t(1) << b) + size_t(j) * (size_t(1) << (b - 3));
  return step > 1024 ? page_tiled(step) : step;
}

inline constexpr unsigned size_to_class_calc(size_t size) {
  unsigned c = 0;
  while (class_size_calc(c) < size) ++c;
  return c;
}

struct ClassTables {
  uint32_t size[kNumClasses];
  uint8_t small_lut[kSmallMax / 8 + 1];  // (size + 7) / 8 -> class, for size <= kSmallMax
};

inline constexpr ClassTables make_class_tables() {
  ClassTables t{};
  for (unsigned c = 0; c < kNumClasses; ++c) t.size[c] = uint32_t(class_size_calc(c));
  for (size_t i = 0; i <= kSmallMax / 8; ++i) t.small_lut[i] = uint8_t(size_to_class_calc(i * 8));
  return t;
}

inline constexpr ClassTables kClasses = make_class_tables();
static_assert(class_size_calc(kNumClasses - 1) == kSmallMax);
static_assert(size_to_class_calc(kSmallMax) == kNumClasses - 1);

// The classes in force: the fixed ones, the adaptive ones given a size (0: not yet), and the
// lookup. Written by the tuner only (atomic stores), read everywhere.
struct ClassMap {
  uint32_t size[kMaxClasses];
  uint8_t lut[kSmallMax / 8 + 1];
};
extern ClassMap g_class_map;

MI_INLINE unsigned size_to_class(size_t size) {
  return __atomic_load_n(&g_class_map.lut[(size + 7) >> 3], __ATOMIC_RELAXED);
}
MI_INLINE size_t class_size(unsigned c) { return __atomic_load_n(&g_class_map.size[c], __ATOMIC_RELAXED); }
MI_INLINE bool class_is_adaptive(unsigned c) { return c >= kNumClasses; }
// The fixed class for a size, whatever the tuner did.
MI_INLINE unsigned size_to_fixed_class(size_t size) { return kClasses.small_lut[(size + 7) >> 3]; }

}  // namespace mallocim
