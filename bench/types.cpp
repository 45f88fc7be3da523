// types: a program's own object types: a few fixed sizes, much of the traffic.
//
// Most of a long-running program's blocks are instances of its own structs and classes: a
// handful of sizes, each allocated over and over, with a few much more common than the rest.
// Here --types sizes are drawn once (spread evenly over the powers of two from 257 B to 8 KiB:
// below 256 B size classes are 16 B apart and have little to waste), the i-th most common
// allocated with weight 1/(i+1); one allocation in five is a string of 16 B - 4 KiB instead.
// Blocks are made until --live-mb MiB are live; from then on, each new block first frees
// random live ones until it fits under that mark, until --turnover percent of the blocks live at
// the mark have been made anew;
// halfway through, the program moves on to a new set of types (a new module, a new phase), so
// the first set's blocks drain while the second's build up. Single-threaded.
#include <algorithm>

#include "common.h"

using namespace bench;

namespace {

struct Types {
  std::vector<size_t> size;
  std::vector<double> cumulative;  // weights 1/(i+1), summed
  void draw_set(Rng& rng, unsigned n) {
    size.clear();
    cumulative.clear();
    double sum = 0;
    for (unsigned i = 0; i < n; ++i) {
      size.push_back(log_uniform(rng, 257, 8192));
      sum += 1.0 / (i + 1);
      cumulative.push_back(sum);
    }
  }
  size_t draw(Rng& rng) const {
    if (rng.below(5) == 0) return log_uniform(rng, 16, 4096);  // a string
    const double x = double(rng.next() >> 11) / double(uint64_t(1) << 53) * cumulative.back();
    return size[size_t(std::lower_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin())];
  }
};

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_types", "A program's own object types: a few fixed sizes.");
  const uint64_t live_mb = opt.get("live-mb", 128, "live MiB to keep", 1);
  const uint64_t ntypes = opt.get("types", 12, "object sizes in each set", 1);
  const uint64_t turnover = opt.get("turnover", 400, "percent of the live blocks replaced", 1);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();

  const uint64_t target = live_mb << 20;
  const size_t capacity = target / 16 + 1;
  void** table = map_table(capacity);
  size_t count = 0;
  uint64_t live = 0, live_peak = 0, ops = 0;
  Rng rng(seed);
  Types types;
  types.draw_set(rng, unsigned(ntypes));

  Stopwatch clock;
  live = fill_table(table, count, live, target, [&] { return types.draw(rng); }, rng, trace, ops);
  live_peak = live;
  const uint64_t rss_full = rss_now_kb();
  const uint64_t replace = count * turnover / 100;
  for (uint64_t k = 0; k < replace; ++k) {
    if (k == replace / 2) types.draw_set(rng, unsigned(ntypes));  // the program moves on
    const size_t size = types.draw(rng);
    while (count > 0 && live + size > target) {  // random live blocks make room
      const size_t i = rng.below(count);
      live -= free_block(table[i]);
      table[i] = table[--count];
      ++ops;
      trace.tick(live);
    }
    if (count == capacity) break;
    table[count++] = make_block(size, rng.next());
    live += size;
    ++ops;
    live_peak = std::max(live_peak, live);
    trace.tick(live);
  }
  trace.sample(live);
  live = free_table(table, count, trace, live);
  const double seconds = clock.seconds();

  Result("types")
      .common(1, ops, seconds, live_peak)
      .add("rss_full_kb", rss_full)
      .frag_ratio(live_peak)
      .print();
  return trace.write(live) ? 0 : 1;
}
