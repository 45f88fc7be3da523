#include "core/sparse.h"

#include <string.h>

#include "core/size_class.h"
#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {
namespace {

constexpr size_t kSmallestBlock = class_size_calc(0);
static_assert(kSmallestBlock >= 8 && kPageSize / kSmallestBlock <= 0xffff, "blocks per page");

// Whether block i overlaps an OS page of `holes`.
MI_INLINE bool in_holes(size_t i, size_t bs, uint32_t holes) { return range_in_holes(i * bs, bs, holes); }

constexpr size_t kBlockWords = kPageSize / kSmallestBlock / 64;  // a bit per block of a page

// The bits first..last (inclusive) of a map, word by word: m(word index, mask of the range in it).
template <typename F>
MI_INLINE void for_range(size_t first, size_t last, F&& m) {
  for (size_t w = first / 64; w <= last / 64; ++w) {
    uint64_t mask = ~uint64_t(0);
    if (w == first / 64) mask &= ~uint64_t(0) << (first % 64);
    if (w == last / 64) mask &= ~uint64_t(0) >> (63 - last % 64);
    m(w, mask);
  }
}

// Sets the bits of the blocks (of bs, capacity of them) that overlap an OS page of `holes`.
void set_hole_blocks(size_t bs, size_t capacity, uint32_t holes, uint64_t* bits) {
  for (; holes; holes &= holes - 1) {
    auto [first, last] = os_page_blocks(size_t(__builtin_ctz(holes)), bs);
    if (last >= capacity) last = capacity - 1;
    if (first <= last) for_range(first, last, [&](size_t w, uint64_t mask) { bits[w] |= mask; });
  }
}

// Marks the blocks of list in `bits`; false on a damaged list (left alone).
bool mark(const Page* pg, const Block* b, uint64_t* bits) {
  uintptr_t start = uintptr_t(page_start(pg));
  for (size_t n = 0; b; ++n) {
    uintptr_t off = uintptr_t(b) - start;
    if (off % pg->block_size || off / pg->block_size >= pg->capacity || n > pg->capacity) return false;
    size_t i = off / pg->block_size;
    if (bits[i / 64] & (uint64_t(1) << (i % 64))) return false;
    bits[i / 64] |= uint64_t(1) << (i % 64);
    const Block* next = link_decode(pg, b);
    if (next && !link_plausible(b, next)) return false;
    b = next;
  }
  return true;
}

// The holes a page of `capacity` blocks of bs with `used` live is expected to have, its live
// blocks taken as spread at random: an OS page of k blocks is free with used_free_odds (sparse.h).
double expected_holes(size_t used, size_t capacity, size_t bs) {
  return used_free_odds(used, capacity, (kOsPage + bs - 1) / bs) * kOsPages;
}

// A page's lists are worth a walk when it is expected to hold this much of a hole. (Survivors of
// a burst are usually clustered, which only makes holes more likely.)
constexpr double kHolesLikely = 0.25;

// Whether enough was freed since pg was last looked at for the holes it is expected to have (now)
// to grow by one OS page at least: page_freed_since_look asks for a sixteenth of the page freed,
// which a page already sparse when looked at (3 live 80-byte blocks left of 40) never reaches.
bool holes_gained(const Page* pg, size_t bs, double now) {
  if (pg->punch_used == kNotLooked) return true;
  if (pg->punch_used <= pg->used) return false;
  return now - expected_holes(pg->punch_used, pg->capacity, bs) >= 1.0;
}

// Sets the bit of every block of pg whose first word decodes to a link into the page (or to
// null), in address order; returns how many. It reads live blocks too, which other threads may be
// writing: what it finds is checked before it is trusted.
MI_RACY_READS size_t scan_free_looking(const Page* pg, uint64_t* bits) {
  const uint8_t* start = page_start(pg);
  size_t bs = pg->block_size, carved = size_t(pg->capacity) * bs, seen = 0;
  uint32_t holes = pg->holes;
  for (size_t i = 0, off = 0; off < carved; ++i, off += bs) {
    // Half an OS page ahead: the hardware's stream prefetch stops at each 4 KiB boundary.
    __builtin_prefetch(start + off + kOsPage / 2);
    if (holes && range_in_holes(off, bs, holes)) continue;  // no block of a hole is listed
    const Block* b = reinterpret_cast<const Block*>(start + off);
    if (link_plausible(b, link_decode(pg, b))) {
      bits[i / 64] |= uint64_t(1) << (i % 64);
      ++seen;
    }
  }
  return seen;
}

}  // namespace

