// Start-up and process events: one-time initialisation (hardware facts, options, segment map,
// thread-exit key, fork handlers) and the fork protocol.
#pragma once
#include <pthread.h>

#include "core/config.h"

namespace mallocim {

extern pthread_key_t g_heap_key;
extern bool g_ready MI_HIDDEN;

bool init_slow();
MI_INLINE bool ensure_init() { return MI_LIKELY(g_ready) || init_slow(); }

}  // namespace mallocim
