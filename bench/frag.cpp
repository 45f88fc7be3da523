// frag: fragmentation under shifting size mixes.
//
// Models a program whose object sizes change over its life (load phase, then queries, then a
// batch job...): about --live-mb MiB stay live while the size mix moves through several
// distributions. Each phase draws sizes from its mix, freeing random blocks whenever the next
// allocation would exceed the live target, until it has allocated --turnover percent of the
// target; the survivors of earlier mixes stay scattered among the new blocks. RSS is sampled
// along the way. At the end 90% of the blocks are freed, and RSS is read right away and again
// after --sleep-ms and a little allocation activity (allocators that return memory lazily get
// the chance to do so). Single-threaded. --trace FILE writes RSS and live bytes over time.
#include <sys/mman.h>

#include <algorithm>
#include <bit>

#include "common.h"

using namespace bench;

namespace {

struct Mix {
  size_t lo, hi;
  bool log_uniform; // sizes spread evenly over powers of two instead of bytes
};

constexpr Mix kMixes[] = {
    {16, 128, false},        // small objects: list nodes, strings
    {100, 1200, false},      // records, small buffers
    {1024, 8192, false},     // pages of data, medium buffers
    {8192, 204800, false},   // large buffers
    {16, 65536, true},       // everything at once
    {256, 2048, false},      // a new population of mid-sized objects
};
constexpr size_t kSmallest = 16;

size_t draw(const Mix& m, Rng& rng) {
  if (!m.log_uniform) return rng.range(m.lo, m.hi);
  const unsigned b = unsigned(rng.range(std::bit_width(m.lo) - 1, std::bit_width(m.hi) - 2));
  return rng.range(size_t(1) << b, (size_t(2) << b) - 1);
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_frag", "Fragmentation while the size mix shifts.");
  const uint64_t live_mb = opt.get("live-mb", 128, "live MiB to keep", 1);
  const uint64_t cycles = opt.get("cycles", 2, "passes over the size mixes", 1);
  const uint64_t turnover = opt.get("turnover", 200, "percent of target allocated per phase", 1);
  const uint64_t sleep_ms = opt.get("sleep-ms", 1000, "pause after the 90% free");
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();

  const uint64_t target = live_mb << 20;
  // Pointer table outside the allocator under test: mapped directly, pages become resident as
  // they are used (8 bytes per live block).
  const size_t capacity = target / kSmallest + 1;
  auto* table = static_cast<void**>(mmap(nullptr, capacity * sizeof(void*), PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (table == MAP_FAILED) {
    std::perror("bench_frag: mmap");
    return kExitNoMemory;
  }
  size_t count = 0, count_peak = 0;
  uint64_t live = 0, live_peak = 0, steps = 0, rss_sampled_peak = 0;
  std::string phase_rss, phase_ms;  // RSS at the end of each phase, and each phase's duration
  double phase_start = 0;
  Rng rng(seed);

  Stopwatch clock;
  for (uint64_t c = 0; c < cycles; ++c) {
    for (const Mix& mix : kMixes) {
      for (uint64_t allocated = 0; allocated < target / 100 * turnover;) {
        const size_t size = draw(mix, rng);
        while (count > 0 && live + size > target) {
          const size_t i = rng.below(count);
          live -= free_block(table[i]);
          table[i] = table[--count];
          trace.tick(live);
        }
        table[count++] = make_block(size, rng.next());
        live += size;
        allocated += size;
        live_peak = std::max(live_peak, live);
        trace.tick(live);
        count_peak = std::max(count_peak, count);
        if (++steps % 4096 == 0) rss_sampled_peak = std::max(rss_sampled_peak, rss_now_kb());
      }
      const uint64_t rss = rss_now_kb();
      rss_sampled_peak = std::max(rss_sampled_peak, rss);
      append_listed(phase_rss, rss);
      const double now = clock.seconds();
      append_listed(phase_ms, uint64_t((now - phase_start) * 1000));
      phase_start = now;
    }
  }
  // Free 90% of the blocks (the table order is already random), keep every tenth.
  size_t kept = 0;
  for (size_t i = 0; i < count; ++i) {
    if (i % 10 == 0) table[kept++] = table[i];
    else live -= free_block(table[i]);
    trace.tick(live);
  }
  count = kept;
  const double seconds = clock.seconds();
  const uint64_t live_after_free = live;
  const uint64_t rss_after_free = rss_now_kb();

  trace.idle(sleep_ms, live);
  for (int i = 0; i < 1000; ++i) free_block(make_block(size_t(16 + i % 256), uint64_t(i)));
  const uint64_t rss_after_sleep = rss_now_kb();

  trace.sample(live);
  live = free_table(table, count, trace, live);

  Result("frag")
      .common(1, steps, seconds, live_peak)
      .add("rss_sampled_peak_kb", rss_sampled_peak)
      .add("table_peak_kb", uint64_t(count_peak * sizeof(void*) / 1024))
      .frag_ratio(live_peak)
      .add("live_after_free_bytes", live_after_free)
      .add("rss_after_free_kb", rss_after_free)
      .add("rss_after_sleep_kb", rss_after_sleep)
      .add("phase_rss_kb", phase_rss)
      .add("phase_ms", phase_ms)
      .print();
  return trace.write(live) ? 0 : 1;
}
