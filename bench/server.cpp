// server: producer/consumer request handling with cross-thread frees and a load peak.
//
// Models a server whose I/O threads read requests and hand them to worker threads: --producers
// threads allocate requests (64 B - 16 KiB, spread evenly over powers of two; one in 16 is an
// upload of 16-256 KiB), write them and pass them in batches of 16 through one bounded queue to
// --consumers threads. A consumer checks the request, allocates a response (1/4 to 4 times the
// request's size, 32 B - 1 MiB), frees the request (allocated by another thread) and holds the
// response in one of its slots, freeing the response that was there: responses live for a
// random while, as they wait for slow clients. The load has three parts of equal length: normal
// (--hold slots per consumer in use), a peak (4 times as many: more clients, more responses
// waiting) and normal again, when the extra slots are freed; the last part's request sizes are
// twice as large. --ops requests in all. Live bytes are counted per thread and summed by a
// sampler every millisecond.
#include <algorithm>

#include "common.h"

using namespace bench;

namespace {

constexpr size_t kBatch = 16;

struct Batch {
  void* req[kBatch];
  size_t n;
};

// Bounded multi-producer, multi-consumer queue of batches (a ring allocated once).
class Queue {
public:
  explicit Queue(size_t cap) : ring_(cap) {}
  void push(const Batch& b) {
    std::unique_lock lk(mu_);
    not_full_.wait(lk, [&] { return size_ < ring_.size(); });
    ring_[(head_ + size_) % ring_.size()] = b;
    ++size_;
    not_empty_.notify_one();
  }
  // False when the queue is empty and closed.
  bool pop(Batch& b) {
    std::unique_lock lk(mu_);
    not_empty_.wait(lk, [&] { return size_ > 0 || closed_; });
    if (size_ == 0) return false;
    b = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    --size_;
    not_full_.notify_one();
    return true;
  }
  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

private:
  std::vector<Batch> ring_;
  size_t head_ = 0, size_ = 0;
  bool closed_ = false;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
};

size_t request_size(Rng& rng, unsigned part) {
  const size_t size = rng.below(16) == 0 ? log_uniform(rng, 16384, 262144)
                                         : log_uniform(rng, 64, 16384);
  return part == 2 ? size * 2 : size;
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_server", "Producer/consumer request handling with a load peak.");
  const unsigned producers = unsigned(opt.get("producers", 2, "threads making requests", 1));
  const unsigned consumers = unsigned(opt.get("consumers", 2, "threads making responses", 1));
  const uint64_t ops = opt.get("ops", 600000, "requests in all", 1);
  const uint64_t hold = opt.get("hold", 1000, "responses held per consumer (normal load)", 1);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();

  Queue queue(64);
  LiveMeter meter(producers + consumers);
  std::atomic<uint64_t> produced{0}, consumed{0};
  std::vector<uint64_t> peak_slots(consumers);
  const uint64_t part_len = std::max<uint64_t>(1, ops / 3);
  auto part_of = [&](uint64_t n) { return unsigned(std::min<uint64_t>(2, n / part_len)); };

  Stopwatch clock;
  std::atomic<unsigned> producing{producers}, consuming{consumers};
  std::vector<std::thread> makers, workers;
  for (unsigned i = 0; i < producers; ++i) {
    makers.emplace_back([&, i] {
      Rng rng(thread_seed(seed, i));
      const uint64_t mine = share(ops, producers, i);
      Batch b{};
      for (uint64_t k = 0; k < mine; ++k) {
        // The part follows the requests made by all producers, as the consumers' follows the
        // requests consumed: the two differ by what is in flight. (Each producer's own count
        // let a producer that got more of the CPU make part-2 requests, twice as large, while
        // the consumers still held the peak's 4x slots: the live peak then depended on
        // scheduling, 188-239 MiB.)
        const size_t size = request_size(rng, part_of(produced.fetch_add(1, std::memory_order_relaxed)));
        b.req[b.n++] = make_block(size, rng.next());
        meter.add(i, int64_t(size));
        if (b.n == kBatch || k + 1 == mine) {
          queue.push(b);
          b.n = 0;
        }
      }
      producing.fetch_sub(1);
    });
  }
  for (unsigned c = 0; c < consumers; ++c) {
    workers.emplace_back([&, c] {
      const unsigned w = producers + c;
      Rng rng(thread_seed(seed, w));
      std::vector<void*> slots(hold * 4, nullptr);
      uint64_t active = hold, peak = 0;
      Batch b;
      auto release = [&](void*& s) {
        if (s) meter.add(w, -int64_t(free_block(s)));
        s = nullptr;
      };
      while (queue.pop(b)) {
        for (size_t j = 0; j < b.n; ++j) {
          const uint64_t n = consumed.fetch_add(1, std::memory_order_relaxed);
          const uint64_t want = part_of(n) == 1 ? hold * 4 : hold;
          for (uint64_t s = want; s < active; ++s) release(slots[s]); // the peak is over
          active = want;
          peak = std::max(peak, active);
          const size_t req = check(b.req[j]);
          const size_t size = std::clamp<size_t>(req / 4 + rng.below(req * 4), 32, 1 << 20);
          void* resp = make_block(size, rng.next());
          meter.add(w, int64_t(size));
          free_checked(b.req[j], req); // allocated by a producer
          meter.add(w, -int64_t(req));
          void*& slot = slots[rng.below(active)];
          release(slot);
          slot = resp;
        }
      }
      for (void*& s : slots) release(s);
      peak_slots[c] = peak;
      consuming.fetch_sub(1);
    });
  }
  // The main thread samples the trace while the others work.
  const auto wait_for = [&](std::atomic<unsigned>& left) {
    while (trace.on() && left.load() != 0) {
      trace.poll(meter.current());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  wait_for(producing);
  for (auto& t : makers) t.join();
  queue.close();
  wait_for(consuming);
  for (auto& t : workers) t.join();
  const double seconds = clock.seconds();
  const uint64_t live_peak = meter.stop();
  uint64_t slots_peak = 0;
  for (uint64_t s : peak_slots) slots_peak += s;

  Result("server")
      .common(producers + consumers, ops, seconds, live_peak)
      .add("producers", uint64_t(producers))
      .add("consumers", uint64_t(consumers))
      .add("held_peak", slots_peak)
      .frag_ratio(live_peak)
      .print();
  return trace.write(meter.current()) ? 0 : 1;
}
