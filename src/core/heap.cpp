// Per-thread heaps: slow paths, page queues, thread exit.
#include "core/heap.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "core/init.h"
#include "core/large.h"
#include "core/mixed.h"
#include "core/secret.h"
#include "core/page_pool.h"
#include "core/purge.h"
#include "core/sample.h"
#include "core/sparse.h"
#include "debug/report.h"
#include "stats/profile.h"
#include "stats/stats.h"
#include "platform/os.h"
#include "policy/class_tuner.h"
#include "policy/options.h"

namespace mallocim {

Page g_empty_page{};

namespace {
constexpr Heap make_empty_heap() {
  Heap h{};
  for (auto& d : h.direct) d = &g_empty_page;
  for (auto& d : h.direct_w) d = &g_empty_page;
  return h;
}
}  // namespace

constinit Heap g_empty_heap = make_empty_heap();
__thread Heap* t_heap __attribute__((tls_model("initial-exec"))) = &g_empty_heap;

namespace {

// ---- registry of heap structs ---------------------------------------------------------------
SpinLock g_heap_lock;
Heap* g_live_heaps = nullptr;
Heap* g_free_heaps = nullptr;
uint8_t* g_heap_chunk = nullptr;
size_t g_heap_chunk_left = 0;
size_t g_heaps_live = 0, g_heaps_created = 0;
uint64_t g_exited_slow_calls = 0;

// ---- pages abandoned by exited threads, by size class ----------------------------------------
SpinLock g_abandon_lock;
PageQueue g_abandoned[kMaxClasses];
std::atomic<uint32_t> g_abandoned_count[kMaxClasses];

// ---- the heap's copy of the size lookup ------------------------------------------------------
MI_INLINE void direct_set(Heap* h, unsigned c, Page* pg) {
  h->direct[c] = pg;
  for (unsigned w = h->words_first[c], last = h->words_last[c]; w <= last; ++w) h->direct_w[w] = pg;
}

// Takes a new copy of the size lookup for direct_w. Every entry the lookup ever holds is a class
// large enough for its words, even one read while the tuner rewrites it, and so is any class
// whose last word lies further on: direct_set may write a page into the words between.
void classes_sync(Heap* h) {
  h->class_epoch = g_class_epoch.load(std::memory_order_acquire);
  memset(h->words_first, 0xff, sizeof h->words_first);
  memset(h->words_last, 0, sizeof h->words_last);
  for (unsigned w = 0; w < kDirectWords; ++w) {
    unsigned c = size_to_class(w * 8);
    h->word_class[w] = uint8_t(c);
    if (h->words_first[c] > w) h->words_first[c] = uint8_t(w);
    h->words_last[c] = uint8_t(w);
    h->direct_w[w] = h->direct[c];
  }
}

Heap* heap_struct_alloc() {
  LockGuard g(g_heap_lock);
  Heap* h = g_free_heaps;
  if (h) {
    g_free_heaps = h->next;
  } else {
    // Heaps are padded to whole cache lines so that two threads' heaps never share one.
    size_t sz = align_up(sizeof(Heap), os::hw().cache_line);
    if (g_heap_chunk_left < sz) {
      size_t chunk = align_up(sz * 16, os::hw().page_size);
      g_heap_chunk = static_cast<uint8_t*>(os::map_aligned(chunk, os::hw().page_size));
      if (!g_heap_chunk) return nullptr;
      g_heap_chunk_left = chunk;
    }
    h = reinterpret_cast<Heap*>(g_heap_chunk);
    g_heap_chunk += sz;
    g_heap_chunk_left -= sz;
  }
  memset(static_cast<void*>(h), 0, sizeof(Heap));
  for (auto& d : h->direct) d = &g_empty_page;
  classes_sync(h);
  h->next = g_live_heaps;
  if (g_live_heaps) g_live_heaps->prev = h;
  g_live_heaps = h;
  __atomic_add_fetch(&g_heaps_live, 1, __ATOMIC_RELAXED);  // (read without the lock: heaps_live)
  h->thread_no = uint32_t(++g_heaps_created);
  return h;
}

void heap_struct_free(Heap* h) {
  LockGuard g(g_heap_lock);
  g_exited_slow_calls += h->slow_calls;
  if (h->prev) h->prev->next = h->next; else g_live_heaps = h->next;
  if (h->next) h->next->prev = h->prev;
  h->next = g_free_heaps;
  g_free_heaps = h;
  __atomic_sub_fetch(&g_heaps_live, 1, __ATOMIC_RELAXED);
}

// ---- page queues ----------------------------------------------------------------------------
void queue_push_front(PageQueue& q, Page* p) {
  p->prev = nullptr;
  p->next = q.first;
  if (q.first) q.first->prev = p; else q.last = p;
  q.first = p;
}
void queue_push_back(PageQueue& q, Page* p) {
  p->next = nullptr;
  p->prev = q.last;
  if (q.last) q.last->next = p; else q.first = p;
  q.last = p;
}
void queue_remove(PageQueue& q, Page* p) {
  if (p->prev) p->prev->next = p->next; else q.first = p->next;
  if (p->next) p->next->prev = p->prev; else q.last = p->prev;
  p->next = p->prev = nullptr;
}
MI_INLINE void sync_direct(Heap* h, unsigned c) {
  Page* first = h->queues[c].first;
  // While sampling, a page serves the fast path only once its list has been counted.
  if (MI_UNLIKELY(g_sampling) && first && first != h->direct[c]) sample_prepare(h, first);
  direct_set(h, c, first ? first : &g_empty_page);
}

// ---- pages ----------------------------------------------------------------------------------
uintptr_t page_key(const Page* pg) {
  uint64_t x = g_secret ^ uintptr_t(pg);
  x ^= x >> 31;
  x *= 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  return uintptr_t(x | 1);
}

}  // namespace

// Moves frees back to the owner: other threads' frees with one exchange (the word carries the
// count, so `used` is right without walking the list), and the owner's own when `free` is empty.
bool page_collect(Page* pg) {
  bool remote = pg->thread_free.load(std::memory_order_relaxed) != 0;
  if (remote) {
    uintptr_t tf = pg->thread_free.exchange(0, std::memory_order_acquire);
    Block* list = reinterpret_cast<Block*>(tf & kThreadFreePtrMask);
    uint32_t n = uint32_t(tf >> kThreadFreeCountShift);
    if (MI_UNLIKELY(pg->mixed)) list = mixed_filter(pg, list, &n);  // residents leave no block
    pg->used -= n;
    if (!list) {
      // residents of a mixed page only: nothing to list
    } else if (!pg->free) {
      pg->free = list;
      pg->free_len = n;
    } else if (!pg->local_free) {
      pg->local_free = list;
    } else {  // all three lists in use (only on full collections): splice onto local_free
      Block* tail = list;
      for (Block* n; (n = link_decode(pg, tail)) != nullptr; tail = n) {
        if (!link_plausible(tail, n)) {  // damaged: keep what was checked, drop the rest
          report_misuse("free", tail, "free list damaged (write after free, or overflow)");
          break;
        }
      }
      link_set(pg, tail, pg->local_free);
      pg->local_free = list;
    }
  }
  if (!pg->free && pg->local_free) {
    pg->free = pg->local_free;
    pg->local_free = nullptr;
    pg->free_len = pg->capacity - pg->used - pg->absent;  // every listed free block was there
  }
  return remote;
}

namespace {

// Carves the next few blocks of a page; a page is touched only as far as it is used.
void page_extend(Page* pg) {
  if (pg->holes) return page_fill_holes(pg);  // blocks given back to the OS come first
  if (pg->capacity >= pg->reserved) return;   // no room to carve
  size_t bs = pg->block_size;
  uint32_t n = uint32_t(8192 / bs);
  if (n == 0) n = 1;
  if (n > pg->reserved - pg->capacity) n = pg->reserved - pg->capacity;
  uint8_t* first = page_start(pg) + size_t(pg->capacity) * bs;
  Block* b = reinterpret_cast<Block*>(first);
  for (uint32_t i = 1; i < n; ++i) {
    Block* nb = reinterpret_cast<Block*>(first + i * bs);
    link_set(pg, b, nb);
    b = nb;
  }
  link_set(pg, b, pg->free);
  pg->free_len = pg->free == nullptr ? n : pg->free_len == kLenUnknown ? kLenUnknown : pg->free_len + n;
  pg->free = reinterpret_cast<Block*>(first);
  pg->capacity += n;
}

void page_init(Page* pg, Heap* h, unsigned c) {
  pg->key = page_key(pg);
  pg->size_class = uint8_t(c);
  pg->block_size = uint32_t(class_size(c));
  pg->reserved = uint32_t(kPageSize / pg->block_size);
  page_clear(pg);
  pg->thread_free.store(0, std::memory_order_relaxed);
  page_set_state(pg, PageState::queued);
  pg->owner.store(h, std::memory_order_release);
}

Page* abandoned_take(unsigned c) {
  if (g_abandoned_count[c].load(std::memory_order_relaxed) == 0) return nullptr;
  LockGuard g(g_abandon_lock);
  Page* pg = g_abandoned[c].first;
  if (!pg) return nullptr;
  queue_remove(g_abandoned[c], pg);
  g_abandoned_count[c].fetch_sub(1, std::memory_order_relaxed);
  return pg;
}

// Pages with room go to the front of their list, full ones to the back, so that a thread
// looking for a page finds room first.
void abandoned_push(Page* pg) {
  page_set_state(pg, PageState::abandoned);
  pg->owner.store(nullptr, std::memory_order_release);
  LockGuard g(g_abandon_lock);
  unsigned c = pg->size_class;
  if (page_has_room(pg)) queue_push_front(g_abandoned[c], pg); else queue_push_back(g_abandoned[c], pg);
  g_abandoned_count[c].fetch_add(1, std::memory_order_relaxed);
}

// The list of full pages pg goes to (or is on, when full).
MI_INLINE PageQueue& full_list(Heap* h, const Page* pg) { return pg->mixed ? h->full_mixed : h->full; }

void full_push(Heap* h, Page* pg) {
  page_set_state(pg, PageState::full);
  pg->punch_used = kNotLooked;  // filled up: what the last look for holes or gaps saw is gone
  queue_push_back(full_list(h, pg), pg);
  h->full_count++;
}

// pg, just taken off its full list, is no longer full.
MI_INLINE void full_leave(Heap* h, Page* pg) {
  h->full_count--;
  page_set_state(pg, PageState::queued);
}

// pg, just taken off its full list, has room again: to the back of its class's queue.
void full_to_queue(Heap* h, Page* pg) {
  full_leave(h, pg);
  queue_push_back(h->queues[pg->size_class], pg);
  sync_direct(h, pg->size_class);
}

// A class that was in the slow path within this many of the heap's slow calls is hot: its first
// kHotKeep pages will fill again, so they are not made into mixed pages. The pages behind them
// may be: a class whose sizes went on being asked for, at a lower rate than before a mass free,
// would hold its sparse pages for long (bench_sparse: 374 pages of 48-byte blocks 25 % live at the
// peak, while other classes faulted fresh pages in).
constexpr uint64_t kHotSlowCalls = 256;
constexpr unsigned kHotKeep = 16;
constexpr unsigned kMixedLook = 32;  // pages looked at per try

// One of h's sparse pages (of a cold class, or behind a hot class's first kHotKeep), or a full
// mixed page whose gaps take class c, made a page of class c (core/mixed.h), or null.
Page* mixed_take(Heap* h, unsigned c) {
  // Full mixed pages first: the gaps their class could not use may take c's blocks. Looked at in
  // turn, as below.
  PageQueue& fm = h->full_mixed;
  unsigned looked = 0;
  for (Page *pg = fm.first, *last = fm.last; pg && looked < kMixedLook; ++looked) {
    Page* next = pg == last ? nullptr : pg->next;
    queue_remove(fm, pg);
    if (mixed_gaps_likely(pg, c) && mixed_prepare(pg, c)) {
      full_leave(h, pg);
      return pg;
    }
    if (pg->free || pg->local_free) full_to_queue(h, pg);  // the look collected other threads' frees
    else queue_push_back(fm, pg);
    pg = next;
  }
  looked = 0;
  unsigned first = h->mixed_class;
  for (unsigned k = 0; k < kMaxClasses && looked < kMixedLook; ++k) {
    unsigned from = (first + k) % kMaxClasses;
    if (from == c) continue;
    // A page looked at goes to the back of its queue, so that the looks go round the whole queue
    // instead of the same first pages each time. A hot class keeps its first pages.
    PageQueue& q = h->queues[from];
    Page* last = q.last;
    Page* pg = q.first;
    if (h->slow_calls - h->class_slow_at[from] < kHotSlowCalls)
      for (unsigned i = 0; pg && i < kHotKeep; ++i) pg = pg == last ? nullptr : pg->next;
    for (; pg && looked < kMixedLook; ++looked) {
      Page* next = pg == last ? nullptr : pg->next;
      queue_remove(q, pg);
      // An empty page (the class's only one, kept against thrashing) becomes a plain page of c,
      // carved as it is used. Mixed, its whole list would be written, and faulted in, at once.
      if (!pg->sample_rest) {
        page_collect(pg);
        if (page_empty(pg)) {
          sync_direct(h, from);
          page_init(pg, h, c);
          h->mixed_class = from;
          return pg;
        }
      }
      // At most half live, carved over half the page at least (the gaps are to be memory
      // already resident: guests are listed all at once, so an uncarved rest would be faulted
      // in whole) and enough freed since it was last looked at (here or for holes), or mixed
      // already; and gaps likely to take enough blocks of c.
      size_t used = pg->used, carved = size_t(pg->capacity) * pg->block_size;
      bool sparse = pg->mixed || (used * pg->block_size * 2 <= kPageSize && carved * 2 >= kPageSize &&
                                  page_freed_since_look(pg));
      if (sparse && mixed_gaps_likely(pg, c)) {
        pg->punch_used = uint16_t(used);
        if (mixed_prepare(pg, c)) {
          sync_direct(h, from);
          h->mixed_class = from;
          return pg;
        }
      }
      queue_push_back(q, pg);
      pg = next;
    }
    sync_direct(h, from);
    h->mixed_class = (from + 1) % kMaxClasses;  // the next look starts further on
  }
  return nullptr;
}

// Borrowing: before a fresh page, a block of 1 KiB or more may come from free memory of the
// large-block regions still resident (core/large.h). When a program's sizes move from large
// blocks to medium ones, the memory the large ones left then serves the new sizes, as one heap
// would. The block's 16-byte header costs under 2 %. It keeps what aligned_alloc expects of its
// class (core/alloc.cpp): 64 B, and power-of-two classes, which promise their size, never borrow.
constexpr size_t kBorrowMin = 1024, kBorrowAlign = 64;
MI_INLINE bool may_borrow(unsigned c) {
  size_t bs = class_size(c);
  return bs >= kBorrowMin && (bs & (bs - 1)) != 0 && !g_sampling && option(Opt::borrow_large);
}

// The next page h takes would be fresh memory: no empty page of its own, none resident in the
// pool. Mixing and borrowing are tried only then.
MI_INLINE bool next_page_fresh(const Heap* h) { return !h->cache_count && !pool_has_dirty(); }

// A page for class c: the heap's own empty pages first, then a page an exited thread left
// behind, then a sparse page to mix, then the shared pool. Null with *borrowed set: the
// allocation was served from a large region instead.
Page* page_acquire(Heap* h, unsigned c, size_t size, void** borrowed) {
  for (int tries = 0; tries < 8; ++tries) {
    Page* pg = abandoned_take(c);
    if (!pg) break;
    page_set_state(pg, PageState::queued);
    pg->owner.store(h, std::memory_order_release);
    page_collect(pg);
    if (page_has_room(pg)) return pg;
    full_push(h, pg);  // still full: keep it, look again later
  }
  if (next_page_fresh(h)) {
    if (option(Opt::mixed_pages))
      if (Page* pg = mixed_take(h, c)) return pg;  // instead of fresh memory
    if (may_borrow(c) && (*borrowed = large_malloc_resident(h, size, kBorrowAlign)) != nullptr) {
      h->borrowing[c] = true;
      return nullptr;
    }
  }
  Page* pg = h->cache_count ? h->cache[--h->cache_count] : pool_take_page();
  if (!pg) return nullptr;
  page_init(pg, h, c);
  return pg;
}

// Looks at full pages for frees made by other threads; those regain room and go back to their
// queue. Bounded, so that a heap with many full pages pays little per slow path.
void full_scan(Heap* h, size_t limit) {
  for (PageQueue* list : {&h->full, &h->full_mixed}) {
    for (size_t i = 0; i < limit && list->first; ++i) {
      Page* pg = list->first;
      queue_remove(*list, pg);
      if (pg->thread_free.load(std::memory_order_relaxed)) {
        h->remote_seen = true;
        page_collect(pg);
        full_to_queue(h, pg);
      } else {
        queue_push_back(*list, pg);
      }
    }
  }
}

MI_INLINE void* page_pop(Page* pg) { return page_take(pg, pg->free); }

// pg, the front page of class c, serves this allocation and, through h->direct, the next ones.
// (Not through sync_direct: its list is counted here, where this allocation may be the sample.)
MI_INLINE void* page_hand_out(Heap* h, Page* pg, unsigned c, size_t size) {
  direct_set(h, c, pg);
  if (MI_UNLIKELY(g_sampling) && !pg->sample_rest)
    if (void* p = sample_arm(h, pg, size)) return p;
  return page_pop(pg);
}

void page_to_pool_or_cache(Heap* h, Page* pg) {
  page_set_state(pg, PageState::free);
  pg->owner.store(nullptr, std::memory_order_relaxed);
  if (h->cache_count < kMaxPageCache && h->cache_count < uint64_t(option(Opt::page_cache))) {
    h->cache[h->cache_count++] = pg;
    return;
  }
  uint64_t now = os::now_ms();
  pool_return_page(pg, now);
  purge_tick(now);
}

void abandon_or_release(Page* pg) {
  page_unstash(pg);
  page_collect(pg);
  if (page_empty(pg))
    pool_return_page(pg, os::now_ms());
  else
    abandoned_push(pg);
}

}  // namespace

Heap* heap_for_thread() {
  if (t_heap != &g_empty_heap) return t_heap;
  if (!ensure_init()) return nullptr;
  Heap* h = heap_struct_alloc();
  if (!h) return nullptr;
  if (g_sampling) sample_heap_init(h);
  t_heap = h;
  pthread_setspecific(g_heap_key, h);  // its destructor runs heap_thread_exit
  return h;
}

void* heap_malloc_slow(size_t size, Heap* h) {
  if (h == &g_empty_heap) {
    h = heap_for_thread();
    if (!h) {
      errno = ENOMEM;
      return nullptr;
    }
    return heap_malloc_small(h, size);
  }
  // The class again, from the heap's copy of the lookup where direct_w served the fast path,
  // taken anew if the tuner changed the lookup since.
  if (MI_UNLIKELY(h->class_epoch != g_class_epoch.load(std::memory_order_relaxed))) classes_sync(h);
  unsigned c = size <= kDirectMax ? h->word_class[(size + 7) >> 3] : size_to_class(size);
  if (MI_UNLIKELY(class_size(c) < size)) c = size_to_fixed_class(size);  // a lookup entry seen before its class's size
  h->slow_calls++;
  h->class_slow_at[c] = h->slow_calls;
  if (size > kTunedMin && (h->slow_calls & 1) == 0 && option(Opt::adaptive_classes)) class_tuner_note(size);
  if ((h->slow_calls & 63) == 0 && option(Opt::sparse_pages)) heap_sparse_pass(h, os::now_ms(), SparsePass::timed);
  if (MI_UNLIKELY(stats_requested())) stats_print_requested();
  if (MI_UNLIKELY(g_sampling) && (h->slow_calls & 15) == 1) profile_tick();  // the clock, now and then
  PageQueue& q = h->queues[c];
  // While the class borrows (its pages full, large-region memory free): straight there, without
  // the looks for pages that just failed.
  if (h->borrowing[c] && !q.first && may_borrow(c) && next_page_fresh(h)) {
    if (void* p = large_malloc_resident(h, size, kBorrowAlign)) return p;
    h->borrowing[c] = false;
  }
  // Round 0: the class's queue. Round 1: after a look at a few full pages. Round 2: when other
  // threads free this heap's blocks, after a look at every full page, before taking a new one.
  for (int round = 0; round < 3; ++round) {
    for (Page* pg = q.first; pg;) {
      if (MI_UNLIKELY(pg->sample_rest != nullptr) && !pg->free)
        if (void* p = sample_at_cut(h, pg, size)) return p;
      if (page_collect(pg)) h->remote_seen = true;
      if (!pg->free) page_extend(pg);
      if (pg->free) {
        if (pg != q.first) {  // serve from it next time without walking
          queue_remove(q, pg);
          queue_push_front(q, pg);
        }
        return page_hand_out(h, pg, c, size);
      }
      Page* next = pg->next;
      queue_remove(q, pg);
      full_push(h, pg);
      pg = next;
    }
    sync_direct(h, c);
    if (round == 0) full_scan(h, 8);
    else if (round == 1 && h->remote_seen) full_scan(h, h->full_count);
    else break;
  }
  void* borrowed = nullptr;
  Page* pg = page_acquire(h, c, size, &borrowed);
  if (borrowed) return borrowed;
  if (!pg) {
    errno = ENOMEM;
    return nullptr;
  }
  queue_push_front(q, pg);
  if (!pg->free) page_extend(pg);  // page_acquire returns a page with free blocks or room
  return page_hand_out(h, pg, c, size);
}

namespace {
__attribute__((noinline)) void page_event(Heap* h, Page* pg);
}

void heap_free_event(Heap* h, Page* pg) {
  // Commonest: the class's only page emptied. It stays (no thrashing); no registers to save.
  if (pg->used == 0 && !page_free_event(pg)) {
    const PageQueue& q = h->queues[pg->size_class];
    if (q.first == pg && q.last == pg) return;
  }
  page_event(h, pg);
}

namespace {
// Takes the block just pushed back off local_free (it never belonged on this page's lists).
MI_INLINE Block* local_unpush(Page* pg) {
  Block* b = pg->local_free;
  pg->local_free = link_decode(pg, b);
  pg->used++;
  return b;
}

void page_event(Heap* h, Page* pg) {
  if (MI_UNLIKELY(pg->holes) && page_in_holes(pg, pg->local_free)) {
    // The block just pushed lies in a hole: its OS page had gone back, so it was free already.
    Block* b = local_unpush(pg);
    page_repunch(pg, b);  // the push faulted the OS page back in
    report_misuse("free", b, "block is already free (double free)");
    return;
  }
  if (MI_UNLIKELY(pg->mixed) && mixed_classify(pg, pg->local_free) != MixedBlock::guest) {
    Block* b = local_unpush(pg);
    b->link = 0;
    mixed_free_other(pg, b);  // a resident, or a misuse
    if (pg->state == PageState::full || !page_empty(pg)) return;
  }
  // No resident left (residents only ever go): the owner's frees of guests need no event now.
  if (MI_UNLIKELY(pg->mixed & kMixedResidents) && mixed_residents(pg) == 0)
    __atomic_store_n(&pg->mixed, kMixedPage, __ATOMIC_RELAXED);
  if (pg->state == PageState::full) {
    queue_remove(full_list(h, pg), pg);
    full_to_queue(h, pg);
  }
  if (!page_empty(pg)) return;
  unsigned c = pg->size_class;
  PageQueue& q = h->queues[c];
  if (q.first == pg && q.last == pg) return;  // the class's only page: keep it, avoid thrashing
  queue_remove(q, pg);
  sync_direct(h, c);
  page_to_pool_or_cache(h, pg);
}
}  // namespace

void heap_free_remote(Block* b, Page* pg) {
  PageState st = page_state_seen(pg);
  uint32_t bs = __atomic_load_n(&pg->block_size, __ATOMIC_RELAXED);
  if (MI_UNLIKELY(st == PageState::free || bs == 0)) {
    report_misuse("free", b, "not an allocated block (double free, or never allocated)");
    return;
  }
  // A mixed page: a resident is freed by its bit alone. Looked at again after a failed check: the
  // page may have become mixed (and changed its block size) since the first look.
  bool interior = (uintptr_t(b) - uintptr_t(page_start(pg))) % bs != 0;
  bool mixed = __atomic_load_n(&pg->mixed, __ATOMIC_ACQUIRE);
  if (!mixed && MI_UNLIKELY(interior)) mixed = __atomic_load_n(&pg->mixed, __ATOMIC_ACQUIRE);
  if (MI_UNLIKELY(mixed)) {
    if (mixed_free_other(pg, b)) return;
  } else if (MI_UNLIKELY(interior)) {
    report_misuse("free", b, "not the start of a block (interior pointer)");
    return;
  }
  if (MI_UNLIKELY(__atomic_load_n(&pg->holes, __ATOMIC_RELAXED) != 0) && page_in_holes(pg, b)) {
    report_misuse("free", b, "block is already free (double free)");  // its OS page went back
    return;
  }
  if (MI_UNLIKELY(link_plausible(b, link_decode(pg, b)))) {
    // It reads like a free-list link: the block is on some list already. The owner's lists
    // cannot be walked from here; the secret key makes a false alarm practically impossible.
    report_misuse("free", b, "block is already free (double free)");
    return;
  }
  uintptr_t old = pg->thread_free.load(std::memory_order_relaxed), desired;
  do {
    link_set(pg, b, reinterpret_cast<Block*>(old & kThreadFreePtrMask));
    desired = uintptr_t(b) | ((old & ~kThreadFreePtrMask) + (uintptr_t(1) << kThreadFreeCountShift));
  } while (!pg->thread_free.compare_exchange_weak(old, desired, std::memory_order_release,
                                                  std::memory_order_relaxed));
}

namespace {
bool list_contains(const Page* pg, const Block* list, const Block* b) {
  for (uint32_t n = 0; list && n <= pg->reserved; ++n, list = link_decode(pg, list))
    if (list == b) return true;
  return false;
}
}  // namespace

// The block's first word decodes to a plausible link: it is on one of the page's lists (a
// double free), or the program stored a value that happens to look like one (then free it).
void heap_free_suspect(Block* b, Page* pg, Heap* h) {
  if (link_plausible(b, link_decode(pg, b))) {
    auto* remote = reinterpret_cast<const Block*>(pg->thread_free.load(std::memory_order_acquire) &
                                                  kThreadFreePtrMask);
    if (list_contains(pg, pg->free, b) || list_contains(pg, pg->local_free, b) ||
        list_contains(pg, remote, b) || list_contains(pg, pg->sample_rest, b)) {
      report_misuse("free", b, "block is already free (double free)");
      return;
    }
  }
  link_set(pg, b, pg->local_free);
  pg->local_free = b;
  if (--pg->used == 0 || page_free_event(pg)) heap_free_event(h, pg);
}

void* heap_list_damaged(Page* pg, Block* b) {
  report_misuse("malloc", b,
                "free list damaged: a free block was written to (use after free, or an overflow "
                "from the block before it)");
  // Going on (MALLOCIM_ABORT_ON_ERROR=0): abandon the damaged rest of the list.
  pg->free = pg->sample_rest = nullptr;
  pg->free_len = pg->rest_len = 0;
  return heap_malloc_slow(pg->block_size, t_heap);
}

void heap_release_cached(Heap* h) {
  if (h == &g_empty_heap) return;
  medium_cache_flush(h);
  uint64_t now = os::now_ms();
  for (unsigned c = 0; c < kMaxClasses; ++c) {
    PageQueue& q = h->queues[c];
    for (Page* pg = q.first; pg;) {
      Page* next = pg->next;
      page_collect(pg);
      if (page_empty(pg)) {
        queue_remove(q, pg);
        pool_return_page(pg, now);
      }
      pg = next;
    }
    sync_direct(h, c);
  }
  while (h->cache_count) pool_return_page(h->cache[--h->cache_count], now);
  if (option(Opt::sparse_pages)) heap_sparse_pass(h, now, SparsePass::force);  // and the free parts of the rest
}

void heap_thread_exit(Heap* h) {
  if (h == &g_empty_heap || h == nullptr) return;
  medium_cache_flush(h);
  t_heap = &g_empty_heap;  // frees from later destructors take the remote path
  for (unsigned c = 0; c < kMaxClasses; ++c) {
    while (Page* pg = h->queues[c].first) {
      queue_remove(h->queues[c], pg);
      abandon_or_release(pg);
    }
  }
  for (PageQueue* list : {&h->full, &h->full_mixed}) {
    while (Page* pg = list->first) {
      queue_remove(*list, pg);
      abandon_or_release(pg);
    }
  }
  uint64_t now = os::now_ms();
  while (h->cache_count) pool_return_page(h->cache[--h->cache_count], now);
  heap_struct_free(h);
  purge_tick(now);
}

size_t abandoned_sweep() {
  size_t freed = 0;
  uint64_t now = os::now_ms();
  LockGuard g(g_abandon_lock);
  for (unsigned c = 0; c < kMaxClasses; ++c) {
    for (Page* pg = g_abandoned[c].first; pg;) {
      Page* next = pg->next;
      page_collect(pg);
      if (page_empty(pg)) {
        queue_remove(g_abandoned[c], pg);
        g_abandoned_count[c].fetch_sub(1, std::memory_order_relaxed);
        pool_return_page(pg, now);
        ++freed;
      }
      pg = next;
    }
  }
  return freed;
}

size_t heaps_live() { return __atomic_load_n(&g_heaps_live, __ATOMIC_RELAXED); }

HeapFigures heap_figures() {
  LockGuard g(g_heap_lock);
  uint64_t slow = g_exited_slow_calls;
  size_t bytes = 0, blocks = 0;
  for (Heap* h = g_live_heaps; h; h = h->next) {
    slow += __atomic_load_n(&h->slow_calls, __ATOMIC_RELAXED);
    bytes += __atomic_load_n(&h->mcache.bytes, __ATOMIC_RELAXED);
    blocks += __atomic_load_n(&h->mcache.blocks, __ATOMIC_RELAXED);
  }
  return {g_heaps_live, g_heaps_created, slow, bytes, blocks};
}

SpinLock& heap_registry_lock() { return g_heap_lock; }
SpinLock& heap_abandon_lock() { return g_abandon_lock; }

}  // namespace mallocim
