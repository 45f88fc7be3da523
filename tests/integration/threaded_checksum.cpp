// A multi-threaded program for real_programs.sh: worker threads build maps, strings and vectors,
// and pass strings to each other through queues (so blocks are freed by threads other than the
// one that allocated them). Prints checksums that do not depend on the scheduling.
// usage: threaded_checksum [threads] [rounds]
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

uint64_t fnv(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

struct Queue {
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::unique_ptr<std::string>> items;
  bool closed = false;
  void push(std::unique_ptr<std::string> s) {
    {
      std::lock_guard<std::mutex> g(m);
      items.push_back(std::move(s));
    }
    cv.notify_one();
  }
  std::unique_ptr<std::string> pop() {
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return !items.empty() || closed; });
    if (items.empty()) return nullptr;
    auto s = std::move(items.front());
    items.pop_front();
    return s;
  }
  void close() {
    {
      std::lock_guard<std::mutex> g(m);
      closed = true;
    }
    cv.notify_all();
  }
};

struct Result {
  uint64_t words = 0, map_hash = 0, vec_sum = 0, received_hash = 0, received = 0;
};

void producer(int id, int rounds, Queue& out, Result& r) {
  uint64_t x = 0x2545F4914F6CDD1Dull * (id + 1);
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < rounds; round++) {
    std::map<std::string, uint64_t> counts;
    std::unordered_map<uint64_t, std::vector<uint32_t>> buckets;
    std::vector<std::string> words;
    for (int i = 0; i < 2000; i++) {
      std::string w;
      size_t len = 1 + next() % 24;
      for (size_t k = 0; k < len; k++) w.push_back((char)('a' + next() % 6));
      if (next() % 50 == 0) w.append(1000 + next() % 20000, 'x');  // some big strings
      counts[w]++;
      buckets[fnv(w) % 97].push_back((uint32_t)i);
      words.push_back(std::move(w));
    }
    for (auto& [w, c] : counts) r.map_hash = (r.map_hash * 31) ^ fnv(w) ^ c;
    for (auto& [k, v] : buckets) r.vec_sum += k * v.size();
    r.words += words.size();
    for (size_t i = 0; i < words.size(); i += 10) out.push(std::make_unique<std::string>(words[i] + "#"));
  }
  out.close();
}

void consumer(Queue& in, Result& r) {
  while (auto s = in.pop()) {
    r.received_hash += fnv(*s);  // commutative: independent of arrival order
    r.received++;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  int rounds = argc > 2 ? atoi(argv[2]) : 150;
  if (threads < 1 || threads > 64 || rounds < 1) return 2;
  std::vector<Queue> queues(threads);
  std::vector<Result> prod(threads), cons(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back(producer, t, rounds, std::ref(queues[t]), std::ref(prod[t]));
    ts.emplace_back(consumer, std::ref(queues[(t + 1) % threads]), std::ref(cons[(t + 1) % threads]));
  }
  for (auto& t : ts) t.join();
  uint64_t total = 0;
  for (int t = 0; t < threads; t++) {
    printf("producer %d: words %llu map %016llx vec %llu\n", t, (unsigned long long)prod[t].words,
           (unsigned long long)prod[t].map_hash, (unsigned long long)prod[t].vec_sum);
    printf("consumer of queue %d: received %llu hash %016llx\n", t, (unsigned long long)cons[t].received,
           (unsigned long long)cons[t].received_hash);
    total = total * 1000003 + prod[t].map_hash + cons[t].received_hash + prod[t].vec_sum;
  }
  printf("total %016llx\n", (unsigned long long)total);
  return 0;
}
