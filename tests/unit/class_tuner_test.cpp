// Adaptive size classes: the tuner's choices, the lookup it writes, and heaps following it.
#include "policy/class_tuner.h"

#include <gtest/gtest.h>
#include <string.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/alloc.h"
#include "core/heap.h"
#include "mallocim.h"

using namespace mallocim;

namespace {

constexpr unsigned kRound = 512;  // notes per round (class_tuner.cpp)

// Every request gets a class at least its size: the smallest in the lookup.
void expect_lookup_sound() {
  for (size_t s = 0; s <= kSmallMax; ++s) {
    unsigned c = size_to_class(s);
    ASSERT_LT(c, kMaxClasses);
    ASSERT_TRUE(class_is_active(c)) << s;
    ASSERT_GE(class_size(c), s) << s;
    for (unsigned d = 0; d < kMaxClasses; ++d)
      if (class_is_active(d) && class_size(d) >= s) ASSERT_GE(class_size(d), class_size(c)) << s;
  }
}

void note(size_t size, unsigned times) {
  for (unsigned i = 0; i < times; ++i) class_tuner_note(size);
}

class ClassTuner : public ::testing::Test {
 protected:
  void SetUp() override { class_tuner_reset(); }
  void TearDown() override { class_tuner_reset(); }
};

}  // namespace

TEST_F(ClassTuner, AHotSizeGetsAClassOfItsOwn) {
  ASSERT_EQ(class_size(size_to_class(1100)), 1152u);
  note(1100, kRound);
  class_tuner_round();
  unsigned c = size_to_class(1100);
  EXPECT_TRUE(class_is_adaptive(c));
  EXPECT_EQ(class_size(c), 1104u);  // 1100 rounded to 16 B
  EXPECT_EQ(size_to_class(1105), size_to_class(1152)) << "sizes above keep their class";
  expect_lookup_sound();
}

TEST_F(ClassTuner, EvenlySpreadSizesAreLeftAlone) {
  // No size is hot, and any boundary inside would save under 3 % of the class's page memory.
  for (unsigned i = 0; i < 4 * kRound; ++i) class_tuner_note(1025 + (i * 37) % 128);
  class_tuner_round();
  EXPECT_FALSE(class_is_adaptive(size_to_class(1100)));
  EXPECT_EQ(class_tuner_figures().active, 0u);
}

TEST_F(ClassTuner, NoClassWhereAPageWouldHoldNoMoreBlocks) {
  // 6700 B is 6.5 % below its class (7168 B), but 6704 B blocks fit 9 to a page as well.
  note(6700, kRound);
  class_tuner_round();
  EXPECT_EQ(class_size(size_to_class(6700)), 7168u);
}

TEST_F(ClassTuner, SmallRequestsAreNotNoted) {
  EXPECT_EQ(class_size(size_to_class(200)), 208u);  // classes 16 B apart: nothing to gain
  EXPECT_EQ(class_size(size_to_class(256)), 256u);
}

TEST_F(ClassTuner, AClassRetiresWhenItsSizeGoesColdAndComesBackWithIt) {
  note(2900, kRound);
  class_tuner_round();
  unsigned c = size_to_class(2900);
  ASSERT_TRUE(class_is_adaptive(c));
  // The program moves on: only other sizes. The counts halve each round until the class is cold.
  for (int r = 0; r < 12 && size_to_class(2900) == c; ++r) {
    note(600, kRound);
    class_tuner_round();
  }
  EXPECT_FALSE(class_is_adaptive(size_to_class(2900))) << "the class did not retire";
  EXPECT_FALSE(class_is_active(c));
  expect_lookup_sound();
  note(2900, kRound);
  class_tuner_round();
  EXPECT_EQ(size_to_class(2900), c) << "the size keeps its slot";
}

TEST_F(ClassTuner, TwoHotSizesInOneClassEachGetOne) {
  // 1040 and 1100 share the class of 1152. A round splits a class once, at the boundary that
  // saves the most (1040); the next one splits what is left above it.
  for (int r = 0; r < 3; ++r) {
    note(1040, kRound / 2);
    note(1100, kRound / 2);
    class_tuner_round();
  }
  EXPECT_EQ(class_size(size_to_class(1040)), 1040u);
  EXPECT_EQ(class_size(size_to_class(1100)), 1104u);
  EXPECT_EQ(class_size(size_to_class(1105)), 1152u);
  expect_lookup_sound();
}

