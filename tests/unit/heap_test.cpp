// Small objects: per-thread pages, local and remote frees, thread exit, page reuse.
#include "core/heap.h"

#include <gtest/gtest.h>
#include <string.h>

#include <thread>
#include <vector>

#include "core/alloc.h"
#include "core/page_pool.h"
#include "core/segmap.h"
#include "policy/options.h"
#include "mallocim.h"

using namespace mallocim;

TEST(Heap, BlocksAreDistinctAlignedAndWritable) {
  std::vector<void*> v;
  for (size_t s = 0; s <= kSmallMax; s += 7) {
    void* p = im_malloc(s);
    ASSERT_NE(p, nullptr);
    if (s >= 16) EXPECT_EQ(uintptr_t(p) % 16, 0u) << s;
    EXPECT_GE(im_usable_size(p), s);
    memset(p, int(s), im_usable_size(p));
    v.push_back(p);
  }
  for (size_t i = 0; i < v.size(); ++i) {
    size_t s = i * 7;
    if (s) EXPECT_EQ(static_cast<unsigned char*>(v[i])[0], (unsigned char)s);
    im_free(v[i]);
  }
}

TEST(Heap, FreedBlockIsReusedByTheOwner) {
  // A local free goes onto the page's local list and is reused once the allocation list of
  // that page runs dry: within one page's worth of allocations.
  void* a = im_malloc(48);
  im_free(a);
  std::vector<void*> v;
  bool seen = false;
  for (size_t i = 0; i < kPageSize / 48 + 1 && !seen; ++i) {
    v.push_back(im_malloc(48));
    seen = v.back() == a;
  }
  EXPECT_TRUE(seen);
  for (auto p : v) im_free(p);
}

TEST(Heap, OwnerIsTheAllocatingThread) {
  void* p = im_malloc(64);
  Page* pg = page_of(reinterpret_cast<Segment*>(segmap_lookup(p)), p);
  EXPECT_EQ(pg->owner.load(), t_heap);
  EXPECT_EQ(pg->block_size, 64u);
  im_free(p);
}

TEST(Heap, RemoteFreesReturnToTheOwner) {
  constexpr int kN = 20000;
  std::vector<void*> blocks(kN);
  for (auto& b : blocks) b = im_malloc(32);
  Page* first = page_of(reinterpret_cast<Segment*>(segmap_lookup(blocks[0])), blocks[0]);
  uint32_t used_before = first->used;
  std::thread([&] {
    for (auto b : blocks) im_free(b);  // another thread: goes onto the pages' thread_free lists
  }).join();
  EXPECT_EQ(first->used, used_before) << "remote frees must not touch the owner's counters";
  EXPECT_EQ(first->thread_free.load() >> kThreadFreeCountShift, first->used)
      << "every remote free is counted in the list word";
  // The owner collects them when it needs blocks: allocating kN again reuses those pages.
  std::vector<void*> again(kN);
  for (auto& b : again) b = im_malloc(32);
  size_t reused = 0;
  for (auto b : again) {
    Page* pg = page_of(reinterpret_cast<Segment*>(segmap_lookup(b)), b);
    for (auto o : blocks)
      if (page_of(reinterpret_cast<Segment*>(segmap_lookup(o)), o) == pg) {
        ++reused;
        break;
      }
    if (reused > 100) break;
  }
  EXPECT_GT(reused, 100u);
  for (auto b : again) im_free(b);
}

TEST(Heap, ExitedThreadsPagesAreReclaimed) {
  // Each thread keeps some blocks live and exits; its pages are abandoned and a later thread
  // reclaims them instead of growing the heap.
  std::vector<void*> kept;
  auto run = [&] {
    std::thread([&] {
      for (int i = 0; i < 1000; ++i) {
        void* p = im_malloc(200);
        if (i % 100 == 0) kept.push_back(p); else im_free(p);
      }
    }).join();
  };
  for (int i = 0; i < 20; ++i) run();
  im_stats before;
  im_stats_get(&before);
  for (int i = 0; i < 500; ++i) run();
  im_stats after;
  im_stats_get(&after);
  EXPECT_LE(after.segments, before.segments + 1) << "short-lived threads must not grow the heap";
  EXPECT_GE(after.threads_seen, before.threads_seen);
  for (auto p : kept) im_free(p);
}

TEST(Heap, EmptyPagesServeOtherSizeClasses) {
  im_trim();
  std::vector<void*> v;
  for (int i = 0; i < 64 * 1024; ++i) v.push_back(im_malloc(16));  // 1 MiB of 16-byte blocks
  for (auto p : v) im_free(p);
  v.clear();
  im_stats mid;
  im_stats_get(&mid);
  for (int i = 0; i < 1024; ++i) v.push_back(im_malloc(1000));  // the same 1 MiB, another class
  im_stats after;
  im_stats_get(&after);
  EXPECT_EQ(after.segments, mid.segments) << "pages freed by one class must serve another";
  for (auto p : v) im_free(p);
}

