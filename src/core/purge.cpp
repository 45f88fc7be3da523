#include "core/purge.h"

#include <errno.h>

#include <atomic>

#include "core/background.h"
#include "core/heap.h"
#include "core/huge.h"
#include "core/large.h"
#include "core/page_pool.h"
#include "core/sparse.h"
#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {
namespace {
SpinLock g_purge_lock;
std::atomic<uint64_t> g_next_purge_ms{0};
std::atomic<size_t> g_fresh_total{0};  // bytes counted as fresh since start
size_t g_rss_seen = 0, g_fresh_seen = 0;  // at the last look for growth from outside (purge lock)
constexpr size_t kExternalMin = size_t(2) << 20;
}  // namespace

SpinLock& purge_lock() { return g_purge_lock; }

std::atomic<uint64_t> g_last_free_ms{0};

size_t purge_tick(uint64_t now) {
  // Written once per millisecond, not on every free: threads freeing at once would otherwise
  // pass the line between them on every medium free.
  if (g_last_free_ms.load(std::memory_order_relaxed) != now) g_last_free_ms.store(now, std::memory_order_relaxed);
  if (MI_UNLIKELY(!background_running())) background_wanted();
  return purge_due(now);
}

size_t purge_due(uint64_t now) {
  if (now < g_next_purge_ms.load(std::memory_order_relaxed)) return 0;
  int saved_errno = errno;  // runs inside free(), which must leave errno alone
  int64_t delay = option(Opt::purge_delay_ms);
  if (delay < 0 || !g_purge_lock.try_lock()) return 0;
  // Look again after a quarter of the delay: memory is returned at most 1.25x delay after it
  // became free, while purge work stays rare.
  uint64_t step = uint64_t(delay / 4);
  g_next_purge_ms.store(now + (step < 10 ? 10 : step), std::memory_order_relaxed);
  uint64_t older_than = now > uint64_t(delay) ? now - uint64_t(delay) : 0;
  abandoned_sweep();
  size_t released = pool_purge(older_than);
  released += large_purge(older_than, false);
  released += huge_cache_trim(older_than);
  released += purge_external();
  g_purge_lock.unlock();
  errno = saved_errno;
  return released;
}

void purge_count_fresh(size_t bytes) { g_fresh_total.fetch_add(bytes, std::memory_order_relaxed); }

size_t purge_external() {
  if (!option(Opt::purge_external)) return 0;
  size_t rss = os::anon_rss_bytes(), fresh = g_fresh_total.load(std::memory_order_relaxed);
  if (!rss) return 0;
  size_t released = 0;
  // Our own purges since the last look only lower RSS: they hide growth, never fake it. What we
  // fault in without counting it (holes filled again) passes for growth from outside: a little
  // more goes back than needed.
  int64_t grown = int64_t(rss) - int64_t(g_rss_seen) - int64_t(fresh - g_fresh_seen);
  if (g_rss_seen && grown > int64_t(kExternalMin)) {
    size_t want = size_t(grown);
    released = pool_purge_bytes(want);
    if (released < want) released += large_purge_bytes(want - released);
    if (released < want) released += huge_cache_trim_bytes(want - released);
    if (released) rss = os::anon_rss_bytes();
  }
  g_rss_seen = rss;
  g_fresh_seen = fresh;
  return released;
}

void purge_pressure(size_t bytes, Layer from) {
  constexpr size_t kStep = size_t(1) << 20;  // purge work in batches of about this much
  static std::atomic<size_t> debt{0};
  purge_count_fresh(bytes);
  if (debt.fetch_add(bytes, std::memory_order_relaxed) + bytes < kStep) return;
  if (option(Opt::purge_delay_ms) < 0 || !option(Opt::purge_pressure) || !g_purge_lock.try_lock()) return;
  int saved_errno = errno;
  size_t want = debt.exchange(0, std::memory_order_relaxed), done = 0;
  // Large and huge blocks count as one side: a buffer growing through realloc moves from one to
  // the other and back within milliseconds, and giving either's free memory to the OS for the
  // other made the realloc workload 46 % slower. Between small pages and the rest there is no such
  // traffic: a program's use moves from one to the other with its phases.
  if (from != Layer::small) done += pool_purge_bytes(want);
  // Then the free OS pages inside this thread's sparse small pages (a pass over another
  // thread's pages would race with its owner).
  if (done < want && from != Layer::small && t_heap != &g_empty_heap && option(Opt::sparse_pages))
    done += heap_sparse_pass(t_heap, os::now_ms(), SparsePass::pressure, want - done);
  if (done < want && from == Layer::small) done += large_purge_bytes(want - done);
  if (done < want && from == Layer::small) done += huge_cache_trim_bytes(want - done);
  g_purge_lock.unlock();
  errno = saved_errno;
}

size_t purge_all() {
  LockGuard g(g_purge_lock);
  abandoned_sweep();
  size_t released = pool_purge(UINT64_MAX);
  released += large_purge(UINT64_MAX, true);
  return released + huge_cache_trim(UINT64_MAX);
}

}  // namespace mallocim
