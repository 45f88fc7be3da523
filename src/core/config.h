// Layout constants of the allocator. Sizes that depend on the hardware (page size, cache line,
// huge page) are read at start-up (platform/os.h); these are the allocator's own geometry.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MI_LIKELY(x) __builtin_expect(!!(x), 1)
#define MI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MI_INLINE inline __attribute__((always_inline))
// Bits set in x. __builtin_popcount without the popcnt instruction is a call into libgcc_s, a
// library the allocator would otherwise not need.
MI_INLINE unsigned bits_set(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return (((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
}
// A function that reads memory the program may be writing at the time (words of live blocks, as a
// hint that is checked before it is trusted): not instrumented by ThreadSanitizer.
#define MI_RACY_READS __attribute__((no_sanitize("thread")))
// A global the fast paths read, declared hidden where it is declared (-fvisibility=hidden covers
// definitions only): another file of the library then reads it with one instruction, not
// through its address in the GOT.
#define MI_HIDDEN __attribute__((visibility("hidden")))

namespace mallocim {

// Every region the allocator maps is aligned to, and a whole number of, granules. The segment
// map (segmap.h) has one entry per granule.
constexpr unsigned kGranuleShift = 22;  // 4 MiB
constexpr size_t kGranule = size_t(1) << kGranuleShift;

// Small objects: pages of one size class inside 4 MiB segments.
constexpr unsigned kPageShift = 16;  // 64 KiB
constexpr size_t kPageSize = size_t(1) << kPageShift;
constexpr size_t kSegmentSize = kGranule;
constexpr unsigned kPagesPerSegment = unsigned(kSegmentSize / kPageSize);  // page 0 holds the header
constexpr size_t kSmallMax = 8192;

// Medium and large blocks: boundary tags inside 16 MiB regions.
constexpr size_t kLargeRegionSize = 4 * kGranule;
constexpr size_t kLargeMax = 2u << 20;  // above this a block is mapped on its own ("huge")

constexpr size_t kMaxAlign = size_t(1) << 30;  // largest alignment honoured
constexpr size_t kMaxRequest = (size_t(1) << 47) - 1;  // anything larger fails with ENOMEM

inline constexpr size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }
inline constexpr size_t align_down(size_t n, size_t a) { return n & ~(a - 1); }

}  // namespace mallocim
