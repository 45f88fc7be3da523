// Mixed pages: a sparse page of a cold class takes blocks of another class in the gaps between
// its live blocks, instead of fresh memory; every free in it is told apart (resident or guest),
// from the owner and from other threads.
#include "core/mixed.h"

#include <gtest/gtest.h>
#include <string.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/alloc.h"
#include "core/page_pool.h"
#include "core/sparse.h"
#include "mallocim.h"
#include "policy/options.h"
#include "sparse_fill.h"

using namespace mallocim;

namespace {

constexpr size_t kOld = 64, kNew = 256;

// Pages of 64-byte blocks, all but one block in 32 freed, the class made cold; no free page left
// resident anywhere, so the next page of another class would be fresh memory.
void make_cold_and_purge() {
  t_heap->slow_calls += 1000;  // as if a thousand slow paths of other classes had gone by
  while (t_heap->cache_count) pool_return_page(t_heap->cache[--t_heap->cache_count], 0);
  pool_purge(UINT64_MAX);
}

// Whether every kept block still holds the one byte value it was filled with.
bool intact(const std::vector<unsigned char*>& kept, size_t size) {
  for (unsigned char* p : kept)
    for (size_t j = 1; j < size; ++j)
      if (p[j] != p[0]) return false;
  return true;
}

struct Mixed : SparseFill {
  Mixed() : SparseFill((option_set(Opt::background_thread, 0), kOld), 4 * kPageSize / kOld, 32, 5) {
    make_cold_and_purge();  // (the background thread is off: nothing purges behind the test)
  }
  bool intact() const { return ::intact(kept, kOld); }
};

// At least n blocks of the new class, written, and on until one lands in one of m's pages (the
// pages of the class left by earlier tests in the same process fill first).
std::vector<void*> take_guests(const SparseFill& m, size_t n, size_t size = kNew) {
  std::vector<void*> v;
  bool landed = false;
  for (size_t i = 0; (i < n || !landed) && i < 4 * kPageSize; ++i) {
    void* p = im_malloc(size);
    memset(p, 0x5a, size);
    v.push_back(p);
    landed = landed || m.pages.count(page_of_block(p));
  }
  return v;
}

// One of m's pages that took some of the guests, or null.
Page* mixed_page(const SparseFill& m, const std::vector<void*>& guests) {
  for (void* g : guests)
    if (m.pages.count(page_of_block(g))) return page_of_block(g);
  return nullptr;
}

bool overlaps(const void* a, size_t an, const void* b, size_t bn) {
  auto x = uintptr_t(a), y = uintptr_t(b);
  return x < y + bn && y < x + an;
}

}  // namespace

TEST(Mixed, ASparsePageOfAColdClassTakesAnotherClass) {
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  size_t in_old = 0;
  for (void* g : guests) {
    Page* pg = page_of_block(g);
    if (!m.pages.count(pg)) continue;
    ++in_old;
    ASSERT_TRUE(pg->mixed);
    EXPECT_EQ(im_usable_size(g), kNew);
    EXPECT_EQ(uintptr_t(g) % 256, 0u) << "a class's blocks keep its alignment";
    for (unsigned char* k : m.kept)
      if (page_of_block(k) == pg) EXPECT_FALSE(overlaps(g, kNew, k, kOld)) << "a guest over a live block";
  }
  EXPECT_GT(in_old, 0u) << "no block of the new class went into an old page";
  EXPECT_TRUE(m.intact()) << "the old class's live blocks were written";
  for (unsigned char* k : m.kept) {
    EXPECT_EQ(im_usable_size(k), kOld);
    EXPECT_TRUE(im_owns(k));
  }
  for (void* g : guests) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
}

