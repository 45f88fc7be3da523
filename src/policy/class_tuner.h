// Adaptive size classes: classes placed where the program's request sizes are.
//
// The fixed classes (core/size_class.h) round a request above 256 B up by as much as 1/9 of the
// block. A program that allocates many blocks of one size, or of a few, pays that on every one.
// Slow paths note the sizes they serve (a slow path runs about once per page's worth of blocks,
// so the notes follow the allocation traffic of each class at no cost to the fast path). Every
// kRoundNotes notes a round looks at each class over 256 B: where a class boundary at a hot size
// (a quarter of the class's notes or more, in a 16-byte step) would save 4 % or more of the page
// memory the class's blocks take, that size gets a class of its own, one of kAdaptiveClasses.
// A class whose traffic stops retires: the lookup sends its sizes to the next class up again; its
// pages live on until their blocks are freed, and the size keeps its slot, to come back if the
// traffic does.
// Counts halve each round, so the classes follow a program whose sizes move on.
//
// free stays O(1) and unchanged: a block's size is its page's, whichever class the page has.
// Sizes up to 256 B are left alone: their classes are 16 B apart, the alignment malloc promises.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "core/lock.h"
#include "core/size_class.h"

namespace mallocim {

constexpr size_t kTunedMin = 256;  // requests above this are noted

// Bumped each time the lookup changes; heaps compare it with the one their copy was made at.
extern std::atomic<uint32_t> g_class_epoch MI_HIDDEN;

// A request of `size` (kTunedMin < size <= kSmallMax) served by a slow path.
void class_tuner_note(size_t size);
// Runs a round now (the notes so far); returns whether the lookup changed.
bool class_tuner_round();
// Retires every adaptive class and drops the notes (tests).
void class_tuner_reset();

struct ClassTunerFigures {
  unsigned active;    // adaptive classes in the lookup now
  unsigned given;     // slots that have a size
  uint64_t rounds;    // rounds run
  uint64_t changes;   // classes made or retired
  uint64_t full;      // splits not made for want of a slot
};
ClassTunerFigures class_tuner_figures();
bool class_is_active(unsigned c);  // in the lookup now (fixed classes always are)

SpinLock& class_tuner_lock();  // for fork

}  // namespace mallocim
