// Boundary-tag regions: best fit, immediate coalescing, in-place resize, checks on free.
#include "core/large.h"

#include <gtest/gtest.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "core/alloc.h"
#include "mallocim.h"
#include "core/heap.h"
#include "core/init.h"
#include "core/medium_cache.h"
#include "platform/os.h"
#include "policy/options.h"

using namespace mallocim;

namespace {
LargeRegion* region_of(void* p) { return reinterpret_cast<LargeRegion*>(segmap_lookup(p)); }

// Blocks of 1 MiB into `blocks` until one lands in a region other than the first one's (at most
// 64); returns its index, or 0 when none did.
size_t fill_to_new_region(std::vector<void*>& blocks) {
  for (size_t i = 0; i < 64; ++i) {
    blocks.push_back(large_malloc(t_heap, 1 << 20, 16));
    if (!blocks.back()) return 0;
    if (region_of(blocks.back()) != region_of(blocks.front())) return i;
  }
  return 0;
}

// A thread that runs setup(its heap) and then lives until done(): its heap stays its own (an
// exited thread's heap is reused by the next thread).
struct OwnerThread {
  std::atomic<Heap*> heap{nullptr};
  std::atomic<bool> finish{false};
  std::thread thread;
  template <class Setup>
  explicit OwnerThread(Setup setup) : thread([this, setup] {
    Heap* h = heap_for_thread();
    setup(h);
    heap = h;
    while (!finish) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }) {
    while (!heap.load()) std::this_thread::yield();
  }
  void done() {
    finish = true;
    if (thread.joinable()) thread.join();
  }
  ~OwnerThread() { done(); }
  // As if the owner had just allocated from r.
  void used(LargeRegion* r) const {
    r->user.store(heap.load(), std::memory_order_relaxed);
    r->used_ms.store(os::now_ms(), std::memory_order_relaxed);
  }
};

// An option set for the scope of a test, restored after it.
struct OptionFor {
  Opt opt;
  int64_t saved;
  OptionFor(Opt o, int64_t value) : opt(o), saved(option(o)) { option_set(o, value); }
  ~OptionFor() { option_set(opt, saved); }
};

// The regions made so far, counted without their locks (large_figures takes them).
size_t count_regions() {
  size_t n = 0;
  for (LargeRegion* r = large_newest_region(); r; r = r->next) ++n;
  return n;
}

// Every region's lock (of the first 64), held for the object's life.
struct AllRegionsLocked {
  LargeRegion* regions[64];
  size_t n = 0;
  AllRegionsLocked() {
    for (LargeRegion* r = large_newest_region(); r && n < 64; r = r->next) {
      r->lock.lock();
      regions[n++] = r;
    }
  }
  ~AllRegionsLocked() {
    for (size_t i = 0; i < n; ++i) regions[i]->lock.unlock();
  }
};
// Blocks that other tests of this process freed into the thread's medium cache are in use as far
// as their regions know (valgrind.unit_tests runs every test in one process): each test starts
// with them back in the bins.
struct FlushMediumCache : ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override {
    if (t_heap != &g_empty_heap) medium_cache_flush(t_heap);
  }
};
const bool g_flush_listener = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new FlushMediumCache);
  return true;
}();
}  // namespace

TEST(Large, NeighboursCoalesceImmediately) {
  ASSERT_TRUE(ensure_init());
  void* a = large_malloc(t_heap, 100000, 16);
  void* b = large_malloc(t_heap, 100000, 16);
  void* c = large_malloc(t_heap, 100000, 16);
  ASSERT_TRUE(a && b && c);
  LargeRegion* r = region_of(a);
  ASSERT_EQ(r, region_of(b));
  ASSERT_EQ(r, region_of(c));
  large_free(r, a);
  large_free(r, c);
  large_free(r, b);  // merges with both neighbours into one block
  // One request the size of all three fits exactly where they were.
  void* d = large_malloc(t_heap, 3 * 100000, 16);
  EXPECT_EQ(d, a) << "freed neighbours must have merged into one block";
  large_free(region_of(d), d);
}