TEST(Mixed, ResidentsFreedByTheOwnerLeaveTheListsAlone) {
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  Page* pg = mixed_page(m, guests);
  ASSERT_NE(pg, nullptr);
  uint32_t residents = mixed_residents(pg);
  ASSERT_GT(residents, 0u);
  for (unsigned char* k : m.kept)
    if (page_of_block(k) == pg) im_free(k);
  EXPECT_EQ(mixed_residents(pg), 0u);
  // Every block handed out afterwards is a guest slot: none lands on a freed resident's address
  // unless it is one (the lists never got a resident).
  std::vector<void*> more = take_guests(m, 2 * kPageSize / kNew);
  for (void* p : more)
    if (page_of_block(p) == pg) EXPECT_EQ(mixed_classify(pg, p), MixedBlock::guest);
  for (void* p : more) im_free(p);
  for (void* g : guests) im_free(g);
  for (unsigned char* k : m.kept)
    if (page_of_block(k) != pg) im_free(k);
}

// Once its residents are gone, a mixed page's guests are freed like any page's blocks: the
// owner's frees take no page event, and a guest's usable size is its class's.
TEST(Mixed, WithoutResidentsGuestFreesTakeNoEvent) {
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  Page* pg = mixed_page(m, guests);
  ASSERT_NE(pg, nullptr);
  EXPECT_TRUE(pg->mixed & kMixedResidents);
  EXPECT_TRUE(page_free_event(pg)) << "residents live: the owner's frees must be told apart";
  for (unsigned char* k : m.kept)
    if (page_of_block(k) == pg) im_free(k);
  std::vector<void*> mine;  // live guests of pg, two at least
  for (void* g : guests)
    if (page_of_block(g) == pg) mine.push_back(g);
  for (size_t i = 0; mine.size() < 2 && i < kPageSize / kNew; ++i) {
    guests.push_back(im_malloc(kNew));
    if (page_of_block(guests.back()) == pg) mine.push_back(guests.back());
  }
  ASSERT_GE(mine.size(), 2u);
  im_free(mine.back());  // an event: it sees no resident left
  mine.pop_back();
  EXPECT_EQ(pg->mixed, kMixedPage);
  if (pg->state != PageState::full) EXPECT_FALSE(page_free_event(pg));
  EXPECT_EQ(im_usable_size(mine[0]), kNew);
  EXPECT_TRUE(pg->mixed) << "its guests still lie where the layout put them";
  for (void* g : guests)
    if (page_of_block(g) != pg || std::find(mine.begin(), mine.end(), g) != mine.end()) im_free(g);
  for (unsigned char* k : m.kept)
    if (page_of_block(k) != pg) im_free(k);
  heap_release_cached(t_heap);
  EXPECT_EQ(pg->state, PageState::free) << "emptied without events, the page still went back";
  EXPECT_FALSE(pg->mixed);
}

TEST(Mixed, ADoubleFreeOfAResidentIsReported) {
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  unsigned char* victim = nullptr;
  for (void* g : guests)
    for (unsigned char* k : m.kept)
      if (page_of_block(k) == page_of_block(g)) victim = k;
  ASSERT_NE(victim, nullptr);
  im_free(victim);
  std::string err = free_reported(victim);
  EXPECT_NE(err.find("double free"), std::string::npos) << err;
  EXPECT_DEATH(im_free(victim), "double free");
  for (unsigned char* k : m.kept)
    if (k != victim) im_free(k);
  for (void* g : guests) im_free(g);
}

TEST(Mixed, ResidentsFreedByAnotherThread) {
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  std::set<Page*> mixed;
  for (void* g : guests)
    if (m.pages.count(page_of_block(g))) mixed.insert(page_of_block(g));
  ASSERT_FALSE(mixed.empty());
  std::thread t([&] {
    for (unsigned char* k : m.kept) im_free(k);
    for (size_t i = 0; i < guests.size(); i += 2) im_free(guests[i]);
  });
  t.join();
  for (Page* pg : mixed) EXPECT_EQ(mixed_residents(pg), 0u);
  for (size_t i = 1; i < guests.size(); i += 2) im_free(guests[i]);
  // The remote guests come back through the page's lists: the pages are empty and leave.
  heap_release_cached(t_heap);
  for (Page* pg : mixed) {
    EXPECT_EQ(pg->state, PageState::free);
    EXPECT_FALSE(pg->mixed);
  }
}

