// burst: a steady live set, a burst to many times its size, then a quiet period.
//
// Models a service that idles with a modest working set, takes a spike (a big request, a
// report, a reload) and then goes quiet: will the memory of the spike go back to the OS while
// the program makes no allocator calls at all? The base set (--base-mb MiB of 16 B - 16 KiB
// blocks, spread evenly over powers of two) is churned (each step frees a random block and
// allocates a replacement; twice its block count of steps), then the burst allocates
// --burst-x times as many bytes again (16 B - 64 KiB) while the base keeps churning (a base step
// after every fourth burst block), so burst and base blocks share pages. Then every burst block
// is freed and RSS is read at once (rss_after_free_kb). The quiet period follows: --quiet-ms
// ms without any allocator call (rss_after_quiet_kb), then the base churns again for the same
// number of steps as at first (rss_after_resume_kb). The time excludes the quiet period.
// Single-threaded.
#include <algorithm>

#include "common.h"

using namespace bench;

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_burst", "A burst of allocation, then a quiet period.");
  const uint64_t base_mb = opt.get("base-mb", 16, "steady live MiB", 1);
  const uint64_t burst_x = opt.get("burst-x", 8, "burst bytes, times the steady live bytes", 1);
  const uint64_t quiet_ms = opt.get("quiet-ms", 3000, "ms without allocator calls after it");
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();

  const uint64_t base_target = base_mb << 20;
  const uint64_t burst_target = base_target * burst_x;
  void** base = map_table(base_target / 16 + 1);
  void** burst = map_table(burst_target / 16 + 1);
  size_t nbase = 0, nburst = 0;
  uint64_t live = 0, live_peak = 0, ops = 0;
  Rng rng(seed);

  auto base_step = [&] {
    const size_t i = rng.below(nbase);
    live -= free_block(base[i]);
    const size_t size = log_uniform(rng, 16, 16384);
    base[i] = make_block(size, rng.next());
    live += size;
    ++ops;
    live_peak = std::max(live_peak, live);
    trace.tick(live);
  };

  Stopwatch clock;
  // Steady state: fill, then churn.
  while (live < base_target) {
    const size_t size = log_uniform(rng, 16, 16384);
    base[nbase++] = make_block(size, rng.next());
    live += size;
    ++ops;
    trace.tick(live);
  }
  live_peak = live;
  const uint64_t churn_steps = 2 * nbase;
  for (uint64_t s = 0; s < churn_steps; ++s) base_step();
  const uint64_t rss_before = rss_now_kb();
  trace.sample(live);

  // The burst.
  for (uint64_t added = 0; added < burst_target;) {
    const size_t size = log_uniform(rng, 16, 65536);
    burst[nburst++] = make_block(size, rng.next());
    live += size;
    added += size;
    ++ops;
    live_peak = std::max(live_peak, live);
    trace.tick(live);
    if (nburst % 4 == 0) base_step();
  }
  const uint64_t rss_burst = rss_now_kb();
  trace.sample(live);
  // Burst blocks go in the order they came (a request's objects die together).
  for (size_t i = 0; i < nburst; ++i) {
    live -= free_block(burst[i]);
    ++ops;
    trace.tick(live);
  }
  const double work_before = clock.seconds();
  const uint64_t rss_after_free = rss_now_kb();

  // Quiet: no allocator calls.
  trace.idle(quiet_ms, live);
  const uint64_t rss_after_quiet = rss_now_kb();

  Stopwatch clock2;
  for (uint64_t s = 0; s < churn_steps; ++s) base_step();
  const uint64_t rss_after_resume = rss_now_kb();
  trace.sample(live);
  for (size_t i = 0; i < nbase; ++i) {
    live -= free_block(base[i]);
    trace.tick(live);
  }
  const double seconds = work_before + clock2.seconds();

  Result("burst")
      .common(1, ops, seconds, live_peak)
      .add("rss_before_burst_kb", rss_before)
      .add("rss_burst_kb", rss_burst)
      .add("rss_after_free_kb", rss_after_free)
      .add("rss_after_quiet_kb", rss_after_quiet)
      .add("rss_after_resume_kb", rss_after_resume)
      .add("quiet_ms", quiet_ms)
      .print();
  return trace.write(live) ? 0 : 1;
}
