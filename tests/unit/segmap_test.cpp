#include "core/segmap.h"

#include <gtest/gtest.h>

#include "core/alloc.h"
#include "core/init.h"
#include "mallocim.h"

using namespace mallocim;

TEST(Segmap, ForeignAndNullPointersAreNotOurs) {
  ASSERT_TRUE(ensure_init());
  int on_stack = 0;
  static int in_data = 0;
  EXPECT_EQ(segmap_lookup(nullptr), nullptr);
  EXPECT_EQ(segmap_lookup(&on_stack), nullptr);
  EXPECT_EQ(segmap_lookup(&in_data), nullptr);
  EXPECT_EQ(segmap_lookup(reinterpret_cast<void*>(~uintptr_t(0))), nullptr);  // beyond 48 bits
}

TEST(Segmap, EveryBlockKindMapsToItsRegion) {
  void* small = im_malloc(100);
  void* large = im_malloc(100000);
  void* huge = im_malloc(10 << 20);
  ASSERT_TRUE(small && large && huge);
  EXPECT_EQ(segmap_lookup(small)->kind, RegionKind::small);
  EXPECT_EQ(segmap_lookup(large)->kind, RegionKind::large);
  EXPECT_EQ(segmap_lookup(huge)->kind, RegionKind::huge);
  // Every granule of a huge block points at the same header.
  EXPECT_EQ(segmap_lookup(static_cast<char*>(huge) + (9 << 20)), segmap_lookup(huge));
  im_free(huge);
  EXPECT_EQ(segmap_lookup(huge), nullptr) << "a freed huge block leaves no entry behind";
  im_free(small);
  im_free(large);
}

TEST(Segmap, SetAndClearCoverWholeGranules) {
  ASSERT_TRUE(ensure_init());
  // A granule-aligned address far from anything mapped.
  void* base = reinterpret_cast<void*>(uintptr_t(0x7e0000000000));
  RegionHeader h{RegionKind::large};
  segmap_set(base, 3 * kGranule, &h);
  EXPECT_EQ(segmap_lookup(static_cast<char*>(base) + 3 * kGranule - 1), &h);
  EXPECT_EQ(segmap_lookup(static_cast<char*>(base) + 3 * kGranule), nullptr);
  segmap_clear(base, 3 * kGranule);
  EXPECT_EQ(segmap_lookup(base), nullptr);
}
