// Sampling of allocations, for the profile (MALLOCIM_PROFILE) and for the summary's rounding
// waste (MALLOCIM_STATS): on average one sample per MALLOCIM_PROFILE_RATE bytes, chosen by bytes
// (Poisson), at no cost to the fast path, which does not change and counts nothing.
//
// Each heap counts down the bytes to its next sample, one count per small size class (splitting
// a Poisson process by class leaves it a Poisson process of the same rate). When the slow path
// hands a page's free list to the fast path, it walks the list to the block where the count runs
// out and cuts the list just before it: the fast path then falls into the slow path at exactly
// the sampled allocation. A sampled block is served by the large allocator, so its free also
// takes a slow path, where it is recorded; small frees are not looked at.
#pragma once
#include "core/heap.h"

namespace mallocim {

extern bool g_sampling MI_HIDDEN;  // set once at start-up: a profile or the summary asked for samples

void sample_init();               // from the options, before the first heap exists
void sample_heap_init(Heap* h);   // a new heap's counts

// pg (the front page of its class, no list cut) is about to serve an allocation from pg->free.
// Returns the sampled block when this allocation is the sampled one; otherwise cuts the list at
// the next sampling point (if it falls within it) and returns null.
void* sample_arm(Heap* h, Page* pg, size_t size);
// pg becomes the fast path's page of its class: its list is counted and cut first.
void sample_prepare(Heap* h, Page* pg);
// The fast path ran into a cut (pg->free empty, pg->sample_rest not): this allocation is sampled.
void* sample_at_cut(Heap* h, Page* pg, size_t size);
// Joins a cut list back together (a page leaving its heap).
void page_unstash(Page* pg);

// Large and huge blocks are counted where they are allocated (a slow path already).
void sample_count_large(void* p, size_t size);
// Any free or move of a large or huge block (a sampled small block is one too).
void sample_on_free(void* p);
bool sample_is_sampled(const void* p);

// The bytes of allocations a sample of `bytes` stands for: bytes / P(sampled), where
// P = 1 - exp(-bytes / rate).
uint64_t sample_weight(size_t bytes);
uint64_t sample_rate();

}  // namespace mallocim
