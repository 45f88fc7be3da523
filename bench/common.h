// Shared helpers of the benchmark workloads: options, a seeded RNG, self-checking blocks,
// memory figures and the RESULT line. Workloads use only malloc/free/new/delete; the allocator
// under test is chosen at run time with LD_PRELOAD.
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bench {

// Exit statuses the runner reports as FAILED (exit N).
constexpr int kExitUsage = 2;
constexpr int kExitCorrupt = 3;  // a block's contents or alignment were wrong
constexpr int kExitNoMemory = 4; // the allocator returned NULL

// ---- options: "--name value" or "--name=value", all unsigned integers -----------------------
// Usage: call get() for every option, then done(), which handles --help and unknown names.
// Errors end the program with kExitUsage.
class Options {
public:
  Options(int argc, char** argv, const char* prog, const char* about)
      : prog_(prog), about_(about) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        help_ = true;
        continue;
      }
      if (a.rfind("--", 0) != 0) fail("unexpected argument '" + a + "'");
      a.erase(0, 2);
      const auto eq = a.find('=');
      if (eq != std::string::npos) {
        given_.push_back({a.substr(0, eq), a.substr(eq + 1)});
      } else if (i + 1 < argc) {
        given_.push_back({a, argv[++i]});
      } else {
        fail("option --" + a + " needs a value");
      }
    }
  }

  // Value of --name, def when absent; values below min are rejected.
  uint64_t get(const char* name, uint64_t def, const char* help, uint64_t min = 0) {
    known_.push_back({name, std::to_string(def), help});
    uint64_t v = def;
    for (auto& g : given_) {
      if (g.name != name) continue;
      char* end = nullptr;
      errno = 0;
      v = std::strtoull(g.value.c_str(), &end, 0);
      if (errno != 0 || end == g.value.c_str() || *end != '\0' || g.value[0] == '-')
        fail("bad value '" + g.value + "' for --" + name);
      if (v < min) fail("--" + std::string(name) + " must be at least " + std::to_string(min));
      g.used = true;
    }
    return v;
  }

  // Value of --name as text, def when absent (e.g. a file name).
  std::string get_str(const char* name, const char* def, const char* help) {
    known_.push_back({name, *def ? std::string(def) : std::string("-"), help});
    std::string v = def;
    for (auto& g : given_) {
      if (g.name != name) continue;
      v = g.value;
      g.used = true;
    }
    return v;
  }

  void done() {
    if (help_) {
      std::printf("usage: %s [--OPTION VALUE]...\n%s\n\noptions (default, meaning):\n", prog_,
                  about_);
      for (const auto& k : known_)
        std::printf("  --%-10s %-10s %s\n", k.name.c_str(), k.def.c_str(), k.help);
      std::exit(0);
    }
    for (const auto& g : given_)
      if (!g.used) fail("unknown option --" + g.name);
  }

  [[noreturn]] void fail(const std::string& msg) const {
    std::fprintf(stderr, "%s: %s (--help lists the options)\n", prog_, msg.c_str());
    std::exit(kExitUsage);
  }

private:
  struct Given {
    std::string name, value;
    bool used = false;
  };
  struct Known {
    std::string name, def;
    const char* help;
  };
  const char* prog_;
  const char* about_;
  bool help_ = false;
  std::vector<Given> given_;
  std::vector<Known> known_;
};

// ---- deterministic RNG (splitmix64) ---------------------------------------------------------
class Rng {
public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (multiply-shift range reduction).
  uint64_t below(uint64_t n) { return uint64_t((unsigned __int128)next() * n >> 64); }
  // Uniform in [lo, hi].
  uint64_t range(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }

private:
  uint64_t s_;
};

// Size in [lo, hi] (0 < lo <= hi) spread evenly over the powers of two: as many sizes fall in
// 64-127 as in 1-2 MiB. Models programs whose object sizes span several orders of magnitude.
inline size_t log_uniform(Rng& rng, size_t lo, size_t hi) {
  if (lo >= hi) return lo;
  const unsigned b = unsigned(rng.range(std::bit_width(lo) - 1, std::bit_width(hi - 1) - 1));
  const size_t from = std::max(lo, size_t(1) << b);
  const size_t to = std::min(hi, size_t(2) << b); // [2^b, 2^(b+1)], hi itself reachable
  return rng.range(from, to);
}

