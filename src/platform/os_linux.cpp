// Linux implementation of the platform interface.
#include "platform/os.h"

#include <atomic>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

namespace mallocim::os {
namespace {

Hardware g_hw = {4096, 64, 1};

// Reads a small text file into buf without allocating; returns bytes read or -1.
long read_small_file(const char* path, char* buf, size_t cap) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

size_t parse_size(const char* s) {
  size_t v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + size_t(*s++ - '0');
  return v;
}

ThpMode read_thp_mode() {
  char buf[128];
  if (read_small_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) <= 0)
    return ThpMode::unavailable;
  if (strstr(buf, "[always]")) return ThpMode::always;
  if (strstr(buf, "[madvise]")) return ThpMode::madvise;
  return ThpMode::never;
}

}  // namespace

void init() {
  Hardware h = g_hw;
  if (unsigned long ps = getauxval(AT_PAGESZ)) h.page_size = ps;
  long line = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
  if (line <= 0) {
    char buf[32];
    if (read_small_file("/sys/devices/system/cpu/cpu0/cache/index0/coherency_line_size", buf,
                        sizeof buf) > 0)
      line = long(parse_size(buf));
  }
  if (line > 0 && (line & (line - 1)) == 0) h.cache_line = size_t(line);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) h.cpus = unsigned(CPU_COUNT(&set));
  g_hw = h;
}

const Hardware& hw() { return g_hw; }

const Thp& thp() {
  static Thp facts;
  static std::atomic<bool> known{false};
  if (known.load(std::memory_order_acquire)) return facts;
  Thp t{read_thp_mode(), 0};  // two threads may both read: the same files, the same answer
  if (t.mode != ThpMode::unavailable) {
    char buf[32];
    if (read_small_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf, sizeof buf) > 0)
      t.huge_page_size = parse_size(buf);
  }
  facts = t;
  known.store(true, std::memory_order_release);
  return facts;
}

void* map_aligned(size_t size, size_t align) {
  // Over-map by `align`, then cut the unaligned head and tail off.
  size_t span = size + align;
  if (span < size) return nullptr;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return nullptr;
  uintptr_t start = uintptr_t(p);
  uintptr_t aligned = (start + align - 1) & ~(uintptr_t(align) - 1);
  if (aligned > start) munmap(p, aligned - start);
  uintptr_t end = start + span, aligned_end = aligned + size;
  if (end > aligned_end) munmap(reinterpret_cast<void*>(aligned_end), end - aligned_end);
  return reinterpret_cast<void*>(aligned);
}

void unmap(void* p, size_t size) { munmap(p, size); }

void purge(void* p, size_t size) {
  if (size) madvise(p, size, MADV_DONTNEED);
}

void advise_huge_pages(void* p, size_t size) {
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);
#endif
}

void advise_no_huge_pages(void* p, size_t size) {
#ifdef MADV_NOHUGEPAGE
  madvise(p, size, MADV_NOHUGEPAGE);  // EINVAL on a kernel built without THP: nothing to keep out
#endif
}

bool remap_in_place(void* p, size_t old_size, size_t new_size) {
  return mremap(p, old_size, new_size, 0) != MAP_FAILED;
}

bool remap_to(void* p, size_t old_size, void* dst, size_t new_size) {
  return mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst;
}

bool residency(const void* p, size_t size, unsigned char* vec) {
  return mincore(const_cast<void*>(p), size, vec) == 0;
}

size_t resident_bytes(const void* p, size_t size) {
  unsigned char vec[1024];  // a chunk's pages per mincore call
  size_t page = g_hw.page_size, chunk = sizeof vec * page, n = 0;
  for (size_t off = 0; off < size; off += chunk) {
    size_t len = size - off < chunk ? size - off : chunk;
    if (!residency(static_cast<const char*>(p) + off, len, vec)) {
      n += len;
      continue;
    }
    for (size_t k = 0; k < (len + page - 1) / page; ++k) n += (vec[k] & 1) * page;
  }
  return n;
}

uint64_t random_u64() {
  uint64_t v = 0;
  if (const auto* r = reinterpret_cast<const uint8_t*>(getauxval(AT_RANDOM))) {
    // 16 bytes the kernel gave the process; glibc uses the first 8 for its stack guard.
    memcpy(&v, r + 8, sizeof v);
  } else if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = uint64_t(ts.tv_nsec) * 0x9E3779B97F4A7C15ull ^ uint64_t(getpid());
  }
  return v;
}

uint64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return uint64_t(ts.tv_sec) * 1000u + uint64_t(ts.tv_nsec) / 1000000u;
}

namespace {
// The first three fields of /proc/self/statm, in pages: size, resident, shared (file-backed and
// shmem pages); false when it cannot be read.
bool read_statm(size_t (&field)[3]) {
  char buf[128];
  if (read_small_file("/proc/self/statm", buf, sizeof buf) <= 0) return false;
  const char* s = buf;
  for (size_t& f : field) {
    while (*s == ' ') ++s;
    f = parse_size(s);
    while (*s && *s != ' ') ++s;
  }
  return true;
}
}  // namespace

size_t rss_bytes() {
  size_t field[3];
  return read_statm(field) ? field[1] * g_hw.page_size : 0;
}

size_t anon_rss_bytes() {
  size_t field[3];
  if (!read_statm(field)) return 0;
  return field[1] > field[2] ? (field[1] - field[2]) * g_hw.page_size : 0;
}

namespace {
// The figure after `field` in a /proc file of "Field:   N kB" lines, in bytes; 0 when absent.
size_t proc_kb_field(const char* path, const char* field) {
  char buf[4096];
  if (read_small_file(path, buf, sizeof buf) <= 0) return 0;
  const char* s = strstr(buf, field);
  if (!s) return 0;
  s += strlen(field);
  while (*s == ' ' || *s == '\t') ++s;
  return parse_size(s) * 1024;
}
}  // namespace

size_t peak_rss_bytes() { return proc_kb_field("/proc/self/status", "VmHWM:"); }

size_t anon_huge_bytes() { return proc_kb_field("/proc/self/smaps_rollup", "AnonHugePages:"); }

int process_id() { return int(getpid()); }

void program_name(char* buf, size_t cap) {
  long n = read_small_file("/proc/self/comm", buf, cap);
  if (n <= 0) {
    buf[0] = 0;
    return;
  }
  if (buf[n - 1] == '\n') buf[n - 1] = 0;
}

bool program_path(char* buf, size_t cap) {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path);
  if (n <= 0 || size_t(n) >= cap || size_t(n) >= sizeof path) return false;
  memcpy(buf, path, size_t(n));
  buf[n] = 0;
  return true;
}

void write_stderr(const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= size_t(w);
  }
}

const char* getenv(const char* name) { return ::getenv(name); }

void abort_process() {
  // abort() may run atexit-like handlers in some libcs; raise directly, then make sure.
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
  _exit(134);
}

void yield_cpu() { sched_yield(); }

uintptr_t thread_id() { return uintptr_t(pthread_self()); }

}  // namespace mallocim::os
