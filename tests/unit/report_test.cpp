#include "debug/report.h"

#include <gtest/gtest.h>

#include "policy/options.h"

using namespace mallocim;

TEST(Report, FormatsWithoutAllocating) {
  char buf[128];
  format(buf, sizeof buf, "%s=%d %u %zu %x %p %%", "a", -12, 7u, size_t(1) << 40, 255u,
         reinterpret_cast<void*>(0x1234));
  EXPECT_STREQ(buf, "a=-12 7 1099511627776 ff 0x1234 %");
}

TEST(Report, RightAlignsStringsToAWidth) {
  char buf[32];
  format(buf, sizeof buf, "[%6s][%2s]", "ab", "long");
  EXPECT_STREQ(buf, "[    ab][long]");
}

TEST(Report, TruncatesAtCapacity) {
  char buf[8];
  size_t n = format(buf, sizeof buf, "%s", "0123456789");
  EXPECT_STREQ(buf, "0123456");
  EXPECT_EQ(n, 7u);
}

TEST(Options, EnvironmentOverridesDefaults) {
  setenv("MALLOCIM_PURGE_DELAY_MS", "250", 1);
  setenv("MALLOCIM_PAGE_CACHE", "not-a-number", 1);
  int64_t saved_cache = option(Opt::page_cache);
  options_init();
  EXPECT_EQ(option(Opt::purge_delay_ms), 250);
  EXPECT_EQ(option(Opt::page_cache), saved_cache) << "an unparsable value is ignored";
  unsetenv("MALLOCIM_PURGE_DELAY_MS");
  unsetenv("MALLOCIM_PAGE_CACHE");
  option_set(Opt::purge_delay_ms, 1000);
}