// Seed of worker i, so that every thread draws its own reproducible stream.
inline uint64_t thread_seed(uint64_t seed, uint64_t i) {
  return seed * 0x100000001b3ull + i * 7919 + 1;
}

// ---- self-checking blocks ---------------------------------------------------------------------
// Every block is touched when it is made: an 8-byte header (size and a 24-bit tag) and then one
// pattern byte in every 64-byte line plus the last byte, so each page and cache line of the block
// is written. check() reads all of them back before the block is freed, whichever thread frees it.
constexpr size_t kMinBlock = 8;
constexpr size_t kMaxBlock = size_t(1) << 32; // sanity bound for a header read back
constexpr size_t kTouchStride = 64;

inline uint8_t pattern(uint64_t tag, size_t off) { return uint8_t((tag ^ (off >> 6)) * 0x9d + 1); }

// Takes the address as a number: the block may be uninitialised (a misaligned fresh block), and
// a pointer parameter would make GCC warn about passing uninitialised memory.
[[noreturn]] inline void corrupt_at(uintptr_t addr, const char* what, size_t size) {
  std::fprintf(stderr, "bench: block 0x%" PRIxPTR " (size %zu): %s\n", addr, size, what);
  std::fflush(stderr);
  std::_Exit(kExitCorrupt);
}

[[noreturn]] inline void corrupt(const void* p, const char* what, size_t size) {
  corrupt_at(reinterpret_cast<uintptr_t>(p), what, size);
}

inline void* checked(void* p, size_t size) {
  if (p == nullptr) {
    std::fprintf(stderr, "bench: allocation of %zu bytes failed\n", size);
    std::_Exit(kExitNoMemory);
  }
  const uintptr_t align = size >= 16 ? 16 : 8;
  if (reinterpret_cast<uintptr_t>(p) % align != 0)
    corrupt_at(reinterpret_cast<uintptr_t>(p), "misaligned", size);
  return p;
}

// Writes the header and the pattern; kMinBlock <= size <= kMaxBlock. A stride other than
// kTouchStride (a multiple of it, e.g. 4096 for one write per page of a large block) must be
// given to check() as well.
inline void stamp(void* p, size_t size, uint64_t tag, size_t stride = kTouchStride) {
  tag &= 0xffffff;
  auto* b = static_cast<uint8_t*>(p);
  const uint64_t header = uint64_t(size) | (tag << 40);
  std::memcpy(b, &header, sizeof header);
  for (size_t off = stride; off < size; off += stride) b[off] = pattern(tag, off);
  if (size > sizeof header) b[size - 1] = pattern(tag, size - 1);
}

// Verifies a stamped block and returns its size, taken from the header.
inline size_t check(const void* p, size_t stride = kTouchStride) {
  const auto* b = static_cast<const uint8_t*>(p);
  uint64_t header;
  std::memcpy(&header, b, sizeof header);
  const size_t size = size_t(header & ((uint64_t(1) << 40) - 1));
  const uint64_t tag = header >> 40;
  if (size < kMinBlock || size > kMaxBlock) corrupt(p, "bad header", size);
  for (size_t off = stride; off < size; off += stride)
    if (b[off] != pattern(tag, off)) corrupt(p, "pattern overwritten", size);
  if (size > sizeof header && b[size - 1] != pattern(tag, size - 1))
    corrupt(p, "last byte overwritten", size);
  return size;
}

