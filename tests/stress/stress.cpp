// Multi-threaded allocator stress test, run with libmallocim preloaded.
//
// Each thread owns a table of blocks and applies random operations to it: allocate (malloc,
// calloc, posix_memalign, aligned_alloc, memalign, operator new in its plain, array and aligned
// forms), free, realloc chains, and hand-overs of blocks to other threads through queues (the
// receiver verifies the block and frees, reallocs or keeps it). Sizes run from 1 B to 8 MiB
// (mostly small), alignments up to 4 MiB. Every block holds a pattern derived from a per-block
// seed and the byte offset (on a sample of the bytes for blocks over 256 KiB); it is verified before every free, before and after every realloc and
// when it changes hands, so a block that overlaps another, loses contents or moves to a wrong
// offset is caught. Side threads call malloc_trim(0) and mallinfo2() concurrently.
//
// Bounded by time (--seconds) and operation count (--ops); exit status 1 on any error.
//   stress [--threads N] [--seconds S] [--ops N] [--seed X] [--max-live-mib M] [--require-lib]
#include <dlfcn.h>
#include <malloc.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

enum Kind : uint8_t { kMalloc, kNew, kNewArray, kNewAligned };

struct Block {
  uint8_t* p = nullptr;
  size_t size = 0;
  size_t align = 0;  // requested alignment (0: natural)
  uint64_t seed = 0;
  Kind kind = kMalloc;
  bool sampled = false;  // pattern only on the sampled bytes (see for_each_range)
};

struct Options {
  int threads = 4;
  double seconds = 20;
  uint64_t ops = 200'000'000;
  uint64_t seed = 0x5eed;
  size_t max_live = 64 * MiB;  // per thread
  bool require_lib = false;     // fail when libmallocim is not loaded (how ctest runs it)
};
Options g_opt;

std::atomic<uint64_t> g_errors{0};
std::atomic<bool> g_stop{false};
std::mutex g_print_mutex;

void report(int tid, const char* what, const Block& b, size_t detail) {
  uint64_t n = g_errors.fetch_add(1) + 1;
  if (n > 20) return;
  std::lock_guard<std::mutex> g(g_print_mutex);
  fprintf(stderr, "ERROR thread %d: %s: block %p size %zu align %zu kind %d seed %llx (detail %zu)\n", tid, what,
          (void*)b.p, b.size, b.align, (int)b.kind, (unsigned long long)b.seed, detail);
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed ? seed : 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

// ---- the pattern: word i of a block with seed s is s * K1 + i * K2 (bytes taken from it) ----
constexpr uint64_t K1 = 0x9E3779B97F4A7C15ull, K2 = 0xC2B2AE3D27D4EB4Full;
inline uint64_t word_at(uint64_t seed, size_t i) { return seed * K1 + (uint64_t)i * K2 + (seed >> 7); }

void fill(uint8_t* p, size_t from, size_t to, uint64_t seed) {
  size_t i = from;
  for (; i < to && (i & 7); i++) p[i] = (uint8_t)(word_at(seed, i / 8) >> (8 * (i & 7)));
  for (; i + 8 <= to; i += 8) {
    uint64_t w = word_at(seed, i / 8);
    memcpy(p + i, &w, 8);
  }
  for (; i < to; i++) p[i] = (uint8_t)(word_at(seed, i / 8) >> (8 * (i & 7)));
}

// Returns the first offset in [from, to) that does not hold the pattern, or SIZE_MAX.
size_t check(const uint8_t* p, size_t from, size_t to, uint64_t seed) {
  size_t i = from;
  for (; i < to && (i & 7); i++)
    if (p[i] != (uint8_t)(word_at(seed, i / 8) >> (8 * (i & 7)))) return i;
  for (; i + 8 <= to; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w != word_at(seed, i / 8)) {
      for (size_t k = i;; k++)
        if (p[k] != (uint8_t)(word_at(seed, k / 8) >> (8 * (k & 7)))) return k;
    }
  }
  for (; i < to; i++)
    if (p[i] != (uint8_t)(word_at(seed, i / 8) >> (8 * (i & 7)))) return i;
  return SIZE_MAX;
}