TEST_F(ClassTuner, ASizeThatIsNotHotIsLeftAlone) {
  // A boundary at 1056 would save 4.5 % of the class's page memory, but 1030 and 1050 each hold
  // only a seventh of its notes (the rest spread evenly): no size is hot.
  for (unsigned i = 0; i < 3 * kRound; ++i)
    class_tuner_note(i % 7 == 0 ? 1030 : i % 7 == 1 ? 1050 : 1025 + (i * 37) % 128);
  class_tuner_round();
  EXPECT_EQ(class_size(size_to_class(1050)), 1152u);
  EXPECT_EQ(class_size(size_to_class(1030)), 1152u);
}

TEST_F(ClassTuner, HeapsFollowTheLookupOnTheirNextSlowPath) {
  // 520 B is served through direct_w (<= kDirectMax), from the heap's own copy of the lookup.
  void* before = im_malloc(520);
  note(520, kRound);
  class_tuner_round();
  std::vector<void*> v;
  for (size_t i = 0; i < kPageSize / 520 + 2; ++i) v.push_back(im_malloc(520));  // runs into a slow path
  EXPECT_EQ(im_usable_size(v.back()), 528u);
  for (void* p : v) im_free(p);
  im_free(before);  // a block of the old class, freed after the change
}

// Blocks of a class keep their size after the class retires: frees, realloc and usable size
// read their page, whichever class the lookup names now.
TEST_F(ClassTuner, BlocksOfARetiredClassStayWhole) {
  note(600, kRound);
  class_tuner_round();
  std::vector<unsigned char*> v;
  for (int i = 0; i < 200; ++i) {
    auto* p = static_cast<unsigned char*>(im_malloc(600));
    ASSERT_EQ(im_usable_size(p), 608u);
    memset(p, i, 600);
    v.push_back(p);
  }
  class_tuner_reset();
  ASSERT_EQ(class_size(size_to_class(600)), 640u);
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(im_usable_size(v[i]), 608u);
    EXPECT_EQ(v[i][599], (unsigned char)i);
  }
  void* grown = im_realloc(v[0], 605);  // fits the block it has
  EXPECT_EQ(grown, v[0]);
  std::thread t([&] {
    for (size_t i = 1; i < v.size(); i += 2) im_free(v[i]);
  });
  t.join();
  for (size_t i = 0; i < v.size(); i += 2) im_free(v[i]);
}

// Threads allocate and free sizes the tuner keeps splitting and retiring under them: every block
// fits its request and keeps its bytes.
TEST_F(ClassTuner, TheLookupChangesUnderThreadsThatAllocate) {
  std::atomic<bool> stop{false};
  std::atomic<size_t> bad{0};
  auto worker = [&](unsigned seed) {
    std::vector<std::pair<unsigned char*, size_t>> live;
    unsigned x = seed;
    while (!stop.load(std::memory_order_relaxed)) {
      x = x * 1103515245u + 12345u;
      size_t size = 257 + (x >> 8) % 3000;
      auto* p = static_cast<unsigned char*>(im_malloc(size));
      if (im_usable_size(p) < size) bad.fetch_add(1);
      memset(p, int(size), size);
      live.push_back({p, size});
      if (live.size() > 64) {
        auto [q, n] = live[(x >> 4) % live.size()];
        if (q[0] != (unsigned char)n || q[n - 1] != (unsigned char)n) bad.fetch_add(1);
        im_free(q);
        live[(x >> 4) % live.size()] = live.back();
        live.pop_back();
      }
    }
    for (auto [q, n] : live) im_free(q);
  };
  std::thread a(worker, 1), b(worker, 2);
  // Two sets of hot sizes in turn, each long enough for the other's classes to go cold.
  const size_t sets[2][4] = {{300, 1100, 2400, 2900}, {700, 1700, 1300, 1300}};
  for (int r = 0; r < 60; ++r) {
    for (size_t s : sets[(r / 20) % 2]) note(s, kRound / 4);
    class_tuner_round();
  }
  stop.store(true);
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(class_tuner_figures().changes, 10u) << "the lookup hardly changed: nothing was tested";
  expect_lookup_sound();
}
