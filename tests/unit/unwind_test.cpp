// The fast unwinder against glibc's backtrace (the general unwinder) on the same stacks: frames
// with the stack pointer as frame address, with the frame pointer (alloca), deep recursion, a
// thread's stack, and a signal frame (which it must hand back to the general unwinder).
#include "debug/unwind.h"

#include <alloca.h>
#include <execinfo.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <thread>

using namespace mallocim;

namespace {

struct Both {
  void* fast[64];
  void* full[64];
  int fast_n, full_n;
};

// Captures both at one point: fast[0] lies in unwind_fast, fast[1] and full[0] are this
// function's two call sites, and from its caller on both must agree frame by frame.
__attribute__((noinline)) void capture(Both* b) {
  b->fast_n = unwind_fast(b->fast, 64);
  b->full_n = backtrace(b->full, 64);
  asm volatile("" ::: "memory");  // no tail call
}

void expect_same(const Both& b) {
  ASSERT_GE(b.fast_n, 3) << "the fast unwinder gave up";
  // Under a sanitizer, backtrace() runs through an interceptor: one more frame at its start.
  int j = 0;
  while (j < 3 && j < b.full_n && b.full[j] != b.fast[2]) ++j;
  ASSERT_LT(j, 3) << "no frame in common near the top";
  int common = std::min(b.fast_n - 2, b.full_n - j);
  for (int i = 0; i < common; ++i) EXPECT_EQ(b.fast[2 + i], b.full[j + i]) << "frame " << 2 + i;
  if (b.fast_n < 64 && b.full_n < 64) EXPECT_EQ(b.fast_n - 2, b.full_n - j) << "different depths";
}

__attribute__((noinline)) void nested(Both* b, int depth, bool use_alloca) {
  if (depth == 0) {
    capture(b);
    return;
  }
  if (use_alloca && depth % 2) {  // a frame of run-time size: its frame address is rbp-based
    volatile char* buf = static_cast<char*>(alloca(size_t(depth) * 40 + 8));
    buf[0] = char(depth);
    nested(b, depth - 1, use_alloca);
    buf[1] = buf[0];
  } else {
    volatile char big[3000];  // a large fixed frame
    big[depth] = 1;
    nested(b, depth - 1, use_alloca);
    big[0] = big[depth];
  }
}

Both g_signal_both;
void on_signal(int) { capture(&g_signal_both); }

}  // namespace

class Unwind : public ::testing::Test {
 protected:
  void SetUp() override {
#if !defined(__x86_64__)
    GTEST_SKIP() << "the fast unwinder is x86-64 only";
#endif
    ASSERT_TRUE(unwind_init());
  }
};

TEST_F(Unwind, MatchesTheGeneralUnwinderOnFixedFrames) {
  Both b;
  nested(&b, 5, false);
  expect_same(b);
  EXPECT_GE(b.fast_n, 8);
}

TEST_F(Unwind, MatchesWithFramePointerFramesAndDeepRecursion) {
  Both b;
  nested(&b, 30, true);
  expect_same(b);
  EXPECT_GE(b.fast_n, 32);
  nested(&b, 80, true);
  expect_same(b);
  EXPECT_EQ(b.fast_n, 64);  // capped
}

TEST_F(Unwind, AgainFromTheCache) {
  Both b[2];
  for (Both& one : b) nested(&one, 7, true);  // the second finds every rule cached
  expect_same(b[1]);
  ASSERT_EQ(b[0].fast_n, b[1].fast_n);
  // Up to the test's own frame (the loop may be unrolled into two call sites): unwind_fast,
  // capture, and the eight nested frames.
  EXPECT_EQ(memcmp(b[0].fast, b[1].fast, sizeof(void*) * 9), 0);
}

TEST_F(Unwind, EndsWhereAThreadsStackEnds) {
  Both b;
  std::thread([&] { nested(&b, 3, true); }).join();
  expect_same(b);
  EXPECT_LT(b.fast_n, 64);
}

TEST_F(Unwind, GivesUpOnASignalFrameOrAgrees) {
  void* warm[2];
  backtrace(warm, 2);  // its first call loads libgcc (and allocates): not in the handler
  struct sigaction sa = {}, old;
  sa.sa_handler = on_signal;
  sigaction(SIGUSR2, &sa, &old);
  raise(SIGUSR2);
  sigaction(SIGUSR2, &old, nullptr);
  if (g_signal_both.fast_n == -1) return;  // handed to the general unwinder, as designed
  expect_same(g_signal_both);
}