// Blocks over 256 KiB carry the pattern only on a sample of their bytes, so that the big blocks
// do not eat the run time: the first 4 KiB and 64 bytes of every 1 KiB. The set depends on the
// offset only, not on the size, so it stays valid across realloc.
constexpr size_t kSampleAbove = 256 * KiB;
template <class F>
void for_each_range(const Block& b, size_t from, size_t to, F f) {
  if (!b.sampled) {
    if (from < to) f(from, to);
    return;
  }
  size_t head_end = std::min(to, (size_t)4096);
  if (from < head_end) f(from, head_end);
  size_t start = std::max(from, (size_t)4096);
  for (size_t k = start / 1024 * 1024; k < to; k += 1024) {
    size_t a = std::max(k, start), e = std::min(k + 64, to);
    if (a < e) f(a, e);
  }
}
void fill_block(const Block& b, size_t from, size_t to) {
  for_each_range(b, from, to, [&](size_t a, size_t e) { fill(b.p, a, e, b.seed); });
}
size_t check_block(const Block& b, size_t from, size_t to) {
  size_t bad = SIZE_MAX;
  for_each_range(b, from, to, [&](size_t a, size_t e) {
    if (bad == SIZE_MAX) bad = check(b.p, a, e, b.seed);
  });
  return bad;
}

size_t random_size(Rng& r) {
  uint64_t k = r.below(1000);
  if (k < 820) return 1 + r.below(256);
  if (k < 960) return 257 + r.below(8 * KiB - 256);
  if (k < 992) return 8 * KiB + r.below(248 * KiB);
  if (k < 999) return 256 * KiB + r.below(2 * MiB - 256 * KiB);
  return 2 * MiB + r.below(6 * MiB + 1);
}

size_t random_align(Rng& r) {
  uint64_t k = r.below(100);
  if (k < 60) return 16 << r.below(3);      // 16..64
  if (k < 90) return 128 << r.below(6);     // 128..4 KiB
  if (k < 98) return 8 * KiB << r.below(6); // 8 KiB..256 KiB
  return 512 * KiB << r.below(4);           // 512 KiB..4 MiB
}

class Worker;
std::vector<Worker*> g_workers;

class Worker {
 public:
  explicit Worker(int id) : id_(id), rng_(g_opt.seed * 1000003 + (uint64_t)id * 7919 + 1), slots_(4096) {}

  void run() {
    auto start = std::chrono::steady_clock::now();
    uint64_t op = 0;
    while (op < g_opt.ops && !g_stop.load(std::memory_order_relaxed)) {
      step();
      op++;
      if ((op & 1023) == 0) {
        drain_inbox();
        double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (el >= g_opt.seconds) break;
        if (rng_.below(400) == 0) free_all();  // phase change: everything goes, then builds up again
      }
    }
    ops_ = op;
    free_all();
  }

  void push(const Block& b) {
    std::lock_guard<std::mutex> g(inbox_mutex_);
    inbox_.push_back(b);
  }

  // After all threads stopped: whatever is still queued.
  void drain_final() { drain_inbox(true); }

  uint64_t ops_ = 0, allocs_ = 0, frees_ = 0, reallocs_ = 0, sent_ = 0, received_ = 0, bytes_ = 0;

 private:
  int id_;
  Rng rng_;
  std::vector<Block> slots_;
  size_t live_ = 0;
  std::mutex inbox_mutex_;
  std::vector<Block> inbox_;

  bool verify(const Block& b, const char* when) {
    size_t bad = check_block(b, 0, b.size);
    if (bad != SIZE_MAX) {
      report(id_, when, b, bad);
      return false;
    }
    return true;
  }

  void release(Block& b, const char* when) {
    if (!b.p) return;
    verify(b, when);
    switch (b.kind) {
      case kMalloc: free(b.p); break;
      case kNew: (b.size & 1) ? ::operator delete(b.p) : ::operator delete(b.p, b.size); break;
      case kNewArray: ::operator delete[](b.p, b.size); break;
      case kNewAligned:
        (b.size & 1) ? ::operator delete(b.p, std::align_val_t(b.align))
                     : ::operator delete(b.p, b.size, std::align_val_t(b.align));
        break;
    }
    live_ -= std::min(live_, b.size);
    frees_++;
    b = Block();
  }

