#include "core/init.h"

#include <atomic>

#include "core/heap.h"
#include "core/large.h"
#include "core/page_pool.h"
#include "core/purge.h"
#include "core/segmap.h"
#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {

pthread_key_t g_heap_key;
bool g_ready = false;

namespace {

SpinLock g_init_lock;

void on_thread_exit(void* heap) { heap_thread_exit(static_cast<Heap*>(heap)); }

// ---- fork: every lock is taken before fork and released on both sides, so the child never
// inherits a structure another thread was half-way through changing. A lock the forking thread
// itself holds (fork from a signal handler that interrupted malloc) is left alone.
SpinLock* const* fork_locks() {
  static SpinLock* locks[] = {&purge_lock(), &heap_registry_lock(), &heap_abandon_lock(),
                              &pool_lock(), nullptr};
  return locks;
}
bool g_fork_skipped[8];

void fork_prepare() {
  SpinLock* const* locks = fork_locks();
  for (int i = 0; locks[i]; ++i) {
    g_fork_skipped[i] = locks[i]->held_by_me();
    if (!g_fork_skipped[i]) locks[i]->lock();
  }
  large_lock_all();
}

void fork_release() {
  large_unlock_all();
  SpinLock* const* locks = fork_locks();
  int n = 0;
  while (locks[n]) ++n;
  while (n-- > 0)
    if (!g_fork_skipped[n]) locks[n]->unlock();
}

}  // namespace

bool init_slow() {
  if (g_init_lock.held_by_me()) return false;  // re-entered from inside initialisation
  LockGuard g(g_init_lock);
  if (__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) return true;
  os::init();
  options_init();
  if (!segmap_init()) return false;
  if (pthread_key_create(&g_heap_key, on_thread_exit) != 0) return false;
  __atomic_store_n(&g_ready, true, __ATOMIC_RELEASE);
  pthread_atfork(fork_prepare, fork_release, fork_release);
  return true;
}

// Initialise when the library loads, before the program's first call if nothing came earlier.
__attribute__((constructor(101))) static void init_on_load() { ensure_init(); }

}  // namespace mallocim
