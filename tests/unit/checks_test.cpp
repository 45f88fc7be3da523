// The checks every build makes: double frees, foreign pointers and damaged free lists are
// reported (then the process aborts) instead of corrupting the heap.
#include <gtest/gtest.h>
#include <string.h>

#include <atomic>
#include <thread>

#include "core/large.h"
#include "core/heap.h"
#include "core/medium_cache.h"
#include "mallocim.h"
#include "policy/options.h"

using namespace mallocim;

class Checks : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Checks, DoubleFreeOfASmallBlock) {
  void* p = im_malloc(64);
  im_free(p);
  EXPECT_DEATH(im_free(p), "free of pointer 0x[0-9a-f]+: block is already free \\(double free\\)");
}

TEST_F(Checks, DoubleFreeOfASmallBlockFromAnotherThread) {
  void* p = im_malloc(200);
  im_free(p);
  EXPECT_DEATH(std::thread([p] { im_free(p); }).join(), "already free \\(double free\\)");
}

TEST_F(Checks, DoubleFreeOfALargeBlock) {
  void* p = im_malloc(100000);
  im_free(p);
  EXPECT_DEATH(im_free(p), "already free \\(double free\\)");
}

TEST_F(Checks, DoubleFreeOfACachedMediumBlock) {
  // Both ways the cache runs (core/medium_cache.h): the last block only, and 256 KiB of them.
  for (int64_t kb : {0, 256}) {
    int64_t saved = option(Opt::medium_cache_kb);
    option_set(Opt::medium_cache_kb, kb);
    void* keep = im_malloc(5000);
    void* p = im_malloc(5000);  // freed into the thread's medium cache
    im_free(p);
    EXPECT_DEATH(im_free(p), "free of pointer 0x[0-9a-f]+: block is already free \\(double free\\)");
    EXPECT_DEATH(std::thread([p] { im_free(p); }).join(), "already free \\(double free\\)");
    medium_cache_flush(t_heap);
    im_free(keep);
    option_set(Opt::medium_cache_kb, saved);
  }
}

TEST_F(Checks, DoubleFreeOfAMediumBlockCachedByAnotherThreadWhileThisOneBypasses) {
  // The block sits in another thread's cache; this thread keeps no block (its last one served
  // too few requests: core/medium_cache.h), and its free must not reach the region.
  int64_t saved = option(Opt::medium_cache_kb);
  option_set(Opt::medium_cache_kb, 0);
  std::atomic<void*> p{nullptr};
  std::atomic<bool> done{false};
  std::thread other([&] {
    void* keep = im_malloc(5000);
    void* q = im_malloc(5000);
    im_free(q);  // kept in this thread's cache until it exits
    p.store(q);
    while (!done.load()) std::this_thread::yield();
    im_free(keep);
  });
  while (!p.load()) std::this_thread::yield();
  im_free(im_malloc(1));
  t_heap->mcache.bypass = 5;
  EXPECT_DEATH(im_free(p.load()), "free of pointer 0x[0-9a-f]+: block is already free \\(double free\\)");
  t_heap->mcache.bypass = 0;
  done.store(true);
  other.join();
  option_set(Opt::medium_cache_kb, saved);
}

TEST_F(Checks, WriteAfterFreeIntoACachedMediumBlockIsCaught) {
  // The cached block's link and cookie are overwritten; the next request of its size must not
  // follow them.
  EXPECT_DEATH(
      {
        option_set(Opt::medium_cache_kb, 256);
        void* p = im_malloc(3000);
        im_free(p);
        memset(p, 0x41, 32);
        im_malloc(3000);
      },
      "a freed medium block was written to \\(write after free\\)");
}

TEST_F(Checks, DoubleFreeOfAHugeBlock) {
  void* p = im_malloc(8 << 20);
  im_free(p);
  EXPECT_DEATH(im_free(p), "double free of a huge block");
}

TEST_F(Checks, ForeignPointers) {
  int on_stack = 0;
  static int in_data = 0;
  EXPECT_DEATH(im_free(&on_stack), "not allocated by malloc-im");
  EXPECT_DEATH(im_free(&in_data), "not allocated by malloc-im");
  EXPECT_DEATH(im_realloc(&on_stack, 10), "realloc of pointer .*not allocated by malloc-im");
}

TEST_F(Checks, InteriorPointers) {
  char* small = static_cast<char*>(im_malloc(64));
  char* large = static_cast<char*>(im_malloc(50000));
  char* huge = static_cast<char*>(im_malloc(5 << 20));
  std::thread([&] {  // from another thread, the small check is the remote path's
    EXPECT_DEATH(im_free(small + 16), "not the start of a block");
  }).join();
  EXPECT_DEATH(im_free(large + 32), "not the start of a block");
  EXPECT_DEATH(im_free(huge + 4096), "not the start of a block");
  im_free(small);
  im_free(large);
  im_free(huge);
}

TEST_F(Checks, WriteAfterFreeIntoAFreeListIsCaught) {
  // The block's link is overwritten after the free; following it must be refused.
  EXPECT_DEATH(
      {
        void* p = im_malloc(96);
        im_free(p);
        memset(p, 0x41, 16);
        for (int i = 0; i < 2000; ++i) im_malloc(96);
      },
      "free list damaged");
}

TEST_F(Checks, OverflowIntoTheNextLargeHeaderIsCaught) {
  EXPECT_DEATH(
      {
        char* a = static_cast<char*>(im_malloc(30000));
        char* b = static_cast<char*>(im_malloc(30000));
        memset(a, 0x41, im_usable_size(a) + 16);  // 16 bytes past the end: b's header
        im_free(a);
        im_free(b);
      },
      "header after this block was overwritten");
}

TEST_F(Checks, ForgedLinksOfAFreeLargeBlockAreCaught) {
  // Over the medium cache's sizes (core/medium_cache.h): b goes back to its region at once.
  EXPECT_DEATH(
      {
        char* a = static_cast<char*>(im_malloc(100000));
        char* b = static_cast<char*>(im_malloc(100000));
        char* c = static_cast<char*>(im_malloc(100000));
        im_free(b);
        memset(b, 0x41, 64);  // write after free over b's header and links
        im_free(a);           // merging with b must not follow them
        im_free(c);
      },
      "heap corruption");
}