  bool allocate(Block& b) {
    size_t size = random_size(rng_);
    uint64_t how = rng_.below(100);
    b = Block();
    b.size = size;
    b.seed = rng_.next();
    void* p = nullptr;
    bool zeroed = false;
    if (how < 45) {
      p = malloc(size);
    } else if (how < 55) {
      size_t n = 1 + (size & 3), each = std::max<size_t>(1, size / n);
      b.size = n * each;
      p = calloc(n, each);
      zeroed = true;
    } else if (how < 62) {
      b.align = std::max(random_align(rng_), sizeof(void*));
      if (posix_memalign(&p, b.align, size) != 0) p = nullptr;
    } else if (how < 67) {
      b.align = random_align(rng_);
      b.size = (size + b.align - 1) & ~(b.align - 1);
      p = aligned_alloc(b.align, b.size);
    } else if (how < 70) {
      b.align = random_align(rng_);
      p = memalign(b.align, size);
    } else if (how < 85) {
      b.kind = kNew;
      p = ::operator new(size);
    } else if (how < 93) {
      b.kind = kNewArray;
      p = ::operator new[](size);
    } else {
      b.kind = kNewAligned;
      b.align = random_align(rng_);
      p = ::operator new(size, std::align_val_t(b.align));
    }
    b.p = (uint8_t*)p;
    if (!p) {
      report(id_, "allocation returned NULL", b, how);
      b = Block();
      return false;
    }
    size_t want_align = b.align ? b.align : (b.size >= 16 ? 16 : 1);
    if (((uintptr_t)p & (want_align - 1)) != 0) report(id_, "misaligned block", b, want_align);
    if (b.kind == kMalloc && malloc_usable_size(p) < b.size) report(id_, "usable size < request", b, malloc_usable_size(p));
    b.sampled = b.size > kSampleAbove;
    if (zeroed) {
      size_t bad = SIZE_MAX;
      for_each_range(b, 0, b.size, [&](size_t a, size_t e) {
        for (size_t i = a; i < e && bad == SIZE_MAX; i++)
          if (b.p[i]) bad = i;
      });
      if (bad != SIZE_MAX) report(id_, "calloc block not zero", b, bad);
    }
    fill_block(b, 0, b.size);
    live_ += b.size;
    allocs_++;
    bytes_ += b.size;
    return true;
  }

  void reallocate(Block& b) {
    if (!b.p || b.kind != kMalloc) {
      release(b, "verify before free (realloc of non-malloc slot)");
      allocate(b);
      return;
    }
    // Chains of realloc: grow or shrink a few times in a row.
    int chain = 1 + (int)rng_.below(4);
    for (int k = 0; k < chain; k++) {
      if (!verify(b, "verify before realloc")) return;
      size_t ns = rng_.below(3) == 0 ? random_size(rng_) : std::max<size_t>(1, b.size + b.size / 2 - rng_.below(b.size + 1));
      uint8_t* q = (uint8_t*)realloc(b.p, ns);
      if (!q) {
        report(id_, "realloc returned NULL", b, ns);
        return;
      }
      size_t keep = std::min(b.size, ns);
      Block nb = b;
      nb.p = q;
      nb.size = ns;
      size_t bad = check_block(nb, 0, keep);
      if (bad != SIZE_MAX) report(id_, "realloc lost contents", nb, bad);
      if (ns >= 16 && ((uintptr_t)q & 15)) report(id_, "realloc result misaligned", nb, 16);
      if (malloc_usable_size(q) < ns) report(id_, "usable size < realloc request", nb, malloc_usable_size(q));
      if (ns > kSampleAbove) nb.sampled = true;  // the old part was filled fully or sampled: both fine
      if (ns > b.size) fill_block(nb, b.size, ns);  // position-based pattern: extend it
      live_ = live_ - std::min(live_, b.size) + ns;
      b = nb;
      reallocs_++;
    }
  }

  void drain_inbox(bool final_pass = false) {
    std::vector<Block> got;
    {
      std::lock_guard<std::mutex> g(inbox_mutex_);
      got.swap(inbox_);
    }
    for (Block& b : got) {
      received_++;
      live_ += b.size;
      if (final_pass) {
        release(b, "verify before free (received block)");
        continue;
      }
      uint64_t k = rng_.below(3);
      if (k == 0) {
        release(b, "verify before free (received block)");
      } else if (k == 1 && b.kind == kMalloc) {
        reallocate(b);  // realloc of a block another thread allocated
        release(b, "verify before free (received, realloced)");
      } else {
        Block& slot = slots_[rng_.below(slots_.size())];
        release(slot, "verify before free");
        verify(b, "verify on arrival");
        slot = b;  // keep it; freed later by this thread
      }
    }
  }

  void send(Block& b) {
    if (!b.p || g_workers.size() < 2) return;
    verify(b, "verify before hand-over");
    size_t to = (size_t)id_;
    while (to == (size_t)id_) to = rng_.below(g_workers.size());
    live_ -= std::min(live_, b.size);
    g_workers[to]->push(b);
    sent_++;
    b = Block();
  }

