// Sparse pages: the free OS pages inside a page in use go back to the OS (holes), their blocks
// leave the lists and come back, zeroed, when the page needs them; a free into a hole is a
// double free.
#include "core/sparse.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <set>
#include <vector>

#include "core/alloc.h"
#include "mallocim.h"
#include "sparse_fill.h"
#include "policy/options.h"

using namespace mallocim;

namespace {

size_t resident_bytes(const Page* pg) {
  unsigned char vec[kPageSize / 4096];
  if (mincore(page_start(pg), kPageSize, vec) != 0) return kPageSize;
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n * 4096;
}

size_t resident_bytes(const std::set<Page*>& pages) {
  size_t n = 0;
  for (Page* pg : pages) n += resident_bytes(pg);
  return n;
}

// Checks that the live blocks kept their byte `fill` (up to the last byte of `size`), then frees
// them.
void free_intact(const std::vector<unsigned char*>& live, size_t size, unsigned char fill) {
  for (unsigned char* p : live) {
    EXPECT_EQ(p[size - 1], fill) << "live data kept";
    im_free(p);
  }
}

// Fills four pages of 1 KiB blocks, then frees all but every 20th block.
struct Sparse : SparseFill {
  Sparse() : SparseFill(1024, 64 * 4, 20, 0, 0xab) {}
  ~Sparse() {
    for (void* p : kept) im_free(p);
  }
};

}  // namespace

TEST(Sparse, FreeOsPagesOfASparsePageGoBack) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  Sparse s;
  size_t before = resident_bytes(s.pages);
  size_t released = heap_sparse_pass(t_heap, 0, SparsePass::force);
  size_t after = 0, holes = 0;
  for (Page* pg : s.pages) {
    after += resident_bytes(pg);
    holes += pg->holes != 0;
  }
  EXPECT_GT(released, 0u);
  EXPECT_GE(holes, s.pages.size() - 1);  // all but the fast path's own page
  EXPECT_LE(after + released, before + 4096);
  EXPECT_LT(after, before / 2) << "1 block in 20 live: most OS pages hold none";
  for (void* p : s.kept) EXPECT_EQ(static_cast<unsigned char*>(p)[1000], 0xab) << "live data kept";
}

TEST(Sparse, BlocksInHolesComeBackDistinctAndZeroed) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  Sparse s;
  heap_sparse_pass(t_heap, 0, SparsePass::force);
  std::set<void*> seen(s.kept.begin(), s.kept.end());
  std::vector<void*> again;
  for (int i = 0; i < 64 * 4; ++i) {
    void* p = im_malloc(1024);
    ASSERT_TRUE(seen.insert(p).second) << "a block handed out twice";
    unsigned char* c = static_cast<unsigned char*>(p);
    EXPECT_TRUE(c[8] == 0 || c[8] == 0xab);  // from a hole (zero) or from a listed free block
    memset(p, 0xcd, 1024);
    again.push_back(p);
  }
  for (void* p : s.kept) EXPECT_EQ(static_cast<unsigned char*>(p)[1000], 0xab);
  for (void* p : again) im_free(p);
}

// The pass finds free blocks by a scan for words that decode to a free-list link, checked against
// the count the lists hold. A live block whose program wrote such a word is still live: the
// count differs, and the lists decide. (Without the check, every survivor's OS page went back.)
TEST(Sparse, ALiveBlockThatLooksFreeIsKept) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  Sparse s;
  for (unsigned char* p : s.kept) {  // the word a free block holds: a link to itself
    Page* pg = page_of_block(p);
    *reinterpret_cast<uintptr_t*>(p) = uintptr_t(p) ^ pg->key;
  }
  size_t released = heap_sparse_pass(t_heap, 0, SparsePass::force);
  EXPECT_GT(released, 0u) << "the OS pages without a survivor still go back";
  for (unsigned char* p : s.kept) {
    Page* pg = page_of_block(p);
    EXPECT_FALSE(page_in_holes(pg, p)) << "a live block's OS page must stay";
    EXPECT_EQ(*reinterpret_cast<uintptr_t*>(p), uintptr_t(p) ^ pg->key);
    EXPECT_EQ(p[1000], 0xab) << "live data kept";
    *reinterpret_cast<uintptr_t*>(p) = 0;  // else its free reads as a double free
  }
}

// The count of blocks kept off the lists by holes, a look per hole, against the definition (a
// block is absent when any of its bytes lies in a hole), for every class size and hole pattern
// of a sample.
TEST(Sparse, BlocksInHolesAreCountedAsOneByOne) {
  using namespace mallocim;
  std::vector<size_t> sizes = {24, 40, 336, 720, 1360, 3056, 5440};  // adaptive classes too
  for (unsigned c = 0; c < kNumClasses; ++c) sizes.push_back(kClasses.size[c]);
  for (size_t bs : sizes) {
    if (bs > kPageSize / 2) continue;
    size_t most = kPageSize / bs;
    for (size_t capacity : {size_t(0), size_t(1), most / 3, most - 1, most}) {
      for (uint32_t holes : {0x0u, 0x1u, 0x8000u, 0x3u, 0x5u, 0x8001u, 0x0ff0u, 0xffffu, 0x6db6u}) {
        uint32_t expect = 0;
        for (size_t i = 0; i < capacity; ++i) expect += range_in_holes(i * bs, bs, holes);
        ASSERT_EQ(blocks_in_holes(bs, capacity, holes), expect)
            << "block size " << bs << ", capacity " << capacity << ", holes " << holes;
      }
    }
  }
}

