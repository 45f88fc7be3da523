#include "core/background.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include <atomic>

#include "core/heap.h"
#include "core/purge.h"
#include "core/sample.h"
#include "platform/os.h"
#include "policy/options.h"
#include "stats/profile.h"

namespace mallocim {
namespace {

// 0: not started, 1: starting or running, 2: must not start (disabled, exiting, failed).
std::atomic<int> g_state{0};

// How long the thread sleeps: a quarter of the purge delay (the slow paths' rhythm), or the
// profile's snapshot interval when that is shorter.
uint64_t period_ms() {
  int64_t delay = option(Opt::purge_delay_ms);
  uint64_t p = delay > 0 ? uint64_t(delay) / 4 : 250;
  if (g_sampling) {
    int64_t snap = option(Opt::profile_interval_ms);
    if (snap > 0 && uint64_t(snap) < p) p = uint64_t(snap);
  }
  return p < 10 ? 10 : p > 1000 ? 1000 : p;
}

void* run(void*) {
  prctl(PR_SET_NAME, "mallocim-bg", 0, 0, 0);
  const uint64_t period = period_ms();
  uint64_t sleep = period, last = os::now_ms();
  for (;;) {
    timespec ts{time_t(sleep / 1000), long(sleep % 1000) * 1000000L};
    while (nanosleep(&ts, nullptr) != 0) {
    }
    if (g_state.load(std::memory_order_relaxed) != 1) return nullptr;
    uint64_t now = os::now_ms();
    size_t released = purge_due(now);
    if (g_sampling) profile_tick();
    // Nothing freed since the last look and nothing left to give back: an idle program; wake up
    // less and less often (up to once a second) instead of every period.
    bool idle = released == 0 && g_last_free_ms.load(std::memory_order_relaxed) < last;
    sleep = idle && !g_sampling ? (sleep * 2 > 1000 ? 1000 : sleep * 2) : period;
    last = now;
  }
}

void on_exit() { g_state.store(2, std::memory_order_relaxed); }

}  // namespace

void background_wanted() {
  if (g_state.load(std::memory_order_relaxed) != 0) return;
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_relaxed)) return;
  if (option(Opt::background_thread) == 0 || option(Opt::purge_delay_ms) < 0 ||
      t_heap == &g_empty_heap) {  // disabled, or a thread on its way out
    g_state.store(option(Opt::background_thread) == 0 ? 2 : 0, std::memory_order_relaxed);
    return;
  }
  int saved_errno = errno;  // called from inside free(), which leaves errno alone
  static bool exit_hook = false;
  if (!exit_hook) {  // a thread started while exit() runs the program's handlers is of no use
    exit_hook = true;
    atexit(on_exit);
  }
  // Signals go to the program's threads, never to this one: it starts with all of them blocked.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t th;
  bool ok = pthread_create(&th, &attr, run, nullptr) == 0;
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!ok) g_state.store(2, std::memory_order_relaxed);
  errno = saved_errno;
}

bool background_running() { return g_state.load(std::memory_order_relaxed) == 1; }

void background_fork_child() {
  if (g_state.load(std::memory_order_relaxed) == 1) g_state.store(0, std::memory_order_relaxed);
}

}  // namespace mallocim