TEST(Heap, TrimReturnsFreePagesToTheOs) {
  std::vector<void*> v;
  for (int i = 0; i < 4096; ++i) {
    v.push_back(im_malloc(4000));
    memset(v.back(), 1, 4000);
  }
  for (auto p : v) im_free(p);
  EXPECT_GT(im_trim(), 8u << 20) << "16 MiB of free pages: most must go back";
  im_stats s;
  im_stats_get(&s);
  EXPECT_LT(s.free_bytes, 4u << 20);
}

namespace {
bool from_large_region(const void* p) {
  const RegionHeader* r = segmap_lookup(p);
  return r && r->kind == RegionKind::large;
}

// Medium blocks (1-8 KiB) in size-class pages, as with MALLOCIM_MEDIUM_REGIONS=0, for the
// test's scope.
struct MediumInPages {
  MediumInPages() { g_medium_regions = false; }
  ~MediumInPages() { g_medium_regions = true; }
};

// Large blocks freed (their memory still resident in the large regions), no empty page left
// resident anywhere: then as many 1100-byte blocks as that memory would hold.
std::vector<void*> medium_after_large() {
  option_set(Opt::background_thread, 0);  // nothing purges behind the test
  std::vector<void*> large;
  for (int i = 0; i < 64; ++i) {
    large.push_back(im_malloc(32 << 10));
    memset(large.back(), 1, 32 << 10);
  }
  for (void* p : large) im_free(p);
  while (t_heap->cache_count) pool_return_page(t_heap->cache[--t_heap->cache_count], 0);
  pool_purge(UINT64_MAX);
  std::vector<void*> v;
  for (int i = 0; i < 2048; ++i) {
    v.push_back(im_malloc(1100));
    memset(v.back(), 2, 1100);
  }
  return v;
}
}  // namespace

// A program whose sizes move from large blocks to medium ones: the medium blocks take the memory
// the large ones left, still resident, before fresh pages (MALLOCIM_BORROW_LARGE, with medium
// blocks in pages).
TEST(Heap, MediumBlocksBorrowFreeLargeMemoryBeforeAFreshPage) {
  MediumInPages pages;
  std::vector<void*> v = medium_after_large();
  size_t borrowed = 0;
  for (void* p : v) {
    if (!from_large_region(p)) continue;
    ++borrowed;
    EXPECT_EQ(uintptr_t(p) % 64, 0u) << "a borrowed block keeps its class's alignment (64 B)";
    EXPECT_GE(im_usable_size(p), 1100u);
  }
  EXPECT_GT(borrowed, 0u) << "every block took a small page";
  for (void* p : v) im_free(p);
}

TEST(Heap, BorrowingTurnedOff) {
  MediumInPages pages;
  option_set(Opt::borrow_large, 0);
  std::vector<void*> v = medium_after_large();
  for (void* p : v) EXPECT_FALSE(from_large_region(p));
  for (void* p : v) im_free(p);
  option_set(Opt::borrow_large, 1);
}

// Borrowed blocks are large blocks in every way: another thread frees them, realloc grows and
// shrinks them, keeping their bytes.
TEST(Heap, BorrowedBlocksFreedByAnotherThreadAndReallocated) {
  MediumInPages pages;
  std::vector<void*> v = medium_after_large();
  std::vector<void*> borrowed, rest;
  for (void* p : v) (from_large_region(p) ? borrowed : rest).push_back(p);
  ASSERT_GE(borrowed.size(), 2u);
  void* grown = im_realloc(borrowed.back(), 5000);
  borrowed.pop_back();
  ASSERT_NE(grown, nullptr);
  for (size_t j = 0; j < 1100; ++j) ASSERT_EQ(static_cast<unsigned char*>(grown)[j], 2);
  void* shrunk = im_realloc(grown, 100);
  ASSERT_NE(shrunk, nullptr);
  for (size_t j = 0; j < 100; ++j) ASSERT_EQ(static_cast<unsigned char*>(shrunk)[j], 2);
  im_free(shrunk);
  std::thread t([&] {
    for (void* p : borrowed) im_free(p);
  });
  t.join();
  for (void* p : rest) im_free(p);
}

// Blocks over 1 KiB come from the regions (MALLOCIM_MEDIUM_REGIONS, the default): best fit with
// coalescing, aligned requests aligned, realloc in place, frees from any thread.
TEST(Heap, MediumBlocksComeFromTheRegions) {
  void* small = im_malloc(1024);
  EXPECT_FALSE(from_large_region(small));
  std::vector<void*> v;
  for (size_t s = 1025; s <= kSmallMax; s += 509) {
    void* p = im_malloc(s);
    ASSERT_TRUE(from_large_region(p)) << s;
    EXPECT_EQ(uintptr_t(p) % 16, 0u);
    EXPECT_GE(im_usable_size(p), s);
    memset(p, 3, s);
    v.push_back(p);
  }
  void* page_aligned = im_aligned_alloc(4096, 4096);
  EXPECT_EQ(uintptr_t(page_aligned) % 4096, 0u);
  EXPECT_GE(im_usable_size(page_aligned), 4096u);
  void* grown = im_realloc(v.back(), kSmallMax + 100);  // the block after it is free: in place
  EXPECT_EQ(grown, v.back());
  v.back() = grown;
  std::thread t([&] {
    for (void* p : v) im_free(p);
  });
  t.join();
  im_free(page_aligned);
  im_free(small);
}
