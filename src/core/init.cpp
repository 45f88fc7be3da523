#include "core/init.h"

#include <atomic>

#include "core/alloc.h"
#include "core/background.h"
#include "core/heap.h"
#include "core/huge.h"
#include "core/large.h"
#include "core/mixed.h"
#include "core/page_pool.h"
#include "core/purge.h"
#include "core/sample.h"
#include "core/secret.h"
#include "core/segmap.h"
#include "platform/os.h"
#include "policy/class_tuner.h"
#include "policy/options.h"
#include "stats/profile.h"
#include "stats/stats.h"

namespace mallocim {

pthread_key_t g_heap_key;
bool g_ready = false;
uint64_t g_secret = 0;

namespace {

SpinLock g_init_lock;

void on_thread_exit(void* heap) { heap_thread_exit(static_cast<Heap*>(heap)); }

// ---- fork: every lock is taken before fork and released on both sides, so the child never
// inherits a structure another thread was half-way through changing. A lock the forking thread
// itself holds (fork from a signal handler that interrupted malloc) is left alone.
constexpr int kForkLocks = 7;
SpinLock* g_fork_locks[kForkLocks];  // in the order they are taken; set by init
bool g_fork_skipped[kForkLocks];

void fork_prepare() {
  for (int i = 0; i < kForkLocks; ++i) {
    g_fork_skipped[i] = g_fork_locks[i]->held_by_me();
    if (!g_fork_skipped[i]) g_fork_locks[i]->lock();
  }
  large_lock_all();
}

void fork_release() {
  large_unlock_all();
  for (int i = kForkLocks - 1; i >= 0; --i)
    if (!g_fork_skipped[i]) g_fork_locks[i]->unlock();
}

void fork_child() {
  fork_release();
  profile_fork_child();
  background_fork_child();
}

}  // namespace

bool init_slow() {
  if (g_init_lock.held_by_me()) return false;  // re-entered from inside initialisation
  LockGuard g(g_init_lock);
  if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) return true;
  os::init();
  g_secret = os::random_u64();
  options_init();
  g_medium_regions = option(Opt::medium_regions) != 0;
  sample_init();
  if (!segmap_init()) return false;
  if (pthread_key_create(&g_heap_key, on_thread_exit) != 0) return false;
  SpinLock* locks[kForkLocks] = {&class_tuner_lock(), &purge_lock(), &heap_registry_lock(),
                                 &heap_abandon_lock(), &pool_lock(), &huge_cache_lock(), &mixed_lock()};
  for (int i = 0; i < kForkLocks; ++i) g_fork_locks[i] = locks[i];
  __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
  pthread_atfork(fork_prepare, fork_release, fork_child);
  stats_install();
  profile_init();
  return true;
}

// Initialise when the library loads, before the program's first call if nothing came earlier.
__attribute__((constructor(101))) static void init_on_load() { ensure_init(); }

}  // namespace mallocim
