// phases: a batch job that runs in phases with different size profiles.
//
// Models a compiler, an ETL job or a build system: each phase builds a large structure from
// its own size profile until about --live-mb MiB are live (survivors of earlier phases
// included), with short-lived temporaries alongside (one allocation in four is a temporary,
// freed 1-64 allocations later), then drops it: every block live at the end of the phase, of
// any age, survives into the next phase with probability --survive-pct percent, so a
// scattered few percent of each phase's memory stays among the next phase's blocks. Profiles in
// order (then again): small nodes 24-96 B; records 512 B - 4 KiB; strings 32-256 B with one
// block in 32 a 16-64 KiB buffer; chunks 4-32 KiB; tiny objects 16-64 B; arrays 128 KiB - 1 MiB.
// RSS is read after each drop. Single-threaded.
#include <algorithm>

#include "common.h"

using namespace bench;

namespace {

struct Profile {
  size_t lo, hi;
  unsigned big_one_in; // 0: none; else one block in N is big_lo..big_hi
  size_t big_lo, big_hi;
};

constexpr Profile kProfiles[] = {
    {24, 96, 0, 0, 0},             // tree or graph nodes
    {512, 4096, 0, 0, 0},          // records
    {32, 256, 32, 16384, 65536},   // strings with some buffers
    {4096, 32768, 0, 0, 0},        // chunks
    {16, 64, 0, 0, 0},             // tiny objects
    {131072, 1048576, 0, 0, 0},    // arrays
};

size_t draw(const Profile& p, Rng& rng) {
  if (p.big_one_in != 0 && rng.below(p.big_one_in) == 0) return rng.range(p.big_lo, p.big_hi);
  return rng.range(p.lo, p.hi);
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_phases", "A batch job in phases of different size profiles.");
  const uint64_t live_mb = opt.get("live-mb", 128, "live MiB at the end of each phase", 1);
  const uint64_t phases = opt.get("phases", 12, "phases (profiles repeat after 6)", 1);
  const uint64_t survive_pct = opt.get("survive-pct", 8, "percent of blocks kept at each drop");
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();
  if (survive_pct > 100) opt.fail("--survive-pct must be at most 100");

  const uint64_t target = live_mb << 20;
  // Pointer table outside the allocator under test, as in frag (8 bytes per live block).
  const size_t capacity = target / 16 + 1;
  void** table = map_table(capacity);
  constexpr size_t kTemps = 64;
  void* temps[kTemps] = {};
  size_t count = 0;
  uint64_t live = 0, live_peak = 0, ops = 0;
  std::string phase_rss;
  Rng rng(seed);

  Stopwatch clock;
  for (uint64_t ph = 0; ph < phases; ++ph) {
    const Profile& prof = kProfiles[ph % std::size(kProfiles)];
    // Build.
    while (true) {
      const size_t size = draw(prof, rng);
      if (live + size > target) break;
      void* p = make_block(size, rng.next());
      live += size;
      ++ops;
      if (rng.below(4) == 0) { // a temporary: replaces a random one of the last 64
        void*& slot = temps[rng.below(kTemps)];
        if (slot) live -= free_block(slot);
        slot = p;
      } else {
        if (count == capacity) break;
        table[count++] = p;
      }
      live_peak = std::max(live_peak, live);
      trace.tick(live);
    }
    for (void*& t : temps) {
      if (t) live -= free_block(t);
      t = nullptr;
    }
    // Drop: each block survives with probability survive_pct / 100.
    size_t kept = 0;
    for (size_t i = 0; i < count; ++i) {
      if (rng.below(100) < survive_pct) {
        table[kept++] = table[i];
      } else {
        live -= free_block(table[i]);
        trace.tick(live);
      }
    }
    count = kept;
    // Survivors in random order, so that the next drop picks them independently of age.
    for (size_t i = count; i > 1; --i) std::swap(table[i - 1], table[rng.below(i)]);
    const uint64_t rss = rss_now_kb();
    trace.sample(live);
    append_listed(phase_rss, rss);
  }
  const uint64_t live_end = live;
  const uint64_t rss_last_drop = rss_now_kb();
  live = free_table(table, count, trace, live);
  const double seconds = clock.seconds();

  Result("phases")
      .common(1, ops, seconds, live_peak)
      .add("live_after_drop_bytes", live_end)
      .add("rss_after_drop_kb", rss_last_drop)
      .frag_ratio(live_peak)
      .add("phase_rss_kb", phase_rss)
      .print();
  return trace.write(live) ? 0 : 1;
}
