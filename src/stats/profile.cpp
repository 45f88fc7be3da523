#include "stats/profile.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/lock.h"
#include "core/sample.h"
#include "core/size_class.h"
#include "debug/report.h"
#include "debug/stack.h"
#include "debug/unwind.h"
#include "platform/os.h"
#include "policy/options.h"
#include "stats/stats.h"

namespace mallocim {
namespace {

constexpr int kFrames = kProfileFrames;
// The tables are touched only as far as they are used: the live table starts small and doubles,
// the stacks' frames are appended to an arena.
constexpr size_t kLiveSlotsFirst = size_t(1) << 12, kLiveSlotsMax = size_t(1) << 22;
constexpr size_t kStackSlots = size_t(1) << 14;  // distinct call stacks
constexpr size_t kArenaFrames = kStackSlots * 12;

struct LiveEntry {  // one sampled allocation not yet freed; addr 0: empty slot
  uintptr_t addr;
  uint64_t id;
  uint64_t size;
  uint64_t usable;
  uint32_t small_class;  // a small block served by the large allocator: its class + 1; else 0
};

struct StackEntry {  // hash 0: empty slot
  uint64_t hash;
  uint32_t id;
  uint32_t depth;
  size_t first;  // its frames: g_arena[first, first + depth)
};

SpinLock g_lock;
bool g_active = false;  // sampling and recording (false in a forked child)
int g_fd = -1;          // the profile file, or -1: samples kept in memory only
LiveEntry* g_live = nullptr;
size_t g_live_slots = 0, g_live_count = 0;
StackEntry* g_stacks = nullptr;
uint32_t g_stack_count = 0;
void** g_arena = nullptr;
size_t g_arena_used = 0;
uint64_t g_next_id = 0;
uint64_t g_dropped = 0;  // samples the live table had no room for
size_t g_small_live[kMaxClasses];  // live samples that are small blocks, by class
double g_live_weight = 0, g_live_requested = 0;  // what the live samples stand for
uint64_t g_start_ms = 0;
uint64_t g_interval_ms = 1;                // between snapshots
std::atomic<uint64_t> g_next_snap_ms{0};  // 0: the first slow path takes one at once
char g_path[1100];
// A counting filter of live sampled addresses, read without the lock: most large frees find 0
// there and go on without taking it. Written under the lock only.
constexpr unsigned kFilterBits = 16;
std::atomic<uint32_t> g_filter[1u << kFilterBits];

std::atomic<uint32_t>& filter_of(uintptr_t a) {
  return g_filter[(a >> 4) * 0x9E3779B97F4A7C15ull >> (64 - kFilterBits)];
}
void filter_add(uintptr_t a, int d) {
  auto& f = filter_of(a);
  f.store(f.load(std::memory_order_relaxed) + uint32_t(d), std::memory_order_relaxed);
}
// A block is sampled before malloc returns it, so the thread that frees it has seen the count.
bool filter_may_hold(const void* p) { return filter_of(uintptr_t(p)).load(std::memory_order_relaxed) != 0; }

// ---- output: a buffer flushed with write(2); nothing here allocates ---------------------------
char g_buf[1 << 16];
size_t g_len = 0;

void flush() {
  size_t off = 0;
  while (off < g_len && g_fd >= 0) {
    ssize_t w = write(g_fd, g_buf + off, g_len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += size_t(w);
  }
  g_len = 0;
}

void emit(const char* line, size_t n) {
  if (g_len + n > sizeof g_buf) flush();
  if (n > sizeof g_buf) n = sizeof g_buf;
  memcpy(g_buf + g_len, line, n);
  g_len += n;
}

#define EMIT(...)                                   \
  do {                                              \
    char line_[1400];                               \
    size_t n_ = format(line_, sizeof line_, __VA_ARGS__); \
    emit(line_, n_);                                \
  } while (0)

uint64_t now_rel() { return os::now_ms() - g_start_ms; }

// ---- the table of live samples: open addressing, linear probing, backward-shift deletion ------
size_t slot_of(uintptr_t a) { return size_t((a >> 4) * 0x9E3779B97F4A7C15ull >> 20) & (g_live_slots - 1); }

void* map_zeroed(size_t bytes) {
  return os::map_aligned(align_up(bytes, os::hw().page_size), os::hw().page_size);
}

LiveEntry* live_find(uintptr_t a) {
  for (size_t i = slot_of(a);; i = (i + 1) & (g_live_slots - 1)) {
    if (g_live[i].addr == a) return &g_live[i];
    if (g_live[i].addr == 0) return nullptr;
  }
}

// What a live sample adds to the running sums and the filter (sign -1 when it goes).
void account(const LiveEntry& e, int sign) {
  filter_add(e.addr, sign);
  double w = double(sample_weight(e.usable));
  g_live_weight += sign * w;
  g_live_requested += sign * w * double(e.size) / double(e.usable ? e.usable : 1);
  if (e.small_class) g_small_live[e.small_class - 1] += size_t(sign);
}

void live_place(const LiveEntry& e) {
  size_t i = slot_of(e.addr);
  while (g_live[i].addr != 0) i = (i + 1) & (g_live_slots - 1);
  g_live[i] = e;
}

// Doubles the table when it is 3/4 full; false when it may not grow any more.
bool live_grow() {
  if (g_live_slots * 2 > kLiveSlotsMax) return false;
  auto* bigger = static_cast<LiveEntry*>(map_zeroed(g_live_slots * 2 * sizeof(LiveEntry)));
  if (!bigger) return false;
  LiveEntry* old = g_live;
  size_t old_slots = g_live_slots;
  g_live = bigger;
  g_live_slots = old_slots * 2;
  for (size_t i = 0; i < old_slots; ++i)
    if (old[i].addr) live_place(old[i]);
  os::unmap(old, align_up(old_slots * sizeof(LiveEntry), os::hw().page_size));
  return true;
}

bool live_insert(const LiveEntry& e) {
  if (g_live_count + 1 >= g_live_slots * 3 / 4 && !live_grow()) return false;
  live_place(e);
  ++g_live_count;
  account(e, 1);
  return true;
}

void live_erase(LiveEntry* e) {
  account(*e, -1);
  size_t i = size_t(e - g_live);
  for (size_t j = i;;) {
    j = (j + 1) & (g_live_slots - 1);
    if (g_live[j].addr == 0) break;
    size_t home = slot_of(g_live[j].addr);
    // Move j back to i when its home slot is not in (i, j] (cyclically).
    bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      g_live[i] = g_live[j];
      i = j;
    }
  }
  g_live[i].addr = 0;
  --g_live_count;
}

// ---- call stacks, each written once ----------------------------------------------------------
uint32_t stack_intern(void* const* frames, int depth) {
  if (depth == 0 || !g_stacks) return 0;
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < depth; ++i) h = (h ^ uintptr_t(frames[i])) * 1099511628211ull;
  h |= 1;
  for (size_t i = size_t(h >> 50) & (kStackSlots - 1), probes = 0; probes < kStackSlots;
       i = (i + 1) & (kStackSlots - 1), ++probes) {
    StackEntry& s = g_stacks[i];
    if (s.hash == h && int(s.depth) == depth &&
        memcmp(g_arena + s.first, frames, sizeof(void*) * size_t(depth)) == 0)
      return s.id;
    if (s.hash != 0) continue;
    if (g_stack_count + 1 >= kStackSlots * 3 / 4 || g_arena_used + size_t(depth) > kArenaFrames)
      return 0;  // full: "unknown stack"
    s.hash = h;
    s.depth = uint32_t(depth);
    s.id = ++g_stack_count;
    s.first = g_arena_used;
    memcpy(g_arena + s.first, frames, sizeof(void*) * size_t(depth));
    g_arena_used += size_t(depth);
    char line[kFrames * 20 + 32];
    size_t n = format(line, sizeof line, "stack %u", s.id);
    for (int f = 0; f < depth; ++f) n += format(line + n, sizeof line - n, " 0x%zx", size_t(frames[f]));
    n += format(line + n, sizeof line - n, "\n");
    emit(line, n);
    return s.id;
  }
  return 0;
}

// ---- snapshots ---------------------------------------------------------------------------------
bool g_class_emitted[kMaxClasses];

// "class" lines for the classes that have a size and none yet (adaptive ones get theirs later).
void emit_new_classes() {
  for (unsigned c = 0; c < kMaxClasses; ++c) {
    if (g_class_emitted[c] || class_size(c) == 0) continue;
    g_class_emitted[c] = true;
    EMIT("class %u %zu\n", c, class_size(c));
  }
}

void snapshot(uint64_t t) {
  im_stats s;
  ClassFigures classes[kMaxClasses];
  stats_collect_classes(&s, classes);
  size_t rss = os::rss_bytes();
  LockGuard g(g_lock);
  if (g_fd < 0) return;
  emit_new_classes();
  EMIT("snap %zu %zu %zu %zu %zu %zu\n", size_t(t), rss, s.live_bytes, s.free_bytes, s.metadata_bytes,
       s.purged_bytes);
  for (unsigned c = 0; c < kMaxClasses; ++c)
    if (classes[c].pages)
      EMIT("cls %zu %u %zu %zu\n", size_t(t), c, classes[c].blocks * class_size(c), classes[c].carved_bytes);
  flush();
}

// ---- exit: where each address lies, for the report's symbols ----------------------------------
void write_frame(uintptr_t pc) {
  Frame fr;
  if (!stack_locate(pc, &fr))
    EMIT("frame 0x%zx 0x%zx - ?\n", size_t(pc), size_t(pc - 1));
  else
    EMIT("frame 0x%zx 0x%zx %s %s\n", size_t(pc), size_t(fr.vaddr), fr.symbol ? fr.symbol : "-", fr.module);
}

void write_frames() {
  // Each distinct address once: a set in scratch memory given back afterwards.
  size_t slots = 1;
  while (slots < size_t(g_stack_count + 1) * kFrames * 2) slots <<= 1;
  size_t bytes = align_up(slots * sizeof(uintptr_t), os::hw().page_size);
  auto* seen = static_cast<uintptr_t*>(os::map_aligned(bytes, os::hw().page_size));
  for (size_t i = 0; i < kStackSlots; ++i) {
    const StackEntry& s = g_stacks[i];
    for (uint32_t f = 0; f < s.depth; ++f) {
      uintptr_t pc = uintptr_t(g_arena[s.first + f]);
      if (seen) {
        size_t k = size_t((pc * 0x9E3779B97F4A7C15ull) >> 20) & (slots - 1);
        while (seen[k] != 0 && seen[k] != pc) k = (k + 1) & (slots - 1);
        if (seen[k] == pc) continue;
        seen[k] = pc;
      }
      write_frame(pc);
    }
  }
  if (seen) os::unmap(seen, bytes);
}

void at_exit() {
  if (!g_active || g_fd < 0) return;
  snapshot(now_rel());
  LockGuard g(g_lock);
  write_frames();
  EMIT("end %zu\n", size_t(now_rel()));
  flush();
  close(g_fd);
  g_fd = -1;
  if (g_dropped)
    report_warning("profile %s: %zu samples dropped (more than %zu sampled blocks live at once)", g_path,
                   size_t(g_dropped), kLiveSlotsMax * 3 / 4);
  if (option(Opt::verbose))
    report_line("==malloc-im== profile: %zu samples written to %s", size_t(g_next_id), g_path);
}

// One file per process, FILE.<pid>: a program may start others (a shell, a wrapper script), each
// with this library. An exec'ed image of the same process starts the file again.
int open_profile(const char* path) {
  format(g_path, sizeof g_path, "%s.%d", path, os::process_id());
  int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) report_warning("cannot write the profile to %s (errno %d); profiling is off", g_path, errno);
  return fd;
}

}  // namespace

