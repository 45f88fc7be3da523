#include "core/huge.h"

#include "core/purge.h"

#include <atomic>

#include "debug/report.h"
#include "platform/os.h"
#include "policy/options.h"
#include "policy/thp.h"

namespace mallocim {
namespace {

std::atomic<size_t> g_blocks{0}, g_mapped{0}, g_usable{0};

constexpr unsigned kRecent = 64;
std::atomic<uintptr_t> g_recent[kRecent];
std::atomic<unsigned> g_recent_next{0};

void remember_freed(const void* p) {
  g_recent[g_recent_next.fetch_add(1, std::memory_order_relaxed) % kRecent].store(
      uintptr_t(p), std::memory_order_relaxed);
}
void forget(const void* p) {  // the address is a live block again
  for (auto& r : g_recent)
    if (r.load(std::memory_order_relaxed) == uintptr_t(p)) r.store(0, std::memory_order_relaxed);
}

// ---- the cache of freed mappings --------------------------------------------------------------
constexpr unsigned kCacheSlots = 16;
struct Cached {
  HugeHeader* h;
  size_t map;
  uint64_t since_ms;
};
SpinLock g_cache_lock;
Cached g_cache[kCacheSlots];
unsigned g_cache_n = 0;
size_t g_cache_bytes = 0;

size_t cache_limit() {
  int64_t mb = option(Opt::huge_cache_mb);
  return mb > 0 ? size_t(mb) << 20 : 0;
}

void cache_remove_at(unsigned i) {
  g_cache_bytes -= g_cache[i].map;
  g_cache[i] = g_cache[g_cache_n - 1];
  __atomic_store_n(&g_cache_n, g_cache_n - 1, __ATOMIC_RELAXED);
}

// Takes the entry cached longest out of the cache (not empty; lock held).
Cached cache_take_oldest() {
  unsigned oldest = 0;
  for (unsigned i = 1; i < g_cache_n; ++i)
    if (g_cache[i].since_ms < g_cache[oldest].since_ms) oldest = i;
  Cached c = g_cache[oldest];
  cache_remove_at(oldest);
  return c;
}

// Keeps the mapping for reuse; false when it does not fit.
bool cache_put(HugeHeader* h, size_t map) {
  size_t limit = cache_limit();
  if (map > limit || option(Opt::purge_delay_ms) == 0) return false;
  Cached evicted[kCacheSlots];
  unsigned n_evicted = 0;
  {
    LockGuard g(g_cache_lock);
    while (g_cache_n && (g_cache_n == kCacheSlots || g_cache_bytes + map > limit))
      evicted[n_evicted++] = cache_take_oldest();
    g_cache[g_cache_n] = {h, map, os::now_ms()};
    __atomic_store_n(&g_cache_n, g_cache_n + 1, __ATOMIC_RELAXED);
    g_cache_bytes += map;
  }
  for (unsigned i = 0; i < n_evicted; ++i) os::unmap(evicted[i].h, evicted[i].map);
  return true;
}

// A cached mapping of at least `map` bytes, or null. The one that fits most tightly: a tail past a
// quarter more than asked for goes back to the OS (what is kept is resident already). When none is
// large enough, the largest one grows, in place or moved to an aligned range of the full size
// (page tables, no copy): its resident pages serve the block's head, only the growth is fresh.
HugeHeader* cache_take(size_t map, size_t* got) {
  if (!__atomic_load_n(&g_cache_n, __ATOMIC_RELAXED)) return nullptr;  // the common case: no lock
  HugeHeader* h;
  size_t size;
  {
    LockGuard g(g_cache_lock);
    int best = -1, largest = -1;
    for (unsigned i = 0; i < g_cache_n; ++i) {
      if (g_cache[i].map >= map && (best < 0 || g_cache[i].map < g_cache[best].map)) best = int(i);
      if (largest < 0 || g_cache[i].map > g_cache[largest].map) largest = int(i);
    }
    if (best < 0) best = largest;
    if (best < 0) return nullptr;  // another thread took the last one since the look above
    h = g_cache[best].h;
    size = g_cache[best].map;
    cache_remove_at(unsigned(best));
  }
  if (size > map + map / 4) {
    os::unmap(reinterpret_cast<char*>(h) + map, size - map);
    size = map;
  } else if (size < map) {
    if (!os::remap_in_place(h, size, map)) {
      void* dst = os::map_aligned(map, kGranule);
      if (!dst || !os::remap_to(h, size, dst, map)) {
        if (dst) os::unmap(dst, map);
        os::unmap(h, size);
        return nullptr;
      }
      h = static_cast<HugeHeader*>(dst);
    }
    purge_pressure(map - size, Layer::huge);  // the program will fault the growth in
    size = map;
  }
  *got = size;
  return h;
}

size_t block_offset(size_t align) {
  size_t page = os::hw().page_size;
  return align > page ? align : page;  // the header takes the first page
}

void account(ptrdiff_t blocks, ptrdiff_t mapped, ptrdiff_t usable) {
  g_blocks.fetch_add(size_t(blocks), std::memory_order_relaxed);
  g_mapped.fetch_add(size_t(mapped), std::memory_order_relaxed);
  g_usable.fetch_add(size_t(usable), std::memory_order_relaxed);
}

}  // namespace

void* huge_malloc(size_t size, size_t align) {
  size_t off = block_offset(align);
  if (size > kMaxRequest || off > kMaxAlign) return nullptr;
  size_t map = align_up(off + (size ? size : 1), kGranule);  // the block lies inside the mapping
  size_t map_align = align > kGranule ? align : kGranule;
  size_t got = 0;
  HugeHeader* h = map_align == kGranule ? cache_take(map, &got) : nullptr;
  if (h) {
    map = got;
    h->reused = true;
  } else {
    // None fits: as much of the cache as this mapping goes back first, so that the cache trades
    // places with new blocks instead of adding to them (peak RSS on the large workload: 171.7 ->
    // 119.2 MiB, against mimalloc's 154-162; time 0.18 -> 0.22 s, mimalloc's 0.27-0.29).
    if (map_align == kGranule) huge_cache_trim_bytes(map);
    h = static_cast<HugeHeader*>(os::map_aligned(map, map_align));
    if (!h) return nullptr;
    h->reused = false;
    purge_pressure(size, Layer::huge);  // the program will fault it in
  }
  h->header.kind = RegionKind::huge;
  h->map_size = map;
  h->offset = off;
  h->usable = align_up(size, os::hw().page_size);
  thp_huge_block(h, map);
  segmap_set(h, map, &h->header);
  account(1, ptrdiff_t(map), ptrdiff_t(h->usable));
  forget(reinterpret_cast<char*>(h) + off);
  return reinterpret_cast<char*>(h) + off;
}

void huge_free(HugeHeader* h, void* p) {
  if (!huge_is_block(h, p)) {
    report_misuse("free", p, "not the start of a block (interior pointer into a huge block)");
    return;
  }
  account(-1, -ptrdiff_t(h->map_size), -ptrdiff_t(h->usable));
  size_t map = h->map_size;
  segmap_clear(h, map);
  remember_freed(p);
  // Mappings with the default alignment only: those are the ones a later allocation can take.
  if (h->offset == block_offset(16) && uintptr_t(h) % kGranule == 0 && cache_put(h, map)) return;
  os::unmap(h, map);
}

size_t huge_cache_trim(uint64_t older_than_ms) {
  Cached out[kCacheSlots];
  unsigned n = 0;
  size_t bytes = 0;
  {
    LockGuard g(g_cache_lock);
    for (unsigned i = 0; i < g_cache_n;) {
      if (g_cache[i].since_ms <= older_than_ms) {
        out[n++] = g_cache[i];
        cache_remove_at(i);
      } else {
        ++i;
      }
    }
  }
  for (unsigned i = 0; i < n; ++i) {
    os::unmap(out[i].h, out[i].map);
    bytes += out[i].map;
  }
  return bytes;
}

size_t huge_cache_trim_bytes(size_t want) {
  size_t bytes = 0;
  while (bytes < want) {
    Cached out;
    {
      LockGuard g(g_cache_lock);
      if (!g_cache_n) break;
      out = cache_take_oldest();
    }
    os::unmap(out.h, out.map);
    bytes += out.map;
  }
  return bytes;
}

bool huge_needs_zeroing(const void* p) {
  RegionHeader* r = segmap_lookup(p);
  return r && r->kind == RegionKind::huge && reinterpret_cast<HugeHeader*>(r)->reused;
}

SpinLock& huge_cache_lock() { return g_cache_lock; }

bool huge_recently_freed(const void* p) {
  for (auto& r : g_recent)
    if (r.load(std::memory_order_relaxed) == uintptr_t(p)) return true;
  return false;
}

void* huge_realloc(HugeHeader* h, void* p, size_t new_size) {
  size_t page = os::hw().page_size;
  size_t new_usable = align_up(new_size, page);
  size_t new_map = align_up(h->offset + new_size, kGranule);
  size_t old_map = h->map_size, old_usable = h->usable;
  if (new_map < old_map) {  // shrink: give the tail granules back
    segmap_clear(reinterpret_cast<char*>(h) + new_map, old_map - new_map);
    os::unmap(reinterpret_cast<char*>(h) + new_map, old_map - new_map);
  } else if (new_map > old_map) {
    if (os::remap_in_place(h, old_map, new_map)) {
      segmap_set(h, new_map, &h->header);
    } else {
      // Move the pages to a fresh aligned range: no copy, the kernel moves page tables.
      size_t map_align = h->offset > kGranule ? h->offset : kGranule;
      void* dst = os::map_aligned(new_map, map_align);
      if (!dst) return nullptr;
      segmap_clear(h, old_map);
      if (!os::remap_to(h, old_map, dst, new_map)) {
        segmap_set(h, old_map, &h->header);
        os::unmap(dst, new_map);
        return nullptr;
      }
      h = static_cast<HugeHeader*>(dst);
      segmap_set(h, new_map, &h->header);
      remember_freed(p);
    }
  }
  if (new_usable < old_usable) {  // shrink: drop the pages past the new end that are still mapped
    size_t end = old_usable < new_map - h->offset ? old_usable : new_map - h->offset;
    if (end > new_usable) os::purge(reinterpret_cast<char*>(h) + h->offset + new_usable, end - new_usable);
  }
  if (new_usable > old_usable) purge_count_fresh(new_usable - old_usable);  // faulted in as written
  h->map_size = new_map;
  h->usable = new_usable;
  account(0, ptrdiff_t(new_map) - ptrdiff_t(old_map), ptrdiff_t(new_usable) - ptrdiff_t(old_usable));
  return reinterpret_cast<char*>(h) + h->offset;
}

HugeFigures huge_figures(bool resident) {
  HugeFigures f{g_blocks.load(std::memory_order_relaxed), g_mapped.load(std::memory_order_relaxed),
                g_usable.load(std::memory_order_relaxed), 0, 0};
  LockGuard g(g_cache_lock);
  for (unsigned i = 0; i < g_cache_n; ++i) {
    f.cached += g_cache[i].map;
    f.cached_resident += resident ? os::resident_bytes(g_cache[i].h, g_cache[i].map) : g_cache[i].map;
  }
  return f;
}

}  // namespace mallocim