TEST(Large, BestFitPrefersTheSmallestHole) {
  void* blocks[6];
  for (auto& b : blocks) b = large_malloc(t_heap, 50000, 16);
  LargeRegion* r = region_of(blocks[0]);
  for (auto b : blocks) ASSERT_EQ(region_of(b), r);
  large_free(r, blocks[1]);  // a 50 KB hole
  large_free(r, blocks[3]);  // ...and two merged: a 100 KB hole
  large_free(r, blocks[4]);
  void* p = large_malloc(t_heap, 40000, 16);
  EXPECT_EQ(p, blocks[1]) << "best fit must pick the smaller hole";
  large_free(r, p);
  for (int i : {0, 2, 5}) large_free(r, blocks[i]);
}

// Bins are a sixteenth of a power of two wide: a bin of many holes just too small for a request
// does not hide the close fit behind them. With four bins per power of two, the 18 KB holes
// shared the 20 KB request's bin, the walk gave up after 32 of them, and the request split the
// 60 KB hole.
TEST(Large, ManySmallerHolesDoNotHideTheCloseFit) {
  std::vector<void*> live, holes;
  auto alloc_pair = [&](size_t size) {
    holes.push_back(large_malloc(t_heap, size, 16));
    live.push_back(large_malloc(t_heap, 2000, 16));  // keeps the hole from merging
  };
  alloc_pair(20064);  // the close fit, freed first: last in its bin
  for (int i = 0; i < 40; ++i) alloc_pair(18000);
  alloc_pair(60000);
  LargeRegion* r = region_of(holes[0]);
  for (void* p : holes) ASSERT_EQ(region_of(p), r);
  for (void* p : holes) large_free(r, p);
  void* p = large_malloc(t_heap, 20000, 16);
  EXPECT_EQ(p, holes[0]) << "the 20064-byte hole is the best fit";
  large_free(region_of(p), p);
  for (void* q : live) large_free(region_of(q), q);
}

// A request skips its bin's walk when the bin's bound says no block can fit. A hole that grows by a
// merge, within the same bin, raises the bound: the next request finds it.
TEST(Large, AHoleThatGrewInItsBinIsFound) {
  void* pre = large_malloc(t_heap, 2000, 16);
  void* a = large_malloc(t_heap, 20000, 16);  // block of 20016: bin of 19-20 KiB
  void* n = large_malloc(t_heap, 400, 16);    // its neighbour, 416
  void* post = large_malloc(t_heap, 2000, 16);
  void* other = large_malloc(t_heap, 19600, 16);  // another hole of the bin, there throughout
  void* last = large_malloc(t_heap, 2000, 16);
  LargeRegion* r = region_of(a);
  for (void* p : {pre, n, post, other, last}) ASSERT_EQ(region_of(p), r);
  large_free(r, other);
  large_free(r, a);
  void* p = large_malloc(t_heap, 20400, 16);  // needs 20416: the hole is 400 bytes short
  EXPECT_NE(p, a);
  large_free(r, n);  // the hole grows to 20432, still in its bin
  void* q = large_malloc(t_heap, 20400, 16);
  EXPECT_EQ(q, a) << "the grown hole fits and is in the request's own bin";
  for (void* x : {p, q, pre, post, last}) large_free(region_of(x), x);
}

