// Small size classes. Up to 128 B, multiples of 16 (plus 8 B for tiny requests); above, eight
// classes per power of two, so rounding wastes less than 1/9 (11.1%) of a block above 128 B and
// at most 15 B below. These 57 fixed classes always exist; up to kAdaptiveClasses more, placed
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

inline constexpr size_t class_size_calc(unsigned c) {
  if (c == 0) return 8;
  if (c <= 8) return size_t(c) * 16;
  unsigned b = (c - 9) / 8 + 7;  // power of two below the class
  unsigned j = (c - 9) % 8 + 1;  // step within it
  return (size_t(1) << b) + size_t(j) * (size_t(1) << (b - 3));
}

inline constexpr unsigned size_to_class_calc(size_t size) {
  if (size <= 8) return 0;
  if (size <= 128) return unsigned((size + 15) / 16);
  unsigned b = 63 - unsigned(__builtin_clzll(size - 1));  // size in (2^b, 2^(b+1)]
  size_t step = size_t(1) << (b - 3);
  unsigned j = unsigned((size - (size_t(1) << b) + step - 1) / step);
  return 8 + (b - 7) * 8 + j;
}

// Memory a block of `size` takes in a page: the page shared among the blocks that fit.
inline constexpr size_t block_footprint(size_t size) { return kPageSize / (kPageSize / size); }

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
extern ClassMap g_class_map MI_HIDDEN;

MI_INLINE unsigned size_to_class(size_t size) {
  return __atomic_load_n(&g_class_map.lut[(size + 7) >> 3], __ATOMIC_RELAXED);
}
MI_INLINE size_t class_size(unsigned c) { return __atomic_load_n(&g_class_map.size[c], __ATOMIC_RELAXED); }
MI_INLINE bool class_is_adaptive(unsigned c) { return c >= kNumClasses; }
// The fixed class for a size, whatever the tuner did.
MI_INLINE unsigned size_to_fixed_class(size_t size) { return kClasses.small_lut[(size + 7) >> 3]; }

}  // namespace mallocim
