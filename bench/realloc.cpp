// realloc: many growing buffers (string builders, vectors) extended by appends with realloc.
//
// Models programs that build strings, byte buffers and arrays incrementally: serializers, log
// formatters, parsers filling token vectors. Each worker keeps its share of --slots buffers
// alive at once; each step picks a random buffer and appends a chunk to it. A buffer has a
// random final length (spread evenly over powers of two from 64 B to --max, 4 MiB by default),
// appends of 1 B up to 1/64 of that length, and one of three growth policies:
//   - exact: realloc to exactly the new length on every append (naive C string building; only
//     for buffers up to 256 KiB, larger ones double instead),
//   - double: capacity doubles when full (std::vector, most string classes),
//   - x1.5: capacity grows by half when full.
// The first append is realloc(NULL, n). A buffer that reached its length is read back, shrunk to
// fit with realloc half of the time (read back again), freed, and replaced by an empty buffer.
//
// Appended bytes are all written (one pattern byte value per 64-byte line, so a line is a
// memset). After every realloc the first byte and the last written byte are checked (the data
// must survive the move); before a buffer is freed one byte of every line is checked (exit 3).
#include <algorithm>

#include "common.h"

using namespace bench;

namespace {

enum Policy { kExact, kDouble, kHalf };

thread_local uint64_t t_reallocs = 0;

struct Buffer {
  uint8_t* p = nullptr;
  size_t len = 0, cap = 0, target = 0, max_chunk = 0;
  uint64_t tag = 0;
  Policy policy = kDouble;
};

void fill(uint8_t* b, size_t from, size_t to, uint64_t tag) {
  while (from < to) {
    const size_t line_end = std::min(to, (from | (kTouchStride - 1)) + 1);
    std::memset(b + from, pattern(tag, from), line_end - from);
    from = line_end;
  }
}

void expect(const Buffer& b, size_t off) {
  if (b.p[off] != pattern(b.tag, off)) corrupt(b.p, "contents lost across realloc", b.len);
}

void check_all(const Buffer& b) {
  for (size_t off = 0; off < b.len; off += kTouchStride) expect(b, off);
  if (b.len > 0) expect(b, b.len - 1);
}

void start(Buffer& b, Rng& rng, size_t max_len) {
  b = Buffer{};
  b.target = log_uniform(rng, 64, max_len);
  b.max_chunk = std::max<size_t>(1, b.target / 64);
  b.tag = rng.next() & 0xffffff;
  const uint64_t r = rng.below(3);
  b.policy = r == 0 ? (b.target <= (size_t(256) << 10) ? kExact : kDouble) : r == 1 ? kDouble : kHalf;
}

// Returns the change in requested bytes.
int64_t resize(Buffer& b, size_t cap) {
  const int64_t delta = int64_t(cap) - int64_t(b.cap);
  b.p = static_cast<uint8_t*>(checked(std::realloc(b.p, cap), cap));
  b.cap = cap;
  ++t_reallocs;
  if (b.len > 0) {
    expect(b, 0);
    expect(b, b.len - 1);
  }
  return delta;
}

int64_t append(Buffer& b, Rng& rng) {
  const size_t chunk = std::min(log_uniform(rng, 1, b.max_chunk), b.target - b.len);
  const size_t need = b.len + chunk;
  int64_t delta = 0;
  if (need > b.cap) {
    size_t cap = need;
    if (b.policy == kDouble) cap = std::max(need, std::max<size_t>(16, b.cap * 2));
    if (b.policy == kHalf) cap = std::max(need, std::max<size_t>(16, b.cap + b.cap / 2));
    delta = resize(b, cap);
  }
  fill(b.p, b.len, need, b.tag);
  b.len = need;
  return delta;
}

// Checks, maybe shrinks, frees. Returns the change in requested bytes.
int64_t finish(Buffer& b, Rng& rng) {
  check_all(b);
  int64_t delta = 0;
  if (b.len < b.cap && rng.below(2) == 0) {
    delta = resize(b, b.len);
    check_all(b);
  }
  delta -= int64_t(b.cap);
  std::free(b.p);
  b = Buffer{};
  return delta;
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_realloc",
              "Growing buffers extended by appends through realloc (builders, vectors).");
  const auto threads = unsigned(opt.get("threads", 1, "worker threads", 1));
  const uint64_t ops = opt.get("ops", 4000000, "appends in total, split over the threads");
  const uint64_t slots = opt.get("slots", 256, "buffers alive at once, split over threads", 1);
  const uint64_t max_len = opt.get("max", 4 << 20, "largest final buffer length", 64);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (max_len > (uint64_t(1) << 32)) opt.fail("--max is too large");

  std::atomic<uint64_t> buffers{0}, reallocs{0};
  LiveMeter live(threads);
  Stopwatch clock;
  run_threads(threads, [&](unsigned w) {
    Rng rng(thread_seed(seed, w));
    std::vector<Buffer> buf(std::max<uint64_t>(1, share(slots, threads, w)));
    uint64_t done = 0;
    for (auto& b : buf) start(b, rng, max_len);
    for (uint64_t n = share(ops, threads, w); n > 0; --n) {
      Buffer& b = buf[rng.below(buf.size())];
      live.add(w, append(b, rng));
      if (b.len == b.target) {
        live.add(w, finish(b, rng));
        start(b, rng, max_len);
        ++done;
      }
    }
    for (auto& b : buf)
      if (b.p != nullptr) live.add(w, finish(b, rng)), ++done;
    buffers += done;
    reallocs += t_reallocs;
  });
  const double seconds = clock.seconds();

  Result("realloc")
      .common(uint64_t(threads), ops, seconds, live.stop())
      .add("buffers", buffers.load())
      .add("reallocs", reallocs.load())
      .print();
  return 0;
}