  void step() {
    Block& b = slots_[rng_.below(slots_.size())];
    uint64_t k = rng_.below(100);
    if (live_ > g_opt.max_live) k = 45;  // over budget: free
    if (k < 40) {
      release(b, "verify before free");
      allocate(b);
    } else if (k < 65) {
      release(b, "verify before free");
    } else if (k < 82) {
      reallocate(b);
    } else if (k < 92) {
      send(b);
    } else {
      if (b.p) verify(b, "periodic verify");
    }
  }

  void free_all() {
    for (Block& b : slots_) release(b, "verify before free (free_all)");
    live_ = 0;
  }
};

void side_thread() {
  // Concurrent purges and statistics, as a monitoring thread of a real program would do.
  int n = 0;
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (++n % 4 == 0) malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    (void)mi;
  }
}

bool parse(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    auto arg = [&](const char* name) { return strcmp(argv[i], name) == 0 && i + 1 < argc; };
    if (arg("--threads")) g_opt.threads = atoi(argv[++i]);
    else if (arg("--seconds")) g_opt.seconds = atof(argv[++i]);
    else if (arg("--ops")) g_opt.ops = strtoull(argv[++i], nullptr, 0);
    else if (arg("--seed")) g_opt.seed = strtoull(argv[++i], nullptr, 0);
    else if (arg("--max-live-mib")) g_opt.max_live = strtoull(argv[++i], nullptr, 0) * MiB;
    else if (strcmp(argv[i], "--require-lib") == 0) g_opt.require_lib = true;
    else return false;
  }
  return g_opt.threads >= 1 && g_opt.threads <= 256 && g_opt.seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!parse(argc, argv)) {
    fprintf(stderr, "usage: %s [--threads N] [--seconds S] [--ops N] [--seed X] [--max-live-mib M] [--require-lib]\n",
            argv[0]);
    return 2;
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  alarm((unsigned)(g_opt.seconds * 3) + 120);  // deadlock watchdog (default action: terminate)
  bool lib = dlsym(RTLD_DEFAULT, "im_malloc") != nullptr;
  printf("stress: libmallocim %s; %d threads, %.0f s, at most %llu ops per thread, seed %#llx, %zu MiB live per thread\n",
         lib ? "loaded" : "NOT loaded (glibc)", g_opt.threads, g_opt.seconds, (unsigned long long)g_opt.ops,
         (unsigned long long)g_opt.seed, g_opt.max_live / MiB);
  if (g_opt.require_lib && !lib) {
    printf("stress: FAIL: im_malloc not found: run with LD_PRELOAD=libmallocim.so\n");
    return 1;
  }
  struct mallinfo2 before = mallinfo2();

  std::vector<Worker*> workers;
  for (int i = 0; i < g_opt.threads; i++) workers.push_back(new Worker(i));
  g_workers = workers;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (Worker* w : workers) ts.emplace_back([w] { w->run(); });
  std::thread side(side_thread);
  for (auto& t : ts) t.join();
  g_stop = true;
  side.join();
  for (Worker* w : workers) w->drain_final();
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  uint64_t ops = 0, allocs = 0, frees = 0, reallocs = 0, sent = 0, received = 0, bytes = 0;
  for (Worker* w : workers) {
    ops += w->ops_, allocs += w->allocs_, frees += w->frees_, reallocs += w->reallocs_;
    sent += w->sent_, received += w->received_, bytes += w->bytes_;
  }
  g_workers.clear();
  for (Worker* w : workers) delete w;
  struct mallinfo2 after = mallinfo2();
  printf("stress: %.1f s, %llu ops (%.2f M/s), %llu allocations (%.1f GiB), %llu frees, %llu reallocs, "
         "%llu blocks handed to other threads (%llu received)\n",
         el, (unsigned long long)ops, ops / el / 1e6, (unsigned long long)allocs, bytes / 1073741824.0,
         (unsigned long long)frees, (unsigned long long)reallocs, (unsigned long long)sent,
         (unsigned long long)received);
  long residual = (long)after.uordblks - (long)before.uordblks;
  printf("stress: mallinfo2 uordblks before %zu, after everything was freed %zu (%+ld)\n", before.uordblks,
         after.uordblks, residual);
  bool ok = g_errors.load() == 0;
  if (sent != received) {
    fprintf(stderr, "ERROR: %llu blocks sent but %llu received\n", (unsigned long long)sent,
            (unsigned long long)received);
    ok = false;
  }
  if (residual > (long)(4 * MiB)) {
    fprintf(stderr, "ERROR: %ld bytes still counted live (mallinfo2 uordblks) after every block was freed\n",
            residual);
    ok = false;
  }
  printf("stress: %s (%llu errors)\n", ok ? "PASS" : "FAIL", (unsigned long long)g_errors.load());
  return ok ? 0 : 1;
}