TEST(Sparse, PagesThatAreMostlyLiveAreLeftAlone) {
  std::vector<void*> v;
  for (int i = 0; i < 64 * 2; ++i) v.push_back(im_malloc(1024));
  for (size_t i = 0; i < v.size(); i += 4) im_free(v[i]);  // 3 in 4 live
  Page* pg = page_of_block(v[1]);
  EXPECT_EQ(heap_sparse_pass(t_heap, ~uint64_t(0) >> 1, SparsePass::timed), 0u);
  EXPECT_EQ(pg->holes, 0u);
  for (size_t i = 0; i < v.size(); ++i)
    if (i % 4) im_free(v[i]);
}

TEST(Sparse, AFreeIntoAHoleIsADoubleFree) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  Sparse s;
  heap_sparse_pass(t_heap, 0, SparsePass::force);
  // Find a freed block that now lies in a hole: one 4 KiB past a kept block of a punched page.
  void* victim = nullptr;
  for (void* k : s.kept) {
    Page* pg = page_of_block(k);
    if (!pg->holes) continue;
    for (size_t off = 0; off + 1024 <= kPageSize && !victim; off += 1024) {
      void* p = page_start(pg) + off;
      if (page_in_holes(pg, p)) victim = p;
    }
    if (victim) break;
  }
  ASSERT_NE(victim, nullptr);
  EXPECT_DEATH(im_free(victim), "double free");
}

// Reported and going on (MALLOCIM_ABORT_ON_ERROR=0): the free pushes the block before it looks
// at the holes, so the push must be undone and the OS page given back again.
TEST(Sparse, AFreeIntoAHoleIsTakenBackOut) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  Sparse s;
  heap_sparse_pass(t_heap, 0, SparsePass::force);
  void* victim = nullptr;
  Page* pg = nullptr;
  for (void* k : s.kept) {
    pg = page_of_block(k);
    for (size_t off = 0; off + 1024 <= kPageSize && !victim && pg->holes; off += 1024)
      if (page_in_holes(pg, page_start(pg) + off)) victim = page_start(pg) + off;
    if (victim) break;
  }
  ASSERT_NE(victim, nullptr);
  uint32_t used = pg->used;
  Block* local = pg->local_free;
  size_t resident = resident_bytes(pg);
  std::string err = free_reported(victim);
  EXPECT_NE(err.find("double free"), std::string::npos) << err;
  EXPECT_EQ(pg->used, used);
  EXPECT_EQ(pg->local_free, local);
  EXPECT_TRUE(page_in_holes(pg, victim));
  EXPECT_EQ(resident_bytes(pg), resident) << "the hole's OS page must go back again";
}

TEST(Sparse, TheSmallestBlocksToo) {
  // 8-byte blocks: 8192 to a page, the most a page's bitmap must hold (ASan catches an overflow).
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  std::vector<void*> v;
  for (int i = 0; i < 8192 * 2; ++i) v.push_back(im_malloc(8));
  std::vector<void*> kept;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 1000 == 0) kept.push_back(v[i]);
    else im_free(v[i]);
  }
  EXPECT_GT(heap_sparse_pass(t_heap, 0, SparsePass::force), 0u);
  std::set<void*> seen(kept.begin(), kept.end());
  for (int i = 0; i < 8192 * 2; ++i) {
    void* p = im_malloc(8);
    ASSERT_TRUE(seen.insert(p).second) << "a block handed out twice";
  }
  for (void* p : seen) im_free(p);
}

TEST(Sparse, APageLookedAtWhileStillFullEnoughIsLookedAtAgain) {
  // 80-byte blocks, one in 20 kept: an OS page (51 blocks) seldom comes free. Then one in 200:
  // most do. The second look used to wait for a sixteenth of the page (51 blocks) to be freed
  // since the first; only 37 were.
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  SparseFill s(80, 819 * 4, 20, 0, 0x5a);
  heap_sparse_pass(t_heap, 0, SparsePass::pressure);
  std::vector<unsigned char*> still;
  for (size_t i = 0; i < s.kept.size(); ++i) {
    if (i % 10 == 0) still.push_back(s.kept[i]);
    else im_free(s.kept[i]);
  }
  size_t before = resident_bytes(s.pages);
  EXPECT_GT(heap_sparse_pass(t_heap, 0, SparsePass::pressure), 0u);
  EXPECT_LT(resident_bytes(s.pages), before - 2 * 4096);
  free_intact(still, 80, 0x5a);
}

TEST(Sparse, APressurePassWalksAsMuchAsTheMemoryWanted) {
  // 32 pages of 16-byte blocks, one in 1024 kept: about 48 KiB of free OS pages each. A pass
  // that is to give back 1 MiB must walk more than 16 Ki blocks (four such pages), what every
  // pass was allowed before.
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  SparseFill s(16, 4096 * 32, 1024, 0, 0x11);
  EXPECT_GE(heap_sparse_pass(t_heap, 0, SparsePass::pressure, size_t(1) << 20), size_t(1) << 20);
  free_intact(s.kept, 16, 0x11);
}

TEST(Sparse, APageThatFilledUpAgainIsLookedAtAfresh) {
  // Punched with 4 blocks live, filled up again, emptied back to the same 4: what the first look
  // saw (4 live) said nothing had been freed since, and the page stayed resident whole.
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  SparseFill s(80, 819 * 4, 200, 0, 0x3c);
  heap_sparse_pass(t_heap, 0, SparsePass::pressure);
  std::vector<void*> again;
  for (int i = 0; i < 819 * 8; ++i) again.push_back(im_malloc(80));
  for (void* p : again) im_free(p);
  size_t before = resident_bytes(s.pages);
  heap_sparse_pass(t_heap, 0, SparsePass::pressure);
  EXPECT_LT(resident_bytes(s.pages), before / 2) << "4 blocks live in 16 OS pages: most come free";
  free_intact(s.kept, 80, 0x3c);
}
