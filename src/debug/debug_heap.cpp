#include "debug/debug_heap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/init.h"
#include "core/lock.h"
#include "debug/report.h"
#include "debug/stack.h"
#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {
namespace {

// Fill patterns: new memory (reads of it show up as 0xbebebebe), canaries, freed memory.
constexpr uint8_t kUninit = 0xbe, kFront = 0xfa, kRear = 0xfb, kFreed = 0xdd;
constexpr size_t kCanary = 16;
constexpr uint64_t kLiveMagic = 0x4c495645424c4b31ull, kFreedMagic = 0x46524545424c4b31ull;

struct DebugHeader {
  uint64_t magic;  // kLiveMagic or kFreedMagic, mixed with the header's address
  size_t size;     // as requested
  uint32_t offset;  // from the core block to the user pointer
  AllocKind kind;
  uint8_t reserved[3];
  uint64_t seq;
  DebugHeader* prev;  // live list
  DebugHeader* next;
  Stack alloc_stack;
  Stack free_stack;
  uint8_t front[kCanary];  // right in front of the user's bytes
};
static_assert(sizeof(DebugHeader) % 16 == 0);

SpinLock g_lock;  // live list and quarantine
DebugHeader* g_live = nullptr;
uint64_t g_seq = 0;

constexpr size_t kQuarantineSlots = 1 << 16;
DebugHeader** g_quarantine = nullptr;  // ring, allocated from the core on first use
size_t g_q_head = 0, g_q_count = 0, g_q_bytes = 0;

uint64_t live_magic(const DebugHeader* h) { return kLiveMagic ^ uintptr_t(h); }
uint64_t freed_magic(const DebugHeader* h) { return kFreedMagic ^ uintptr_t(h); }
uint8_t* user_of(DebugHeader* h) { return reinterpret_cast<uint8_t*>(h + 1); }
DebugHeader* header_of(const void* p) {
  return reinterpret_cast<DebugHeader*>(const_cast<void*>(p)) - 1;
}
size_t rear_size(size_t size) { return kCanary + (align_up(size, 16) - size); }

const char* kind_name(AllocKind k) {
  switch (k) {
    case AllocKind::malloc_family: return "malloc";
    case AllocKind::new_scalar: return "new";
    case AllocKind::new_array: return "new[]";
  }
  return "?";
}
const char* release_name(AllocKind k) {
  switch (k) {
    case AllocKind::malloc_family: return "free";
    case AllocKind::new_scalar: return "delete";
    case AllocKind::new_array: return "delete[]";
  }
  return "?";
}

// One report: what went wrong, the block, the stacks; then abort unless told to go on.
void report(const char* what, const void* p, const DebugHeader* h, bool with_free_stack) {
  Stack here;
  stack_capture(&here);
  report_line("==malloc-im== ERROR: %s", what);
  if (h)
    report_line("  address %p: block of %zu bytes allocated with %s (allocation #%zu)", p, h->size,
                kind_name(h->kind), size_t(h->seq));
  else
    report_line("  address %p", p);
  report_line("  detected at:");
  stack_print(here);
  if (h && with_free_stack) {
    report_line("  freed at:");
    stack_print(h->free_stack);
  }
  if (h) {
    report_line("  allocated at:");
    stack_print(h->alloc_stack);
  }
  if (option(Opt::abort_on_error)) {
    report_line("==malloc-im== aborting (MALLOCIM_ABORT_ON_ERROR=0 reports and continues)");
    os::abort_process();
  }
}

// First byte in [p, p+n) that is not `pattern`, or n.
size_t first_mismatch(const uint8_t* p, size_t n, uint8_t pattern) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != pattern) return i;
  return n;
}

// Canaries on both sides; true when intact (a damaged one is reported).
bool check_canaries(DebugHeader* h, const char* when) {
  uint8_t* user = user_of(h);
  size_t front = first_mismatch(h->front, kCanary, kFront);
  if (front < kCanary) {
    char what[160];
    format(what, sizeof what, "heap-buffer-underflow: written %zu bytes before the block (found %s)",
           kCanary - front, when);
    report(what, user, h, false);
    return false;
  }
  size_t rear = rear_size(h->size);
  size_t bad = first_mismatch(user + h->size, rear, kRear);
  if (bad < rear) {
    char what[160];
    format(what, sizeof what, "heap-buffer-overflow: written at offset %zu of a %zu-byte block (found %s)",
           h->size + bad, h->size, when);
    report(what, user, h, false);
    return false;
  }
  return true;
}