TEST(Mixed, AnEmptiedMixedPageGoesBackToThePool) {
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  Page* pg = mixed_page(m, guests);
  ASSERT_NE(pg, nullptr);
  for (void* g : guests) im_free(g);
  EXPECT_TRUE(pg->mixed) << "its residents still hold it";
  for (unsigned char* k : m.kept) im_free(k);
  heap_release_cached(t_heap);
  EXPECT_EQ(pg->state, PageState::free);
  EXPECT_FALSE(pg->mixed);
  EXPECT_EQ(pg->mix, nullptr);
}

// A page whose free OS pages went back (holes) is mixed too: its guests in memory still
// resident are handed out before those in holes, which fault memory in again.
TEST(Mixed, APageWithHolesTakesGuestsInItsResidentGapsFirst) {
  if (getpagesize() != 4096) GTEST_SKIP() << "holes are 4 KiB OS pages";
  option_set(Opt::background_thread, 0);
  // Every other OS page's blocks live: the others become holes. Then most of the survivors go
  // too (enough freed since the look for holes), one block in 96 left.
  constexpr size_t kPerOsPage = 4096 / kOld;
  SparseFill s(kOld, 4 * kPageSize / kOld, 1, 0);
  std::vector<unsigned char*> kept;
  for (size_t i = 0; i < s.kept.size(); ++i)
    if ((i / kPerOsPage) % 2) im_free(s.kept[i]); else kept.push_back(s.kept[i]);
  heap_sparse_pass(t_heap, 0, SparsePass::force);
  std::map<Page*, uint32_t> had;
  for (Page* pg : s.pages)
    if (pg->holes) had[pg] = pg->holes;
  ASSERT_FALSE(had.empty());
  s.kept.clear();
  for (size_t i = 0; i < kept.size(); ++i)
    if (i % 48 == 5) s.kept.push_back(kept[i]); else im_free(kept[i]);
  make_cold_and_purge();
  std::vector<void*> guests = take_guests(s, 4 * kPageSize / kNew);
  size_t mixed = 0;
  for (auto [pg, holes] : had) {
    if (!pg->mixed) continue;
    ++mixed;
    EXPECT_EQ(pg->holes, 0) << "the holes are the guests' now";
    bool in_hole_seen = false;
    for (void* g : guests) {
      if (page_of_block(g) != pg) continue;
      bool in_hole = range_in_holes(size_t(static_cast<uint8_t*>(g) - page_start(pg)), kNew, holes);
      EXPECT_FALSE(in_hole_seen && !in_hole) << "a guest in a hole before one in resident memory";
      in_hole_seen = in_hole_seen || in_hole;
    }
  }
  EXPECT_GT(mixed, 0u) << "no page with holes took guests";
  for (unsigned char* k : s.kept) {
    for (size_t j = 0; j < kOld; ++j) ASSERT_EQ(k[j], k[0]) << "a live block was written";
    EXPECT_EQ(im_usable_size(k), kOld);
  }
  for (void* g : guests) im_free(g);
  for (unsigned char* k : s.kept) im_free(k);
}

// The look for a page to mix goes round a cold class's whole queue: a sparse page behind more
// than a look's worth of pages too full to mix is found.
TEST(Mixed, TheLookGoesRoundTheWholeQueue) {
  option_set(Opt::background_thread, 0);
  constexpr size_t kPages = 48, kSparse = 4;
  std::vector<unsigned char*> all;
  std::vector<Page*> order;  // pages in the order they filled
  std::map<Page*, std::vector<unsigned char*>> by_page;
  while (order.size() < kPages + 1) {
    auto* p = static_cast<unsigned char*>(im_malloc(kOld));
    memset(p, 0x33, kOld);
    Page* pg = page_of_block(p);
    if (by_page[pg].empty()) order.push_back(pg);
    by_page[pg].push_back(p);
  }
  order.pop_back();  // not full: left as it is
  // Half of each of the first pages freed (each goes to the back of the queue in this order),
  // then all but one block in 32 of the last few.
  SparseFill sparse(kOld, 0, 1, 0);  // empty; collects the sparse pages' survivors
  for (size_t i = 0; i < kPages; ++i) {
    std::vector<unsigned char*>& blocks = by_page[order[i]];
    bool dense = i < kPages - kSparse;
    for (size_t j = 0; j < blocks.size(); ++j) {
      bool keep = dense ? j % 2 == 0 : j % 32 == 0;
      if (!keep) {
        im_free(blocks[j]);
      } else if (!dense) {
        sparse.kept.push_back(blocks[j]);
        sparse.pages.insert(order[i]);
      } else {
        all.push_back(blocks[j]);
      }
    }
  }
  for (auto& [pg, blocks] : by_page)  // the last page, and any left from earlier tests
    if (std::find(order.begin(), order.end(), pg) == order.end())
      for (unsigned char* p : blocks) all.push_back(p);
  make_cold_and_purge();
  std::vector<void*> guests = take_guests(sparse, 64);
  EXPECT_NE(mixed_page(sparse, guests), nullptr) << "the sparse pages behind the full ones were never looked at";
  for (void* g : guests) im_free(g);
  for (unsigned char* k : sparse.kept) im_free(k);
  for (unsigned char* p : all) im_free(p);
}

