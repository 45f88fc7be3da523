// falseshare: does the allocator make threads share cache lines? (cache-thrash, cache-scratch)
//
// Each worker repeatedly allocates a small object (--size bytes), writes every byte of it
// --writes times, reads it back and frees it. When the allocator hands objects on the same cache
// line to different threads, those writes bounce the line between cores and the time grows with
// the thread count instead of shrinking.
//
//   --passive 0 (cache-thrash): active false sharing. Every thread allocates its own objects;
//     an allocator that serves several threads from one shared run of memory places them on
//     shared lines.
//   --passive 1 (cache-scratch): passive false sharing. Before starting the workers, the main
//     thread allocates one object per worker back to back (so they share lines), and gives one to
//     each worker, which writes it, frees it, and then runs the loop above. An allocator that
//     puts a freed block on the freeing thread's cache and hands it out again there makes the
//     workers write into the main thread's line, next to each other.
//
// --ops objects in total are split over the threads, so on an allocator that avoids false
// sharing the time falls as threads are added (up to the core count).
#include "common.h"

using namespace bench;

namespace {

// Writes every byte `writes` times through a volatile pointer (each write is a store, as in a
// program updating a field in a loop), then checks the final values. Returns false when wrong.
bool hammer(void* p, size_t size, uint64_t writes, uint8_t seed) {
  volatile uint8_t* b = static_cast<volatile uint8_t*>(p);
  for (size_t i = 0; i < size; ++i) b[i] = uint8_t(seed + i);
  for (uint64_t r = 0; r < writes; ++r)
    for (size_t i = 0; i < size; ++i) b[i] = uint8_t(b[i] + 1);
  for (size_t i = 0; i < size; ++i)
    if (b[i] != uint8_t(seed + i + writes)) return false;
  return true;
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_falseshare",
              "Small objects written in tight loops by several threads (false sharing).");
  const auto threads = unsigned(opt.get("threads", 1, "worker threads", 1));
  const uint64_t ops = opt.get("ops", 2000000, "objects in total, split over the threads");
  const uint64_t writes = opt.get("writes", 50, "passes of writes over each object", 1);
  const size_t size = opt.get("size", 8, "object size in bytes", 1);
  const uint64_t passive = opt.get("passive", 0, "1: cache-scratch (main allocates first)");
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (passive > 1) opt.fail("--passive is 0 or 1");
  if (size > 4096) opt.fail("--size must be at most 4096");

  // cache-scratch: the main thread's objects, allocated back to back.
  std::vector<void*> given(threads, nullptr);
  if (passive)
    for (auto& p : given) p = checked(std::malloc(size), size);

  std::atomic<bool> bad{false};
  LiveMeter live(threads);
  Stopwatch clock;
  run_threads(threads, [&](unsigned w) {
    const auto tag = uint8_t(thread_seed(seed, w));
    if (given[w] != nullptr) {
      if (!hammer(given[w], size, writes, tag)) bad = true;
      std::free(given[w]);
    }
    live.add(w, int64_t(size));
    for (uint64_t n = share(ops, threads, w); n > 0; --n) {
      void* p = checked(std::malloc(size), size);
      if (!hammer(p, size, writes, uint8_t(tag + n))) bad = true;
      std::free(p);
    }
    live.add(w, -int64_t(size));
  });
  const double seconds = clock.seconds();
  if (bad) corrupt(nullptr, "object contents changed under a writer", size);

  Result(passive ? "cache-scratch" : "cache-thrash")
      .common(uint64_t(threads), ops, seconds, live.stop())
      .add("writes", writes)
      .add("size", uint64_t(size))
      .print();
  return 0;
}