// Whether p is a live block of the debug heap; reports what is wrong otherwise.
DebugHeader* checked(const void* p, const char* op) {
  char what[160];
  DebugHeader* h = header_of(p);
  if (!segmap_lookup(p) || !segmap_lookup(h)) {
    format(what, sizeof what, "invalid %s: pointer not allocated by malloc-im (stack, static or foreign)", op);
    report(what, p, nullptr, false);
    return nullptr;
  }
  if (h->magic == freed_magic(h)) {
    format(what, sizeof what, "double free: %s of a block already freed", op);
    report(what, p, h, true);
    return nullptr;
  }
  if (h->magic != live_magic(h)) {
    format(what, sizeof what, "invalid %s: not the start of a block (interior pointer?)", op);
    report(what, p, nullptr, false);
    return nullptr;
  }
  return h;
}

void core_release(DebugHeader* h) { dealloc(reinterpret_cast<uint8_t*>(user_of(h)) - h->offset); }

// A block leaving the quarantine: its poison must be intact, else it was written after free.
void evict(DebugHeader* h) {
  uint8_t* user = user_of(h);
  size_t bad = first_mismatch(user, h->size, kFreed);
  if (bad < h->size) {
    char what[160];
    format(what, sizeof what, "heap-use-after-free: write at offset %zu of a freed %zu-byte block", bad,
           h->size);
    report(what, user + bad, h, true);
  } else {
    check_canaries(h, "when the freed block left the quarantine");
  }
  core_release(h);
}

void live_link(DebugHeader* h) {
  LockGuard g(g_lock);
  h->seq = ++g_seq;
  h->prev = nullptr;
  h->next = g_live;
  if (g_live) g_live->prev = h;
  g_live = h;
}

void live_unlink(DebugHeader* h) {
  if (h->prev) h->prev->next = h->next; else g_live = h->next;
  if (h->next) h->next->prev = h->prev;
}

void quarantine_or_release(DebugHeader* h) {
  size_t budget = size_t(option(Opt::debug_quarantine_mb)) << 20;
  DebugHeader* out[8];
  int n_out = 0;
  {
    LockGuard g(g_lock);
    live_unlink(h);
    if (!g_quarantine)
      g_quarantine = static_cast<DebugHeader**>(alloc(kQuarantineSlots * sizeof(DebugHeader*)));
    if (!g_quarantine || budget == 0) {
      out[n_out++] = h;
    } else {
      while (n_out < 7 && g_q_count > 0 &&
             (g_q_count == kQuarantineSlots || g_q_bytes + h->size > budget)) {
        DebugHeader* old = g_quarantine[g_q_head];
        g_q_head = (g_q_head + 1) % kQuarantineSlots;
        g_q_count--;
        g_q_bytes -= old->size;
        out[n_out++] = old;
      }
      g_quarantine[(g_q_head + g_q_count) % kQuarantineSlots] = h;
      g_q_count++;
      g_q_bytes += h->size;
    }
  }
  for (int i = 0; i < n_out; ++i) evict(out[i]);
}

void at_exit_hook() { debug_at_exit(); }

void fork_prepare() { g_lock.lock(); }
void fork_release() { g_lock.unlock(); }

__attribute__((constructor(102))) void debug_init() {
  ensure_init();
  stack_prepare();
  pthread_atfork(fork_prepare, fork_release, fork_release);
  atexit(at_exit_hook);
}

}  // namespace

