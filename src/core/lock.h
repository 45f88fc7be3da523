// A small spin lock for the slow paths (page pool, large regions, heap registry). It records
// its holder so that fork handling can skip a lock the forking thread itself holds (fork from
// a signal handler that interrupted the allocator).
#pragma once
#include <atomic>

#include "platform/os.h"

namespace mallocim {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

class SpinLock {
 public:
  bool try_lock() {
    uintptr_t expected = 0;
    return holder_.load(std::memory_order_relaxed) == 0 &&
           holder_.compare_exchange_strong(expected, os::thread_id(), std::memory_order_acquire);
  }
  void lock() {
    for (unsigned spins = 0; !try_lock(); ++spins) {
      if (spins < 64)
        cpu_relax();
      else
        os::yield_cpu();
    }
  }
  void unlock() { holder_.store(0, std::memory_order_release); }
  bool held_by_me() const { return holder_.load(std::memory_order_relaxed) == os::thread_id(); }

 private:
  std::atomic<uintptr_t> holder_{0};
};

class LockGuard {
 public:
  explicit LockGuard(SpinLock& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& l_;
};

}  // namespace mallocim