// Guests of 1 KiB in gaps of 1984 B (one 64-byte survivor in 32) take one block each, at 1 KiB
// alignment, and leave 960 B before it. Once the page is full, those leftovers take another class:
// the live guests become residents, beside the first survivors.
struct Remixed : Mixed {
  static constexpr size_t kFirst = 1024, kSecond = 256;
  std::vector<void*> first, second;
  Page* pg = nullptr;
  Remixed() {
    first = take_guests(*this, 8 * kPageSize / kFirst, kFirst);  // the fixture's four pages fill
    for (void* g : first) memset(g, 0x11, kFirst);
    second = take_guests(*this, 64, kSecond);
    for (void* g : second) {
      memset(g, 0x22, kSecond);
      if (pages.count(page_of_block(g))) pg = page_of_block(g);
    }
  }
  // Every block of every life still holds what it was given.
  bool intact() const {
    auto all = [](const std::vector<void*>& v, size_t n, unsigned char x) {
      for (void* g : v)
        for (size_t j = 0; j < n; ++j)
          if (static_cast<unsigned char*>(g)[j] != x) return false;
      return true;
    };
    return Mixed::intact() && all(first, kFirst, 0x11) && all(second, kSecond, 0x22);
  }
};

TEST(Mixed, AFullMixedPageTakesAnotherClassInTheGapsItLeft) {
  Remixed m;
  ASSERT_NE(m.pg, nullptr) << "no block of the second class went into a page the first had filled";
  EXPECT_EQ(m.pg->block_size, Remixed::kSecond);
  size_t guests_of_first = 0;
  for (void* g : m.first)
    if (page_of_block(g) == m.pg) {
      ++guests_of_first;
      EXPECT_EQ(mixed_classify(m.pg, g), MixedBlock::resident);
      EXPECT_EQ(im_usable_size(g), Remixed::kFirst);
    }
  EXPECT_GT(guests_of_first, 0u);
  for (unsigned char* k : m.kept)
    if (page_of_block(k) == m.pg) EXPECT_EQ(im_usable_size(k), kOld);
  for (void* g : m.second)
    if (page_of_block(g) == m.pg) EXPECT_EQ(uintptr_t(g) % Remixed::kSecond, 0u) << "a power of two keeps its alignment";
  EXPECT_TRUE(m.intact()) << "a guest was laid over a live block of an earlier life";
  EXPECT_EQ(mixed_residents(m.pg), guests_of_first + size_t(std::count_if(m.kept.begin(), m.kept.end(), [&](unsigned char* k) {
                                     return page_of_block(k) == m.pg;
                                   })));
  for (void* g : m.second) im_free(g);
  for (void* g : m.first) im_free(g);
  EXPECT_TRUE(m.pg->mixed) << "the first survivors still hold it";
  for (unsigned char* k : m.kept) im_free(k);
  heap_release_cached(t_heap);
  EXPECT_EQ(m.pg->state, PageState::free) << "every life gone, the page leaves";
}