void profile_init() {
  if (!g_sampling) return;
  g_live = static_cast<LiveEntry*>(map_zeroed(kLiveSlotsFirst * sizeof(LiveEntry)));
  if (!g_live) return;
  g_live_slots = kLiveSlotsFirst;
  g_start_ms = os::now_ms();
  const char* path = option_profile_path();
  if (path[0]) {
    g_stacks = static_cast<StackEntry*>(map_zeroed(kStackSlots * sizeof(StackEntry)));
    g_arena = static_cast<void**>(map_zeroed(kArenaFrames * sizeof(void*)));
    g_fd = g_stacks && g_arena ? open_profile(path) : -1;
    unwind_init();
  }
  g_active = true;
  if (g_fd < 0) return;
  char exe[512] = "?";
  os::program_path(exe, sizeof exe);
  int64_t interval = option(Opt::profile_interval_ms);
  g_interval_ms = interval > 0 ? uint64_t(interval) : 1;
  LockGuard g(g_lock);
  EMIT("mallocim-profile 1\n");
  EMIT("meta pid %d\nmeta program %s\nmeta rate %zu\nmeta version %s\n", os::process_id(), exe,
       size_t(sample_rate()), MALLOCIM_VERSION_STRING);
  EMIT("meta page_size %zu\nmeta interval_ms %zu\n", os::hw().page_size, size_t(g_interval_ms));
  emit_new_classes();
  flush();
  atexit(at_exit);
}

