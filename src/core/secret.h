// The process's secret, drawn at start-up: it keys the free-list encoding of small pages and the
// check values of large block headers, so a program's data cannot forge either.
#pragma once
#include <stdint.h>

#include "core/config.h"

namespace mallocim {
extern uint64_t g_secret MI_HIDDEN;
}  // namespace mallocim
