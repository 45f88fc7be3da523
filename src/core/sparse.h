// Sparse pages: a page whose live blocks are few and scattered keeps all of its 64 KiB resident,
// and no other size class can use its free blocks. Its owner gives back the OS pages (4 KiB)
// inside it that hold only free blocks: these "holes" are purged, their blocks leave the free
// lists (Page::absent), and they are carved again, zeroed by the kernel, when the page has no
// other free block left. Owner thread only: the lists are the owner's.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/heap.h"

namespace mallocim {

constexpr size_t kOsPage = 4096;  // the OS page size holes are made of (none on other sizes)
constexpr unsigned kOsPages = unsigned(kPageSize / kOsPage);  // 16: a bit each in Page::holes, touched
static_assert(kOsPages <= 16, "Page::holes and Page::touched have 16 bits");

// Whether the bytes [off, off + len) of a page overlap one of the OS pages in `holes`.
MI_INLINE bool range_in_holes(size_t off, size_t len, uint32_t holes) {
  for (size_t j = off / kOsPage, last = (off + len - 1) / kOsPage; j <= last; ++j)
    if (holes & (1u << j)) return true;
  return false;
}

// The blocks of size bs that overlap OS page j of a page: first..last.
struct BlockSpan {
  size_t first, last;
};
MI_INLINE BlockSpan os_page_blocks(size_t j, size_t bs) { return {j * kOsPage / bs, ((j + 1) * kOsPage - 1) / bs}; }

// How many of the first `capacity` blocks of size bs overlap an OS page of `holes`: the blocks
// a page with those holes keeps off its lists (Page::absent). A look per hole, not per block.
MI_INLINE uint32_t blocks_in_holes(size_t bs, size_t capacity, uint32_t holes) {
  if (capacity == 0) return 0;
  size_t n = 0, next = 0;  // next: the first block not counted yet
  for (; holes; holes &= holes - 1) {
    auto [first, last] = os_page_blocks(size_t(__builtin_ctz(holes)), bs);
    if (first < next) first = next;
    if (last >= capacity) last = capacity - 1;
    if (first > last) continue;
    n += last - first + 1;
    next = last + 1;
  }
  return uint32_t(n);
}

// The odds that k given slots of pg are all free, its live blocks taken as spread at random:
// (1 - used / capacity)^k. Used to judge, before walking a page's lists, whether holes
// (here) or gaps for guests (core/mixed.h) are likely.
MI_INLINE double used_free_odds(size_t used, size_t capacity, size_t k) {
  double p = 1;
  for (double f = 1.0 - double(used) / double(capacity ? capacity : 1); k; k >>= 1, f *= f)
    if (k & 1) p *= f;
  return p;
}
MI_INLINE double page_free_odds(const Page* pg, size_t k) { return used_free_odds(pg->used, pg->capacity, k); }

// Sets the bit of every block on pg's free and local lists (bits: one per block, zeroed, room for
// kPageSize / 8 blocks); false on a damaged list. Owner only.
bool page_free_bits(const Page* pg, uint64_t* bits);
// Punches every hole pg has room for (its remote frees collected first); returns bytes released.
size_t page_punch_holes(Page* pg);
// Puts the blocks of pg's holes back on its (empty) free list.
void page_fill_holes(Page* pg);
// Whether p lies in one of pg's holes: such a block is free (a free of it is a double free).
// Any thread may ask.
bool page_in_holes(const Page* pg, const void* p);
// Gives the OS page holding p's first word back again, if it is a hole (a write into it, such as
// a double free's push, faulted it back in). Owner only.
void page_repunch(const Page* pg, const void* p);
// The owner's pass over its sparse pages; returns bytes released.
//   timed: at most every MALLOCIM_PURGE_DELAY_MS, from the slow path;
//   pressure: the timed pass's pages, now, until about `want` bytes went back (the thread is
//             about to fault in fresh memory for large blocks: purge.h);
//   force: every page with room for a hole, now (malloc_trim).
enum class SparsePass { timed, pressure, force };
size_t heap_sparse_pass(Heap* h, uint64_t now, SparsePass mode, size_t want = ~size_t(0));

}  // namespace mallocim