bool profile_wants_stacks() { return g_active && g_fd >= 0; }

void profile_record_alloc(void* p, size_t size, size_t usable, uint32_t thread_no, int small_class,
                          void* const* frames, int depth) {
  if (!g_active) return;
  uint64_t t = now_rel();
  LockGuard g(g_lock);
  if (!g_active) return;
  LiveEntry e{uintptr_t(p), ++g_next_id, size, usable, uint32_t(small_class + 1)};
  if (!live_insert(e)) {
    ++g_dropped;
    return;
  }
  if (g_fd < 0) return;
  uint32_t sid = stack_intern(frames, depth);
  EMIT("alloc %zu %zu %u %zu %zu %zu %u\n", size_t(t), size_t(e.id), sid, size, usable,
       size_t(sample_weight(usable)), thread_no);
}

void profile_record_free(void* p) {
  if (!g_active || !filter_may_hold(p)) return;
  LockGuard g(g_lock);
  if (!g_active || !g_live_count) return;
  LiveEntry* e = live_find(uintptr_t(p));
  if (!e) return;
  uint64_t id = e->id;
  live_erase(e);
  if (g_fd >= 0) EMIT("free %zu %zu\n", size_t(now_rel()), size_t(id));
}

bool profile_is_sampled(const void* p) {
  if (!g_active || !filter_may_hold(p)) return false;
  LockGuard g(g_lock);
  return g_live_count && live_find(uintptr_t(p)) != nullptr;
}

void profile_tick() {
  if (g_fd < 0) return;
  uint64_t t = now_rel(), due = g_next_snap_ms.load(std::memory_order_relaxed);
  if (t < due) return;
  if (!g_next_snap_ms.compare_exchange_strong(due, t + g_interval_ms, std::memory_order_relaxed))
    return;  // another thread takes this one
  snapshot(t);
}

void profile_fork_child() {
  // The file and the buffer are the parent's. Nothing takes the lock once g_active is false
  // (another thread may have held it at the fork).
  g_active = false;
  g_fd = -1;
  g_len = 0;
}

void profile_sampled_small(size_t* blocks) {
  if (!g_active) return;
  LockGuard g(g_lock);
  for (unsigned c = 0; c < kMaxClasses; ++c) blocks[c] += g_small_live[c];
}

SampleFigures profile_live_figures() {
  if (!g_active) return {};
  LockGuard g(g_lock);
  return {g_live_count, size_t(g_live_weight + 0.5), size_t(g_live_requested + 0.5)};
}

}  // namespace mallocim