// Guests of 768 B in gaps of 1984 B take two blocks each and leave 448 B, which take one 320-byte
// block: 32 or so per page, above the bar of an eighth of a fresh page (25). Counted as 512-byte
// blocks, as the look used to count them, the leftovers took none.
TEST(Mixed, LeftoversAreCountedForSizesBetweenPowersOfTwo) {
  struct Between : Mixed {
    std::vector<void*> first, second;
    Page* pg = nullptr;
    Between() {
      first = take_guests(*this, 8 * kPageSize / 768, 768);
      second = take_guests(*this, 64, 320);
      for (void* g : second)
        if (pages.count(page_of_block(g))) pg = page_of_block(g);
    }
  } m;
  ASSERT_NE(m.pg, nullptr) << "the leftovers of the 768-byte layout never took 320-byte blocks";
  EXPECT_EQ(m.pg->block_size, 320u);
  for (void* g : m.second)
    for (unsigned char* k : m.kept)
      EXPECT_FALSE(overlaps(g, 320, k, kOld)) << "a guest over a live block";
  EXPECT_TRUE(m.intact());
  for (void* g : m.second) im_free(g);
  for (void* g : m.first) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
}

// The first class's blocks, residents now, freed by another thread: by their bits, once each.
TEST(Mixed, EarlierGuestsFreedByAnotherThreadAfterTheClassChanged) {
  Remixed m;
  ASSERT_NE(m.pg, nullptr);
  std::vector<void*> there;
  for (void* g : m.first)
    if (page_of_block(g) == m.pg) there.push_back(g);
  uint32_t before = mixed_residents(m.pg);
  std::thread t([&] {
    for (void* g : there) im_free(g);
  });
  t.join();
  EXPECT_EQ(mixed_residents(m.pg), before - there.size());
  std::string err = free_reported(there[0]);
  EXPECT_NE(err.find("double free"), std::string::npos) << err;
  for (void* g : m.second)
    for (size_t j = 0; j < Remixed::kSecond; ++j) ASSERT_EQ(static_cast<unsigned char*>(g)[j], 0x22);
  for (void* g : m.second) im_free(g);
  for (void* g : m.first)
    if (page_of_block(g) != m.pg) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
}

// Above 64 B an alignment is served by a power-of-two class: guests of other classes start only
// on 64-byte boundaries in mixed pages. Many aligned blocks, while sparse pages wait to be mixed.
TEST(Mixed, AlignedBlocksStayAlignedWithMixedPagesAround) {
  Mixed m;
  std::vector<void*> v;
  size_t landed = 0;
  for (size_t align : {size_t(128), size_t(256), size_t(512)})
    for (size_t size : {size_t(300), size_t(700), size_t(1500)})
      for (int i = 0; i < 100; ++i) {
        void* p = im_aligned_alloc(align, size);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(uintptr_t(p) % align, 0u) << "aligned_alloc(" << align << ", " << size << ")";
        EXPECT_GE(im_usable_size(p), size);
        landed += m.pages.count(page_of_block(p));
        v.push_back(p);
      }
  EXPECT_GT(landed, 0u) << "no aligned block went into a mixed page: the test did not test anything";
  for (void* p : v) im_free(p);
  for (unsigned char* k : m.kept) im_free(k);
}

TEST(Mixed, TurnedOff) {
  option_set(Opt::mixed_pages, 0);
  Mixed m;
  std::vector<void*> guests = take_guests(m, 64);
  for (void* g : guests) EXPECT_FALSE(m.pages.count(page_of_block(g)));
  for (void* g : guests) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
  option_set(Opt::mixed_pages, 1);
}

// Another thread that checks blocks handed to it (each of `size` bytes of one value) and frees
// them, as they come.
class RemoteFreer {
 public:
  explicit RemoteFreer(size_t size) : size_(size), thread_([this] { run(); }) {}
  void hand(std::vector<unsigned char*>::const_iterator from, std::vector<unsigned char*>::const_iterator to) {
    std::lock_guard<std::mutex> g(mu_);
    handed_.insert(handed_.end(), from, to);
  }
  // Waits for the thread; blocks whose bytes had changed.
  size_t finish() {
    done_.store(true);
    thread_.join();
    return bad_.load();
  }

