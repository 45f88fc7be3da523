// Small-object pages and the segments that hold them.
//
// A segment is a 4 MiB aligned region: page 0 holds this header and the page descriptors, pages
// 1..63 hold blocks of one size class each. A page has three free lists:
//   free         the owner pops allocations from it, no atomics;
//   local_free   the owner pushes its own frees here, no atomics;
//   thread_free  other threads push their frees here with one CAS; the owner takes the whole
//                list with one exchange when `free` runs dry. The word holds the list head in
//                its low 48 bits and the list length in the high 16, so taking the list needs
//                no walk to count it.
#pragma once
#include <stddef.h>

#include <atomic>

#include "core/config.h"
#include "core/segmap.h"

namespace mallocim {

struct Heap;
struct MixedInfo;
struct Page;
void mixed_release(Page* pg);

// A free block holds the link to the next free block, encoded with its page's secret key: an
// overflow or a write after free into a free block cannot plant a usable pointer, and a link that
// decodes outside its page is caught before it is followed. Live blocks have the word zeroed on
// allocation, so a block whose word decodes to a free-list link is (almost surely) already free.
struct Block {
  uintptr_t link;
};

enum class PageState : uint8_t {
  free,       // in the page pool (or a heap's empty-page cache), no size class
  queued,     // owned by a heap, in its queue of pages with room
  full,       // owned by a heap, no free block when last looked at
  abandoned,  // its thread exited with blocks still live; waiting to be reclaimed
};

struct alignas(64) Page {
  // First cache line: everything malloc and free of the owner touch.
  Block* free;
  Block* local_free;
  std::atomic<Heap*> owner;  // null while free or abandoned
  uint32_t used;             // blocks handed out and not yet back on free/local_free
  uint32_t capacity;         // blocks carved so far
  uint32_t reserved;         // blocks that fit in the page
  uint32_t block_size;
  PageState state;
  uint8_t mixed;   // kMixed*: holds live blocks of an earlier class too (core/mixed.h)
  uint16_t holes;  // OS pages (4 KiB) given back while the page is in use (core/sparse.h)
  uint8_t size_class;
  bool purged;  // free and given back to the OS: its memory reads as zero
  uint32_t index;  // in its segment
  uintptr_t key;   // encodes the free-list links of this page
  // Second line: what other threads write (so their frees do not steal the owner's line),
  // list links and purge bookkeeping.
  std::atomic<uintptr_t> thread_free;
  Page* next;      // queue, full list, pool or abandoned list
  Page* prev;
  uint64_t free_since_ms;  // for the delayed purge
  // Sampling (core/sample.h): `free` cut short so that the fast path falls into the slow path
  // exactly at the next sampled allocation; this holds the rest of the list.
  Block* sample_rest;
  // Lengths the slow path knows without a walk: of `free` when it last set the whole list, and
  // of sample_rest (kLenUnknown once the fast path may have taken from `free`).
  uint32_t free_len;
  uint32_t rest_len;
  uint16_t absent;      // carved blocks in holes: on no list, not used
  uint16_t punch_used;  // `used` when last looked at for holes or mixing (kNotLooked: not since init)
  uint16_t touched;     // free in the pool: its OS pages (4 KiB) that may be resident (page_pool.cpp)
  MixedInfo* mix;       // when mixed: where residents and guests start (core/mixed.h)
};

constexpr uint16_t kNotLooked = 0xffff;

// Page::mixed: the page is mixed; and while any of its residents may still be live, the owner's
// frees take the page event, which tells residents from guests (once none is left, guests are
// freed like the blocks of any page).
constexpr uint8_t kMixedPage = 1, kMixedResidents = 2;

// The owner's free takes the slow path when the page is full, has residents of an earlier class
// or has holes: one test of the word that holds state, mixed and holes (an owned page is queued
// or full; bit 1 means full).
static_assert(offsetof(Page, mixed) == offsetof(Page, state) + 1 &&
              offsetof(Page, holes) == offsetof(Page, state) + 2);
static_assert(uint8_t(PageState::queued) == 1 && uint8_t(PageState::full) == 2);
constexpr uint32_t kFreeEventMask = 0xffff0000u | uint32_t(kMixedResidents) << 8 | 0x02u;  // little-endian
MI_INLINE bool page_free_event(const Page* pg) {
  uint32_t w;
  __builtin_memcpy(&w, &pg->state, sizeof w);
  return (w & kFreeEventMask) != 0;
}

constexpr uint32_t kLenUnknown = ~uint32_t(0);

struct Segment {
  RegionHeader header;  // kind == small
  uint32_t free_pages;  // pages in state free
  Segment* next;        // all segments
  Segment* prev;
  Page pages[kPagesPerSegment];
};

static_assert(offsetof(Page, thread_free) == 64, "malloc and free of the owner touch one line");
static_assert(sizeof(Page) == 128, "two lines per page descriptor");
static_assert(sizeof(Segment) <= kPageSize, "segment header must fit in page 0");

constexpr unsigned kThreadFreeCountShift = 48;
constexpr uintptr_t kThreadFreePtrMask = (uintptr_t(1) << kThreadFreeCountShift) - 1;
static_assert(kPageSize / 8 < (1u << 16), "the thread_free count must fit in 16 bits");

MI_INLINE Block* link_decode(const Page* pg, const Block* b) {
  return reinterpret_cast<Block*>(b->link ^ pg->key);
}
MI_INLINE void link_set(const Page* pg, Block* b, const Block* next) {
  b->link = uintptr_t(next) ^ pg->key;
}
// A link is plausible when it is null or points into the same 64 KiB page as the block.
MI_INLINE bool link_plausible(const Block* b, const Block* next) {
  return ((uintptr_t(next) ^ uintptr_t(b)) >> kPageShift) == 0 || next == nullptr;
}

MI_INLINE Segment* segment_of(const void* p) {
  return reinterpret_cast<Segment*>(uintptr_t(p) & ~(kSegmentSize - 1));
}
MI_INLINE Page* page_of(Segment* s, const void* p) {
  return &s->pages[(uintptr_t(p) >> kPageShift) % kPagesPerSegment];  // segments are size-aligned
}
// The state is written by the page's owner (or under the pool or abandon lock) and read by other
// threads' frees, which check it: atomic, relaxed.
MI_INLINE void page_set_state(Page* pg, PageState s) {
  __atomic_store_n(reinterpret_cast<uint8_t*>(&pg->state), uint8_t(s), __ATOMIC_RELAXED);
}
MI_INLINE PageState page_state_seen(const Page* pg) {  // by another thread
  return PageState(__atomic_load_n(reinterpret_cast<const uint8_t*>(&pg->state), __ATOMIC_RELAXED));
}

// No block on any list, nothing cut, no hole, no block carved or handed out: a page between lives.
MI_INLINE void page_clear(Page* pg) {
  if (pg->mix) mixed_release(pg);
  pg->free = pg->local_free = pg->sample_rest = nullptr;
  pg->free_len = pg->rest_len = 0;
  pg->holes = pg->absent = 0;
  pg->punch_used = kNotLooked;
  pg->used = pg->capacity = 0;
}

// Whether enough has been freed since the page was last looked at for holes or for mixing, for
// a look for mixing (core/mixed.h): a quarter of the blocks live then, and a sixteenth of the
// page, so that a page is walked again only after frees that pay for the walk. (The look for
// holes asks for one more free OS page expected instead: core/sparse.cpp.)
MI_INLINE bool page_freed_since_look(const Page* pg) {
  if (pg->punch_used == kNotLooked) return true;
  int64_t freed = int64_t(pg->punch_used) - int64_t(pg->used);
  return freed >= int64_t(pg->capacity / 16) && freed * 4 >= int64_t(pg->punch_used);
}

// Whether the page can hand out a block: listed, carvable, or in a hole to carve again.
MI_INLINE bool page_has_room(const Page* pg) {
  return pg->free || pg->capacity < pg->reserved || pg->holes;
}

MI_INLINE uint8_t* page_start(const Page* pg) {
  // The descriptor lives in the segment header; the page's memory is index * 64 KiB further.
  uintptr_t seg = uintptr_t(pg) & ~(kSegmentSize - 1);
  return reinterpret_cast<uint8_t*>(seg + (uintptr_t(pg->index) << kPageShift));
}

}  // namespace mallocim