// ---- internal waste (BENCH_WASTE=1) ----------------------------------------------------------
// What the allocator hands out beyond what was asked (malloc_usable_size minus the request),
// summed over the live blocks made by make_block, and taken when the asked bytes peak. Off
// unless the environment asks: the extra call per block costs time, so run_bench.py --waste
// measures it in runs of its own.
class WasteMeter {
public:
  static WasteMeter& get() {
    static WasteMeter m;
    return m;
  }
  bool on() const { return on_; }
  void alloc(void* p, size_t size) { add(int64_t(size), int64_t(malloc_usable_size(p))); }
  void free(void* p, size_t size) { add(-int64_t(size), -int64_t(malloc_usable_size(p))); }
  uint64_t asked_peak() const { return peak_asked_; }
  uint64_t waste_at_peak() const { return waste_at_peak_; }

private:
  WasteMeter() {
    const char* e = std::getenv("BENCH_WASTE");
    on_ = e && *e == '1';
  }
  void add(int64_t asked, int64_t given) {
    const int64_t a = asked_.fetch_add(asked, std::memory_order_relaxed) + asked;
    const int64_t g = given_.fetch_add(given, std::memory_order_relaxed) + given;
    if (asked > 0 && uint64_t(a) > peak_asked_) {  // threads: the two sums may be a block apart
      std::lock_guard lk(mu_);
      if (uint64_t(a) > peak_asked_) {
        peak_asked_ = uint64_t(a);
        waste_at_peak_ = g > a ? uint64_t(g - a) : 0;
      }
    }
  }
  bool on_ = false;
  std::atomic<int64_t> asked_{0}, given_{0};
  std::mutex mu_;
  uint64_t peak_asked_ = 0, waste_at_peak_ = 0;
};

inline void* make_block(size_t size, uint64_t tag) {
  void* p = checked(std::malloc(size), size);
  stamp(p, size, tag);
  if (WasteMeter::get().on()) WasteMeter::get().alloc(p, size);
  return p;
}

// Frees a block of make_block's that check() has passed.
inline void free_checked(void* p, size_t size) {
  if (WasteMeter::get().on()) WasteMeter::get().free(p, size);
  std::free(p);
}

// Frees a block of make_block's, checked; returns its size.
inline size_t free_block(void* p) {
  const size_t size = check(p);
  free_checked(p, size);
  return size;
}

// A table of n pointers mapped directly, outside the allocator under test (pages become resident
// as they are used; the same for every allocator). Ends the program when the mapping fails.
inline void** map_table(size_t n) {
  void* p = mmap(nullptr, n * sizeof(void*), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("bench: mmap");
    std::_Exit(kExitNoMemory);
  }
  return static_cast<void**>(p);
}

// ---- memory figures -----------------------------------------------------------------------------
inline uint64_t rss_now_kb() {
  unsigned long pages_total = 0, pages_resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu %lu", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  return uint64_t(pages_resident) * uint64_t(sysconf(_SC_PAGESIZE)) / 1024;
}

// Peak RSS of this process image (VmHWM). Not getrusage's ru_maxrss: that one also counts the
// parent's RSS at fork/exec time (a Python runner's ~17 MiB would hide small workloads).
// Appends v to a comma-separated list (a RESULT value such as phase_rss_kb).
inline void append_listed(std::string& list, uint64_t v) {
  if (!list.empty()) list += ',';
  list += std::to_string(v);
}

inline uint64_t rss_peak_kb() {
  uint64_t kb = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmHWM: %" SCNu64, &kb) == 1) break;
    std::fclose(f);
  }
  return kb;
}

// Live bytes of a multi-threaded workload without a shared counter on the hot path: each worker
// adds to its own cache line (its net figure may go negative when it frees others' blocks), and
// a sampler thread sums the lines every millisecond and keeps the peak. With a single line its
// exact peak is used as well, so the figure is exact with one worker.
class LiveMeter {
public:
  explicit LiveMeter(unsigned workers) : slots_(workers) {
    sampler_ = std::thread([this] {
      std::unique_lock lk(mu_);
      while (!stop_) {
        sample();
        cv_.wait_for(lk, std::chrono::milliseconds(1));
      }
    });
  }
  ~LiveMeter() { stop(); }

  void add(unsigned worker, int64_t delta) {
    Slot& s = slots_[worker];
    const int64_t v = s.bytes.load(std::memory_order_relaxed) + delta;
    s.bytes.store(v, std::memory_order_relaxed);
    if (v > s.peak) s.peak = v;
  }
  // Sum of the workers' lines now (any thread; a close estimate while they run).
  uint64_t current() const {
    int64_t sum = 0;
    for (const auto& s : slots_) sum += s.bytes.load(std::memory_order_relaxed);
    return sum > 0 ? uint64_t(sum) : 0;
  }
  // Stops the sampler and returns the peak; call after the workers have finished.
  uint64_t stop() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (sampler_.joinable()) sampler_.join();
    sample();
    if (slots_.size() == 1) peak_ = std::max(peak_, uint64_t(slots_[0].peak));
    return peak_;
  }

