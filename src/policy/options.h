// The one options table. Each row becomes a MALLOCIM_<NAME> environment variable, read once at
// start-up. Read values with option(Opt::name).
#pragma once
#include <stdint.h>

#include "core/config.h"

namespace mallocim {

//      name             default  meaning
#define MALLOCIM_OPTIONS(X)                                                                       \
  X(purge_delay_ms,      100,  "ms a free page stays resident before it goes back to the OS (0: at once, -1: never)") \
  X(background_thread,   1,    "1: a thread returns memory that stays free while the program makes no calls, and takes profile snapshots") \
  X(medium_regions,      1,    "1: blocks over 1 KiB (up to 8 KiB) come from the boundary-tag regions, best fit with coalescing; 0: from size-class pages") \
  X(adaptive_classes,    1,    "1: request sizes over 256 B that are common and waste much in their size class get a class of their own size") \
  X(mixed_pages,         1,    "1: instead of fresh memory, a sparse page of a size class gone cold takes blocks of another class between its live ones") \
  X(borrow_large,        1,    "1: instead of a fresh page, blocks of 1 KiB and up take free memory of the large-block regions that is still resident") \
  X(sparse_pages,        1,    "1: give back the free 4 KiB pages inside sparsely used small-object pages (after MALLOCIM_PURGE_DELAY_MS)") \
  X(purge_pressure,      1,    "1: before memory is faulted in fresh, give back as much that sits free in other block kinds (empty pages, free large spans, cached huge blocks)") \
  X(purge_external,      1,    "1: when the process's anonymous memory grows by more than the allocator faulted in (an interpreter's own arenas, mapped buffers, another allocator), give back as much free memory") \
  X(huge_cache_mb,       256,  "MiB of freed huge blocks (over 2 MiB) kept mapped for reuse, given back after MALLOCIM_PURGE_DELAY_MS") \
  X(medium_cache_kb,     0,    "freed medium blocks (1-8 KiB) a thread keeps for reuse without the region locks: 0: its last one, until its next medium malloc or free (none for a while when that served under 1 request in 8); N: up to N KiB (faster, more memory); -1: none") \
  X(page_cache,          4,    "empty small-object pages a thread keeps for reuse before giving them back")           \
  X(thp,                 0,    "0: the memory given back a few KiB at a time (small-object segments, medium and large regions, the segment map) stays out of transparent huge pages, huge blocks are left to the kernel; 1: also ask for huge pages on huge blocks; -1: no advice, the kernel's THP mode decides everywhere") \
  X(abort_on_error,      1,    "1: abort after reporting a misuse (invalid or double free); 0: report and go on")     \
  X(verbose,             0,    "1: print the options in force and warnings on stderr")                               \
  X(stats,               0,    "1: print a memory summary on stderr at exit (./mallocim run --stats)")               \
  X(stats_signal,        0,    "a signal number (e.g. 12, SIGUSR2): print the summary when it arrives")             \
  X(profile_rate,        524288, "profile: mean bytes allocated between two samples (MALLOCIM_PROFILE)")            \
  X(profile_interval_ms, 100,  "profile: ms between snapshots of RSS, live bytes and size classes")                 \
  X(debug_quarantine_mb, 64,   "debug heap: MiB of freed blocks held back (poisoned) to catch writes after free")     \
  X(debug_leaks,         0,    "debug heap: 1: report blocks still live at exit, grouped by allocating stack")        \
  X(debug_symbolize,     1,    "debug heap: 1: resolve file:line with addr2line in reports")

enum class Opt : int {
#define MALLOCIM_OPT_ENUM(name, def, help) name,
  MALLOCIM_OPTIONS(MALLOCIM_OPT_ENUM)
#undef MALLOCIM_OPT_ENUM
  count
};

extern int64_t g_options[int(Opt::count)] MI_HIDDEN;

// Set at start-up; tests change some while other threads (the background purge) read them:
// relaxed atomics, plain moves on x86.
inline int64_t option(Opt o) { return __atomic_load_n(&g_options[int(o)], __ATOMIC_RELAXED); }
inline void option_set(Opt o, int64_t v) { __atomic_store_n(&g_options[int(o)], v, __ATOMIC_RELAXED); }

// The one text option, MALLOCIM_PROFILE: the file a sampled allocation profile goes to
// (./mallocim run --profile FILE). Empty when unset.
const char* option_profile_path();

// Reads MALLOCIM_* from the environment; called once by init().
void options_init();
// Prints the table with the values in force (MALLOCIM_VERBOSE=1).
void options_print();

}  // namespace mallocim
