// A fast stack unwinder for the sampled profile (x86-64). The unwind rule of each return address
// (where its caller's frame starts, where the return address and the saved frame pointer lie) is
// read once from its module's .eh_frame and kept in a cache; after that a frame costs a lookup
// and a load, where the general unwinder interprets the call-frame program every time.
//
// Only the rules compilers emit for ordinary frames are cached: the frame address given by the
// stack or frame pointer plus a constant, the return address just below it, the frame pointer
// saved at a constant offset. A frame with any other rule (a signal frame, an expression) makes
// unwind_fast give up, and the caller falls back to the general unwinder.
#pragma once
#include <stddef.h>

namespace mallocim {

// Maps the rule cache (once, at the profile's start); false where there is no fast unwinder.
bool unwind_init();
// Return addresses of the calling thread's stack, innermost first, this function's own frame
// included. Returns the depth, or -1 when the general unwinder must do it.
int unwind_fast(void** frames, int cap);

}  // namespace mallocim
