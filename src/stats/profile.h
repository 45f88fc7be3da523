// The sampled allocation profile (MALLOCIM_PROFILE=FILE, ./mallocim run --profile FILE): what
// each sample records and the file it goes to (format: docs/profile-format.md). The samples
// themselves are chosen by core/sample.h. Without a file (MALLOCIM_STATS alone) samples are kept
// in memory only, for the summary's estimate of rounding waste.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace mallocim {

void profile_init();  // at start-up, once the allocator works: opens the file
// small_class: the class of a sampled small block (served by the large allocator), or -1;
// frames[0, depth): the call stack (depth 0 when profile_wants_stacks() is false).
void profile_record_alloc(void* p, size_t size, size_t usable, uint32_t thread_no, int small_class,
                          void* const* frames, int depth);
constexpr int kProfileFrames = 32;
bool profile_wants_stacks();
void profile_record_free(void* p);
bool profile_is_sampled(const void* p);
void profile_tick();        // from slow paths: a snapshot when one is due
void profile_fork_child();  // a child made by fork writes nothing

// Estimates from the samples live now.
struct SampleFigures {
  size_t samples;     // live sampled allocations
  size_t live;        // bytes they stand for
  size_t requested;   // of which the program asked for
};
SampleFigures profile_live_figures();
// Adds, per small size class, the sampled blocks live now (blocks: kMaxClasses counters).
void profile_sampled_small(size_t* blocks);

}  // namespace mallocim
