// The page pool: all small-object segments and their free pages, shared by every thread behind
// one lock (taken once per 64 KiB page, not per block). Free pages are kept in two lists:
// dirty (recently freed, still resident; reused first) and purged (given back to the OS).
// A segment whose pages are all free and purged is unmapped.
#pragma once
#include "core/lock.h"
#include "core/page.h"

namespace mallocim {

Page* pool_take_page();
bool pool_has_dirty();         // a free page still resident (reuse costs no fault)        // a page in state free, or null when out of memory
void pool_return_page(Page* pg, uint64_t now_ms);
// Purges free pages that have been free since before `older_than_ms` (all with force);
// returns bytes given back to the OS.
size_t pool_purge(uint64_t older_than_ms);
// Purges the oldest free pages until `want` bytes went back; returns bytes.
size_t pool_purge_bytes(size_t want);

struct PoolFigures {
  size_t segments;
  size_t free_pages_dirty;
  size_t free_pages_purged;
};
// Walks every segment under the pool lock; fn(Segment*) may read page descriptors.
template <class Fn>
void pool_for_each_segment(Fn fn);

SpinLock& pool_lock();
extern Segment* g_segments;  // all segments, under pool_lock()
PoolFigures pool_figures();

template <class Fn>
void pool_for_each_segment(Fn fn) {
  LockGuard g(pool_lock());
  for (Segment* s = g_segments; s; s = s->next) fn(s);
}

}  // namespace mallocim