 private:
  void run() {
    for (;;) {
      std::vector<unsigned char*> take;
      {
        std::lock_guard<std::mutex> g(mu_);
        take.swap(handed_);
      }
      if (take.empty()) {
        if (done_.load()) break;
        std::this_thread::yield();
        continue;
      }
      for (unsigned char* p : take) {
        for (size_t j = 1; j < size_; ++j)
          if (p[j] != p[0]) bad_.fetch_add(1);
        im_free(p);
      }
    }
  }
  size_t size_;
  std::mutex mu_;
  std::vector<unsigned char*> handed_;
  std::atomic<bool> done_{false};
  std::atomic<size_t> bad_{0};
  std::thread thread_;
};

// One thread keeps making sparse pages and allocating another class (which mixes them), while
// another thread checks and frees the survivors as they come: residents freed remotely before,
// during and after their page is mixed. A guest laid over a live survivor would change its bytes.
TEST(Mixed, RemoteFreesRaceWithMixing) {
  option_set(Opt::background_thread, 0);
  RemoteFreer other(kOld);
  size_t made = mixed_made();
  for (int round = 0; round < 40; ++round) {
    SparseFill fill(kOld, 2 * kPageSize / kOld, 32, size_t(round) % 32);
    const std::vector<unsigned char*>& kept = fill.kept;
    make_cold_and_purge();
    other.hand(kept.begin(), kept.begin() + ptrdiff_t(kept.size() / 2));
    std::vector<void*> guests = take_guests(fill, kPageSize / kNew);  // until one lands in this round's pages
    other.hand(kept.begin() + ptrdiff_t(kept.size() / 2), kept.end());
    for (void* p : guests) im_free(p);
  }
  EXPECT_EQ(other.finish(), 0u) << "a survivor's bytes changed";
  EXPECT_GT(mixed_made(), made) << "no page was mixed: the test did not test anything";
}

// The same while pages change class a second time: blocks of the first guest class are freed by
// another thread before, during and after they become residents.
TEST(Mixed, RemoteFreesRaceWithTheClassChange) {
  option_set(Opt::background_thread, 0);
  RemoteFreer other(Remixed::kFirst);
  size_t made = mixed_made();
  for (int round = 0; round < 20; ++round) {
    Mixed m;
    std::vector<void*> guests = take_guests(m, 8 * kPageSize / Remixed::kFirst, Remixed::kFirst);
    std::vector<unsigned char*> first;
    for (void* p : guests) first.push_back(static_cast<unsigned char*>(p));
    other.hand(first.begin(), first.begin() + ptrdiff_t(first.size() / 3));
    std::vector<void*> second = take_guests(m, 64, Remixed::kSecond);
    other.hand(first.begin() + ptrdiff_t(first.size() / 3), first.end());
    for (void* p : second) im_free(p);
    for (unsigned char* k : m.kept) im_free(k);
  }
  EXPECT_EQ(other.finish(), 0u) << "a block of the first guest class changed";
  EXPECT_GT(mixed_made(), made);
}

// A class still in use (hot) keeps its first 16 pages for itself; sparse pages behind them take
// another class. Sizes no other test uses, so that no earlier test's pages are in the queues.
namespace {
// Blocks of `size` until `pages` pages' worth, the class kept hot meanwhile; whether one landed in
// m's pages.
bool guests_land(const SparseFill& m, unsigned hot_class, size_t size, size_t pages, std::vector<void*>& v) {
  bool landed = false;
  for (size_t i = 0; i < pages * kPageSize / size && !landed; ++i) {
    t_heap->class_slow_at[hot_class] = t_heap->slow_calls;  // the old class is in use
    void* p = im_malloc(size);
    memset(p, 0x5a, size);
    v.push_back(p);
    landed = m.pages.count(page_of_block(p)) != 0;
  }
  return landed;
}
}  // namespace

TEST(Mixed, AHotClassKeepsItsFirstPages) {
  constexpr size_t kHotOld = 192, kGuest = 464;
  option_set(Opt::background_thread, 0);
  SparseFill m(kHotOld, 8 * kPageSize / kHotOld, 32, 5);  // 8 pages, 1 block in 32 live
  make_cold_and_purge();
  std::vector<void*> guests;
  EXPECT_FALSE(guests_land(m, size_to_class(kHotOld), kGuest, 32, guests))
      << "a page among a hot class's first 16 took another class";
  for (void* g : guests) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
}

