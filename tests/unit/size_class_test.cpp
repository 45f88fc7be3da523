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
    if (s > 128) ASSERT_LE(double(bs - s) / double(bs), 1.0 / 9.0) << "size " << s;
    else ASSERT_LE(bs - (s ? s : 1), 15u) << "size " << s;
  }
}

TEST(SizeClass, BlocksOf16AndUpAre16Aligned) {
  for (unsigned c = 1; c < kMaxClasses; ++c) EXPECT_EQ(class_size(c) % 16, 0u) << c;
}

TEST(SizeClass, TableAndFormulaAgree) {
  for (size_t s = 0; s <= kSmallMax; ++s) ASSERT_EQ(size_to_fixed_class(s), size_to_class_calc(s)) << s;
}
