#include "core/mixed.h"

#include <string.h>

#include "core/lock.h"
#include "debug/report.h"
#include "core/size_class.h"
#include "core/sparse.h"
#include "platform/os.h"

namespace mallocim {

// Residents and guests are blocks of 16 B and up (every class but the first is a multiple of
// 16 B): the page is tracked in 16-byte units.
constexpr size_t kUnit = 16;
constexpr size_t kUnits = kPageSize / kUnit;
constexpr size_t kWords = kUnits / 64;
constexpr unsigned kFits = 10;  // left[k]: blocks of 16 B << k, 16 B to 8 KiB
constexpr bool classes_in_units() {
  for (unsigned c = 1; c < kNumClasses; ++c)
    if (class_size_calc(c) % kUnit) return false;
  return true;
}
static_assert(classes_in_units() && class_size_calc(1) == kUnit && class_size_calc(kNumClasses - 1) == kUnit << (kFits - 1));

struct MixedInfo {
  // Residents, blocks of earlier lives of any size: the unit where each starts and its last
  // one. The owner sets bits; any thread's free clears a resident's (its end first).
  std::atomic<uint64_t> start[kWords];
  std::atomic<uint64_t> end[kWords];
  // Where the blocks of the page's class (guests) start; rewritten by the owner when the page
  // takes another class, read by other threads' frees.
  std::atomic<uint64_t> guest[kWords];
  std::atomic<uint32_t> residents;
  std::atomic<uint32_t> resident_units;
  // Free bytes when the gaps were last laid out or looked at, and how many blocks of 16 B << k
  // (at their alignment) the gaps left by the last layout would take.
  uint32_t free_seen;
  uint16_t left[kFits];
  MixedInfo* next;  // free list
};

namespace {

SpinLock g_info_lock;
MixedInfo* g_info_free = nullptr;
std::atomic<size_t> g_made{0};

MixedInfo* info_alloc() {
  LockGuard g(g_info_lock);
  if (!g_info_free) {
    constexpr size_t kChunk = size_t(64) << 10;
    auto* chunk = static_cast<uint8_t*>(os::map_aligned(kChunk, os::hw().page_size));
    if (!chunk) return nullptr;
    for (size_t off = 0; off + sizeof(MixedInfo) <= kChunk; off += sizeof(MixedInfo)) {
      auto* m = reinterpret_cast<MixedInfo*>(chunk + off);
      m->next = g_info_free;
      g_info_free = m;
    }
  }
  MixedInfo* m = g_info_free;
  g_info_free = m->next;
  memset(static_cast<void*>(m), 0, sizeof *m);
  return m;
}

void info_free(MixedInfo* m) {
  LockGuard g(g_info_lock);
  m->next = g_info_free;
  g_info_free = m;
}

// Where a guest may start. A page of one class places its blocks at its natural alignment (the
// largest power of two dividing the size); guests keep it up to a cache line, and in full only
// where the size is a power of two (what aligned_alloc picks above 64 B: core/alloc.cpp). Without
// the cap, a 3 KiB guest would need a gap of up to 4 KiB.
constexpr size_t kGuestAlignCap = 64;
MI_INLINE size_t guest_align(size_t bs) {
  size_t natural = bs & (~bs + 1);
  return natural == bs || natural < kGuestAlignCap ? natural : kGuestAlignCap;
}

// A page is worth mixing when it takes at least this many blocks of class c: an eighth of what a
// fresh page holds.
MI_INLINE size_t min_guests(size_t bs) { return kPageSize / bs / 8; }

MI_INLINE uint64_t bit_of(size_t i) { return uint64_t(1) << (i % 64); }
MI_INLINE bool bit(const uint64_t* bits, size_t i) { return bits[i / 64] & bit_of(i); }
MI_INLINE bool bit(const std::atomic<uint64_t>* bits, size_t i) {
  return bits[i / 64].load(std::memory_order_acquire) & bit_of(i);
}
MI_INLINE void set_bit(uint64_t* bits, size_t i) { bits[i / 64] |= bit_of(i); }

// The first set bit at or after i, or kUnits.
size_t find_bit(const uint64_t* bits, size_t i) {
  for (size_t w = i / 64; w < kWords; ++w) {
    uint64_t x = bits[w];
    if (w == i / 64) x &= ~uint64_t(0) << (i % 64);
    if (x) return w * 64 + size_t(__builtin_ctzll(x));
  }
  return kUnits;
}

// The last unit of the resident starting at s. Residents never overlap, so it is the first
// end at or after s. (A resident being freed has its end cleared first: while its start is still
// set, the one found is a later resident's, which only makes its extent look longer.)
size_t resident_end(const MixedInfo* m, size_t s) {
  for (size_t w = s / 64; w < kWords; ++w) {
    uint64_t x = m->end[w].load(std::memory_order_acquire);
    if (w == s / 64) x &= ~uint64_t(0) << (s % 64);
    if (x) return w * 64 + size_t(__builtin_ctzll(x));
  }
  return kUnits - 1;
}

// Fit index of a block size: the smallest k with 16 B << k >= bs.
MI_INLINE unsigned fit_index(size_t bs) {
  unsigned k = 0;
  while ((kUnit << k) < bs && k + 1 < kFits) ++k;
  return k;
}

// Blocks of bs the gaps left by the last layout would take, from left[]: counted at the power of
// two at or above bs, they fall short by up to half for sizes between (a 320-byte class counted
// as 512-byte blocks: a 400-byte gap counts none); the count at the power of two below, scaled
// by the sizes, is closer. mixed_prepare counts exactly before anything changes.
MI_INLINE size_t left_estimate(const MixedInfo* m, size_t bs) {
  unsigned k = fit_index(bs);
  if ((kUnit << k) == bs || k == 0) return m->left[k];
  return size_t(m->left[k - 1]) * (kUnit << (k - 1)) / bs;
}

// Counts in left[] the aligned blocks of each fit size that bytes [lo, hi) would take.
void count_fits(uint16_t* left, size_t lo, size_t hi) {
  for (unsigned k = 0; k < kFits; ++k) {
    size_t sz = kUnit << k, first = align_up(lo, sz);
    if (first + sz > hi) break;  // larger sizes fit even less
    size_t n = (hi - first) / sz, v = left[k] + n;
    left[k] = uint16_t(v > 0xffff ? 0xffff : v);
  }
}

// Marks the guests of a list in `bits` (one per unit); false on a damaged list.
bool mark_guests(const Page* pg, const Block* b, uint64_t* bits) {
  const MixedInfo* m = pg->mix;
  uintptr_t start = uintptr_t(page_start(pg));
  for (size_t n = 0; b; ++n) {
    uintptr_t off = uintptr_t(b) - start;
    if (off % kUnit || off >= kPageSize || n > pg->capacity || !bit(m->guest, off / kUnit)) return false;
    if (bit(bits, off / kUnit)) return false;
    set_bit(bits, off / kUnit);
    const Block* next = link_decode(pg, b);
    if (next && !link_plausible(b, next)) return false;
    b = next;
  }
  return true;
}

// Bytes of pg no block uses.
size_t free_bytes(const Page* pg) {
  size_t taken = size_t(pg->used) * pg->block_size;
  if (pg->mix) taken += size_t(pg->mix->resident_units.load(std::memory_order_relaxed)) * kUnit;
  return taken < kPageSize ? kPageSize - taken : 0;
}

}  // namespace

SpinLock& mixed_lock() { return g_info_lock; }

bool mixed_gaps_likely(const Page* pg, unsigned c) {
  size_t bs = class_size(c), old = pg->block_size, align = guest_align(bs);
  if (!pg->capacity || old < kUnit) return false;
  if (const MixedInfo* m = pg->mix) {
    // What the last layout left is sure to take them; space freed since, perhaps half of it.
    size_t need = min_guests(bs), sure = left_estimate(m, bs), now = free_bytes(pg);
    if (sure >= need) return true;
    return now >= m->free_seen + kPageSize / 8 && sure + (now - m->free_seen) / (2 * bs) >= need;
  }
  // The part never carved is one gap; between live blocks, a run of at least k free slots
  // follows a live block with probability p = page_free_odds(pg, k), and takes about
  // p / (1 - p) guests.
  double guests = double(kPageSize - size_t(pg->capacity) * old) / double(bs);
  double p = page_free_odds(pg, (bs + old - 1) / old + (align > old));
  if (p < 1) guests += double(pg->used + 1) * p / (1 - p);
  return guests >= 2.0 * double(min_guests(bs));
}

bool mixed_prepare(Page* pg, unsigned c) {
  size_t bs = class_size(c), align = guest_align(bs);
  size_t old = pg->block_size;
  if (c == 0 || old < kUnit || pg->sample_rest) return false;
  page_collect(pg);
  MixedInfo* m = pg->mix;
  // The page's live blocks become residents: these bits are added to the resident maps.
  uint64_t add_start[kWords] = {}, add_end[kWords] = {};
  uint32_t added = 0, added_units = 0;
  auto add = [&](size_t off, size_t len) {
    size_t s = off / kUnit, e = (off + len) / kUnit - 1;
    set_bit(add_start, s);
    set_bit(add_end, e);
    ++added;
    added_units += uint32_t(e - s + 1);
  };
  uint32_t holes = pg->holes;
  if (!m) {  // a page of one class: its live blocks, those on no list and in no hole
    uint64_t free_bits[kUnits / 64] = {};
    if (!page_free_bits(pg, free_bits)) return false;
    for (size_t w = 0; w * 64 < pg->capacity; ++w) {  // the live blocks: zero bits, word by word
      size_t n = pg->capacity - w * 64;
      uint64_t live = ~free_bits[w] & (n >= 64 ? ~uint64_t(0) : (uint64_t(1) << n) - 1);
      for (; live; live &= live - 1) {
        size_t i = w * 64 + size_t(__builtin_ctzll(live));
        if (!range_in_holes(i * old, old, holes)) add(i * old, old);
      }
    }
  } else {  // a mixed page: its live guests join the residents
    uint64_t free_guests[kWords] = {};
    uint8_t* base = page_start(pg);  // the lists run all over the page: every guest's line up front
    for (size_t w = 0; w < kWords; ++w)
      for (uint64_t x = m->guest[w].load(std::memory_order_relaxed); x; x &= x - 1)
        __builtin_prefetch(base + (w * 64 + size_t(__builtin_ctzll(x))) * kUnit);
    if (!mark_guests(pg, pg->free, free_guests) || !mark_guests(pg, pg->local_free, free_guests)) return false;
    for (size_t w = 0; w < kWords; ++w)
      for (uint64_t x = m->guest[w].load(std::memory_order_relaxed) & ~free_guests[w]; x; x &= x - 1)
        add((w * 64 + size_t(__builtin_ctzll(x))) * kUnit, old);
  }
  if (added != pg->used) return false;
  // Guests fill the gaps between residents, lowest address first; what each gap has left is
  // counted for the next class that may want the page.
  uint64_t starts[kWords], ends[kWords], guest[kWords] = {};
  for (size_t w = 0; w < kWords; ++w) {
    starts[w] = add_start[w] | (m ? m->start[w].load(std::memory_order_acquire) : 0);
    ends[w] = add_end[w] | (m ? m->end[w].load(std::memory_order_acquire) : 0);
  }
  size_t guests = 0;
  uint16_t left[kFits] = {};
  auto fill = [&](size_t lo, size_t hi) {
    for (size_t p = align_up(lo, align); p + bs <= hi; p = align_up(p + bs, align)) {
      set_bit(guest, p / kUnit);
      ++guests;
      count_fits(left, lo, p);  // what alignment left before it
      lo = p + bs;
    }
    count_fits(left, lo, hi);
  };
  size_t g = 0;
  for (size_t s; g < kUnits && (s = find_bit(starts, g)) < kUnits;) {
    size_t e = find_bit(ends, s);
    fill(g * kUnit, s * kUnit);
    g = e < kUnits ? e + 1 : kUnits;
  }
  fill(g * kUnit, kPageSize);
  if (guests < min_guests(bs)) {
    if (m) m->free_seen = uint32_t(free_bytes(pg));  // not again until more is freed
    return false;
  }
  bool fresh = !m;
  if (fresh && !(m = info_alloc())) return false;
  // Published in this order, so that another thread's free finds what it needs: a resident's
  // end before its start, its start before its guest bit goes.
  m->residents.fetch_add(added, std::memory_order_relaxed);
  m->resident_units.fetch_add(added_units, std::memory_order_relaxed);
  for (size_t w = 0; w < kWords; ++w)
    if (add_end[w]) m->end[w].fetch_or(add_end[w], std::memory_order_release);
  for (size_t w = 0; w < kWords; ++w)
    if (add_start[w]) m->start[w].fetch_or(add_start[w], std::memory_order_release);
  for (size_t w = 0; w < kWords; ++w) m->guest[w].store(guest[w], std::memory_order_release);
  memcpy(m->left, left, sizeof left);
  if (fresh) pg->mix = m;
  // Published before the page's class changes: another thread's free that sees the new
  // block_size also sees mixed (heap_free_remote looks again before it reports).
  __atomic_store_n(&pg->mixed, uint8_t(kMixedPage | kMixedResidents), __ATOMIC_RELEASE);
  pg->size_class = uint8_t(c);
  __atomic_store_n(&pg->block_size, uint32_t(bs), __ATOMIC_RELAXED);  // remote frees read it
  pg->reserved = pg->capacity = uint32_t(guests);
  pg->used = 0;
  m->free_seen = uint32_t(free_bytes(pg) - guests * bs);
  // Address order, guests in resident memory first: those in holes fault memory in again, and
  // are handed out only when the others are gone.
  Block* head = nullptr;
  uint8_t* start = page_start(pg);
  for (int in_hole = holes ? 1 : 0; in_hole >= 0; --in_hole) {
    for (size_t w = kWords; w-- > 0;) {  // prepended from the top: the guests' bits, highest first
      for (uint64_t x = guest[w]; x;) {
        unsigned j = 63 - unsigned(__builtin_clzll(x));
        x &= ~(uint64_t(1) << j);
        size_t i = w * 64 + j;
        if (range_in_holes(i * kUnit, bs, holes) != bool(in_hole)) continue;
        auto* b = reinterpret_cast<Block*>(start + i * kUnit);
        link_set(pg, b, head);
        head = b;
      }
    }
  }
  pg->free = head;
  pg->local_free = nullptr;
  pg->free_len = uint32_t(guests);
  pg->rest_len = 0;
  pg->absent = 0;
  __atomic_store_n(&pg->holes, uint16_t(0), __ATOMIC_RELAXED);
  pg->punch_used = kNotLooked;
  g_made.fetch_add(1, std::memory_order_relaxed);
  return true;
}

size_t mixed_made() { return g_made.load(std::memory_order_relaxed); }

Block* mixed_filter(Page* pg, Block* list, uint32_t* n) {
  Block* keep = nullptr;
  uint32_t kept = 0;
  for (Block* b = list; b;) {
    Block* next = link_decode(pg, b);
    if (next && !link_plausible(b, next)) {  // damaged: keep what was checked, drop the rest
      report_misuse("free", b, "free list damaged (write after free, or overflow)");
      next = nullptr;
    }
    if (!mixed_free_other(pg, b)) {
      link_set(pg, b, keep);
      keep = b;
      ++kept;
    }
    b = next;
  }
  *n = kept;
  return keep;
}

MixedBlock mixed_classify(const Page* pg, const void* p) {
  const MixedInfo* m = pg->mix;
  size_t off = size_t(static_cast<const uint8_t*>(p) - page_start(pg));
  if (off % kUnit || off >= kPageSize) return MixedBlock::invalid;
  if (bit(m->guest, off / kUnit)) return MixedBlock::guest;
  if (bit(m->start, off / kUnit)) return MixedBlock::resident;
  return MixedBlock::invalid;
}

bool mixed_free_other(Page* pg, Block* b) {
  MixedInfo* m = pg->mix;
  size_t off = size_t(reinterpret_cast<uint8_t*>(b) - page_start(pg)), s = off / kUnit;
  if (off % kUnit == 0 && off < kPageSize) {
    if (bit(m->guest, s)) return false;
    if (bit(m->start, s)) {
      size_t e = resident_end(m, s);
      b->link = 0;
      m->end[e / 64].fetch_and(~bit_of(e), std::memory_order_acq_rel);
      if (m->start[s / 64].fetch_and(~bit_of(s), std::memory_order_acq_rel) & bit_of(s)) {
        m->resident_units.fetch_sub(uint32_t(e - s + 1), std::memory_order_relaxed);
        m->residents.fetch_sub(1, std::memory_order_release);
      } else {
        report_misuse("free", b, "block is already free (double free)");
      }
      return true;
    }
    // No block starts here now: one that did is free already, or it never did.
    report_misuse("free", b, "not an allocated block (double free, or never allocated)");
    return true;
  }
  report_misuse("free", b, "not the start of a block (interior pointer)");
  return true;
}

uint32_t mixed_residents(const Page* pg) {
  const MixedInfo* m = pg->mix;
  return m ? m->residents.load(std::memory_order_acquire) : 0;
}

size_t mixed_resident_bytes(const Page* pg) {
  const MixedInfo* m = pg->mix;
  return m ? size_t(m->resident_units.load(std::memory_order_relaxed)) * kUnit : 0;
}

size_t mixed_usable(const Page* pg, const void* p) {
  if (mixed_classify(pg, p) != MixedBlock::resident) return pg->block_size;
  size_t s = size_t(static_cast<const uint8_t*>(p) - page_start(pg)) / kUnit;
  return (resident_end(pg->mix, s) - s + 1) * kUnit;
}

void mixed_release(Page* pg) {
  MixedInfo* m = pg->mix;
  __atomic_store_n(&pg->mixed, uint8_t(0), __ATOMIC_RELAXED);
  pg->mix = nullptr;
  if (m) info_free(m);
}

}  // namespace mallocim
