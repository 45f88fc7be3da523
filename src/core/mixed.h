// Mixed pages: a sparse page of a class gone cold (or one a class still in use holds behind its
// first pages: core/heap.cpp) serves another class in the gaps between its survivors.
//
// After a program's sizes move on, pages of the old sizes keep a few live blocks each ("residents")
// and stay resident whole: no other class can use their free space, and their 4 KiB OS pages
// rarely come free (sparse.h), since the survivors are spread all over. glibc's single heap
// hands that space to the new sizes; here a heap that would otherwise fault in a fresh page turns
// such a page into a page of the class it needs: the residents stay where they are, and blocks of
// the new class ("guests") are laid out in the gaps, lowest address first.
//
// The page then belongs to the new class (size_class, block_size, lists: guests only) and carries
// a MixedInfo: where each resident starts and ends (16-byte units), where guests start. Every free
// of a block in it is told apart there: the owner's free takes the page event (Page::mixed is in
// the word the fast path tests) and a resident is taken back off the list; another thread's free
// of a resident clears its bits without touching any list. A resident's space is not reused
// until the page is laid out again.
//
// A page can change class again: when it is full, or its class has gone cold, the gaps the last
// layout left (counted by size then) or space freed since may take another class. Its live guests
// become residents, beside the earlier ones, and the new class is laid out around them all. So the
// gaps of one page serve several classes in turn, largest-first or not, as the program asks. The
// page goes back to the pool once residents and guests are all gone.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/heap.h"

namespace mallocim {

// Whether pg's gaps are likely to take enough blocks of class c for mixed_prepare: a cheap test
// before the walk. A page of one class is judged from its counts (its live blocks taken as spread
// at random) against twice the bar, so that few walks fail; a mixed page by what its last layout
// left and what was freed since.
bool mixed_gaps_likely(const Page* pg, unsigned c);
// Lays out blocks of class c in the gaps of pg (owned, of another class; a mixed page's live guests
// become residents) and makes it a page of class c; false (pg unchanged) when it does not qualify
// or would take less than an eighth of a fresh page's blocks. Blocks of 8 B neither stay nor come.
// The caller moves it between lists.
bool mixed_prepare(Page* pg, unsigned c);
// Drops residents from a list of remote frees (they were freed before the page became mixed, or
// raced with it): returns the guests; *n: their number. Owner (or abandon lock) only.
Block* mixed_filter(Page* pg, Block* list, uint32_t* n);

enum class MixedBlock { resident, guest, invalid };
MixedBlock mixed_classify(const Page* pg, const void* p);
// A free of b in mixed page pg, by any thread. A guest: false, the caller frees it as usual.
// Otherwise true: a resident is freed by its bits (its link word zeroed); anything else is
// reported (a double free, or an interior pointer).
bool mixed_free_other(Page* pg, Block* b);
// Residents still live, and their bytes.
uint32_t mixed_residents(const Page* pg);
size_t mixed_resident_bytes(const Page* pg);
size_t mixed_usable(const Page* pg, const void* p);
// The page left its last life: its MixedInfo goes back (page_clear).
void mixed_release(Page* pg);
SpinLock& mixed_lock();  // of the MixedInfo free list, for fork
size_t mixed_made();     // pages made mixed since start (statistics)

// No block of the page is live: guests (used) and residents.
MI_INLINE bool page_empty(const Page* pg) {
  return pg->used == 0 && (!__atomic_load_n(&pg->mixed, __ATOMIC_ACQUIRE) || mixed_residents(pg) == 0);
}

}  // namespace mallocim
