// xfree: producer/consumer hand-off, every block is freed by a thread that did not allocate it.
//
// Models pipelines and thread pools where one stage builds messages or requests and another
// consumes and releases them. --threads N starts N producers and N consumers. Producers allocate
// blocks of 16-1024 bytes with operator new, stamp them, and hand them over in batches; producer
// i sends its k-th batch to consumer (i + k) mod N, so every consumer frees blocks of every
// producer. Each consumer has a bounded queue (--queue batches), so producers wait when consumers
// fall behind and the number of blocks in flight stays bounded. Consumers check each block and
// release it with sized operator delete.
#include <algorithm>
#include <memory>
#include <new>

#include "common.h"

using namespace bench;

namespace {

// Bounded FIFO of fixed-size batches of block pointers, storage allocated once.
class BatchQueue {
public:
  BatchQueue(size_t capacity, size_t batch)
      : batch_(batch), capacity_(capacity), ring_(capacity * batch), count_(capacity) {}

  void push(void* const* blocks, size_t n) {
    std::unique_lock lk(mu_);
    not_full_.wait(lk, [&] { return used_ < capacity_; });
    const size_t at = (head_ + used_) % capacity_;
    std::copy(blocks, blocks + n, ring_.begin() + at * batch_);
    count_[at] = n;
    ++used_;
    not_empty_.notify_one();
  }

  // Copies the oldest batch into out and returns its length; 0 once closed and drained.
  size_t pop(void** out) {
    std::unique_lock lk(mu_);
    not_empty_.wait(lk, [&] { return used_ > 0 || closed_; });
    if (used_ == 0) return 0;
    const size_t n = count_[head_];
    std::copy_n(ring_.begin() + head_ * batch_, n, out);
    head_ = (head_ + 1) % capacity_;
    --used_;
    not_full_.notify_one();
    return n;
  }

  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

private:
  const size_t batch_, capacity_;
  std::vector<void*> ring_;
  std::vector<size_t> count_;
  size_t head_ = 0, used_ = 0;
  bool closed_ = false;
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
};

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_xfree", "Producers allocate, consumers on other threads free.");
  const auto pairs = unsigned(opt.get("threads", 1, "producers (and as many consumers)", 1));
  const uint64_t ops = opt.get("ops", 10000000, "blocks in total, split over the producers");
  const size_t batch = opt.get("batch", 64, "blocks per hand-off", 1);
  const size_t queue = opt.get("queue", 8, "batches each consumer queue holds", 1);
  const uint64_t min_size = opt.get("min", 16, "smallest block size", kMinBlock);
  const uint64_t max_size = opt.get("max", 1024, "largest block size", min_size);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (max_size > kMaxBlock) opt.fail("--max is too large");

  std::vector<std::unique_ptr<BatchQueue>> queues;
  for (unsigned c = 0; c < pairs; ++c) queues.push_back(std::make_unique<BatchQueue>(queue, batch));
  std::atomic<unsigned> producers_left{pairs};
  LiveMeter live(2 * pairs);

  Stopwatch clock;
  run_threads(2 * pairs, [&](unsigned w) {
    std::vector<void*> buf(batch);
    if (w < pairs) { // producer w
      Rng rng(thread_seed(seed, w));
      uint64_t left = share(ops, pairs, w);
      for (uint64_t k = 0; left > 0; ++k) {
        const size_t n = std::min<uint64_t>(batch, left);
        int64_t bytes = 0;
        for (size_t j = 0; j < n; ++j) {
          const size_t size = rng.range(min_size, max_size);
          buf[j] = checked(::operator new(size), size);
          stamp(buf[j], size, rng.next());
          bytes += int64_t(size);
        }
        live.add(w, bytes);
        queues[(w + k) % pairs]->push(buf.data(), n);
        left -= n;
      }
      if (producers_left.fetch_sub(1) == 1)
        for (auto& q : queues) q->close();
    } else { // consumer w - pairs
      BatchQueue& q = *queues[w - pairs];
      while (const size_t n = q.pop(buf.data())) {
        int64_t bytes = 0;
        for (size_t j = 0; j < n; ++j) {
          const size_t size = check(buf[j]);
          ::operator delete(buf[j], size);
          bytes += int64_t(size);
        }
        live.add(w, -bytes);
      }
    }
  });
  const double seconds = clock.seconds();

  Result("xfree")
      .common(uint64_t(pairs), ops, seconds, live.stop())
      .add("producers", uint64_t(pairs))
      .add("consumers", uint64_t(pairs))
      .print();
  return 0;
}
