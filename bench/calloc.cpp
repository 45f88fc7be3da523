// calloc: zeroed allocations of mixed sizes, verified zero, written, freed.
//
// Models programs that allocate zero-initialised records, arrays and buffers (C structs set up
// with calloc, hash tables, bitmaps, image and matrix buffers). Each worker keeps its share of
// --slots blocks; each step picks a random slot, checks and frees its block, and callocs a new
// one: sizes spread evenly over powers of two from 16 B to --max (256 KiB by default), asked for
// as calloc(n, elem) with elem 1, 8, 24 or 64 bytes. Every byte of the new block is read and must
// be zero, then the block is stamped (header and one byte per 64-byte line, as every workload
// does). The working set is small, so most blocks reuse memory that was just freed and stamped:
// the allocator has to clear it, not only rely on fresh pages from the OS being zero.
#include "common.h"

using namespace bench;

namespace {

constexpr size_t kElem[] = {1, 8, 24, 64};

// True when all size bytes at p are zero.
bool all_zero(const void* p, size_t size) {
  const auto* b = static_cast<const uint8_t*>(p);
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, b + i, 8);
    acc |= w;
  }
  for (; i < size; ++i) acc |= b[i];
  return acc == 0;
}

void* make_zeroed(Rng& rng, size_t max_size, size_t& size) {
  const size_t elem = kElem[rng.below(4)];
  const size_t want = log_uniform(rng, 16, max_size);
  const size_t count = std::max<size_t>(1, want / elem);
  size = count * elem; // at least 16
  void* p = checked(std::calloc(count, elem), size);
  if (!all_zero(p, size)) corrupt(p, "calloc returned non-zero bytes", size);
  stamp(p, size, rng.next());
  return p;
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_calloc", "calloc of mixed sizes: verified zero, written, freed.");
  const auto threads = unsigned(opt.get("threads", 1, "worker threads", 1));
  const uint64_t ops = opt.get("ops", 400000, "callocs in total, split over the threads");
  const uint64_t slots = opt.get("slots", 64, "live blocks in total, split over threads", 1);
  const uint64_t max_size = opt.get("max", 256 << 10, "largest block size", 16);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (max_size > (uint64_t(1) << 32)) opt.fail("--max is too large");

  std::atomic<uint64_t> zeroed{0};
  LiveMeter live(threads);
  Stopwatch clock;
  run_threads(threads, [&](unsigned w) {
    Rng rng(thread_seed(seed, w));
    std::vector<void*> slot(std::max<uint64_t>(1, share(slots, threads, w)));
    uint64_t bytes = 0;
    for (auto& p : slot) {
      size_t size;
      p = make_zeroed(rng, max_size, size);
      live.add(w, int64_t(size));
      bytes += size;
    }
    for (uint64_t n = share(ops, threads, w); n > 0; --n) {
      void*& p = slot[rng.below(slot.size())];
      const size_t old_size = free_block(p);
      size_t size;
      p = make_zeroed(rng, max_size, size);
      live.add(w, int64_t(size) - int64_t(old_size));
      bytes += size;
    }
    for (void* p : slot) live.add(w, -int64_t(free_block(p)));
    zeroed += bytes;
  });
  const double seconds = clock.seconds();

  Result("calloc")
      .common(uint64_t(threads), ops, seconds, live.stop())
      .add("zeroed_bytes", zeroed.load())
      .print();
  return 0;
}
