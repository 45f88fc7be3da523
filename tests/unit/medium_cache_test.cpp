// The thread cache of freed medium blocks: reuse without the regions, bounds, flushes, figures.
#include "core/medium_cache.h"

#include <gtest/gtest.h>
#include <string.h>

#include <thread>
#include <vector>

#include "core/heap.h"
#include "core/init.h"
#include "core/large.h"
#include "mallocim.h"
#include "policy/options.h"

using namespace mallocim;

namespace {

constexpr int64_t kTestCacheKb = 256;

// Each test starts from an empty cache of kTestCacheKb (by default it holds one block).
class MediumCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ensure_init());
    saved_ = option(Opt::medium_cache_kb);
    option_set(Opt::medium_cache_kb, kTestCacheKb);
    im_free(im_malloc(1));  // the thread's heap exists
    medium_cache_flush(t_heap);
    reset_probe();
  }
  static void reset_probe() {
    MediumCache& mc = t_heap->mcache;
    mc.misses = mc.hits = mc.bypass = 0;
  }
  void TearDown() override {
    medium_cache_flush(t_heap);
    option_set(Opt::medium_cache_kb, saved_);
  }
  int64_t saved_ = 0;
  const MediumCache& cache() const { return t_heap->mcache; }
};

LargeRegion* region_of(void* p) { return reinterpret_cast<LargeRegion*>(segmap_lookup(p)); }

}  // namespace

TEST_F(MediumCacheTest, AFreedBlockServesTheNextRequestOfItsSize) {
  void* keep = im_malloc(4000);  // a live neighbour: the freed block could not merge anyway
  void* p = im_malloc(4000);
  ASSERT_EQ(segmap_lookup(p)->kind, RegionKind::large);
  size_t usable = im_usable_size(p);
  im_free(p);
  EXPECT_EQ(cache().blocks, 1u);
  EXPECT_EQ(im_owns(p), 0) << "a cached block is free";
  EXPECT_EQ(im_malloc(4000), p);
  EXPECT_EQ(cache().blocks, 0u);
  EXPECT_EQ(im_usable_size(p), usable) << "handed out whole, as it was";
  EXPECT_EQ(im_owns(p), 1);
  memset(p, 0x5a, usable);  // the whole block is the program's again (the cache's words too)
  im_free(p);
  im_free(keep);
}

TEST_F(MediumCacheTest, ARequestTakesOnlyABlockOfItsOwnBin) {
  // A bin spans a sixteenth of its power of two (128 B from 2 to 4 KiB): 3000 B and 2000 B
  // blocks are in different bins, and a block smaller than the request is never handed out.
  void* a = im_malloc(3000);
  void* b = im_malloc(2000);
  im_free(a);
  im_free(b);
  void* small = im_malloc(3010);  // a's bin, but a is too small
  EXPECT_NE(small, a);
  void* c = im_malloc(2950);  // a's bin, and a is large enough
  EXPECT_EQ(c, a);
  void* d = im_malloc(2100);  // no block of its bin: from a region
  EXPECT_NE(d, b);
  EXPECT_GE(im_usable_size(d), 2100u);
  im_free(c);
  im_free(d);
  im_free(small);
}

TEST_F(MediumCacheTest, BinsAndTheCacheAreBounded) {
  std::vector<void*> blocks;
  for (int i = 0; i < 40; ++i) blocks.push_back(im_malloc(6000));
  for (void* p : blocks) im_free(p);
  EXPECT_LE(cache().blocks, kCacheBinBlocks) << "one size: one bin";
  EXPECT_GT(cache().blocks, 0u);
  blocks.clear();
  // Many sizes: the byte bound holds.
  size_t cap = size_t(kTestCacheKb) << 10;
  for (int i = 0; i < 400; ++i) blocks.push_back(im_malloc(1100 + size_t(i) * 150));
  for (void* p : blocks) im_free(p);
  EXPECT_LE(cache().bytes, cap);
  EXPECT_GT(cache().bytes, 0u);
  size_t sum = 0;
  for (unsigned b = 0; b < kCacheBins; ++b) sum += cache().count[b];
  EXPECT_EQ(sum, cache().blocks);
}

TEST_F(MediumCacheTest, LastBlockOnlyByDefault) {
  // MALLOCIM_MEDIUM_CACHE_KB=0: the thread's last freed medium block, of its own region, is
  // kept for its next request; the next free, or a request it does not fit, gives it back.
  option_set(Opt::medium_cache_kb, 0);
  void* a = im_malloc(3000);
  void* b = im_malloc(5000);
  void* guard = im_malloc(3000);
  im_free(a);
  EXPECT_EQ(cache().blocks, 1u);
  EXPECT_EQ(im_malloc(3000), a) << "the last block serves the next request of its size";
  EXPECT_EQ(cache().blocks, 0u);
  im_free(a);
  im_free(b);  // a goes back to its region; b is kept
  EXPECT_EQ(cache().blocks, 1u);
  EXPECT_EQ(im_owns(a), 0);
  EXPECT_EQ(im_owns(b), 0);
  void* c = im_malloc(1500);  // does not fit b's bin: b goes back, c comes from the regions
  EXPECT_EQ(cache().blocks, 0u);
  EXPECT_NE(c, b);
  im_free(c);
  medium_cache_flush(t_heap);
  // Another thread's free of this thread's blocks keeps none (not its region).
  void* d = im_malloc(4000);
  std::thread([&] {
    im_free(im_malloc(1));
    im_free(d);
    EXPECT_EQ(t_heap->mcache.blocks, 0u);
  }).join();
  im_free(guard);
}