bool page_free_bits(const Page* pg, uint64_t* bits) {
  // A scan in address order first: live blocks have their first word zeroed when handed out, so
  // when as many blocks look free as the lists hold, the two sets are the same. The lists run in
  // free order, all over the page: a walk waits on memory at every step, where the scan streams.
  size_t listed = size_t(pg->capacity) - pg->used - pg->absent;
  if (scan_free_looking(pg, bits) == listed) return true;
  // A live block that looks free (its program wrote such a word), blocks freed by other threads
  // and not yet collected, or a damaged list: the walk decides.
  memset(bits, 0, (size_t(pg->capacity) + 63) / 64 * sizeof(uint64_t));
  uint8_t* start = page_start(pg);
  size_t bs = pg->block_size, carved = size_t(pg->capacity) * bs;
  uint32_t holes = pg->holes;
  size_t step = bs > 64 ? bs : 64;  // every block's first line up front, in flight together
  for (size_t off = 0; off < carved; off += step)
    if (!(holes & (1u << (off / kOsPage)))) __builtin_prefetch(start + off);
  return mark(pg, pg->free, bits) && mark(pg, pg->local_free, bits);
}

size_t page_punch_holes(Page* pg) {
  if (os::hw().page_size != kOsPage || pg->sample_rest) return 0;
  page_collect(pg);
  size_t bs = pg->block_size;
  uint64_t bits[kBlockWords] = {};  // one bit per block of the page
  uint8_t* start = page_start(pg);
  if (!page_free_bits(pg, bits)) return 0;
  // Free, or in a hole already (no list holds those); OS pages past the carved blocks count as
  // free: never written since the page was (re)initialised, or only by an earlier life of it.
  size_t capacity = pg->capacity, words = (capacity + 63) / 64;
  uint64_t freeish[kBlockWords];
  memcpy(freeish, bits, words * sizeof(uint64_t));
  set_hole_blocks(bs, capacity, pg->holes, freeish);
  uint32_t fresh = 0;
  for (unsigned j = 0; j < kOsPages; ++j) {
    if (pg->holes & (1u << j)) continue;
    auto [first, last] = os_page_blocks(j, bs);
    bool all_free = true;
    if (first < capacity)
      for_range(first, last < capacity ? last : capacity - 1,
                [&](size_t w, uint64_t mask) { all_free &= (freeish[w] & mask) == mask; });
    if (all_free) fresh |= 1u << j;
  }
  if (!fresh) return 0;
  uint32_t holes = pg->holes | fresh;
  // The remaining free blocks, prepended from the top: in address order (neighbours in time stay
  // neighbours in memory).
  uint64_t gone[kBlockWords] = {};
  set_hole_blocks(bs, capacity, holes, gone);
  Block* head = nullptr;
  uint32_t listed = 0;
  for (size_t w = words; w-- > 0;) {
    for (uint64_t x = bits[w] & ~gone[w]; x;) {
      unsigned k = 63 - unsigned(__builtin_clzll(x));
      x &= ~(uint64_t(1) << k);
      Block* b = reinterpret_cast<Block*>(start + (w * 64 + k) * bs);
      link_set(pg, b, head);
      head = b;
      ++listed;
    }
  }
  size_t released = 0;
  for (unsigned j = 0; j < kOsPages;) {
    if (!(fresh & (1u << j))) {
      ++j;
      continue;
    }
    unsigned k = j;
    while (k < kOsPages && (fresh & (1u << k))) ++k;
    os::purge(start + j * kOsPage, (k - j) * kOsPage);
    released += (k - j) * kOsPage;
    j = k;
  }
  pg->free = head;
  pg->local_free = nullptr;
  pg->free_len = listed;
  pg->absent = uint16_t(blocks_in_holes(bs, pg->capacity, holes));
  __atomic_store_n(&pg->holes, uint16_t(holes), __ATOMIC_RELAXED);
  return released;
}