private:
  struct alignas(64) Slot {
    std::atomic<int64_t> bytes{0};
    int64_t peak = 0; // owner's view, used with a single line only
  };
  void sample() {
    int64_t sum = 0;
    for (const auto& s : slots_) sum += s.bytes.load(std::memory_order_relaxed);
    if (sum > 0 && uint64_t(sum) > peak_) peak_ = uint64_t(sum);
  }
  std::vector<Slot> slots_;
  uint64_t peak_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread sampler_;
};

// ---- time series: RSS and live bytes over time ----------------------------------------------
// A workload made with --trace FILE records (ms since start, RSS KiB, live bytes) at most every
// --trace-ms ms and writes them as CSV ("ms,rss_kb,live_bytes") when write() is called at its
// end. It never calls the allocator under test: the samples go to a table mapped directly (the
// same few pages for every allocator; when it is full, every other sample is dropped and the
// interval doubled), RSS is read with pread on a descriptor kept open on /proc/self/statm, and
// the file is written with write(2). Without a file every call returns at once (idle() still
// sleeps). Not thread-safe: one thread calls tick/poll/sample/idle.
class Tracer {
public:
  Tracer(Options& opt)
      : path_(opt.get_str("trace", "", "write RSS and live bytes over time to this CSV file")),
        interval_ms_(opt.get("trace-ms", 2, "ms between two trace samples", 1)) {
    if (path_.empty()) return;
    table_ = static_cast<Sample*>(mmap(nullptr, kCapacity * sizeof(Sample), PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    statm_ = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (table_ == MAP_FAILED || statm_ < 0) {
      std::fprintf(stderr, "bench: cannot set up the trace (%s)\n", std::strerror(errno));
      std::exit(kExitUsage);
    }
    page_kb_ = uint64_t(sysconf(_SC_PAGESIZE)) / 1024;
    sample(0);
  }
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  bool on() const { return !path_.empty(); }

  // Once per operation, with the live bytes after it: a sample when the interval has passed
  // (the clock is read every 16th call).
  void tick(uint64_t live) {
    if (path_.empty() || (++calls_ & 15) != 0) return;
    poll(live);
  }

  // A sample when the interval has passed (reads the clock every time).
  void poll(uint64_t live) {
    if (!path_.empty() && now_ms() >= next_ms_) sample(live);
  }

  // A sample now, whatever the interval.
  void sample(uint64_t live) {
    if (path_.empty()) return;
    const double ms = now_ms();
    if (count_ == kCapacity) { // keep every other sample, sample half as often
      for (size_t i = 0; i < kCapacity / 2; ++i) table_[i] = table_[2 * i];
      count_ = kCapacity / 2;
      interval_ms_ *= 2;
    }
    table_[count_++] = {ms, rss_kb(), live};
    next_ms_ = ms + double(interval_ms_);
  }

  // Sleeps ms milliseconds without calling the allocator, sampling on the way when tracing.
  void idle(uint64_t ms, uint64_t live) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    if (path_.empty()) {
      std::this_thread::sleep_until(end);
      return;
    }
    sample(live);
    for (auto t = std::chrono::steady_clock::now(); t < end; t = std::chrono::steady_clock::now()) {
      std::this_thread::sleep_until(std::min(end, t + std::chrono::milliseconds(interval_ms_)));
      sample(live);
    }
  }

  // Resident KiB now, from the open statm descriptor (no allocation); 0 when not tracing.
  uint64_t rss_kb() const {
    if (statm_ < 0) return 0;
    char buf[128];
    const ssize_t n = pread(statm_, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char* p = std::strchr(buf, ' ');
    return p ? std::strtoull(p + 1, nullptr, 10) * page_kb_ : 0;
  }

  // Writes the CSV (a last sample first); returns false (and says why) when it cannot.
  bool write(uint64_t live) {
    if (path_.empty()) return true;
    sample(live);
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "bench: cannot write %s: %s\n", path_.c_str(), std::strerror(errno));
      return false;
    }
    char buf[8192];
    size_t used = size_t(std::snprintf(buf, sizeof buf, "ms,rss_kb,live_bytes\n"));
    bool ok = true;
    for (size_t i = 0; i < count_ && ok; ++i) {
      used += size_t(std::snprintf(buf + used, sizeof buf - used, "%.1f,%" PRIu64 ",%" PRIu64 "\n",
                                   table_[i].ms, table_[i].rss_kb, table_[i].live));
      if (used > sizeof buf - 80 || i + 1 == count_) {
        ok = ::write(fd, buf, used) == ssize_t(used);
        used = 0;
      }
    }
    if (count_ == 0 && used > 0) ok = ::write(fd, buf, used) == ssize_t(used);
    ok = (close(fd) == 0) && ok;
    if (!ok) std::fprintf(stderr, "bench: short write to %s\n", path_.c_str());
    return ok;
  }

private:
  struct Sample {
    double ms;
    uint64_t rss_kb, live;
  };
  static constexpr size_t kCapacity = size_t(1) << 16;
  double now_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_)
        .count();
  }
  std::string path_;
  uint64_t interval_ms_;
  Sample* table_ = nullptr;
  size_t count_ = 0;
  uint64_t calls_ = 0;
  double next_ms_ = 0;
  int statm_ = -1;
  uint64_t page_kb_ = 4;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

