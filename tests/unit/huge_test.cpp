#include "core/huge.h"

#include <gtest/gtest.h>
#include <string.h>

#include "core/alloc.h"
#include "core/init.h"

using namespace mallocim;

TEST(Huge, MappedAlignedAndReturnedOnFree) {
  ASSERT_TRUE(ensure_init());
  HugeFigures before = huge_figures();
  void* p = huge_malloc(5 << 20, 16);
  ASSERT_NE(p, nullptr);
  memset(p, 3, 5 << 20);
  EXPECT_EQ(huge_figures().blocks, before.blocks + 1);
  auto* h = reinterpret_cast<HugeHeader*>(segmap_lookup(p));
  EXPECT_GE(huge_usable(h), size_t(5 << 20));
  huge_free(h, p);
  EXPECT_EQ(huge_figures().blocks, before.blocks);
  EXPECT_EQ(huge_figures().mapped, before.mapped);
}

TEST(Huge, LargeAlignments) {
  for (size_t align : {size_t(4) << 20, size_t(16) << 20}) {
    void* p = huge_malloc(3 << 20, align);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(uintptr_t(p) % align, 0u);
    huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(p)), p);
  }
}

TEST(Huge, ReallocKeepsContentsWhileGrowingAndShrinking) {
  size_t n = 3 << 20;
  auto* p = static_cast<unsigned char*>(huge_malloc(n, 16));
  for (size_t i = 0; i < n; i += 4096) p[i] = (unsigned char)(i >> 12);
  for (size_t grow = n * 2; grow <= (size_t(64) << 20); grow *= 2) {
    auto* h = reinterpret_cast<HugeHeader*>(segmap_lookup(p));
    p = static_cast<unsigned char*>(huge_realloc(h, p, grow));
    ASSERT_NE(p, nullptr);
    for (size_t i = 0; i < n; i += 4096) ASSERT_EQ(p[i], (unsigned char)(i >> 12)) << grow;
    memset(p + grow / 2, 9, grow / 2);
  }
  auto* h = reinterpret_cast<HugeHeader*>(segmap_lookup(p));
  p = static_cast<unsigned char*>(huge_realloc(h, p, n));
  for (size_t i = 0; i < n; i += 4096) ASSERT_EQ(p[i], (unsigned char)(i >> 12));
  h = reinterpret_cast<HugeHeader*>(segmap_lookup(p));
  EXPECT_EQ(h->map_size, align_up(h->offset + n, kGranule)) << "shrinking unmaps the tail";
  huge_free(h, p);
}

TEST(Huge, ZeroBytesAtAGranuleAlignmentIsStillInsideItsMapping) {
  // Found by the fuzzer: with the block a whole granule into the mapping, a 0-byte request
  // mapped nothing beyond it, and the block was not found again on free.
  void* p = huge_malloc(0, kGranule);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(segmap_lookup(p), nullptr);
  huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(p)), p);
}
