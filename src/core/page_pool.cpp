#include "core/page_pool.h"

#include "core/purge.h"
#include "core/sparse.h"

#include "platform/os.h"
#include "policy/thp.h"

namespace mallocim {
namespace {

SpinLock g_pool_lock;

struct PageList {
  Page* first = nullptr;
  Page* last = nullptr;
  size_t count = 0;

  void push_front(Page* p) {
    p->prev = nullptr;
    p->next = first;
    if (first) first->prev = p; else last = p;
    first = p;
    ++count;
  }
  void remove(Page* p) {
    if (p->prev) p->prev->next = p->next; else first = p->next;
    if (p->next) p->next->prev = p->prev; else last = p->prev;
    p->next = p->prev = nullptr;
    --count;
  }
};

PageList g_dirty;   // free, resident: newest first
PageList g_purged;  // free, given back to the OS

constexpr uint32_t kUsablePages = kPagesPerSegment - 1;

Segment* segment_create() {
  auto* s = static_cast<Segment*>(os::map_aligned(kSegmentSize, kSegmentSize));
  if (!s) return nullptr;
  thp_fine_grained(s, kSegmentSize);
  s->header.kind = RegionKind::small;  // mmap memory is zero: every other field starts at 0
  for (uint32_t i = kUsablePages; i >= 1; --i) {
    Page* p = &s->pages[i];
    p->index = i;
    page_set_state(p, PageState::free);
    p->purged = true;
    g_purged.push_front(p);
  }
  s->free_pages = kUsablePages;
  s->next = g_segments;
  if (g_segments) g_segments->prev = s;
  g_segments = s;
  segmap_set(s, kSegmentSize, &s->header);
  return s;
}

// Called with the lock held when every page of s is free and purged.
void segment_release(Segment* s) {
  for (uint32_t i = 1; i <= kUsablePages; ++i) g_purged.remove(&s->pages[i]);
  if (s->prev) s->prev->next = s->next; else g_segments = s->next;
  if (s->next) s->next->prev = s->prev;
  segmap_clear(s, kSegmentSize);
  os::unmap(s, kSegmentSize);
}

bool segment_all_purged(const Segment* s) {
  if (s->free_pages != kUsablePages) return false;
  for (uint32_t i = 1; i <= kUsablePages; ++i)
    if (!s->pages[i].purged) return false;
  return true;
}

// The OS pages of p that may be resident: those its carved blocks reach, and those an earlier
// life left, less the holes given back.
uint16_t touched_os_pages(const Page* p) {
  size_t carved = p->mixed ? kPageSize : size_t(p->capacity) * p->block_size;
  size_t n = (carved + kOsPage - 1) / kOsPage;
  uint32_t reach = n >= kOsPages ? 0xffffu : (1u << n) - 1;
  return uint16_t((reach | p->touched) & ~uint32_t(p->holes));
}

}  // namespace

Segment* g_segments = nullptr;

SpinLock& pool_lock() { return g_pool_lock; }

Page* pool_take_page() {
  Page* p;
  {
    LockGuard g(g_pool_lock);
    PageList* from = g_dirty.first ? &g_dirty : &g_purged;
    if (!from->first && !segment_create()) return nullptr;
    p = from->first;
    from->remove(p);
    segment_of(p)->free_pages--;
  }
  // What of it is not resident will be faulted in: all of a purged page; of a page returned
  // resident, what its blocks never reached and the holes given back. Carving past them counts
  // as fresh memory too: bench_phases built a phase of small blocks in such pages, RSS grew by
  // 23 MiB, and the last phase's free large blocks stayed resident until their purge delay ran out.
  size_t fresh = p->purged ? kPageSize : (kOsPages - bits_set(p->touched)) * kOsPage;
  if (fresh) purge_pressure(fresh, Layer::small);
  return p;
}

void pool_return_page(Page* p, uint64_t now_ms) {
  page_set_state(p, PageState::free);
  p->owner.store(nullptr, std::memory_order_relaxed);
  p->touched = touched_os_pages(p);
  page_clear(p);
  p->reserved = 0;
  p->free_since_ms = now_ms;
  p->purged = false;
  LockGuard g(g_pool_lock);
  g_dirty.push_front(p);
  segment_of(p)->free_pages++;
}

namespace {
// Gives the oldest free resident page back to the OS (lock held, g_dirty not empty).
void purge_oldest() {
  Page* p = g_dirty.last;
  g_dirty.remove(p);
  os::purge(page_start(p), kPageSize);
  p->purged = true;
  p->touched = 0;
  g_purged.push_front(p);
}
}  // namespace

size_t pool_purge(uint64_t older_than_ms) {
  size_t released = 0;
  LockGuard g(g_pool_lock);
  for (; g_dirty.last && g_dirty.last->free_since_ms <= older_than_ms; released += kPageSize)
    purge_oldest();  // (the rest are newer)
  // Unmap segments that are entirely free and purged.
  for (Segment* s = g_segments; s;) {
    Segment* next = s->next;
    if (segment_all_purged(s)) segment_release(s);
    s = next;
  }
  return released;
}

bool pool_has_dirty() {
  LockGuard g(g_pool_lock);
  return g_dirty.first != nullptr;
}

size_t pool_purge_bytes(size_t want) {
  size_t released = 0;
  LockGuard g(g_pool_lock);
  for (; g_dirty.last && released < want; released += kPageSize) purge_oldest();
  return released;
}

PoolFigures pool_figures() {
  LockGuard g(g_pool_lock);
  size_t n = 0;
  for (Segment* s = g_segments; s; s = s->next) ++n;
  return {n, g_dirty.count, g_purged.count};
}

}  // namespace mallocim
