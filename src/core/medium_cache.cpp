#include "core/medium_cache.h"

#include <errno.h>

#include "core/heap.h"
#include "core/large.h"
#include "core/secret.h"
#include "debug/report.h"
#include "policy/options.h"

namespace mallocim {
namespace {

// The first words of a cached block. The cookie tells a block in a cache from a live one: a
// free of a block that carries it is a double free.
struct Cached {
  uintptr_t link;    // the next block of the bin, encoded
  uintptr_t cookie;  // cookie_of(this)
  size_t size;       // block size, header included
};

MI_INLINE unsigned bin_of(size_t block) {  // kCacheMinBlock <= block < kCacheMaxBlock
  unsigned o = 63 - unsigned(__builtin_clzll(block));
  return (o - 10) * 16 + unsigned((block >> (o - 4)) & 15);
}
static_assert(kCacheMinBlock == 1024 && kCacheMaxBlock <= 8192 + 512 && kCacheBins == 3 * 16 + 1);

MI_INLINE uintptr_t cookie_of(const void* p) { return (uintptr_t(p) * 0x9E3779B97F4A7C15ull) ^ g_secret; }
MI_INLINE uintptr_t encode(const Cached* c, uintptr_t next) { return next ^ (g_secret + uintptr_t(c)); }
MI_INLINE Cached* decode(const Cached* c) { return reinterpret_cast<Cached*>(c->link ^ (g_secret + uintptr_t(c))); }

// A link read back must lead into a large region (or nowhere), so that following it reads mapped
// memory; the block it leads to shows its cookie before it is handed out. A write after free
// over a cached block is caught one way or the other.
MI_INLINE bool plausible(const Cached* next) {
  if (!next) return true;
  if (uintptr_t(next) & 15) return false;
  RegionHeader* r = segmap_lookup(next);
  return r && r->kind == RegionKind::large;
}

// Its cookie and a plausible link: safe to follow, to hand out, to give back.
MI_INLINE bool intact(const Cached* c) { return c->cookie == cookie_of(c) && plausible(decode(c)); }

// A block being freed that a thread's cache holds (this one's or another's): a double free,
// reported. p: 16-byte aligned, so that its cookie lies inside the region.
MI_INLINE bool reported_as_cached(const void* p) {
  if (!medium_cache_holds(p)) return false;
  report_misuse("free", p, "block is already free (double free)");
  return true;
}

void release(Cached* c) {
  c->cookie = 0;
  int saved_errno = errno;  // free() keeps errno; the region may give memory back to the OS
  large_free(reinterpret_cast<LargeRegion*>(segmap_lookup(c)), c);
  errno = saved_errno;
}

[[gnu::noinline]] void* damaged(MediumCache& mc, unsigned b, const Cached* c) {
  report_misuse("malloc", c, "heap corruption: a freed medium block was written to (write after free)");
  // Going on (MALLOCIM_ABORT_ON_ERROR=0): the bin's blocks are left where they are, unused.
  mc.blocks -= mc.count[b];
  mc.bins[b] = 0;
  mc.count[b] = 0;
  return nullptr;
}

// Releases the blocks of bin b after its first `keep`. Each block shows its cookie before its
// link is followed or it goes back to its region: a forged link must not free a live block.
void trim_bin(MediumCache& mc, unsigned b, unsigned keep) {
  auto* c = reinterpret_cast<Cached*>(mc.bins[b]);
  Cached* last_kept = nullptr;
  for (unsigned i = 0; c && i < keep; ++i) {
    if (!intact(c)) {
      damaged(mc, b, c);
      return;
    }
    last_kept = c;
    c = decode(c);
  }
  if (last_kept) last_kept->link = encode(last_kept, 0);
  else mc.bins[b] = 0;
  while (c) {
    if (!intact(c)) {
      damaged(mc, b, c);
      return;
    }
    Cached* next = decode(c);
    mc.count[b]--;
    mc.blocks--;
    mc.bytes -= c->size;
    release(c);
    c = next;
  }
}

// The first block of bin b, or the second, if at least `need` bytes; unlinked.
void* take_from(MediumCache& mc, unsigned b, size_t need) {
  auto* first = reinterpret_cast<Cached*>(mc.bins[b]);
  if (!first) return nullptr;
  if (!intact(first)) return damaged(mc, b, first);
  Cached* second = decode(first);
  Cached* c;
  if (first->size >= need) {
    c = first;
    mc.bins[b] = uintptr_t(second);
  } else if (second && second->size >= need) {
    if (!intact(second)) return damaged(mc, b, second);
    c = second;
    first->link = encode(first, uintptr_t(decode(second)));
  } else {
    return nullptr;
  }
  mc.count[b]--;
  mc.blocks--;
  mc.bytes -= c->size;
  c->link = c->cookie = 0;
  return c;
}

}  // namespace

void* medium_cache_take(Heap* h, size_t size) {
  size_t need = large_block_need(size);
  if (need < kCacheMinBlock || need >= kCacheMaxBlock) return nullptr;
  MediumCache& mc = h->mcache;
  if (!mc.blocks) return nullptr;
  if (option(Opt::medium_cache_kb) == 0) {
    // The last block only: taken when at most an eighth larger than needed (as a close fit in
    // the regions), else given back.
    unsigned b = mc.last_bin;
    auto* c = reinterpret_cast<Cached*>(mc.bins[b]);
    if (c && c->size >= need && c->size <= need + need / 8) {
      ++mc.hits;  // (a wrap after 2^32 hits costs one bypass at most)
      if (void* p = take_from(mc, b, need)) return p;
    } else if (++mc.misses == kProbeMisses) {
      if (mc.hits < kMinHits) mc.bypass = kBypassPuts;
      mc.misses = mc.hits = 0;
    }
    medium_cache_flush(h);
    return nullptr;
  }
  // A bin spans a sixteenth of its power of two: its first two blocks are looked at, then the next
  // bin's first two, every block of which is large enough (and at most two sixteenths larger).
  unsigned b = bin_of(need);
  if (void* p = take_from(mc, b, need)) return p;
  return b + 1 < kCacheBins ? take_from(mc, b + 1, need) : nullptr;
}

bool medium_cache_put(Heap* h, LargeRegion* r, void* p) {
  int64_t kb = option(Opt::medium_cache_kb);
  if (kb < 0) return false;
  auto* c = static_cast<Cached*>(p);
  // The default mode keeps only blocks of the thread's own region, and none while it bypasses
  // (a thread without a heap has no region; its bypass count stays 0). A block going straight to
  // its region is still a double free if another thread's cache holds it: large_free would
  // free it from under that cache.
  if (kb == 0 && (h->mcache.bypass || r != h->large_region)) {
    if (!(uintptr_t(p) & 15) && reported_as_cached(p)) return true;
    if (h->mcache.bypass) h->mcache.bypass--;
    return false;
  }
  size_t block = large_block_size(r, p);  // 0: not a live block's start; large_free reports it
  if (block < kCacheMinBlock || block >= kCacheMaxBlock) return false;
  if (reported_as_cached(p)) return true;  // (large_block_size checked p's alignment)
  if (h == &g_empty_heap) return false;  // a thread without a heap keeps none
  MediumCache& mc = h->mcache;
  unsigned b = kb == 0 ? 0 : bin_of(block);  // the last block only: one bin serves
  if (kb == 0) {
    if (mc.blocks) medium_cache_flush(h);
  } else {
    size_t cap = size_t(kb) << 10;
    if (block > cap) return false;
    if (mc.count[b] >= kCacheBinBlocks) trim_bin(mc, b, kCacheBinBlocks / 2);  // the older half goes
    if (mc.bytes + block > cap) {  // every bin's older half goes; everything, if that is not enough
      for (unsigned i = 0; i < kCacheBins; ++i)
        if (mc.count[i]) trim_bin(mc, i, mc.count[i] / 2u);
      if (mc.bytes + block > cap) medium_cache_flush(h);
    }
  }
  c->link = encode(c, mc.bins[b]);
  c->cookie = cookie_of(c);
  c->size = block;
  mc.bins[b] = uintptr_t(c);
  mc.last_bin = b;
  mc.count[b]++;
  mc.blocks++;
  mc.bytes += block;
  return true;
}

void medium_cache_flush(Heap* h) {
  MediumCache& mc = h->mcache;
  if (!mc.blocks) return;
  if (mc.bins[mc.last_bin]) trim_bin(mc, mc.last_bin, 0);  // by default the only block held
  for (unsigned b = 0; mc.blocks && b < kCacheBins; ++b)
    if (mc.bins[b]) trim_bin(mc, b, 0);
}

bool medium_cache_holds(const void* p) {
  return static_cast<const Cached*>(p)->cookie == cookie_of(p);
}

}  // namespace mallocim