TEST(Large, AlignmentIsHonoured) {
  for (size_t align : {32u, 64u, 4096u, 65536u, 1u << 20}) {
    void* p = large_malloc(t_heap, 30000, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(uintptr_t(p) % align, 0u) << align;
    memset(p, 0xab, 30000);
    large_free(region_of(p), p);
  }
}

TEST(Large, ResizeInPlaceGrowsIntoAFreeNeighbour) {
  void* a = large_malloc(t_heap, 20000, 16);
  void* b = large_malloc(t_heap, 20000, 16);
  LargeRegion* r = region_of(a);
  memset(a, 7, 20000);
  large_free(r, b);
  ASSERT_TRUE(large_resize_in_place(r, a, 38000));
  EXPECT_GE(large_usable(r, a), 38000u);
  EXPECT_EQ(static_cast<unsigned char*>(a)[19999], 7);
  ASSERT_TRUE(large_resize_in_place(r, a, 12000));  // shrinking always works
  EXPECT_GE(large_usable(r, a), 12000u);
  EXPECT_LT(large_usable(r, a), 20000u);
  large_free(r, a);
}

TEST(Large, DoubleAndInteriorFreesAreRefused) {
  OptionFor keep_going(Opt::abort_on_error, 0);  // report misuse and continue, to check the refusal
  void* a = large_malloc(t_heap, 20000, 16);
  void* guard = large_malloc(t_heap, 20000, 16);
  LargeRegion* r = region_of(a);
  large_free(r, static_cast<char*>(a) + 64);  // interior: refused, block still live
  EXPECT_TRUE(large_owns_block(r, a));
  large_free(r, a);
  EXPECT_FALSE(large_owns_block(r, a));
  large_free(r, a);  // double: refused, nothing corrupted
  void* b = large_malloc(t_heap, 20000, 16);
  void* c = large_malloc(t_heap, 20000, 16);
  EXPECT_NE(b, c);
  for (void* p : {b, c, guard}) large_free(region_of(p), p);
}

TEST(Large, RandomChurnKeepsContentsAndAccounting) {
  std::mt19937 rng(42);
  struct Live { unsigned char* p; size_t n; unsigned char tag; };
  std::vector<Live> live;
  for (int i = 0; i < 20000; ++i) {
    if (live.size() < 200 && (rng() % 3 || live.empty())) {
      size_t n = 8193 + rng() % 300000;
      auto* p = static_cast<unsigned char*>(large_malloc(t_heap, n, 16));
      ASSERT_NE(p, nullptr);
      unsigned char tag = (unsigned char)rng();
      memset(p, tag, n);
      live.push_back({p, n, tag});
    } else {
      size_t k = rng() % live.size();
      Live l = live[k];
      ASSERT_EQ(l.p[0], l.tag);
      ASSERT_EQ(l.p[l.n - 1], l.tag);
      ASSERT_EQ(l.p[l.n / 2], l.tag);
      large_free(region_of(l.p), l.p);
      live[k] = live.back();
      live.pop_back();
    }
  }
  for (auto& l : live) large_free(region_of(l.p), l.p);
  EXPECT_EQ(large_figures().live, 0u) << "every byte allocated must be accounted back";
}

TEST(Large, PurgeGivesFreeBlocksBack) {
  void* p = large_malloc(t_heap, 1 << 20, 16);
  memset(p, 1, 1 << 20);
  large_free(region_of(p), p);
  EXPECT_GE(large_purge(UINT64_MAX, true), (1u << 20) - 8192);
}

// A bin lists its unpurged blocks before its purged ones, so a purge stops at the first purged
// block: a block freed after others of its bin were purged must still go back.
TEST(Large, PurgeFindsNewFreeBlocksBehindPurgedOnes) {
  ASSERT_TRUE(ensure_init());
  constexpr size_t kSize = 200000;  // one bin: the same size each time
  void* keep[4];
  void* blocks[4];
  for (int i = 0; i < 4; ++i) {  // live separators keep the free blocks apart
    blocks[i] = large_malloc(t_heap, kSize, 16);
    keep[i] = large_malloc(t_heap, 64, 16);
    ASSERT_TRUE(blocks[i] && keep[i]);
    memset(blocks[i], 1, kSize);
  }
  for (int i = 0; i < 3; ++i) large_free(region_of(blocks[i]), blocks[i]);
  large_purge(UINT64_MAX, true);  // the three go back, to the purged end of their bin
  large_free(region_of(blocks[3]), blocks[3]);
  EXPECT_GE(large_purge(UINT64_MAX, true), kSize - 8192) << "the newest free block was not purged";
  EXPECT_EQ(large_purge(UINT64_MAX, true), 0u) << "purged blocks were walked and purged again";
  for (void* k : keep) large_free(region_of(k), k);
}

// With few threads, an allocation takes room in an older region before the newer one the thread
// last used: a working set fills the oldest regions and the newer ones drain.
TEST(Large, RoomInAnOlderRegionComesFirst) {
  ASSERT_TRUE(ensure_init());
  im_free(im_malloc(16));  // the thread's own heap, which keeps the region it last used
  ASSERT_NE(t_heap, &g_empty_heap);
  constexpr size_t kSize = 1 << 20;
  std::vector<void*> blocks;
  size_t in_newer = fill_to_new_region(blocks);
  ASSERT_NE(in_newer, 0u) << "64 MiB did not open a new region";
  LargeRegion* first = region_of(blocks.front());
  LargeRegion* newer = region_of(blocks[in_newer]);
  large_free(first, blocks.front());  // room in the older region
  blocks.front() = large_malloc(t_heap, kSize, 16);
  EXPECT_NE(region_of(blocks.front()), newer) << "the newer region was used with room in an older one";
  for (void* b : blocks) large_free(region_of(b), b);
}

// Regions are 16 MiB aligned; their headers, which every allocation reads, sit at different
// offsets, so they do not all fall in the same cache sets.
TEST(Large, RegionHeadersSitInDifferentCacheSets) {
  ASSERT_TRUE(ensure_init());
  std::vector<void*> blocks;
  size_t in_newer = fill_to_new_region(blocks);
  ASSERT_NE(in_newer, 0u) << "64 MiB did not open a new region";
  uintptr_t a = uintptr_t(region_of(blocks.front())), b = uintptr_t(region_of(blocks[in_newer]));
  EXPECT_NE(a % 4096, b % 4096) << "two regions' headers at the same offset of their mapping";
  EXPECT_EQ(a % 64, 0u);
  EXPECT_EQ(b % 64, 0u);
  for (void* p : blocks) large_free(region_of(p), p);
}

// A hole of the size asked for in a newer region is taken before an older region's larger hole is
// split (the best fit of the oldest region with room, alone, would split it).
TEST(Large, ACloseFitInANewerRegionComesBeforeSplittingALargerHole) {
  ASSERT_TRUE(ensure_init());
  im_free(im_malloc(16));
  constexpr size_t kSize = 1 << 20;
  std::vector<void*> blocks;
  size_t in_newer = fill_to_new_region(blocks);  // index of the first block in a newer region
  ASSERT_GE(in_newer, 4u) << "64 MiB did not open a new region";
  LargeRegion* first = region_of(blocks.front());
  LargeRegion* newer = region_of(blocks[in_newer]);
  blocks.push_back(large_malloc(t_heap, kSize, 16));  // a live neighbour after the hole
  ASSERT_EQ(region_of(blocks.back()), newer);
  large_free(first, blocks[1]);  // two merged: a 2 MiB hole in the older region
  large_free(first, blocks[2]);
  large_free(newer, blocks[in_newer]);  // a 1 MiB hole in the newer one
  void* hole = blocks[in_newer];
  blocks[1] = blocks[2] = blocks[in_newer] = nullptr;
  void* p = large_malloc(t_heap, kSize, 16);
  EXPECT_EQ(p, hole) << "the older region's 2 MiB hole was split with a 1 MiB one free";
  blocks.push_back(p);
  for (void* b : blocks)
    if (b) large_free(region_of(b), b);
}

// A thread that finds the region another thread is using locked opens a region of its own
// instead of queueing on that lock; one that finds it free shares it (a main thread and its
// worker: one region, not two half used).
TEST(Large, ContendedRegionsAreNotShared) {
  ASSERT_TRUE(ensure_init());
  LargeRegion* r = nullptr;
  void* a = nullptr;
  OwnerThread owner([&](Heap* h) {
    a = large_malloc(h, 64 << 10, 16);
    r = region_of(a);
  });
  ASSERT_NE(r, nullptr) << "the owner thread could not allocate";
  auto in_use_by_owner = [&] { owner.used(r); };
  // The region the other thread's block came from; *regions: the count before it allocated.
  auto other_thread_allocates = [&](bool lock_held, size_t* regions) {
    std::atomic<LargeRegion*> got{nullptr};
    std::atomic<int> stage{0};
    std::thread t([&] {
      Heap* h = heap_for_thread();
      for (uint64_t i = 0; i < kApartAfterAllocs; ++i) {  // a thread that keeps allocating
        void* p = large_malloc(h, 64 << 10, 16);
        large_free(region_of(p), p);
      }
      stage = 1;
      while (stage.load() != 2) std::this_thread::yield();
      void* p = large_malloc(h, 64 << 10, 16);
      got = region_of(p);
      stage = 3;
      large_free(region_of(p), p);
    });
    while (stage.load() != 1) std::this_thread::yield();
    *regions = large_figures().regions;
    if (lock_held) r->lock.lock();
    in_use_by_owner();
    stage = 2;
    for (int ms = 0; ms < 2000 && stage.load() != 3; ++ms) {  // the owner keeps using it meanwhile
      in_use_by_owner();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (lock_held) r->lock.unlock();
    t.join();
    return got.load();
  };
  // Free: no region is opened for it (in a process where no other region has room, it shares
  // r). Locked: it goes elsewhere, to a new region or one nobody is using, without waiting.
  size_t regions = 0;
  LargeRegion* shared = other_thread_allocates(false, &regions);
  EXPECT_EQ(large_figures().regions, regions) << "a region used a moment ago, but free, is shared";
  if (regions == 1) EXPECT_EQ(shared, r);
  EXPECT_NE(other_thread_allocates(true, &regions), r) << "queued on a taken lock of another thread's region";
  large_free(r, a);
}

// The bitmaps are read without the locks: while another thread splits or merges a block, a bin's
// bit is clear before the remainder's is set, and a region with room looks full. No new region is
// opened on that reading (integration.thread_churn grew by 16 MiB now and then).
TEST(Large, ARegionInTheMiddleOfASplitIsNotTakenForFull) {
  ASSERT_TRUE(ensure_init());
  Heap* h = heap_for_thread();
  void* seed = large_malloc(h, 64 << 10, 16);  // a region with room at least
  ASSERT_NE(seed, nullptr);
  large_free(region_of(seed), seed);
  size_t regions = count_regions();
  std::atomic<bool> held{false};
  std::thread splitter([&] {  // every region in the middle of a split: locked, bits cleared
    AllRegionsLocked locks;
    uint64_t saved[64][kLargeBinWords];
    for (size_t i = 0; i < locks.n; ++i)
      for (unsigned w = 0; w < kLargeBinWords; ++w) saved[i][w] = locks.regions[i]->bitmap[w].exchange(0);
    held = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (size_t i = 0; i < locks.n; ++i)
      for (unsigned w = 0; w < kLargeBinWords; ++w) locks.regions[i]->bitmap[w] = saved[i][w];
  });
  while (!held) std::this_thread::yield();
  void* p = large_malloc(h, 64 << 10, 16);
  splitter.join();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(count_regions(), regions) << "a new region was opened beside regions with room";
  large_free(region_of(p), p);
}

// Every region busy (used by another thread a moment ago, its lock taken): a thread that keeps
// allocating large blocks opens a region apart, a young one waits. Short-lived threads that met a
// taken lock once left 16 MiB regions behind (integration test thread_churn).
TEST(Large, OnlyAThreadThatKeepsAllocatingOpensARegionApart) {
  ASSERT_TRUE(ensure_init());
  OwnerThread owner([](Heap* h) {  // a region with room at least
    void* p = large_malloc(h, 64 << 10, 16);
    large_free(region_of(p), p);
  });
  auto all_busy = [&] {
    for (LargeRegion* r = large_newest_region(); r; r = r->next) owner.used(r);
  };
  // Regions the thread opened while every lock was held (released once it got its block, or
  // after hold_ms), and whether it got its block before that.
  auto attempt = [&](int earlier_allocations, int hold_ms, bool* before_release) {
    std::atomic<int> stage{0};
    std::thread t([&] {
      Heap* h = heap_for_thread();
      for (int i = 0; i < earlier_allocations; ++i) {
        void* p = large_malloc(h, 64 << 10, 16);
        large_free(region_of(p), p);
      }
      stage = 1;
      while (stage.load() != 2) std::this_thread::yield();
      void* p = large_malloc(h, 64 << 10, 16);
      stage = 3;
      large_free(region_of(p), p);
    });
    while (stage.load() != 1) std::this_thread::yield();
    size_t regions = count_regions(), opened;
    {
      AllRegionsLocked locks;
      all_busy();
      stage = 2;
      for (int ms = 0; ms < hold_ms && stage.load() != 3; ++ms) {
        all_busy();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      *before_release = stage.load() == 3;
      opened = count_regions() - regions;
    }
    t.join();
    return opened;
  };
  bool got = false;
  EXPECT_EQ(attempt(0, 100, &got), 0u) << "a thread's first large allocation opened a region apart";
  EXPECT_FALSE(got);
  EXPECT_EQ(attempt(200, 5000, &got), 1u) << "a thread that keeps allocating queued on the busy regions";
  EXPECT_TRUE(got);
}

// With another thread at work, an allocation takes a resident hole in that thread's region before
// it faults fresh memory into a region of its own: each thread growing its own regions while the
// others' freed memory waits for the purge is what raised bench_server's peak. With more than
// kLookAcrossThreads threads it keeps to regions nobody else is using (calloc with 16 threads on 16
// cores: 0.147 s with the look, 0.116 without). Returns whether the hole was taken.
bool resident_hole_of_another_thread_taken(int idle_threads) {
  // Under a sanitizer, its shadow memory grows RSS as the hole is written: the look for growth
  // from outside (purge.md) would purge the hole before the allocation below sees it.
  OptionFor no_external_purge(Opt::purge_external, 0);
  std::vector<std::unique_ptr<OwnerThread>> idle;  // live threads with heaps of their own
  for (int i = 0; i < idle_threads; ++i) idle.push_back(std::make_unique<OwnerThread>([](Heap*) {}));
  im_free(im_malloc(16));  // this thread's own heap
  EXPECT_NE(t_heap, &g_empty_heap);
  constexpr size_t kSize = 1 << 20;
  std::vector<void*> blocks;  // two regions at least: one to fault fresh memory into
  EXPECT_NE(fill_to_new_region(blocks), 0u) << "64 MiB did not open a new region";
  for (void* b : blocks) large_free(region_of(b), b);
  trim_impl();  // every free block of the regions purged: the hole below is the only resident one
  std::this_thread::sleep_for(std::chrono::milliseconds(25));  // earlier tests' users are gone
  void* hole = nullptr;
  void* neighbour = nullptr;
  OwnerThread owner([&](Heap* h) {
    hole = large_malloc(h, kSize, 16);
    neighbour = large_malloc(h, 64 << 10, 16);
    if (hole) {
      memset(hole, 1, kSize);  // resident
      large_free(region_of(hole), hole);
    }
  });
  if (!hole || !neighbour) {
    ADD_FAILURE() << "out of memory";
    return false;
  }
  owner.used(region_of(hole));
  t_heap->large_region = nullptr;  // as when its own region has no room: the look decides
  void* p = large_malloc(t_heap, kSize, 16);
  owner.done();
  EXPECT_NE(p, nullptr) << "out of memory";
  bool taken = p == hole;
  if (p) large_free(region_of(p), p);
  large_free(region_of(neighbour), neighbour);
  return taken;
}

TEST(Large, AResidentHoleOfAnotherThreadComesBeforeFreshMemory) {
  ASSERT_TRUE(ensure_init());
  EXPECT_TRUE(resident_hole_of_another_thread_taken(0))
      << "fresh memory was faulted in with a resident fit free in another thread's region";
}

TEST(Large, WithManyThreadsEachKeepsToRegionsNobodyElseUses) {
  ASSERT_TRUE(ensure_init());
  EXPECT_FALSE(resident_hole_of_another_thread_taken(int(kLookAcrossThreads) + 1))
      << "with many threads, an allocation went to a region another thread is using";
}

// A freed block that merges with purged free memory (here, the untouched rest of a region) keeps
// track of its resident part: a block cut from that part is resident (borrowing may take it),
// one that reaches into the purged part is fresh memory (borrowing may not; it counts as purge
// pressure).
TEST(Large, MergedWithPurgedMemoryOnlyTheFreedPartIsResident) {
  ASSERT_TRUE(ensure_init());
  Heap* h = heap_for_thread();
  // Free memory that earlier tests left resident in the regions goes back first: the megabyte
  // below is then the only resident free memory, whichever region it comes from.
  trim_impl();
  void* a = large_malloc(h, 1 << 20, 16);
  ASSERT_NE(a, nullptr);
  LargeRegion* r = region_of(a);
  memset(a, 1, 1 << 20);
  large_free(r, a);
  void* p = large_malloc_resident(h, 256 << 10, 16);
  ASSERT_NE(p, nullptr) << "the freed megabyte is resident";
  EXPECT_EQ(region_of(p), r);
  void* q = large_malloc_resident(h, 2 << 20, 16);
  EXPECT_FALSE(q && region_of(q) == r) << "2 MiB from that region would fault purged pages in";
  if (q) large_free(region_of(q), q);
  large_free(region_of(p), p);
}
