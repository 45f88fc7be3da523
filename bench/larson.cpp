// larson: server-style churn where threads free each other's blocks.
//
// Models a server whose worker threads pick up objects (connections, requests, cache entries)
// created by other workers and release them. All workers share one table of --slots blocks.
// Each worker first fills its part of the table and, once all have, performs its share of --ops
// steps: allocate and stamp a new block, swap it into a random slot of the whole table, then
// check and free the block that was there. With N threads about (N-1)/N of the frees are of
// blocks that another thread allocated. The main thread frees what is left at the end.
#include <algorithm>
#include <barrier>
#include <memory>

#include "common.h"

using namespace bench;

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_larson", "Threads replace random blocks of a shared table.");
  const auto threads = unsigned(opt.get("threads", 1, "worker threads", 1));
  const uint64_t ops = opt.get("ops", 10000000, "replacements in total, split over the threads");
  const uint64_t nslots = opt.get("slots", 50000, "blocks in the shared table", 1);
  const uint64_t min_size = opt.get("min", 16, "smallest block size", kMinBlock);
  const uint64_t max_size = opt.get("max", 1024, "largest block size", min_size);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (max_size > kMaxBlock) opt.fail("--max is too large");

  const auto slots = std::make_unique<std::atomic<void*>[]>(nslots);
  LiveMeter live(threads);
  std::barrier filled(threads); // no worker swaps before the whole table is filled

  Stopwatch clock;
  run_threads(threads, [&](unsigned w) {
    Rng rng(thread_seed(seed, w));
    int64_t bytes = 0;
    const uint64_t first = w * (nslots / threads) + std::min<uint64_t>(w, nslots % threads);
    for (uint64_t i = first, end = first + share(nslots, threads, w); i < end; ++i) {
      const size_t size = rng.range(min_size, max_size);
      slots[i].store(make_block(size, rng.next()), std::memory_order_release);
      bytes += int64_t(size);
    }
    live.add(w, bytes);
    filled.arrive_and_wait();
    for (uint64_t n = share(ops, threads, w); n > 0; --n) {
      const size_t size = rng.range(min_size, max_size);
      void* old = slots[rng.below(nslots)].exchange(make_block(size, rng.next()),
                                                    std::memory_order_acq_rel);
      live.add(w, int64_t(size) - int64_t(free_block(old)));
    }
  });
  // Clean-up on worker 0's line: that worker has finished, so the line still has one writer.
  for (uint64_t i = 0; i < nslots; ++i) live.add(0, -int64_t(free_block(slots[i].load())));
  const double seconds = clock.seconds();

  Result("larson")
      .common(uint64_t(threads), ops, seconds, live.stop())
      .print();
  return 0;
}
