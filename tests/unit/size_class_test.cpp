#include "core/size_class.h"

#include <gtest/gtest.h>

using namespace mallocim;

// The fixed classes (adaptive ones: class_tuner_test.cpp).
TEST(SizeClass, EveryRequestFitsItsClassWithBoundedWaste) {
  for (size_t s = 0; s <= kSmallMax; ++s) {
    unsigned c = size_to_fixed_class(s);
    ASSERT_LT(c, kNumClasses);
    size_t bs = kClasses.size[c];
    ASSERT_GE(bs, s) << "size " << s;
    if (c > 0) ASSERT_LT(kClasses.size[c - 1], s == 0 ? 1 : s) << "not the smallest class for " << s;
    // Above 128 B: the block's share of its page against the request.
    if (s > 128) ASSERT_LT(double(block_footprint(bs) - s) / double(block_footprint(bs)), 1.0 / 8.0) << "size " << s;
    else ASSERT_LE(bs - (s ? s : 1), 15u) << "size " << s;
  }
}

// Above 1 KiB a class takes the tail of the page that its blocks could not use: no larger block
// size fits as many blocks in a page, and each class fits fewer blocks than the one below it.
TEST(SizeClass, ClassesAbove1KiBTileThePage) {
  for (unsigned c = size_to_fixed_class(1025); c < kNumClasses; ++c) {
    size_t bs = kClasses.size[c], n = kPageSize / bs;
    EXPECT_LT(kPageSize - n * bs, 16 * n) << bs;
    EXPECT_LT(n, kPageSize / kClasses.size[c - 1]) << bs;
  }
}

TEST(SizeClass, BlocksOf16AndUpAre16Aligned) {
  for (unsigned c = 1; c < kMaxClasses; ++c) EXPECT_EQ(class_size(c) % 16, 0u) << c;
}

TEST(SizeClass, TableAndFormulaAgree) {
  for (size_t s = 0; s <= kSmallMax; ++s) ASSERT_EQ(size_to_fixed_class(s), size_to_class_calc(s)) << s;
}
