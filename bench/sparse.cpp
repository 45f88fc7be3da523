// sparse: a mass free leaving sparse survivors, then a refill with new sizes.
//
// Models a program that loads a big table of small objects, drops almost all of it (a cache
// flush, the end of a session, a garbage collection of a runtime built on malloc) and then
// grows again with objects of other sizes: about --live-mb MiB of blocks of a few small sizes
// (24, 48, 64, 128 B) are allocated, then all but a random one in --keep (20) are freed, so a
// survivor sits in almost every page. RSS is read then (rss_after_free_kb). The refill allocates
// blocks of other sizes (40, 80, 160, 320 or 640 B, equally likely) until the live bytes are back
// at the first level; an allocator that cannot put them in the holes the survivors leave needs
// new memory for all of them (rss_refill_kb). Single-threaded.
#include <algorithm>

#include "common.h"

using namespace bench;

namespace {
constexpr size_t kFirst[] = {24, 48, 64, 128};
constexpr size_t kSecond[] = {40, 80, 160, 320, 640};
} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_sparse", "A mass free leaving sparse survivors, then a refill.");
  const uint64_t live_mb = opt.get("live-mb", 128, "live MiB before the free and after the refill",
                                   1);
  const uint64_t keep = opt.get("keep", 20, "one block in this many survives the free", 1);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();

  const uint64_t target = live_mb << 20;
  void** table = map_table(target / 24 + 1);
  size_t count = 0;
  uint64_t live = 0, live_peak = 0, ops = 0;
  Rng rng(seed);

  Stopwatch clock;
  live = fill_table(table, count, live, target, [&] { return kFirst[rng.below(std::size(kFirst))]; },
                    rng, trace, ops);
  live_peak = live;
  const uint64_t rss_full = rss_now_kb();
  trace.sample(live);

  size_t kept = 0;
  for (size_t i = 0; i < count; ++i) {
    if (rng.below(keep) == 0) {
      table[kept++] = table[i];
    } else {
      live -= free_block(table[i]);
      ++ops;
      trace.tick(live);
    }
  }
  count = kept;
  const uint64_t live_survivors = live;
  const uint64_t rss_after_free = rss_now_kb();
  trace.sample(live);

  while (live < target) {
    const size_t size = kSecond[rng.below(std::size(kSecond))];
    table[count++] = make_block(size, rng.next());
    live += size;
    ++ops;
    live_peak = std::max(live_peak, live);
    trace.tick(live);
  }
  const uint64_t rss_refill = rss_now_kb();
  trace.sample(live);
  live = free_table(table, count, trace, live);
  const double seconds = clock.seconds();

  Result("sparse")
      .common(1, ops, seconds, live_peak)
      .add("rss_full_kb", rss_full)
      .add("live_survivors_bytes", live_survivors)
      .add("rss_after_free_kb", rss_after_free)
      .add("rss_refill_kb", rss_refill)
      .frag_ratio(live_peak)
      .print();
  return trace.write(live) ? 0 : 1;
}
