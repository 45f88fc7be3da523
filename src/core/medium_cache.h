// The thread cache of freed medium blocks: a free of a block of the boundary-tag regions
// (core/large.h) of 1 KiB up to 8 KiB keeps it whole in the freeing thread's heap, binned by
// size (sixteen bins per power of two, as the regions bin free blocks), and a request whose bin
// holds a block large enough (or the next bin, a sixteenth larger) takes it back: no region
// lock, best-fit search, split or merge. A block in the cache is still in use as far as its
// region knows, so it does not merge with its neighbours: the cache is small
// (MALLOCIM_MEDIUM_CACHE_KB per thread), a bin holds a few blocks and gives its older half back
// when full, the whole cache gives its older halves back when over its bytes, and everything goes
// back at malloc_trim and when the thread exits. Owner thread only, like the heap.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace mallocim {

struct Heap;
struct LargeRegion;

// Block sizes cached (headers included): [min, max), the medium requests (1 - 8 KiB). Larger
// blocks are rarer and would take the whole budget in a few blocks: with blocks up to 64 KiB, a
// request found its block in the cache 9 % of the time in bench_churn, with up to 8 KiB 69 %.
constexpr size_t kCacheMinBlock = 1024, kCacheMaxBlock = 8192 + 256;
constexpr unsigned kCacheBins = 3 * 16 + 1;  // sixteen per power of two, and 8 KiB + a header
constexpr unsigned kCacheBinBlocks = 8;  // blocks a bin holds at most

// The default mode (the last block only) pays off where a thread's medium sizes repeat. Where they
// do not, keeping a block and giving it back at the next request costs about a sixth of a
// region's allocation and free. A thread whose kept block served fewer than kMinHits medium
// requests while kProbeMisses others found it unfit (under one in eight) keeps none for its next
// kBypassPuts medium frees, then tries again.
constexpr unsigned kProbeMisses = 56, kMinHits = 8, kBypassPuts = 1024;

struct MediumCache {
  uintptr_t bins[kCacheBins];  // the first block of each bin, its link encoded
  uint8_t count[kCacheBins];
  size_t bytes;   // block bytes held (headers included)
  size_t blocks;  // blocks held
  unsigned last_bin;  // the bin of the block kept last
  uint32_t misses, hits;  // default mode: requests the kept block did not serve, and those it did
  uint32_t bypass;       // default mode: medium frees still to go straight to the regions
};

// A cached block for a request of `size` bytes (align 16), or null.
void* medium_cache_take(Heap* h, size_t size);
// Keeps p (a block of r being freed) in h's cache; false when it does not go there (too small,
// too large, cache off, a thread without a heap, a header that does not check out): the caller
// frees it in its region. A block already in any thread's cache is reported as a double free.
bool medium_cache_put(Heap* h, LargeRegion* r, void* p);
// Gives every cached block back to its region.
void medium_cache_flush(Heap* h);
// Whether p, a block of a large region, sits in a thread's cache (freed).
bool medium_cache_holds(const void* p);

}  // namespace mallocim
