#include "core/large.h"

#include <string.h>

#include "core/heap.h"
#include "core/purge.h"
#include "core/secret.h"
#include "debug/report.h"
#include "stats/stats.h"
#include "platform/os.h"
#include "policy/thp.h"

namespace mallocim {

// Header in front of every block. check = hash(address, size, flags): a free of a pointer that
// is not a block start, or a header an overflow has overwritten, is caught before it is trusted.
struct LargeHdr {
  uint64_t prev_size;  // size of the previous block, valid when that block is free
  uint32_t size16;     // block size / 16, header included
  uint16_t flags;
  uint16_t check;
};
static_assert(sizeof(LargeHdr) == kLargeHeader);

struct LargeFree {
  LargeHdr hdr;
  LargeFree* next;
  LargeFree* prev;
  uint64_t since_ms;
  uint32_t res_lo, res_hi;  // kPartPurged: the resident part, as offsets from the block
};

namespace {

// kPurged: the block's pages were all given back since it was last used. kPartPurged: only the
// range res_lo..res_hi is resident (a freed block merged with purged neighbours): what is cut
// from outside it counts as fresh memory (purge pressure), and the timed purge still goes over it.
constexpr uint16_t kInUse = 1, kPrevInUse = 2, kPurged = 4, kPartPurged = 8;

// The resident part of a range of free memory, as one span [lo, hi) (empty when hi <= lo).
struct Resident {
  uintptr_t lo, hi;
};
MI_INLINE Resident resident_all(const void* b, size_t size) {
  return {uintptr_t(b), uintptr_t(b) + size};
}
MI_INLINE Resident clip(Resident r, uintptr_t lo, uintptr_t hi) {
  return {r.lo > lo ? r.lo : lo, r.hi < hi ? r.hi : hi};
}
MI_INLINE size_t length(Resident r) { return r.hi > r.lo ? r.hi - r.lo : 0; }
MI_INLINE size_t overlap(Resident r, uintptr_t lo, uintptr_t hi) { return length(clip(r, lo, hi)); }
// Two adjacent ranges, a before b, merged: the span from a's resident start to b's resident end
// (purged pages between two resident parts count as resident: an estimate on the low side).
MI_INLINE Resident resident_join(Resident a, Resident b) {
  if (a.hi <= a.lo) return b;
  if (b.hi <= b.lo) return a;
  return {a.lo, b.hi};
}
constexpr size_t kMinBlock = kLargeMinBlock;  // room for LargeFree

SpinLock g_list_lock;  // serialises region creation
std::atomic<LargeRegion*> g_regions{nullptr};  // newest first
std::atomic<LargeRegion*> g_oldest{nullptr};   // and its other end
std::atomic<unsigned> g_apart{0};  // regions opened to keep threads apart (large_malloc)

MI_INLINE size_t hdr_size(const LargeHdr* h) { return size_t(h->size16) << 4; }
// The bytes of block h outside the resident span r: memory its user will fault in fresh.
MI_INLINE size_t fresh_part(Resident r, const LargeHdr* h) {
  return hdr_size(h) - overlap(r, uintptr_t(h), uintptr_t(h) + hdr_size(h));
}
MI_INLINE LargeHdr* hdr_next(LargeHdr* h) {
  return reinterpret_cast<LargeHdr*>(reinterpret_cast<uint8_t*>(h) + hdr_size(h));
}
MI_INLINE LargeHdr* hdr_prev(LargeHdr* h) {
  return reinterpret_cast<LargeHdr*>(reinterpret_cast<uint8_t*>(h) - h->prev_size);
}
MI_INLINE LargeHdr* hdr_of(const void* p) {
  return reinterpret_cast<LargeHdr*>(const_cast<uint8_t*>(static_cast<const uint8_t*>(p)) - 16);
}
MI_INLINE uint16_t hdr_check(const LargeHdr* h) {
  uint64_t x = (uintptr_t(h) >> 4) ^ (uint64_t(h->size16) << 20) ^ (uint64_t(h->flags) << 56) ^ g_secret;
  return uint16_t((x * 0x9E3779B97F4A7C15ull) >> 48);
}
MI_INLINE void hdr_write(LargeHdr* h, size_t size, uint16_t flags) {
  h->size16 = uint32_t(size >> 4);
  h->flags = flags;
  h->check = hdr_check(h);
}
MI_INLINE bool hdr_valid(const LargeHdr* h) { return h->check == hdr_check(h); }
MI_INLINE void set_prev_inuse(LargeHdr* h, bool inuse) {
  hdr_write(h, hdr_size(h), inuse ? uint16_t(h->flags | kPrevInUse) : uint16_t(h->flags & ~kPrevInUse));
}

// Bin 0 holds blocks under 1 KiB (never handed out: leftovers waiting for a neighbour to merge
// with); then sixteen bins per power of two, each 1/16 of its octave wide.
constexpr unsigned kSubBinShift = 4;
static_assert(kLargeBins == 1 + ((24 - 10) << kSubBinShift) && kLargeRegionSize <= (size_t(1) << 24));

constexpr unsigned bin_calc(size_t size) {
  if (size < 1024) return 0;
  unsigned o = 63 - unsigned(__builtin_clzll(size));
  unsigned sub = unsigned(size >> (o - kSubBinShift)) & ((1u << kSubBinShift) - 1);
  unsigned idx = ((o - 10) << kSubBinShift) + sub + 1;
  return idx < kLargeBins ? idx : kLargeBins - 1;
}

// Below 16 KiB (the medium blocks, and most merges) a bin spans a multiple of 64 bytes: a table
// by size / 64 answers in one load.
constexpr size_t kBinLutMax = 16384;
struct BinLut {
  uint8_t bin[kBinLutMax / 64];
};
constexpr BinLut make_bin_lut() {
  BinLut t{};
  for (size_t i = 0; i < kBinLutMax / 64; ++i) t.bin[i] = uint8_t(bin_calc(i * 64));
  return t;
}
constexpr BinLut kBinLut = make_bin_lut();
constexpr bool bin_lut_exact() {
  for (size_t size = 0; size < kBinLutMax; ++size)
    if (kBinLut.bin[size >> 6] != bin_calc(size)) return false;
  return true;
}
static_assert(bin_lut_exact(), "every size below kBinLutMax finds its bin in the table");

MI_INLINE unsigned bin_of(size_t size) { return size < kBinLutMax ? kBinLut.bin[size >> 6] : bin_calc(size); }

// bin_max16 is written under the lock and read without it too (fit_bin): relaxed atomics.
MI_INLINE uint32_t max16(const LargeRegion* r, unsigned b) { return __atomic_load_n(&r->bin_max16[b], __ATOMIC_RELAXED); }
MI_INLINE void set_max16(LargeRegion* r, unsigned b, uint32_t v) { __atomic_store_n(&r->bin_max16[b], v, __ATOMIC_RELAXED); }

MI_INLINE void bin_mark(LargeRegion* r, unsigned b, bool nonempty) {
  std::atomic<uint64_t>& w = r->bitmap[b / 64];
  uint64_t bit = uint64_t(1) << (b % 64), v = w.load(std::memory_order_relaxed);
  uint64_t nv = nonempty ? v | bit : v & ~bit;
  w.store(nv, std::memory_order_relaxed);
  if (!v != !nv) {  // the word became empty, or stopped being so
    uint32_t wbit = 1u << (b / 64), m = r->bitmap_words.load(std::memory_order_relaxed);
    r->bitmap_words.store(nv ? m | wbit : m & ~wbit, std::memory_order_relaxed);
  }
}

// The first non-empty bin at or above b (kLargeBins: none). Without the lock: a hint.
unsigned bin_next(const LargeRegion* r, unsigned b) {
  unsigned w = b / 64;
  if (w >= kLargeBinWords) return kLargeBins;
  uint64_t v = r->bitmap[w].load(std::memory_order_relaxed) & (~uint64_t(0) << (b % 64));
  if (!v) {  // the next non-empty word, from the summary
    uint32_t m = r->bitmap_words.load(std::memory_order_relaxed) & (~1u << w);
    if (!m) return kLargeBins;
    w = unsigned(__builtin_ctz(m));
    v = r->bitmap[w].load(std::memory_order_relaxed);
    if (!v) return kLargeBins;  // changed meanwhile (a hint only)
  }
  return w * 64 + unsigned(__builtin_ctzll(v));
}

void bin_insert(LargeRegion* r, LargeFree* f) {
  unsigned b = bin_of(hdr_size(&f->hdr));
  if (f->hdr.flags & kPurged) {  // at the tail
    f->next = nullptr;
    f->prev = r->tails[b];
    if (f->prev) f->prev->next = f; else r->bins[b] = f;
    r->tails[b] = f;
  } else {
    f->prev = nullptr;
    f->next = r->bins[b];
    if (f->next) f->next->prev = f; else r->tails[b] = f;
    r->bins[b] = f;
  }
  bin_mark(r, b, true);
  if (f->hdr.size16 > r->bin_max16[b]) set_max16(r, b, f->hdr.size16);
}

// Free blocks' links live in memory a program could overwrite (an overflow of the block before,
// a write after free): they are checked against their neighbours before they are trusted.
[[noreturn]] void corrupted(const void* where, const char* what) {
  report_misuse("free", where, what);
  // Going on would follow a forged pointer; stop even when MALLOCIM_ABORT_ON_ERROR=0.
  os::abort_process();
}

Resident resident_of(const LargeFree* f) {
  uintptr_t b = uintptr_t(f);
  if (f->hdr.flags & kPurged) return {b, b};
  if (f->hdr.flags & kPartPurged) return {b + f->res_lo, b + f->res_hi};
  return resident_all(f, hdr_size(&f->hdr));
}

bool link_ok(const LargeRegion* r, const LargeFree* f, const LargeFree* link, bool forward) {
  if (!link) return true;
  auto* a = reinterpret_cast<const uint8_t*>(link);
  if (a < r->area_begin || a >= r->area_end || (uintptr_t(a) & 15)) return false;
  return (forward ? link->prev : link->next) == f;
}

void bin_remove(LargeRegion* r, LargeFree* f) {
  unsigned b = bin_of(hdr_size(&f->hdr));
  if (!link_ok(r, f, f->next, true) || (f->prev ? !link_ok(r, f, f->prev, false) : r->bins[b] != f))
    corrupted(f, "heap corruption: links of a free block overwritten (overflow or write after free)");
  if (f->prev) f->prev->next = f->next; else r->bins[b] = f->next;
  if (f->next) f->next->prev = f->prev; else r->tails[b] = f->prev;
  if (!r->bins[b]) {
    bin_mark(r, b, false);
    set_max16(r, b, 0);
  }
}

// Makes [h, h+size) one free block, of which res is resident, and tells its successor.
void make_free(LargeRegion* r, LargeHdr* h, size_t size, Resident res, uint64_t now) {
  uintptr_t b = uintptr_t(h);
  res = clip(res, b, b + size);
  size_t in = length(res);
  uint16_t state = in == size ? 0 : in == 0 ? kPurged : kPartPurged;
  hdr_write(h, size, uint16_t((h->flags & kPrevInUse) | state));
  LargeHdr* n = hdr_next(h);
  n->prev_size = size;
  if (n->flags & kPrevInUse) set_prev_inuse(n, false);  // else it follows a free block already
  auto* f = reinterpret_cast<LargeFree*>(h);
  f->since_ms = now;
  if (state == kPartPurged) {
    f->res_lo = uint32_t(res.lo - b);
    f->res_hi = uint32_t(res.hi - b);
  }
  bin_insert(r, f);
}

void make_used(LargeHdr* h, size_t size) {
  hdr_write(h, size, uint16_t((h->flags & kPrevInUse) | kInUse));
  set_prev_inuse(hdr_next(h), true);
}

// Makes [h+keep, h+size) a free block, merged with a free successor: h, a used block of `size`
// bytes, has just been rewritten to `keep`. res: what of [h, h+size) is resident.
void free_tail(LargeRegion* r, LargeHdr* h, size_t size, size_t keep, Resident res, uint64_t now) {
  auto* succ = reinterpret_cast<LargeHdr*>(reinterpret_cast<uint8_t*>(h) + size);
  auto* tail = reinterpret_cast<LargeHdr*>(reinterpret_cast<uint8_t*>(h) + keep);
  size_t tsize = size - keep;
  tail->flags = kPrevInUse;
  res = clip(res, uintptr_t(tail), uintptr_t(succ));
  if (!(succ->flags & kInUse)) {
    res = resident_join(res, resident_of(reinterpret_cast<LargeFree*>(succ)));
    bin_remove(r, reinterpret_cast<LargeFree*>(succ));
    tsize += hdr_size(succ);
  }
  make_free(r, tail, tsize, res, now);
}

// Cuts [h+keep, h+size) off a used block as a free block, when that leaves one of kMinBlock.
void split_tail(LargeRegion* r, LargeHdr* h, size_t keep, Resident res, uint64_t now) {
  size_t size = hdr_size(h);
  if (size - keep < kMinBlock) return;
  hdr_write(h, keep, h->flags);
  free_tail(r, h, size, keep, res, now);
}

// A request as the regions see it, its bins computed once for all the regions it looks at.
struct Request {
  size_t align;
  size_t need;         // the block it takes
  size_t search;       // the free block it looks for: need, plus room to align the payload
  unsigned bin;        // search's bin
  unsigned close_bin;  // the bin of the largest close fit (close_max)
  // The bins bin..close_bin as bits of bitmap word close_word (close_mask 0: they span two words).
  unsigned close_word;
  uint64_t close_mask;
};

LargeFree* find_fit(LargeRegion* r, size_t need, unsigned b) {
  LargeFree* best = nullptr;
  // A bin holds sizes within 1/16 of a power of two, and after a program's sizes change mostly
  // blocks just too small for the new ones: the walk is skipped when none can fit.
  if (need <= size_t(r->bin_max16[b]) << 4) {
    unsigned looked = 0;
    uint32_t seen_max = 0;
    LargeFree* f = r->bins[b];
    for (; f && looked < 32; f = f->next, ++looked) {
      size_t s = hdr_size(&f->hdr);
      if (f->hdr.size16 > seen_max) seen_max = f->hdr.size16;
      if (s >= need && (!best || s < hdr_size(&best->hdr))) {
        best = f;
        if (s == need) break;
      }
    }
    if (!f && !best) set_max16(r, b, seen_max);  // the whole bin was seen
  }
  if (best || b + 1 >= kLargeBins) return best;
  unsigned above = bin_next(r, b + 1);
  if (above >= kLargeBins) return nullptr;
  // Every block of a higher bin fits; take the smallest of the first few.
  LargeFree* f = r->bins[above];
  best = f;
  for (unsigned looked = 0; f && looked < 8; f = f->next, ++looked)
    if (hdr_size(&f->hdr) < hdr_size(&best->hdr)) best = f;
  return best;
}

// Which block a region may hand out: its best fit (any); only one whose memory is resident (never
// faults fresh memory in); only a close fit, at most an eighth larger than needed; or both.
enum Fit : unsigned { any = 0, resident = 1, close = 2 };
MI_INLINE size_t close_max(size_t need) { return need + need / 8; }

Request make_request(size_t size, size_t align) {
  Request q;
  q.align = align;
  q.need = large_block_need(size);
  q.search = align > 16 ? q.need + align + kMinBlock : q.need;
  q.bin = bin_of(q.search);
  q.close_bin = bin_of(close_max(q.search));
  q.close_word = q.bin / 64;
  q.close_mask = q.close_bin / 64 != q.close_word ? 0
                 : (~uint64_t(0) << (q.bin % 64)) & (~uint64_t(0) >> (63 - q.close_bin % 64));
  return q;
}

// *fresh: bytes handed out of memory never touched since it was purged (or mapped).
void* region_alloc(LargeRegion* r, const Request& q, uint64_t now, size_t* fresh, Fit fit = Fit::any) {
  size_t need = q.need, search = q.search, align = q.align;
  LargeFree* f = find_fit(r, search, q.bin);
  if (!f) return nullptr;
  Resident res = resident_of(f);
  if ((fit & Fit::close) && hdr_size(&f->hdr) > close_max(search)) return nullptr;
  if ((fit & Fit::resident) && overlap(res, uintptr_t(f), uintptr_t(f) + search) != search) return nullptr;
  bin_remove(r, f);
  LargeHdr* h = &f->hdr;
  size_t bsize = hdr_size(h);
  if (align > 16) {
    uintptr_t payload = uintptr_t(h) + sizeof(LargeHdr);
    uintptr_t a = align_up(payload, align);
    while (a != payload && a - payload < kMinBlock) a += align;
    if (a != payload) {  // the gap in front becomes a free block of its own
      size_t gap = a - payload;
      make_free(r, h, gap, res, now);
      h = hdr_of(reinterpret_cast<void*>(a));
      h->flags = 0;  // previous block is free
      bsize -= gap;
    }
  }
  // Each header written once: the block's at its final size, then the tail's or the successor's.
  bool split = bsize - need >= kMinBlock;
  hdr_write(h, split ? need : bsize, uint16_t((h->flags & kPrevInUse) | kInUse));
  if (split) free_tail(r, h, bsize, need, res, now);
  else set_prev_inuse(hdr_next(h), true);
  *fresh += fresh_part(res, h);
  r->used_bytes += hdr_size(h) - sizeof(LargeHdr);
  r->used_blocks++;
  return reinterpret_cast<uint8_t*>(h) + sizeof(LargeHdr);
}

// Regions are 16 MiB aligned: headers at their start would all fall in the same sets of every
// cache level, and an allocation reads the headers of all regions. Each sits a different number
// of cache lines into its mapping (g_list_lock held).
unsigned g_regions_made = 0;
constexpr unsigned kRegionColours = 32;
static_assert(sizeof(LargeRegion) + (kRegionColours - 1) * 64 <= 8192, "a header fits two OS pages");

LargeRegion* region_create() {
  auto* base = static_cast<uint8_t*>(os::map_aligned(kLargeRegionSize, kGranule));
  if (!base) return nullptr;
  thp_fine_grained(base, kLargeRegionSize);
  auto* r = reinterpret_cast<LargeRegion*>(base + (g_regions_made++ % kRegionColours) * 64);
  r->header.kind = RegionKind::large;
  r->base = base;
  r->size = kLargeRegionSize;
  r->area_begin = reinterpret_cast<uint8_t*>(r) + align_up(sizeof(LargeRegion), 64);
  r->area_end = base + kLargeRegionSize - sizeof(LargeHdr);
  auto* end = reinterpret_cast<LargeHdr*>(r->area_end);
  hdr_write(end, 0, kInUse);  // sentinel: stops merging
  auto* first = reinterpret_cast<LargeHdr*>(r->area_begin);
  first->flags = kPrevInUse;
  make_free(r, first, size_t(r->area_end - r->area_begin), Resident{0, 0}, 0);  // nothing resident
  segmap_set(base, kLargeRegionSize, &r->header);
  return r;
}

// The first bin of r that may hold a block for q (kLargeBins: none), read without the lock: a
// hint. q's own bin counts only if its largest block may be large enough (in types, the blocks
// of a request's own bin were too small for 3 in 5 of the locks taken for a close fit).
MI_INLINE bool own_bin_may_fit(const LargeRegion* r, const Request& q) {
  return (size_t(max16(r, q.bin)) << 4) >= q.search;
}
MI_INLINE unsigned fit_bin(const LargeRegion* r, const Request& q) {
  unsigned b = bin_next(r, q.bin);
  if (b == q.bin && !own_bin_may_fit(r, q)) b = bin_next(r, q.bin + 1);
  return b;
}

MI_INLINE bool region_may_fit(const LargeRegion* r, const Request& q) { return fit_bin(r, q) < kLargeBins; }

// Whether r may hold a close fit for q: a block in the bins from its own to close_max's. Every
// allocation asks it of every region while few threads run: one word of the bitmap, mostly.
MI_INLINE bool region_may_fit_close(const LargeRegion* r, const Request& q) {
  if (!q.close_mask) return fit_bin(r, q) <= q.close_bin;
  uint64_t v = r->bitmap[q.close_word].load(std::memory_order_relaxed) & q.close_mask;
  if (!v) return false;
  if (v != uint64_t(1) << (q.bin % 64)) return true;  // a bin above the request's own
  return own_bin_may_fit(r, q);
}

// *taken: set when the lock was held by another thread (and wait was false).
void* try_region(LargeRegion* r, const Request& q, uint64_t now, bool wait, Fit fit = Fit::any,
                 bool* taken = nullptr) {
  if (wait) {
    r->lock.lock();
  } else if (!r->lock.try_lock()) {
    if (taken) *taken = true;
    return nullptr;
  }
  size_t fresh = 0;
  void* p = region_alloc(r, q, now, &fresh, fit);
  r->lock.unlock();
  if (fresh) purge_pressure(fresh, Layer::large);
  return p;
}

MI_INLINE LargeHdr* checked_hdr(LargeRegion* r, const void* p) {
  auto* h = hdr_of(p);
  if ((uintptr_t(p) & 15) || reinterpret_cast<uint8_t*>(h) < r->area_begin ||
      reinterpret_cast<uint8_t*>(h) >= r->area_end || !hdr_valid(h))
    return nullptr;
  return h;
}

// Records who allocated from r last, for the others to keep away for a while.
MI_INLINE void note_user(LargeRegion* r, const Heap* h, uint64_t now) {
  // Stored only when they change (once per ms at most): the other threads' looks read them, and
  // a store of the same value would still take the line from their caches.
  if (r->user.load(std::memory_order_relaxed) != h) r->user.store(h, std::memory_order_relaxed);
  if (r->used_ms.load(std::memory_order_relaxed) != now) r->used_ms.store(now, std::memory_order_relaxed);
}

// Whether another thread allocated from r in the last few ms: sharing its lock and bins costs
// more than the memory saved.
MI_INLINE bool used_by_other(const LargeRegion* r, const Heap* h, uint64_t now) {
  const Heap* u = r->user.load(std::memory_order_relaxed);
  return u && u != h && now < r->used_ms.load(std::memory_order_relaxed) + 20;
}

// A block from r for h (null: no room, or the lock taken without wait: *taken); r becomes h's
// preferred region, with h noted as its latest user.
void* take_from(LargeRegion* r, Heap* h, const Request& q, uint64_t now, bool wait,
                bool* taken = nullptr, Fit fit = Fit::any) {
  void* p = try_region(r, q, now, wait, fit, taken);
  if (p) {
    if (h != &g_empty_heap) h->large_region = r;
    note_user(r, h, now);
  }
  return p;
}

// A new region, linked in as the newest, and the block from it.
void* region_add(Heap* h, const Request& q, uint64_t now) {
  LargeRegion* r;
  {
    LockGuard g(g_list_lock);
    r = region_create();
    if (!r) return nullptr;
    note_user(r, h, now);  // before others can see it
    LargeRegion* head = g_regions.load(std::memory_order_relaxed);
    r->next = head;
    r->newer.store(nullptr, std::memory_order_relaxed);
    if (head) head->newer.store(r, std::memory_order_release);
    else g_oldest.store(r, std::memory_order_release);
    g_regions.store(r, std::memory_order_release);
  }
  if (h != &g_empty_heap) h->large_region = r;
  return try_region(r, q, now, true);
}

}  // namespace

void* large_malloc(Heap* h, size_t size, size_t align) {
  if (MI_UNLIKELY(stats_requested())) stats_print_requested();
  uint64_t now = os::now_ms();
  bool own = h != &g_empty_heap;
  LargeRegion* pref = own ? h->large_region : nullptr;
  const Request q = make_request(size, align);
  // An allocation looks for room in the oldest regions first: a working set then fills the
  // oldest regions, and the newer ones drain and go back to the OS (threads that move on to a new
  // region leave the old one to drain otherwise). Every allocation looks while few threads run;
  // with more, every 32nd: the look reads what other threads write on each of their allocations
  // (their regions' bitmaps and users).
  bool few = heaps_live() <= kLookAcrossThreads;
  bool look_older = own && ((++h->large_allocs & 31) == 0 || few);
  bool contended = false;  // a lock this allocation wanted was taken
  if (pref && !look_older && region_may_fit(pref, q))
    if (void* p = take_from(pref, h, q, now, false, &contended)) return p;
  // A close fit in any region comes first; else the oldest region's best fit, which may split a
  // large block while a newer region holds one of the size (bench_types peaked 2 % higher).
  // With other threads at work, no fresh memory is faulted in while a resident fit is free
  // anywhere: a resident close fit, the thread's own regions' resident best fit, then theirs.
  // Each thread otherwise grows its own regions while memory the others freed waits for the purge
  // (bench_server peaked at 136 MB, 122-127 with this; 2-thread churn 59 -> 46 MB). A lone thread
  // keeps to the oldest region's best fit: the newer regions drain and go back. Not with many
  // threads (kLookAcrossThreads).
  bool others = false;  // another thread allocates from one of the regions
  if (own && few && h->others_ms == now + 1) {
    others = h->others;
  } else {
    for (LargeRegion* r = few ? g_oldest.load(std::memory_order_acquire) : nullptr; r && !others;
         r = r->newer.load(std::memory_order_acquire))
      others = used_by_other(r, h, now);
    if (own) {
      h->others_ms = now + 1;  // 0: never looked
      h->others = others;
    }
  }
  Fit close_fit = others ? Fit(Fit::close | Fit::resident) : Fit::close;
  for (LargeRegion* r = g_oldest.load(std::memory_order_acquire); r;
       r = r->newer.load(std::memory_order_acquire))
    if (region_may_fit_close(r, q) && !used_by_other(r, h, now))
      if (void* p = take_from(r, h, q, now, false, nullptr, close_fit)) return p;
  if (others)
    for (int theirs = 0; theirs < 2; ++theirs)
      for (LargeRegion* r = g_oldest.load(std::memory_order_acquire); r;
           r = r->newer.load(std::memory_order_acquire))
        if (used_by_other(r, h, now) == bool(theirs) && region_may_fit(r, q))
          if (void* p = take_from(r, h, q, now, false, nullptr, Fit::resident)) return p;
  for (int pass = 0; pass < 3; ++pass) {
    for (LargeRegion* r = g_oldest.load(std::memory_order_acquire); r;
         r = r->newer.load(std::memory_order_acquire)) {
      if (!region_may_fit(r, q)) continue;
      // First pass: not a region another thread used in the last few ms.
      bool other = used_by_other(r, h, now);
      if (pass == 0 && other) continue;
      bool taken = false;
      if (void* p = take_from(r, h, q, now, pass == 2, &taken)) return p;
      if (other && taken) contended = true;
    }
    if (pass == 2 || !contended) continue;
    // The regions with room are in use by other threads, and a lock was found taken: wait for
    // the thread's own region (a remote free holds its lock), else open a new one rather than
    // queue behind them (16 threads on one region: calloc took 1.3x mimalloc's time). A region
    // merely used by another thread a moment ago is shared (a program's main thread and its one
    // worker: one region, not two half used). After 4 such regions per CPU, threads share.
    // Only a thread that keeps allocating large blocks opens one: short-lived threads that met a
    // taken lock once left 16 MiB regions behind, each held by a block or two they passed on.
    if (pref && pref->user.load(std::memory_order_relaxed) == h && region_may_fit(pref, q))
      if (void* p = take_from(pref, h, q, now, true)) return p;
    if (own && h->large_allocs >= kApartAfterAllocs &&
        g_apart.load(std::memory_order_relaxed) < 4 * os::hw().cpus)
      if (void* p = region_add(h, q, now)) {
        g_apart.fetch_add(1, std::memory_order_relaxed);
        return p;
      }
  }
  // The bitmaps were read without the locks, and a split or a merge in progress clears a bin's bit
  // before it sets the remainder's: before a new region, a last look under each lock. (A 16 MiB
  // region was opened beside one with room: integration.thread_churn grew by one now and then.)
  for (LargeRegion* r = g_oldest.load(std::memory_order_acquire); r;
       r = r->newer.load(std::memory_order_acquire))
    if (void* p = take_from(r, h, q, now, true)) return p;
  return region_add(h, q, now);
}

void* large_malloc_resident(Heap* h, size_t size, size_t align) {
  uint64_t now = os::now_ms();
  const Request q = make_request(size, align);
  auto from = [&](LargeRegion* r) {
    return region_may_fit(r, q) ? try_region(r, q, now, false, Fit::resident) : nullptr;
  };
  LargeRegion* pref = h->large_region;
  if (pref)
    if (void* p = from(pref)) return p;
  for (LargeRegion* r = g_oldest.load(std::memory_order_acquire); r; r = r->newer.load(std::memory_order_acquire))
    if (r != pref)
      if (void* p = from(r)) return p;
  return nullptr;
}

// Without the lock: a neighbour's merge or split may be rewriting the flags and check of these
// headers meanwhile (never the size of a block in use). A header caught half written fails its
// check, and large_free, under the lock, decides.
MI_RACY_READS size_t large_block_size(LargeRegion* r, const void* p) {
  LargeHdr* h = checked_hdr(r, p);  // inline: its reads are this function's
  // The next header too: an overflow into it is reported at this free, as large_free does.
  return h && (h->flags & kInUse) && hdr_valid(hdr_next(h)) ? hdr_size(h) : 0;
}

void large_free(LargeRegion* r, void* p) {
  uint64_t now = os::now_ms();
  r->lock.lock();
  LargeHdr* h = checked_hdr(r, p);
  if (!h || !(h->flags & kInUse)) {
    r->lock.unlock();
    report_misuse("free", p, h ? "block is already free (double free)"
                               : "not the start of a block (interior or corrupted pointer)");
    return;
  }
  size_t size = hdr_size(h);
  LargeHdr* n = hdr_next(h);
  if (!hdr_valid(n)) {
    r->lock.unlock();
    corrupted(p, "heap corruption: the header after this block was overwritten (buffer overflow)");
  }
  if (!(h->flags & kPrevInUse)) {
    LargeHdr* prev = hdr_prev(h);
    if (reinterpret_cast<uint8_t*>(prev) < r->area_begin || !hdr_valid(prev) ||
        hdr_size(prev) != h->prev_size) {
      r->lock.unlock();
      corrupted(p, "heap corruption: the block before this one was overwritten (buffer underflow)");
    }
  }
  r->used_bytes -= size - sizeof(LargeHdr);
  r->used_blocks--;
  // Merge with a free successor, then with a free predecessor. The block itself was in use, so
  // resident; beside purged neighbours the merged block is partly purged.
  Resident res = resident_all(h, size);
  if (!(n->flags & kInUse)) {
    res = resident_join(res, resident_of(reinterpret_cast<LargeFree*>(n)));
    bin_remove(r, reinterpret_cast<LargeFree*>(n));
    size += hdr_size(n);
  }
  if (!(h->flags & kPrevInUse)) {
    LargeHdr* prev = hdr_prev(h);
    res = resident_join(resident_of(reinterpret_cast<LargeFree*>(prev)), res);
    bin_remove(r, reinterpret_cast<LargeFree*>(prev));
    size += hdr_size(prev);
    h = prev;
  }
  make_free(r, h, size, res, now);
  r->lock.unlock();
  purge_tick(now);
}

size_t large_usable(LargeRegion* r, const void* p) {
  LargeHdr* h = hdr_of(p);
  return hdr_size(h) - sizeof(LargeHdr);
}

bool large_owns_block(LargeRegion* r, const void* p) {
  LockGuard g(r->lock);
  LargeHdr* h = checked_hdr(r, p);
  return h && (h->flags & kInUse);
}

bool large_resize_in_place(LargeRegion* r, void* p, size_t new_size) {
  uint64_t now = os::now_ms();
  size_t need = large_block_need(new_size);
  size_t fresh = 0;
  {
    LockGuard g(r->lock);
    LargeHdr* h = hdr_of(p);
    size_t cur = hdr_size(h);
    Resident res = resident_all(h, cur);  // shrinking: the cut-off part was in use
    if (need > cur) {
      LargeHdr* n = hdr_next(h);
      if ((n->flags & kInUse) || cur + hdr_size(n) < need) return false;
      res = resident_join(res, resident_of(reinterpret_cast<LargeFree*>(n)));
      bin_remove(r, reinterpret_cast<LargeFree*>(n));
      make_used(h, cur + hdr_size(n));
    }
    // Shrinking (or the rest of an absorbed neighbour) goes back to the free bins.
    split_tail(r, h, need, res, now);
    // Growing into a purged neighbour faults fresh memory in, as an allocation there would.
    fresh = fresh_part(res, h);
    r->used_bytes += hdr_size(h) - cur;
  }
  if (fresh) purge_pressure(fresh, Layer::large);
  return true;
}

namespace {
// Gives back the pages wholly inside free block f, past its header and links, and moves it to
// the purged end of its bin; returns bytes.
size_t purge_free_block(LargeRegion* r, LargeFree* f) {
  size_t page = os::hw().page_size, released = 0;
  uintptr_t lo = align_up(uintptr_t(f) + sizeof(LargeFree), page);
  uintptr_t hi = align_down(uintptr_t(f) + hdr_size(&f->hdr), page);
  if (hi > lo) {
    os::purge(reinterpret_cast<void*>(lo), hi - lo);
    released = hi - lo;
  }
  bin_remove(r, f);
  hdr_write(&f->hdr, hdr_size(&f->hdr), uint16_t((f->hdr.flags & ~kPartPurged) | kPurged));
  bin_insert(r, f);
  return released;
}

// Purges the blocks of bin b free since before older_than_ms (all: ~0), until `want` bytes went
// back; returns bytes.
size_t purge_bin(LargeRegion* r, unsigned b, uint64_t older_than_ms, size_t want) {
  size_t released = 0;
  for (LargeFree *f = r->bins[b], *next; f && released < want; f = next) {
    if (f->hdr.flags & kPurged) break;  // the rest are purged too
    next = f->next;
    if (f->since_ms <= older_than_ms) released += purge_free_block(r, f);
  }
  return released;
}
}  // namespace

size_t large_purge(uint64_t older_than_ms, bool wait_for_locks) {
  size_t released = 0;
  // While a region is in use, the timed purge leaves its bins of blocks under two OS pages
  // alone: each such block holds one whole page at most, and medium blocks leave many of them
  // between live ones, which every pass would walk (5 % of bench_frag's time). Once nothing was
  // allocated from the region since the cut-off, and for malloc_trim, every bin is walked.
  unsigned small_bins = bin_of(2 * os::hw().page_size);
  for (LargeRegion* r = g_regions.load(std::memory_order_acquire); r; r = r->next) {
    if (wait_for_locks) r->lock.lock();
    else if (!r->lock.try_lock()) continue;
    bool idle = wait_for_locks || r->used_ms.load(std::memory_order_relaxed) <= older_than_ms;
    for (unsigned b = idle ? 0 : small_bins; b < kLargeBins; ++b)
      released += purge_bin(r, b, older_than_ms, ~size_t(0));
    r->lock.unlock();
  }
  return released;
}

size_t large_purge_bytes(size_t want) {
  size_t released = 0;
  // Blocks below three OS pages give back one page at most: their bins (many small blocks, such
  // as those left between borrowed ones: heap.cpp) are not walked.
  unsigned lowest = bin_of(3 * os::hw().page_size);
  for (LargeRegion* r = g_oldest.load(std::memory_order_acquire); r && released < want;
       r = r->newer.load(std::memory_order_acquire)) {
    if (!r->lock.try_lock()) continue;
    for (unsigned b = kLargeBins; b-- > lowest && released < want;)  // the largest blocks first
      released += purge_bin(r, b, ~uint64_t(0), want - released);
    r->lock.unlock();
  }
  return released;
}

LargeFigures large_figures(unsigned char* vec, size_t vec_size) {
  LargeFigures fig{};
  size_t page = os::hw().page_size;
  for (LargeRegion* r = g_regions.load(std::memory_order_acquire); r; r = r->next) {
    LockGuard g(r->lock);
    fig.regions++;
    fig.mapped += r->size;
    fig.live += r->used_bytes;
    bool known = vec && r->size / page <= vec_size && os::residency(r->base, r->size, vec);
    for (unsigned b = 0; b < kLargeBins; ++b) {
      for (LargeFree* f = r->bins[b]; f; f = f->next) {
        size_t s = hdr_size(&f->hdr);
        fig.free_blocks++;
        // Pages wholly inside the block, past its header and links, are the ones purge can drop.
        uintptr_t lo = align_up(uintptr_t(f) + sizeof(LargeFree), page);
        uintptr_t hi = align_down(uintptr_t(f) + s, page);
        size_t interior = hi > lo ? hi - lo : 0;
        size_t resident = interior;
        if (known) {
          resident = 0;
          for (uintptr_t a = lo; a < hi; a += page) resident += (vec[(a - uintptr_t(r->base)) / page] & 1) * page;
        } else if (f->hdr.flags & kPurged) {
          resident = 0;
        }
        fig.purged += interior - resident;
        fig.free += s - (interior - resident);
      }
    }
  }
  return fig;
}

LargeRegion* large_newest_region() { return g_regions.load(std::memory_order_acquire); }

void large_lock_all() {
  g_list_lock.lock();
  for (LargeRegion* r = g_regions.load(std::memory_order_acquire); r; r = r->next) {
    r->fork_skipped = r->lock.held_by_me();  // fork from a signal handler inside free()
    if (!r->fork_skipped) r->lock.lock();
  }
}

void large_unlock_all() {
  for (LargeRegion* r = g_regions.load(std::memory_order_acquire); r; r = r->next)
    if (!r->fork_skipped) r->lock.unlock();
  g_list_lock.unlock();
}


}  // namespace mallocim
