// churn: mixed-size replacement over a working set of live blocks.
//
// Models a long-running program whose heap holds a steady population of objects that are
// replaced in random order (caches, session tables, interpreters). Each worker owns a slot array
// (its share of --slots) and performs its share of --ops replacements: check and free a random
// slot's block, then allocate and stamp a new one. Sizes are skewed: half are 8-15 bytes, a
// quarter 16-31 bytes and so on up to 4 KiB, with about 1 in 128 between 4 KiB and 64 KiB.
#include <algorithm>
#include <bit>

#include "common.h"

using namespace bench;

static size_t churn_size(Rng& rng) {
  const uint64_t x = rng.next();
  if ((x & 127) == 0) return rng.range(4097, 64 * 1024);
  const unsigned bucket = std::countr_zero((x >> 7) | (uint64_t(1) << 9)); // P = 2^-(bucket+1)
  const size_t lo = size_t(8) << bucket;                                   // 8 .. 4096
  return std::min<size_t>(rng.range(lo, 2 * lo - 1), 4096);
}

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_churn", "Mixed-size random replacement over a working set.");
  const auto threads = unsigned(opt.get("threads", 1, "worker threads", 1));
  const uint64_t ops = opt.get("ops", 20000000, "replacements in total, split over the threads");
  const uint64_t slots = opt.get("slots", 100000, "live blocks in total, split over threads", 1);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();

  LiveMeter live(threads);
  Stopwatch clock;
  run_threads(threads, [&](unsigned w) {
    Rng rng(thread_seed(seed, w));
    std::vector<void*> slot(std::max<uint64_t>(1, share(slots, threads, w))); // at least one
    for (auto& p : slot) {
      const size_t size = churn_size(rng);
      p = make_block(size, rng.next());
      live.add(w, int64_t(size));
    }
    for (uint64_t n = share(ops, threads, w); n > 0; --n) {
      void*& p = slot[rng.below(slot.size())];
      const size_t old_size = free_block(p);
      const size_t size = churn_size(rng);
      p = make_block(size, rng.next());
      live.add(w, int64_t(size) - int64_t(old_size));
    }
    for (void* p : slot) live.add(w, -int64_t(free_block(p)));
  });
  const double seconds = clock.seconds();

  Result("churn")
      .common(uint64_t(threads), ops, seconds, live.stop())
      .print();
  return 0;
}