TEST(Mixed, AHotClassLendsTheSparsePagesBehindItsFirst16) {
  constexpr size_t kHotOld = 112, kGuest = 496;
  option_set(Opt::background_thread, 0);
  SparseFill m(kHotOld, 48 * kPageSize / kHotOld, 32, 5);  // 48 pages
  make_cold_and_purge();
  std::vector<void*> guests;
  // (Sparse pages the remote-free tests left, in a run of them all, may take guests first.)
  EXPECT_TRUE(guests_land(m, size_to_class(kHotOld), kGuest, 512, guests))
      << "no page behind a hot class's first 16 took another class";
  EXPECT_TRUE(intact(m.kept, kHotOld)) << "a live block of the hot class was written";
  for (void* g : guests) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
}

// A cold class's empty page (the class's only page, kept against thrashing) is taken as a plain
// page of the new class and carved as it is used: mixed, all its blocks would be listed, and so
// written, at once.
TEST(Mixed, AnEmptyPageOfAColdClassIsTakenPlain) {
  option_set(Opt::background_thread, 0);
  void* b = im_malloc(144);
  Page* pg = page_of_block(b);
  im_free(b);
  if (pg->state != PageState::queued || pg->used != 0) GTEST_SKIP() << "class 144 has other pages here";
  make_cold_and_purge();
  std::vector<void*> v;
  bool landed = false;
  for (size_t i = 0; i < (size_t(1) << 16) && !landed; ++i) {  // (other tests' cold pages may come first)
    v.push_back(im_malloc(176));
    landed = page_of_block(v.back()) == pg;
  }
  ASSERT_TRUE(landed) << "the empty page was not reused";
  EXPECT_FALSE(pg->mixed);
  EXPECT_EQ(pg->block_size, 176u);
  EXPECT_LT(pg->capacity, pg->reserved) << "carved all at once";
  for (void* p : v) im_free(p);
}

// A sparse page carved over less than half its length is not mixed: its gaps are mostly memory
// never touched, which listing guests would fault in whole.
TEST(Mixed, APartlyCarvedPageIsNotMixed) {
  option_set(Opt::background_thread, 0);
  void* a = im_malloc(208);
  void* b = im_malloc(208);
  Page* pg = page_of_block(a);
  im_free(b);
  ASSERT_LT(size_t(pg->capacity) * 208 * 2, kPageSize);
  make_cold_and_purge();
  std::vector<void*> v;
  for (size_t i = 0; i < 2 * kPageSize / 240; ++i) v.push_back(im_malloc(240));
  EXPECT_FALSE(pg->mixed);
  EXPECT_EQ(pg->block_size, 208u);
  for (void* p : v) im_free(p);
  im_free(a);
}

// A page a third live qualifies (at most half live; it was a quarter). After a program deletes
// half its records, the pages of their sizes are about half live, and the next sizes used to
// fault in fresh pages beside them (the redis workload of the suite). The 80-byte class keeps one
// block in three: gaps of 160 B, one 96-byte guest each.
TEST(Mixed, APageAThirdLiveTakesAnotherClass) {
  constexpr size_t kThirdOld = 80, kThirdGuest = 96;
  option_set(Opt::background_thread, 0);
  SparseFill m(kThirdOld, 8 * kPageSize / kThirdOld, 3, 1);
  make_cold_and_purge();
  std::vector<void*> guests = take_guests(m, 0, kThirdGuest);
  Page* pg = mixed_page(m, guests);
  ASSERT_NE(pg, nullptr) << "no page a third live took another class";
  EXPECT_TRUE(pg->mixed);
  EXPECT_EQ(pg->block_size, kThirdGuest);
  EXPECT_TRUE(intact(m.kept, kThirdOld)) << "a live block of the old class was written";
  for (void* g : guests) im_free(g);
  for (unsigned char* k : m.kept) im_free(k);
}
