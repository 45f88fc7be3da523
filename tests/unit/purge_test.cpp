// Reuse through the OS (purge_pressure): memory about to be faulted in fresh by one layer makes
// the free but resident memory of the other layers go back to the OS first.
#include "core/purge.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "core/alloc.h"
#include "core/init.h"
#include "core/large.h"
#include "core/page_pool.h"
#include "mallocim.h"
#include "platform/os.h"
#include "policy/options.h"
#include "sparse_fill.h"

using namespace mallocim;

namespace {
// No timed purge and no background thread (so no other thread reads the options) during the
// test; pressure as asked. Each test runs in a process of its own (gtest_discover_tests).
struct Options {
  explicit Options(int64_t p) {
    option_set(Opt::background_thread, 0);
    option_set(Opt::purge_delay_ms, 1000000);
    option_set(Opt::purge_pressure, p);
  }
};

// Fills 64 pages with 1 KiB blocks and frees them all: most go to the pool, resident.
void empty_pages_to_pool() {
  std::vector<void*> v;
  for (size_t i = 0; i < 64 * (kPageSize / 1024); ++i) {
    void* p = im_malloc(1024);
    memset(p, 1, 1024);
    v.push_back(p);
  }
  for (void* p : v) im_free(p);
}
}  // namespace

TEST(Purge, PressureFromLargeBlocksGivesBackEmptySmallPages) {
  Options o(1);
  empty_pages_to_pool();
  size_t dirty = pool_figures().free_pages_dirty;
  ASSERT_GE(dirty, 32u);
  purge_pressure(size_t(2) << 20, Layer::large);  // 2 MiB about to be faulted in
  EXPECT_LE(pool_figures().free_pages_dirty + 32, dirty) << "2 MiB of empty pages go back first";
}

// With no empty page to give back, the free OS pages inside the thread's own sparse pages go.
TEST(Purge, PressureFromLargeBlocksPunchesThisThreadsSparsePages) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  Options o(1);
  SparseFill s(1024, 64 * 4, 20, 0);  // four pages of 1 KiB blocks, one in 20 live
  while (t_heap->cache_count) pool_return_page(t_heap->cache[--t_heap->cache_count], 0);
  pool_purge(UINT64_MAX);
  size_t with_holes = 0;
  for (Page* pg : s.pages) with_holes += pg->holes != 0;
  ASSERT_EQ(with_holes, 0u);
  purge_pressure(size_t(2) << 20, Layer::large);
  for (Page* pg : s.pages) with_holes += pg->holes != 0;
  EXPECT_GE(with_holes, s.pages.size() - 1) << "all but the fast path's own page";
  for (void* p : s.kept) im_free(p);
}

TEST(Purge, NoPressurePurgeWhenTurnedOff) {
  Options o(0);
  empty_pages_to_pool();
  size_t dirty = pool_figures().free_pages_dirty;
  ASSERT_GE(dirty, 32u);
  purge_pressure(size_t(2) << 20, Layer::large);
  EXPECT_EQ(pool_figures().free_pages_dirty, dirty);
}

TEST(Purge, PressureFromSmallPagesGivesBackFreeLargeSpans) {
  Options o(1);
  ASSERT_TRUE(ensure_init());
  void* a = large_malloc(t_heap, size_t(1) << 20, 16);
  void* b = large_malloc(t_heap, size_t(1) << 20, 16);
  ASSERT_TRUE(a && b);
  memset(a, 1, size_t(1) << 20);
  memset(b, 1, size_t(1) << 20);
  im_free(a);
  im_free(b);
  size_t purged = large_figures().purged;
  purge_pressure(size_t(2) << 20, Layer::small);
  EXPECT_GE(large_figures().purged, purged + (size_t(1) << 20)) << "free spans go back first";
}

TEST(Purge, FreshLargeMemoryIsReported) {
  // A new large region is fresh memory: taking a block of it purges empty small pages.
  Options o(1);
  empty_pages_to_pool();
  size_t dirty = pool_figures().free_pages_dirty;
  ASSERT_GE(dirty, 32u);
  std::vector<void*> v;
  for (int i = 0; i < 40; ++i) v.push_back(im_malloc(size_t(1) << 20));  // 40 MiB: new regions
  EXPECT_LT(pool_figures().free_pages_dirty, dirty);
  for (void* p : v) im_free(p);
}

TEST(Purge, LargeAndHugeBlocksDoNotPurgeEachOther) {
  // A buffer growing through realloc moves between large and huge blocks within milliseconds:
  // pressure from one must leave the other's free memory alone.
  Options o(1);
  ASSERT_TRUE(ensure_init());
  void* a = large_malloc(t_heap, size_t(1) << 20, 16);
  ASSERT_TRUE(a);
  memset(a, 1, size_t(1) << 20);
  im_free(a);
  size_t purged = large_figures().purged;
  purge_pressure(size_t(4) << 20, Layer::huge);
  EXPECT_EQ(large_figures().purged, purged);
}

