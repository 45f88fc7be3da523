// Per-thread heaps: the small-object fast paths.
//
// Each thread owns a Heap (one initial-exec TLS pointer, 8 bytes, so dlopen works). For each size
// class the heap keeps a queue of pages with room; direct[c] is the first page of that queue, or
// a shared empty page whose free list is always null, so the fast path has no null check.
// direct_w holds the same pages indexed by request size in 8-byte words up to kDirectMax, so the
// commonest requests skip the class lookup.
#pragma once
#include "core/lock.h"
#include "core/medium_cache.h"
#include "core/page.h"
#include "core/size_class.h"

namespace mallocim {

struct LargeRegion;

struct PageQueue {
  Page* first;
  Page* last;
};

constexpr unsigned kMaxPageCache = 16;

constexpr size_t kDirectMax = 1024;
constexpr size_t kDirectWords = kDirectMax / 8 + 1;

struct Heap {
  Page* direct_w[kDirectWords];  // by (size + 7) / 8, for size <= kDirectMax
  Page* direct[kMaxClasses];
  PageQueue queues[kMaxClasses];
  PageQueue full;       // pages with no free block when last looked at (all classes)
  PageQueue full_mixed; // the same, of mixed pages: the gaps they left may take another class
  size_t full_count;
  bool remote_seen;     // other threads have freed blocks of this heap
  Page* cache[kMaxPageCache];  // empty pages kept for reuse by any class
  unsigned cache_count;
  LargeRegion* large_region;  // preferred boundary-tag region
  uint64_t large_allocs;      // large allocations of this thread (looks for older regions, regions apart)
  uint64_t others_ms;         // when large_malloc last looked whether other threads use the regions
  bool others;                // what it saw (a hint, looked at again each millisecond)
  Heap* next;                 // registry of live heaps / free list of heap structs
  Heap* prev;
  uint64_t slow_calls;        // slow-path entries (statistics)
  uint64_t next_sparse_ms;    // the next pass over sparse pages (core/sparse.h)
  unsigned sparse_class;      // where the pass under way resumes
  unsigned mixed_class;       // where the look for a page to mix starts (core/mixed.h)
  uint64_t class_slow_at[kMaxClasses];  // slow_calls when the class was last in the slow path
  bool borrowing[kMaxClasses];  // the class's last slow path borrowed from a large region
  // The heap's copy of the size lookup for direct_w (policy/class_tuner.h), taken at class_epoch:
  // the class of each word, and the words each class serves, first and last (none: first > last).
  uint32_t class_epoch;
  uint8_t word_class[kDirectWords];
  uint8_t words_first[kMaxClasses];
  uint8_t words_last[kMaxClasses];
  // Sampling (core/sample.h): bytes to go until the next sample, per small class and one for
  // large and huge blocks; the generator drawing the gaps; the thread's number in profiles.
  int64_t sample_left[kMaxClasses + 1];
  uint64_t sample_rng;
  uint32_t thread_no;
  MediumCache mcache;  // freed medium blocks kept for reuse (core/medium_cache.h)
};

extern Page g_empty_page MI_HIDDEN;
extern Heap g_empty_heap MI_HIDDEN;
extern __thread Heap* t_heap __attribute__((tls_model("initial-exec")));

// Slow paths (heap.cpp).
// size first: the fast path's tail call leaves it in its register. The class comes from the heap's
// copy of the size lookup (or the shared one above kDirectMax).
void* heap_malloc_slow(size_t size, Heap* h);
// The owner has just pushed a block on pg's local_free and the page emptied, was full, or has
// holes: moves the page between lists; a block pushed into a hole (a double free: its OS page had
// gone back) is taken off again and reported.
void heap_free_event(Heap* h, Page* pg);
void heap_free_remote(Block* b, Page* pg);
// Takes the frees other threads made into pg and, when `free` is empty, the owner's local frees;
// returns whether there were remote ones (owner only).
bool page_collect(Page* pg);
void* heap_list_damaged(Page* pg, Block* b);       // a free-list link failed its check
void heap_free_suspect(Block* b, Page* pg, Heap* h);  // b looks free already: check, then free
void heap_thread_exit(Heap* h);
Heap* heap_for_thread();  // creates the calling thread's heap if it has none
// Returns the calling thread's empty pages and empty queued pages to the pool.
void heap_release_cached(Heap* h);
size_t abandoned_sweep();  // collects abandoned pages that have emptied; returns pages freed

struct HeapFigures {
  size_t live;
  size_t created;
  uint64_t slow_calls;  // slow-path entries of live heaps and of exited ones
  size_t cached_bytes, cached_blocks;  // in the medium caches of live heaps (read without their owners)
};
HeapFigures heap_figures();
size_t heaps_live();  // threads with a heap now (read without the lock: a hint)

// Takes b, the first block of pg's free list; the link it leaves behind is checked first (the
// null test only when the link leaves the page, so the common case is one shift).
MI_INLINE void* page_take(Page* pg, Block* b) {
  uintptr_t next = b->link ^ pg->key;
  __asm__("" : "+r"(next));  // test the decoded link itself, not the encoded word against the key
  if (MI_UNLIKELY(((next ^ uintptr_t(b)) >> kPageShift) != 0) && next != 0)
    return heap_list_damaged(pg, b);
  pg->free = reinterpret_cast<Block*>(next);
  b->link = 0;  // a live block never reads as a free one
  pg->used++;
#if defined(__x86_64__)
  __asm__("" : "+a"(b));  // b in the return register: held there from its load on, no copy at the end
#endif
  return b;
}

MI_INLINE void* heap_malloc_small(Heap* h, size_t size) {
  Page* pg = size <= kDirectMax ? h->direct_w[(size + 7) >> 3] : h->direct[size_to_class(size)];
  Block* b = pg->free;
  if (MI_LIKELY(b != nullptr)) return page_take(pg, b);
  return heap_malloc_slow(size, h);
}

// Frees a block of a small segment.
MI_INLINE void heap_free_small(Segment* s, void* p) {
  Page* pg = page_of(s, p);
  __asm__("" : "+r"(pg));  // one register for the descriptor (else it is computed twice)
  Heap* h = t_heap;
  Block* b = static_cast<Block*>(p);
  if (MI_LIKELY(pg->owner.load(std::memory_order_relaxed) == h)) {
    uintptr_t link = b->link ^ pg->key;
    __asm__("" : "+r"(link));  // as in page_take
    if (MI_UNLIKELY(((link ^ uintptr_t(b)) >> kPageShift) == 0 || link == 0)) return heap_free_suspect(b, pg, h);
    link_set(pg, b, pg->local_free);
    pg->local_free = b;
    // A page with holes gets here too: heap_free_event takes a block back out of a hole.
    if (MI_UNLIKELY(--pg->used == 0 || page_free_event(pg))) heap_free_event(h, pg);
    return;
  }
  heap_free_remote(b, pg);
}

}  // namespace mallocim

namespace mallocim {
// Locks of this layer, for fork handling.
SpinLock& heap_registry_lock();
SpinLock& heap_abandon_lock();
}  // namespace mallocim
