// threadchurn: many short-lived threads, each making a few allocations.
//
// Models servers and tools that start a thread per request or task instead of using a pool, and
// thread pools that grow and shrink: what matters is what the allocator costs a thread at its
// first allocation (setting up a per-thread heap or cache) and at exit (returning or abandoning
// it), plus blocks that outlive the thread that made them. The main thread starts --threads
// threads at a time and joins them, until --ops threads have run. Each thread allocates --allocs
// blocks of 16 B to 1 KiB (one in 8 between 1 and 16 KiB), stamps them, checks and frees three
// quarters of them, and leaves the rest to the main thread, which checks and frees them after the
// join. Thread stacks come from the C library, as in any program.
#include <algorithm>

#include "common.h"

using namespace bench;

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_threadchurn",
              "Short-lived threads: start, a few allocations, exit.");
  const auto wave = unsigned(opt.get("threads", 1, "threads running at once", 1));
  const uint64_t ops = opt.get("ops", 20000, "threads to start in total", 1);
  const uint64_t allocs = opt.get("allocs", 32, "blocks each thread allocates (1..1024)", 1);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (allocs > 1024) opt.fail("--allocs must be at most 1024");

  const uint64_t kept = allocs / 4; // per thread, left to the main thread
  std::vector<void*> left(size_t(wave) * kept);
  LiveMeter live(wave); // worker w of every wave uses line w; the main thread line 0 after joins
  uint64_t started = 0;

  Stopwatch clock;
  while (started < ops) {
    const auto n = unsigned(std::min<uint64_t>(wave, ops - started));
    run_threads(n, [&, first = started](unsigned w) {
      Rng rng(thread_seed(seed, first + w));
      void* own[1024];
      void** out = left.data() + size_t(w) * kept;
      int64_t bytes = 0;
      for (uint64_t i = 0; i < allocs; ++i) {
        const size_t size = rng.below(8) == 0 ? rng.range(1025, 16384) : rng.range(16, 1024);
        void* p = make_block(size, rng.next());
        bytes += int64_t(size);
        if (i < kept) out[i] = p;
        else own[i - kept] = p;
      }
      live.add(w, bytes);
      bytes = 0;
      for (uint64_t i = 0; i < allocs - kept; ++i) bytes += int64_t(free_block(own[i]));
      live.add(w, -bytes);
    });
    int64_t bytes = 0;
    for (size_t i = 0; i < size_t(n) * kept; ++i) bytes += int64_t(free_block(left[i]));
    live.add(0, -bytes);
    started += n;
  }
  const double seconds = clock.seconds();

  Result("threadchurn")
      .common(uint64_t(wave), ops, seconds, live.stop())
      .add("allocs_per_thread", allocs)
      .add("us_per_thread", seconds * 1e6 / double(ops))
      .print();
  return 0;
}