// Makes blocks of the sizes size() draws at table[count], table[count + 1], ... until at least
// `target` bytes are live, ticking the trace; returns the live bytes (count and ops advance).
template <class Size>
uint64_t fill_table(void** table, size_t& count, uint64_t live, uint64_t target, Size size, Rng& rng,
                    Tracer& trace, uint64_t& ops) {
  while (live < target) {
    const size_t n = size();
    table[count++] = make_block(n, rng.next());
    live += n;
    ++ops;
    trace.tick(live);
  }
  return live;
}

// Checks and frees every block of table[0..count), ticking the trace; returns the live bytes
// left of `live`.
inline uint64_t free_table(void* const* table, size_t count, Tracer& trace, uint64_t live) {
  for (size_t i = 0; i < count; ++i) {
    live -= free_block(table[i]);
    trace.tick(live);
  }
  return live;
}

// ---- timing and the result line -----------------------------------------------------------------
class Stopwatch {
public:
  Stopwatch() : t0_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

private:
  std::chrono::steady_clock::time_point t0_;
};

// One line on stdout: "RESULT name=NAME key=value ...", what run_bench.py parses.
class Result {
public:
  explicit Result(const char* name) : line_(std::string("RESULT name=") + name) {}
  Result& add(const char* key, uint64_t v) { return add(key, std::to_string(v)); }
  Result& add(const char* key, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", v);
    return add(key, std::string(buf));
  }
  Result& add(const char* key, const std::string& v) {
    line_ += ' ';
    line_ += key;
    line_ += '=';
    line_ += v;
    return *this;
  }
  // The fields every workload reports.
  Result& common(uint64_t threads, uint64_t ops, double seconds, uint64_t live_peak_bytes) {
    return add("threads", threads)
        .add("ops", ops)
        .add("seconds", seconds)
        .add("live_peak_bytes", live_peak_bytes)
        .add("rss_peak_kb", rss_peak_kb())
        .add("rss_end_kb", rss_now_kb())
        .waste();
  }
  Result& waste() {
    const WasteMeter& w = WasteMeter::get();
    if (!w.on()) return *this;
    return add("asked_peak_bytes", w.asked_peak()).add("waste_at_peak_bytes", w.waste_at_peak());
  }
  // Peak RSS over peak live bytes (1.0: no overhead at all).
  Result& frag_ratio(uint64_t live_peak_bytes) {
    return add("frag_ratio", double(rss_peak_kb()) * 1024.0 / double(std::max<uint64_t>(1, live_peak_bytes)));
  }
  void print() const {
    std::printf("%s\n", line_.c_str());
    std::fflush(stdout);
  }

private:
  std::string line_;
};

// Runs fn(i) on n threads and waits for all of them.
template <class Fn>
void run_threads(unsigned n, Fn fn) {
  std::vector<std::thread> ts;
  ts.reserve(n);
  for (unsigned i = 0; i < n; ++i) ts.emplace_back(fn, i);
  for (auto& t : ts) t.join();
}

// Share of `total` that worker i of n gets (the first total % n workers get one more).
inline uint64_t share(uint64_t total, unsigned n, unsigned i) {
  return total / n + (i < total % n ? 1 : 0);
}

} // namespace bench
