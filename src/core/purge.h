// Deferred purge: memory that stays free for MALLOCIM_PURGE_DELAY_MS goes back to the OS. Driven
// from the slow paths (page retirement, large frees), at most one thread at a time.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/lock.h"

namespace mallocim {

void purge_tick(uint64_t now_ms);
// Everything free goes back now (malloc_trim); returns bytes released.
size_t purge_all();
SpinLock& purge_lock();

}  // namespace mallocim