void* debug_allocate(size_t size, size_t align, AllocKind kind) {
  size_t a = align > 16 ? align : 16;
  size_t head = align_up(sizeof(DebugHeader), a);
  size_t total;
  if (size > kMaxRequest || __builtin_add_overflow(head + rear_size(size), size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  auto* block = static_cast<uint8_t*>(a <= 16 ? alloc(total) : alloc_aligned(a, total));
  if (!block) return nullptr;
  uint8_t* user = block + head;
  DebugHeader* h = header_of(user);
  h->magic = live_magic(h);
  h->size = size;
  h->offset = uint32_t(head);
  h->kind = kind;
  memset(h->front, kFront, kCanary);
  memset(user, kUninit, size);
  memset(user + size, kRear, rear_size(size));
  h->free_stack.depth = 0;
  stack_capture(&h->alloc_stack);
  live_link(h);
  return user;
}

void* debug_callocate(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = debug_allocate(total, 0, AllocKind::malloc_family);
  if (p) memset(p, 0, total);
  return p;
}

void debug_release(void* p, AllocKind kind, size_t sized) {
  if (!p) return;
  int saved_errno = errno;
  DebugHeader* h = checked(p, release_name(kind));
  if (!h) return;
  if (h->kind != kind) {
    char what[160];
    format(what, sizeof what, "alloc-dealloc-mismatch: memory from %s released with %s",
           kind_name(h->kind), release_name(kind));
    report(what, p, h, false);
  } else if (sized != kUnknownSize && sized != h->size) {
    char what[160];
    format(what, sizeof what, "new-delete-size-mismatch: sized delete of %zu bytes, block has %zu",
           sized, h->size);
    report(what, p, h, false);
  }
  check_canaries(h, "when the block was freed");
  stack_capture(&h->free_stack);
  h->magic = freed_magic(h);
  memset(p, kFreed, h->size);
  quarantine_or_release(h);
  errno = saved_errno;
}

void* debug_reallocate(void* p, size_t size) {
  if (!p) return debug_allocate(size, 0, AllocKind::malloc_family);
  if (size == 0) {
    debug_release(p, AllocKind::malloc_family, kUnknownSize);
    return nullptr;
  }
  DebugHeader* h = checked(p, "realloc");
  if (!h) return nullptr;
  check_canaries(h, "when the block was reallocated");
  // Always move: a stale pointer to the old block then reads poison instead of live data.
  void* q = debug_allocate(size, 0, AllocKind::malloc_family);
  if (!q) return nullptr;
  memcpy(q, p, h->size < size ? h->size : size);
  debug_release(p, AllocKind::malloc_family, kUnknownSize);
  return q;
}

size_t debug_usable(const void* p) {
  DebugHeader* h = checked(p, "malloc_usable_size");
  return h ? h->size : 0;
}

void debug_at_exit() {
  // Writes after free into blocks still in quarantine, damaged canaries of live blocks.
  g_lock.lock();
  size_t qn = g_q_count;
  g_q_count = 0;
  DebugHeader* live = g_live;
  g_lock.unlock();
  for (size_t i = 0; i < qn; ++i) {
    DebugHeader* h = g_quarantine[(g_q_head + i) % kQuarantineSlots];
    uint8_t* user = user_of(h);
    size_t bad = first_mismatch(user, h->size, kFreed);
    if (bad < h->size) {
      char what[160];
      format(what, sizeof what, "heap-use-after-free: write at offset %zu of a freed %zu-byte block (found at exit)",
             bad, h->size);
      report(what, user + bad, h, true);
    }
  }
  for (DebugHeader* h = live; h; h = h->next) check_canaries(h, "at exit");
  if (!option(Opt::debug_leaks)) return;
  // Leaks, grouped by allocating stack, largest first.
  struct Site { unsigned long hash; size_t count, bytes; DebugHeader* example; };
  constexpr size_t kSites = 4096;
  auto* sites = static_cast<Site*>(alloc(kSites * sizeof(Site)));
  if (!sites) return;
  memset(static_cast<void*>(sites), 0, kSites * sizeof(Site));
  size_t total = 0, blocks = 0;
  for (DebugHeader* h = live; h; h = h->next) {
    unsigned long hash = stack_hash(h->alloc_stack);
    size_t i = hash % kSites;
    while (sites[i].count && sites[i].hash != hash) i = (i + 1) % kSites;
    sites[i].hash = hash;
    sites[i].count++;
    sites[i].bytes += h->size;
    sites[i].example = h;
    total += h->size;
    blocks++;
  }
  if (blocks == 0) return;
  report_line("==malloc-im== LEAKS: %zu bytes in %zu blocks still allocated at exit", total, blocks);
  for (int shown = 0; shown < 20; ++shown) {
    Site* best = nullptr;
    for (size_t i = 0; i < kSites; ++i)
      if (sites[i].count && (!best || sites[i].bytes > best->bytes)) best = &sites[i];
    if (!best) break;
    report_line("  %zu bytes in %zu blocks allocated with %s at:", best->bytes, best->count,
                kind_name(best->example->kind));
    stack_print(best->example->alloc_stack);
    best->count = 0;
  }
}

}  // namespace mallocim
