// Process-wide figures, gathered by walking the allocator's own structures (no counters on the
// fast path). Used by im_stats_get, mallinfo/mallinfo2, malloc_stats and the summary that
// MALLOCIM_STATS=1 (./mallocim run --stats) prints at exit or on a signal.
#pragma once
#include <atomic>

#include "core/config.h"
#include "mallocim.h"

namespace mallocim {

void stats_collect(im_stats* out);

// Per small size class: blocks handed out from its pages, pages held, resident bytes of those
// pages; and blocks of the class that were sampled (served by the large allocator instead).
// Where the free but resident bytes are (the summary's breakdown).
struct FreeFigures {
  size_t in_pages;     // between live blocks of small pages: fragmentation
  size_t empty_pages;  // small pages with no live block, waiting for reuse or the purge
  size_t large;        // free spans of the boundary-tag regions
  size_t huge_cache;   // freed huge blocks kept mapped
};
struct ClassFigures {
  size_t blocks, pages, carved_bytes, sampled;
};
// stats_collect plus the per-class figures (classes: kMaxClasses entries).
void stats_collect_classes(im_stats* out, ClassFigures* classes);
// The summary on stderr; `when` says what asked for it ("at exit", "on signal 12", ...).
void stats_print(const char* when);

// Registers the exit hook and the signal handler the options ask for (called by init).
void stats_install();

// A signal handler cannot walk the heap safely (the thread it interrupted may hold a lock): it
// only raises this flag, and the next slow path of any thread prints the summary.
extern std::atomic<int> g_stats_signal_seen MI_HIDDEN;
inline bool stats_requested() { return g_stats_signal_seen.load(std::memory_order_relaxed) != 0; }
void stats_print_requested();

}  // namespace mallocim