void page_fill_holes(Page* pg) {
  size_t bs = pg->block_size;
  uint32_t holes = pg->holes;
  Block* head = pg->free;
  uint8_t* start = page_start(pg);
  uint32_t added = 0;
  for (size_t i = pg->capacity; i-- > 0;) {  // prepended from the top: address order
    if (!in_holes(i, bs, holes)) continue;
    Block* b = reinterpret_cast<Block*>(start + i * bs);
    link_set(pg, b, head);
    head = b;
    ++added;
  }
  pg->free_len = pg->free == nullptr ? added : kLenUnknown;
  pg->free = head;
  pg->absent = 0;
  pg->punch_used = kNotLooked;  // the holes are gone: the next look starts afresh
  __atomic_store_n(&pg->holes, uint16_t(0), __ATOMIC_RELAXED);
}

bool page_in_holes(const Page* pg, const void* p) {
  uint32_t holes = __atomic_load_n(&pg->holes, __ATOMIC_RELAXED);
  size_t i = size_t(static_cast<const uint8_t*>(p) - page_start(pg)) / pg->block_size;
  return holes && in_holes(i, pg->block_size, holes);
}

void page_repunch(const Page* pg, const void* p) {
  uint8_t* start = page_start(pg);
  size_t j = size_t(static_cast<const uint8_t*>(p) - start) / kOsPage;
  if (pg->holes & (1u << j)) os::purge(start + j * kOsPage, kOsPage);
}

constexpr uint64_t kSparseIntervalMs = 1000;
constexpr size_t kTimedStep = size_t(1) << 14, kPressureMax = size_t(1) << 20;

static size_t clamp(size_t v, size_t lo, size_t hi) { return v < lo ? lo : v > hi ? hi : v; }

size_t heap_sparse_pass(Heap* h, uint64_t now, SparsePass mode, size_t want) {
  bool force = mode == SparsePass::force, timed = mode == SparsePass::timed;
  if (timed) {
    int64_t delay = option(Opt::purge_delay_ms);
    if (delay < 0 || now < h->next_sparse_ms) return 0;
  }
  // Work, in free-list blocks walked. A timed pass over a large heap goes in steps (one per 64
  // slow paths) of 16 Ki blocks, each resuming at the class where the last one stopped. A
  // pressure pass may walk a block per 4 bytes wanted: the program is about to fault in that
  // much (a fault of 4 KiB costs more than walking 1 Ki blocks). With 16 Ki blocks, a pass over
  // pages of 80-byte blocks gave back 0.3-0.7 MiB of the 1 MiB wanted, and the sparse pages
  // of a size mix gone by were still resident when the next mix peaked.
  size_t budget = force ? ~size_t(0) : timed ? kTimedStep : clamp(want / 4, kTimedStep, kPressureMax);
  size_t released = 0;
  unsigned c = timed ? h->sparse_class : 0;
  for (; c < kMaxClasses && budget && released < want; ++c) {
    size_t bs = class_size(c);
    for (Page* pg = h->queues[c].first; pg && budget && released < want; pg = pg->next) {
      if (pg == h->direct[c] || pg->sample_rest || pg->mixed) continue;
      size_t carved = size_t(pg->capacity) * bs;
      size_t free_blocks = pg->capacity - pg->used - pg->absent;
      // Room for two holes at least; unless forced, at most half full, holes likely, and enough
      // freed since the last look.
      if (free_blocks * bs < 2 * kOsPage) continue;
      if (!force) {
        if (size_t(pg->used) * bs * 2 > carved) continue;
        double holes = expected_holes(pg->used, pg->capacity, bs);
        if (holes < kHolesLikely || !holes_gained(pg, bs, holes)) continue;
      }
      budget = budget > free_blocks ? budget - free_blocks : 0;
      released += page_punch_holes(pg);
      pg->punch_used = uint16_t(pg->used);
    }
  }
  if (timed) {
    if (!budget) {  // resume at the class where it ran out, at the next step
      h->sparse_class = c - 1;
    } else {  // the pass is complete: the next one after the purge delay
      h->sparse_class = 0;
      // Not more often than once a second: a pass walks the free lists of every candidate page,
      // and holes in a page still in use are refaulted when it fills again.
      uint64_t delay = uint64_t(option(Opt::purge_delay_ms));
      h->next_sparse_ms = now + (delay > kSparseIntervalMs ? delay : kSparseIntervalMs);
    }
  }
  return released;
}

}  // namespace mallocim