TEST_F(MediumCacheTest, TheLastBlockIsNotKeptWhileItServesTooFewRequests) {
  option_set(Opt::medium_cache_kb, 0);
  void* guard = im_malloc(3000);
  // Sizes that alternate between two bins: the kept block never fits the next request. The first
  // request finds no block; each later one is a miss, and the one that makes kProbeMisses of them
  // turns the keeping off, so that its own free already goes to the region.
  for (unsigned i = 0; i <= kProbeMisses; ++i) {
    ASSERT_EQ(cache().bypass, 0u) << i;
    im_free(im_malloc(i % 2 ? 1500 : 6000));
    EXPECT_EQ(cache().blocks, i < kProbeMisses ? 1u : 0u) << i;
  }
  EXPECT_EQ(cache().bypass, kBypassPuts - 1) << "under one request in eight served";
  for (unsigned i = 0; i + 1 < kBypassPuts; ++i) {
    im_free(im_malloc(3000));
    ASSERT_EQ(cache().blocks, 0u) << i;
  }
  EXPECT_EQ(cache().bypass, 0u);
  im_free(im_malloc(3000));
  EXPECT_EQ(cache().blocks, 1u) << "kept again after the bypass";
  // Where the kept block serves one request in four, it stays on.
  medium_cache_flush(t_heap);
  reset_probe();
  size_t prev = 6000;
  for (unsigned i = 0; i < 8 * kProbeMisses; ++i) {
    size_t size = i % 4 == 3 ? prev : (prev == 6000 ? 1500 : 6000);
    im_free(im_malloc(size));
    prev = size;
    ASSERT_EQ(cache().bypass, 0u) << i;
  }
  EXPECT_EQ(cache().blocks, 1u);
  im_free(guard);
}

TEST_F(MediumCacheTest, OffWhenTheOptionIsMinusOne) {
  option_set(Opt::medium_cache_kb, -1);
  void* keep = im_malloc(4000);
  void* p = im_malloc(4000);
  im_free(p);
  EXPECT_EQ(cache().blocks, 0u);
  EXPECT_EQ(im_owns(p), 0);
  im_free(keep);
}

TEST_F(MediumCacheTest, SizesOutsideItsRangeGoStraightToTheRegions) {
  void* large = im_malloc(100000);  // over 64 KiB
  ASSERT_EQ(segmap_lookup(large)->kind, RegionKind::large);
  im_free(large);
  EXPECT_EQ(cache().blocks, 0u);
  void* aligned = im_aligned_alloc(4096, 4000);  // aligned requests do not take cached blocks
  void* plain = im_malloc(4000);
  im_free(plain);
  ASSERT_EQ(cache().blocks, 1u);
  void* aligned2 = im_aligned_alloc(4096, 4000);
  EXPECT_NE(aligned2, plain);
  EXPECT_EQ(uintptr_t(aligned2) % 4096, 0u);
  EXPECT_EQ(cache().blocks, 1u);
  im_free(aligned);
  im_free(aligned2);
}

TEST_F(MediumCacheTest, TrimGivesTheBlocksBackAndTheyMerge) {
  // Three neighbours freed into the cache stay apart; after im_trim they are one free block
  // again, and a request the size of all three fits where they were.
  void* a = im_malloc(7000);
  void* b = im_malloc(7000);
  void* c = im_malloc(7000);
  void* guard = im_malloc(7000);
  ASSERT_EQ(region_of(a), region_of(c));
  ASSERT_EQ(uintptr_t(b) - uintptr_t(a), uintptr_t(c) - uintptr_t(b)) << "laid out in a row";
  im_free(a);
  im_free(b);
  im_free(c);
  EXPECT_EQ(cache().blocks, 3u);
  im_trim();
  EXPECT_EQ(cache().blocks, 0u);
  EXPECT_EQ(cache().bytes, 0u);
  void* d = large_malloc(t_heap, 3 * 7000, 16);  // straight from the regions
  EXPECT_EQ(d, a) << "the three blocks must have merged once back in their region";
  im_free(d);
  im_free(guard);
}

TEST_F(MediumCacheTest, AnExitingThreadGivesItsBlocksBack) {
  void* a = im_malloc(5000);
  void* b = im_malloc(5000);
  void* guard = im_malloc(5000);
  std::thread([&] {
    im_free(im_malloc(1));  // a thread without a heap frees straight into the regions
    im_free(a);  // into this thread's cache
    im_free(b);
    EXPECT_EQ(t_heap->mcache.blocks, 2u);
  }).join();
  EXPECT_EQ(cache().blocks, 0u);
  void* d = large_malloc(t_heap, 2 * 5000, 16);
  EXPECT_EQ(d, a) << "the exited thread's blocks must be back in their region, merged";
  im_free(d);
  im_free(guard);
}

TEST_F(MediumCacheTest, StatisticsCountCachedBlocksAsFree) {
  im_stats before{}, after{};
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(im_malloc(3000 + size_t(i) * 400));
  im_stats_get(&before);
  size_t usable = 0;
  for (void* p : blocks) usable += im_usable_size(p);
  for (void* p : blocks) im_free(p);
  ASSERT_EQ(cache().blocks, 8u);
  im_stats_get(&after);
  EXPECT_EQ(before.large_live_bytes - after.large_live_bytes, usable);
  EXPECT_EQ(before.live_bytes - after.live_bytes, usable);
}