// An empty page taken from the pool resident counts what its blocks never reached as fresh memory:
// the program faults that in (bench_phases built a phase of small blocks in such pages, and the
// free large blocks of the phase before stayed resident).
TEST(Purge, ReusedPagesCountWhatTheyNeverTouched) {
  Options o(0);  // set up without pressure: the pages below stay resident, the large blocks too
  ASSERT_TRUE(ensure_init());
  pool_purge(UINT64_MAX);  // no resident page in the pool: the 80 below are all it has
  Page* part[40];  // returned as free now: not due for the timed purge
  Page* full[40];
  for (Page*& p : part) p = pool_take_page();
  for (Page*& p : full) p = pool_take_page();
  for (Page* p : part) {  // carved as far as one OS page
    p->block_size = 1024;
    p->capacity = 4;
    pool_return_page(p, os::now_ms());
  }
  for (Page* p : full) {  // carved whole
    p->block_size = 1024;
    p->capacity = uint32_t(kPageSize / 1024);
    pool_return_page(p, os::now_ms());
  }
  void* a = large_malloc(t_heap, size_t(1) << 20, 16);
  void* b = large_malloc(t_heap, size_t(1) << 20, 16);
  ASSERT_TRUE(a && b);
  memset(a, 1, size_t(1) << 20);
  memset(b, 1, size_t(1) << 20);
  im_free(a);  // 2 MiB of free, resident large memory
  im_free(b);
  option_set(Opt::purge_pressure, 1);
  size_t purged = large_figures().purged;
  for (Page*& p : full) p = pool_take_page();  // newest first: the whole ones
  EXPECT_EQ(large_figures().purged, purged) << "resident pages counted as fresh memory";
  for (Page*& p : part) p = pool_take_page();  // 40 x 60 KiB never touched
  EXPECT_GE(large_figures().purged, purged + (size_t(1) << 20)) << "memory never touched was not counted";
  for (Page* p : part) pool_return_page(p, os::now_ms());
  for (Page* p : full) pool_return_page(p, os::now_ms());
}

// realloc that grows a large block in place into a purged free neighbour faults that memory in
// fresh, as an allocation there would: it counts as pressure too.
TEST(Purge, GrowingInPlaceIntoPurgedMemoryCountsAsFresh) {
  Options o(0);
  ASSERT_TRUE(ensure_init());
  constexpr size_t kA = size_t(64) << 10, kB = (size_t(2) << 20) - (size_t(64) << 10);
  char* a = static_cast<char*>(im_malloc(kA));
  char* b = static_cast<char*>(im_malloc(kB));
  void* c = im_malloc(kA);  // keeps b's space from merging with the rest of the region
  ASSERT_TRUE(a && b && c);
  if (b != a + kA + 16) GTEST_SKIP() << "the two blocks are not neighbours here";
  memset(b, 1, kB);
  im_free(b);
  large_purge(UINT64_MAX, true);  // b's memory goes back to the OS
  empty_pages_to_pool();          // resident free memory of another layer
  size_t dirty = pool_figures().free_pages_dirty;
  ASSERT_GE(dirty, 32u);
  option_set(Opt::purge_pressure, 1);
  void* grown = im_realloc(a, kA + (size_t(1) << 20));  // 1 MiB more, from b's purged space
  ASSERT_EQ(grown, a) << "not grown in place";
  EXPECT_LE(pool_figures().free_pages_dirty + 8, dirty) << "the purged memory taken was not counted";
  memset(grown, 2, kA + (size_t(1) << 20));
  im_free(grown);
  im_free(c);
}

// Growth from outside: the process's RSS grew by more than the allocator counted as fresh (here
// 16 MiB mapped and written by the test, as an interpreter's own arenas would be), and the free
// memory it holds goes back to the OS.
namespace {
size_t dirty_after_growth_from_outside() {
  Options o(0);  // no pressure purge, no timed purge: only the look for outside growth gives back
  EXPECT_TRUE(ensure_init());
  auto look = [] {
    LockGuard g(purge_lock());
    purge_external();
  };
  look();  // the baseline
  empty_pages_to_pool();         // the allocator's own growth, counted as fresh
  size_t dirty = pool_figures().free_pages_dirty;
  EXPECT_GE(dirty, 32u);
  constexpr size_t kOutside = size_t(16) << 20;
  void* m = mmap(nullptr, kOutside, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(m, MAP_FAILED);
  if (m == MAP_FAILED) return dirty;
  memset(m, 1, kOutside);
  look();
  size_t left = pool_figures().free_pages_dirty;
  munmap(m, kOutside);
  return dirty - left;
}
}  // namespace

TEST(Purge, GrowthFromOutsideGivesBackFreeMemory) {
  EXPECT_GE(dirty_after_growth_from_outside(), 32u) << "the empty pages stayed resident";
}

TEST(Purge, GrowthFromOutsideTurnedOff) {
  option_set(Opt::purge_external, 0);
  EXPECT_EQ(dirty_after_growth_from_outside(), 0u);
}
