#include "core/huge.h"

#include <gtest/gtest.h>
#include <string.h>

#include "core/alloc.h"
#include "core/init.h"
#include "mallocim.h"

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

TEST(Huge, FreedMappingsAreReusedAndZeroedForCalloc) {
  huge_cache_trim(UINT64_MAX);
  void* p = huge_malloc(6 << 20, 16);
  ASSERT_NE(p, nullptr);
  memset(p, 0x5a, 6 << 20);
  huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(p)), p);
  EXPECT_EQ(segmap_lookup(p), nullptr) << "a cached mapping is no block";
  EXPECT_EQ(huge_figures().cached, size_t(8) << 20);  // 6 MiB + header, in whole granules
  // About the same size: the same mapping, its old contents there (no page faults, no zeroing).
  void* q = huge_malloc(5 << 20, 16);
  ASSERT_EQ(q, p);
  EXPECT_EQ(static_cast<unsigned char*>(q)[12345], 0x5a);
  EXPECT_TRUE(huge_needs_zeroing(q));
  EXPECT_EQ(huge_figures().cached, 0u);
  huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(q)), q);
  // calloc of a reused mapping reads zero.
  auto* z = static_cast<unsigned char*>(im_calloc(1, 5 << 20));
  ASSERT_EQ(static_cast<void*>(z), p);
  for (size_t i = 0; i < (5u << 20); i += 4093) ASSERT_EQ(z[i], 0) << i;
  im_free(z);
  // Trimmed: unmapped.
  huge_cache_trim(UINT64_MAX);
  EXPECT_EQ(huge_figures().cached, 0u);
  void* fresh = huge_malloc(6 << 20, 16);
  EXPECT_FALSE(huge_needs_zeroing(fresh));
  huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(fresh)), fresh);
  huge_cache_trim(UINT64_MAX);
}

TEST(Huge, ACachedMappingGrowsForALargerRequest) {
  // No cached mapping is large enough: the largest one grows (mremap, no copy), so its resident
  // pages serve the block's head and only the growth is fresh; the other stays cached.
  huge_cache_trim(UINT64_MAX);
  void* a = huge_malloc(3 << 20, 16);  // 4 MiB mappings
  void* b = huge_malloc(3 << 20, 16);
  ASSERT_TRUE(a && b);
  memset(a, 0x5a, 3 << 20);
  memset(b, 0x5a, 3 << 20);
  huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(a)), a);
  huge_free(reinterpret_cast<HugeHeader*>(segmap_lookup(b)), b);
  ASSERT_EQ(huge_figures().cached, size_t(8) << 20);
  auto* big = static_cast<unsigned char*>(huge_malloc(6 << 20, 16));  // an 8 MiB mapping
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(huge_figures().cached, size_t(4) << 20) << "one cached mapping grew into the block";
  EXPECT_EQ(big[12345], 0x5a) << "the grown mapping's old pages were not reused";
  EXPECT_EQ(big[(6 << 20) - 1], 0) << "the growth is fresh memory";
  EXPECT_TRUE(huge_needs_zeroing(big));
  auto* h = reinterpret_cast<HugeHeader*>(segmap_lookup(big));
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(uintptr_t(h) % kGranule, 0u);
  EXPECT_GE(h->map_size, size_t(8) << 20);
  memset(big, 1, 6 << 20);  // every page of it is mapped and writable
  huge_free(h, big);
  // calloc of the grown mapping, reused once more, reads zero.
  auto* z = static_cast<unsigned char*>(im_calloc(1, 6 << 20));
  ASSERT_NE(z, nullptr);
  for (size_t i = 0; i < (6u << 20); i += 4093) ASSERT_EQ(z[i], 0) << i;
  im_free(z);
  huge_cache_trim(UINT64_MAX);
  EXPECT_EQ(huge_figures().cached, 0u);
}
