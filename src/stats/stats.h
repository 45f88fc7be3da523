// Process-wide figures, gathered by walking the allocator's own structures (no counters on the
// fast path). Used by im_stats_get, mallinfo/mallinfo2 and malloc_stats.
#pragma once
#include "mallocim.h"

namespace mallocim {

void stats_collect(im_stats* out);
// A short human-readable summary on stderr (malloc_stats()).
void stats_print();

}  // namespace mallocim
