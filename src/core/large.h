// Medium and large blocks (kSmallMax < size <= kLargeMax): boundary tags in 16 MiB regions.
// Every block has a 16-byte header (size, flags, a check value) and free blocks leave their
// size at the start of the next block too, so a free merges with free neighbours immediately.
// Free blocks sit in size-segregated bins (sixteen per power of two, a bitmap of non-empty bins):
// a request takes the best fit among the first blocks of its own bin, else a block of the next
// non-empty bin, all of whose blocks fit. Each region has its own lock; a thread prefers the
// region it used last, and now and then moves to the oldest region with room that no other
// thread is using, so that memory fills from the front and newer regions drain.
#pragma once
#include <atomic>

#include "core/lock.h"
#include "core/segmap.h"

namespace mallocim {

struct Heap;
struct LargeFree;

// Bin 0 and sixteen per power of two from 1 KiB up to the largest free block of a region (16 MiB).
constexpr unsigned kLargeBins = 1 + 14 * 16, kLargeBinWords = (kLargeBins + 63) / 64;

struct LargeRegion {
  RegionHeader header;  // kind == large
  SpinLock lock;
  LargeRegion* next;  // all regions, newest first; only ever prepended, never removed
  std::atomic<LargeRegion*> newer;  // the same list, oldest first
  std::atomic<const Heap*> user;    // the heap that allocated here last, and when (a hint)
  std::atomic<uint64_t> used_ms;
  uint8_t* base;  // the mapping: the header sits a few cache lines into it (region_create)
  size_t size;
  uint8_t* area_begin;  // first block header
  uint8_t* area_end;    // the end sentinel header
  std::atomic<uint64_t> bitmap[kLargeBinWords];  // non-empty bins (read without the lock as a hint)
  std::atomic<uint32_t> bitmap_words;            // bit w: bitmap[w] is not zero
  // Each bin lists blocks not yet purged first, newest first, then purged ones: a purge pass
  // stops at the first purged block instead of walking them all again.
  LargeFree* bins[kLargeBins];
  LargeFree* tails[kLargeBins];
  // Per bin, at least the largest block's size / 16 (0: empty): a request larger than that skips
  // the walk of the bin. Raised on insert; lowered by a walk that saw the whole bin.
  uint32_t bin_max16[kLargeBins];
  size_t used_bytes;  // usable bytes of live blocks
  uint32_t used_blocks;
  bool fork_skipped;  // its lock was held by the forking thread itself
};

// Up to this many live threads, every large allocation looks across the regions other threads
// use: older regions first, and a resident fit anywhere before fresh memory. With more, reading
// what the others write on each of their allocations (bitmaps, users, locks) costs more than the
// memory it saves: on 16 cores the resident fit anywhere took calloc with 16 threads from 0.116
// to 0.147 s, and churn's peak RSS was no lower.
constexpr size_t kLookAcrossThreads = 8;
constexpr uint64_t kApartAfterAllocs = 64;  // large allocations of a thread before it may open a region apart

void* large_malloc(Heap* h, size_t size, size_t align);
// A block from free memory of the regions still resident, or null (never faults fresh memory
// in, never waits for a lock): small classes borrow it instead of a fresh page (core/heap.cpp).
void* large_malloc_resident(Heap* h, size_t size, size_t align);
void large_free(LargeRegion* r, void* p);
// The size (header included) of the live block at p, read without the lock; 0 when p is not the
// start of a live block of r or the next block's header was overwritten (large_free then says
// what is wrong).
size_t large_block_size(LargeRegion* r, const void* p);
// The block size a request of `size` bytes takes: its 16-byte header and the request rounded up
// to 16, at least kLargeMinBlock (room for a free block's links).
constexpr size_t kLargeHeader = 16, kLargeMinBlock = 64;
MI_INLINE size_t large_block_need(size_t size) {
  size_t n = align_up(size, 16) + kLargeHeader;
  return n < kLargeMinBlock ? kLargeMinBlock : n;
}
size_t large_usable(LargeRegion* r, const void* p);
bool large_owns_block(LargeRegion* r, const void* p);  // p is a live block's start
// Grows or shrinks the block in place; false when the neighbour has no room.
bool large_resize_in_place(LargeRegion* r, void* p, size_t new_size);
// Gives back the pages of free blocks free since before older_than_ms; returns bytes.
size_t large_purge(uint64_t older_than_ms, bool wait_for_locks);
// Gives back the pages of free blocks not yet purged, largest first in the oldest regions, until
// about `want` bytes went back (regions whose lock is busy are skipped); returns bytes.
size_t large_purge_bytes(size_t want);

struct LargeFigures {
  size_t regions, mapped, live, free, purged, free_blocks;
};
// vec: scratch for the residency of a region (kLargeRegionSize / page size bytes), or null to
// count free blocks not yet purged as resident.
LargeFigures large_figures(unsigned char* vec = nullptr, size_t vec_size = 0);

// The newest region; `next` leads to older ones (regions are never unlinked while the process runs).
LargeRegion* large_newest_region();

// For fork: every region lock, in list order.
void large_lock_all();
void large_unlock_all();

}  // namespace mallocim
