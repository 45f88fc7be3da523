// large: large blocks (64 KiB .. 32 MiB) allocated, touched, freed with a small working set.
//
// Models programs that handle big buffers one after another: file and network I/O buffers,
// image and audio frames, decompression windows, temporary matrices. Each worker keeps its share
// of --slots blocks (a few per thread); each step checks and frees a random one and allocates a
// replacement, sized evenly over the powers of two between --min and --max. Every block is
// written once per 4 KiB page (plus its header and last byte) when it is made, so every page is
// faulted in, and read back at the same places before it is freed. What the allocator costs
// here is mostly the OS: mapping, faulting in, and returning (or keeping) the pages.
#include "common.h"

using namespace bench;

namespace {
constexpr size_t kPage = 4096;
}

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_large", "Large blocks (64 KiB..32 MiB), a write per page.");
  const auto threads = unsigned(opt.get("threads", 1, "worker threads", 1));
  const uint64_t ops = opt.get("ops", 6000, "replacements in total, split over the threads");
  const uint64_t slots = opt.get("slots", 8, "live blocks in total, split over threads", 1);
  const uint64_t min_size = opt.get("min", 64 << 10, "smallest block size", kPage);
  const uint64_t max_size = opt.get("max", 32 << 20, "largest block size", min_size);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (max_size > kMaxBlock) opt.fail("--max is too large");

  LiveMeter live(threads);
  Stopwatch clock;
  run_threads(threads, [&](unsigned w) {
    Rng rng(thread_seed(seed, w));
    auto make = [&] {
      const size_t size = log_uniform(rng, min_size, max_size);
      void* p = checked(std::malloc(size), size);
      stamp(p, size, rng.next(), kPage);
      live.add(w, int64_t(size));
      return p;
    };
    auto drop = [&](void* p) {
      const size_t size = check(p, kPage);
      std::free(p);
      live.add(w, -int64_t(size));
    };
    std::vector<void*> slot(std::max<uint64_t>(1, share(slots, threads, w)));
    for (auto& p : slot) p = make();
    for (uint64_t n = share(ops, threads, w); n > 0; --n) {
      void*& p = slot[rng.below(slot.size())];
      drop(p);
      p = make();
    }
    for (void* p : slot) drop(p);
  });
  const double seconds = clock.seconds();

  Result("large")
      .common(uint64_t(threads), ops, seconds, live.stop())
      .print();
  return 0;
}
