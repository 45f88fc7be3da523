#include "core/mixed.h"

#include <string.h>

#include "core/lock.h"
#include "debug/report.h"
#include "core/size_class.h"
#include "core/sparse.h"
#include "platform/os.h"

namespace mallocim {

constexpr size_t kSlots = kPageSize / 8;      // residents: blocks of 8 B and up
constexpr size_t kGranules = kPageSize / 16;  // guests: blocks of 16 B and up, 16-byte aligned

struct MixedInfo {
  std::atomic<uint64_t> resident[kSlots / 64];  // old slots still live
  uint64_t guest[kGranules / 64];               // granules where a guest block starts
  std::atomic<uint32_t> residents;
  uint32_t old_size;
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

// A page is worth mixing when it takes at least this many blocks of class c: an eighth of what a
// fresh page holds.
MI_INLINE size_t min_guests(size_t bs) { return kPageSize / bs / 8; }

MI_INLINE bool bit(const uint64_t* bits, size_t i) { return (bits[i / 64] >> (i % 64)) & 1; }
MI_INLINE void set_bit(uint64_t* bits, size_t i) { bits[i / 64] |= uint64_t(1) << (i % 64); }

}  // namespace

SpinLock& mixed_lock() { return g_info_lock; }

bool mixed_gaps_likely(const Page* pg, unsigned c) {
  size_t bs = class_size(c), old = pg->block_size, align = bs & (~bs + 1);
  if (!pg->capacity) return false;
  // The part never carved is one gap; between live blocks, a run of at least k free slots
  // follows a live block with probability p = page_free_odds(pg, k), and takes about
  // p / (1 - p) guests.
  double guests = double(kPageSize - size_t(pg->capacity) * old) / double(bs);
  double p = page_free_odds(pg, (bs + old - 1) / old + (align > old));
  if (p < 1) guests += double(pg->used + 1) * p / (1 - p);
  return guests >= 2.0 * double(min_guests(bs));
}

bool mixed_prepare(Page* pg, unsigned c) {
  size_t bs = class_size(c), align = bs & (~bs + 1);  // a class's blocks keep its alignment
  size_t old = pg->block_size;
  if (c == 0 || pg->sample_rest || pg->mixed) return false;
  page_collect(pg);
  uint64_t free_bits[kSlots / 64] = {};
  if (!page_free_bits(pg, free_bits)) return false;
  // Blocks in holes (core/sparse.h) are free too, though on no list; guests may take them.
  uint32_t holes = pg->holes;
  for (size_t i = 0; holes && i < pg->capacity; ++i)
    if (range_in_holes(i * old, old, holes)) set_bit(free_bits, i);
  MixedInfo* m = info_alloc();
  if (!m) return false;
  // Guests fill the gaps between live old blocks, lowest address first.
  size_t pos = 0, guests = 0;
  uint32_t residents = 0;
  auto fill_to = [&](size_t end) {
    for (pos = align_up(pos, align); pos + bs <= end; pos = align_up(pos + bs, align)) {
      set_bit(m->guest, pos / 16);
      ++guests;
    }
  };
  for (size_t i = 0; i < pg->capacity; ++i) {
    if (bit(free_bits, i)) continue;
    fill_to(i * old);
    m->resident[i / 64].fetch_or(uint64_t(1) << (i % 64), std::memory_order_relaxed);
    ++residents;
    pos = (i + 1) * old;
  }
  fill_to(kPageSize);
  if (residents != pg->used || guests < min_guests(bs)) {
    info_free(m);
    return false;
  }
  m->residents.store(residents, std::memory_order_relaxed);
  m->old_size = uint32_t(old);
  pg->mix = m;
  // Published before the page's class changes: another thread's free that sees the new
  // block_size also sees mixed (heap_free_remote looks again before it reports).
  __atomic_store_n(&pg->mixed, true, __ATOMIC_RELEASE);
  pg->size_class = uint8_t(c);
  __atomic_store_n(&pg->block_size, uint32_t(bs), __ATOMIC_RELAXED);  // remote frees read it
  pg->reserved = pg->capacity = uint32_t(guests);
  pg->used = 0;
  // Address order, guests in resident memory first: those in holes fault memory in again, and
  // are handed out only when the others are gone.
  Block* head = nullptr;
  uint8_t* start = page_start(pg);
  for (int in_hole = 1; in_hole >= 0; --in_hole) {
    for (size_t g = kGranules; g-- > 0;) {  // prepended from the top
      if (!bit(m->guest, g) || range_in_holes(g * 16, bs, holes) != bool(in_hole)) continue;
      auto* b = reinterpret_cast<Block*>(start + g * 16);
      link_set(pg, b, head);
      head = b;
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
  if (off % 16 == 0 && bit(m->guest, off / 16)) return MixedBlock::guest;
  if (off % m->old_size == 0 && off / m->old_size < kSlots) return MixedBlock::resident;
  return MixedBlock::invalid;
}

bool mixed_free_other(Page* pg, Block* b) {
  switch (mixed_classify(pg, b)) {
    case MixedBlock::guest:
      return false;
    case MixedBlock::resident: {
      MixedInfo* m = pg->mix;
      size_t i = size_t(reinterpret_cast<uint8_t*>(b) - page_start(pg)) / m->old_size;
      uint64_t mask = uint64_t(1) << (i % 64);
      b->link = 0;
      if (m->resident[i / 64].fetch_and(~mask, std::memory_order_acq_rel) & mask)
        m->residents.fetch_sub(1, std::memory_order_release);
      else
        report_misuse("free", b, "block is already free (double free)");
      return true;
    }
    case MixedBlock::invalid:
      break;
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
  return m ? size_t(m->residents.load(std::memory_order_relaxed)) * m->old_size : 0;
}

size_t mixed_usable(const Page* pg, const void* p) {
  return mixed_classify(pg, p) == MixedBlock::resident ? pg->mix->old_size : pg->block_size;
}

void mixed_release(Page* pg) {
  MixedInfo* m = pg->mix;
  __atomic_store_n(&pg->mixed, false, __ATOMIC_RELAXED);
  pg->mix = nullptr;
  if (m) info_free(m);
}

}  // namespace mallocim
