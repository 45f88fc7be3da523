#include "core/sample.h"

#include <string.h>

#include "core/alloc.h"
#include "core/large.h"
#include "core/secret.h"
#include "debug/stack.h"
#include "policy/options.h"
#include "stats/profile.h"

namespace mallocim {

bool g_sampling = false;

namespace {

uint64_t g_rate = 524288;

uint64_t next_random(uint64_t& s) {  // xorshift64*
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 2685821657736338717ull;
}

// ln(x) for x in (0, 1], without libm: x = m * 2^e, ln(m) by the atanh series (|t| <= 1/3).
double ln01(double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  int e = int((bits >> 52) & 0x7ff) - 1022;
  bits = (bits & ~(uint64_t(0x7ff) << 52)) | (uint64_t(1022) << 52);  // m in [0.5, 1)
  double m;
  memcpy(&m, &bits, sizeof m);
  double t = (m - 1) / (m + 1), t2 = t * t;
  double s = t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 + t2 / 11)))));
  return e * 0.6931471805599453 + 2 * s;
}

// 1 - exp(-x) for x >= 0, without libm: a series where it would cancel, else exp by halving.
double one_minus_exp_neg(double x) {
  if (x < 1e-3) return x * (1 - x / 2 * (1 - x / 3));
  if (x > 40) return 1;
  int k = 0;
  while (x > 0.5) x /= 2, ++k;  // exp(-x) = exp(-x / 2^k)^(2^k)
  double y = -x, e = 1 + y * (1 + y / 2 * (1 + y / 3 * (1 + y / 4 * (1 + y / 5 * (1 + y / 6 * (1 + y / 7))))));
  while (k--) e *= e;
  return 1 - e;
}

// Bytes to the next sample: exponential with mean g_rate.
int64_t draw_gap(Heap* h) {
  double u = (double(next_random(h->sample_rng) >> 11) + 1.0) / 9007199254740992.0;  // (0, 1]
  return int64_t(-ln01(u) * double(g_rate)) + 1;
}

// Counts pg->free (a list not counted yet: its length is known) and cuts it after the blocks
// that come before the sampling point; the rest waits in pg->sample_rest. keep == 0: the very
// next allocation is sampled. Afterwards free_len is kLenUnknown: counted.
void cut(Heap* h, Page* pg) {
  unsigned c = pg->size_class;
  int64_t bs = pg->block_size, left = h->sample_left[c];
  uint64_t keep = uint64_t((left - 1) / bs), len = pg->free_len;
  pg->free_len = kLenUnknown;
  if (len <= keep) {  // the sampling point lies beyond this list
    h->sample_left[c] = left - int64_t(len) * bs;
    return;
  }
  if (keep == 0) {
    pg->sample_rest = pg->free;
    pg->rest_len = uint32_t(len);
    pg->free = nullptr;
    h->sample_left[c] = 0;
    return;
  }
  Block* b = pg->free;  // walks only to the sampling point: once per sample
  uint64_t n = 1;
  for (; n < keep; ++n) {
    Block* next = link_decode(pg, b);
    if (!next || !link_plausible(b, next)) break;  // a damaged link is the fast path's to report
    b = next;
  }
  Block* rest = n == keep ? link_decode(pg, b) : nullptr;
  if (!rest || !link_plausible(b, rest)) {  // a damaged list ends before the sampling point
    h->sample_left[c] = left - int64_t(n) * bs;
    return;
  }
  link_set(pg, b, nullptr);
  pg->sample_rest = rest;
  pg->rest_len = uint32_t(len - keep);
  h->sample_left[c] = 0;  // due: at the cut
}

// The call stack of a sampled allocation, unwound from the sampling function itself (inlined
// here): each frame between the program and the unwinder costs it time.
MI_INLINE int capture_stack(void** frames) {
  if (!profile_wants_stacks()) return 0;  // no file: no stacks
  int depth = stack_walk(frames, kProfileFrames + 8);
  return depth < kProfileFrames ? depth : kProfileFrames;
}

// Serves a sampled small allocation from the large allocator, aligned as the class's blocks are.
MI_INLINE void* sample_small(Heap* h, Page* pg, size_t size) {
  size_t bs = pg->block_size, align = bs & (~bs + 1);
  void* p = large_malloc(h, bs, align < 16 ? 16 : align);
  if (!p) return nullptr;
  void* frames[kProfileFrames + 8];
  int depth = capture_stack(frames);
  profile_record_alloc(p, size, bs, h->thread_no, pg->size_class, frames, depth);
  return p;
}

}  // namespace

uint64_t sample_weight(size_t bytes) {
  return uint64_t(double(bytes) / one_minus_exp_neg(double(bytes) / double(g_rate)) + 0.5);
}
uint64_t sample_rate() { return g_rate; }

void sample_init() {
  g_sampling = option_profile_path()[0] != 0 || option(Opt::stats) != 0;
  int64_t rate = option(Opt::profile_rate);
  g_rate = rate > 0 ? uint64_t(rate) : 1;
}

void sample_heap_init(Heap* h) {
  h->sample_rng = (g_secret ^ (uint64_t(h->thread_no) * 0x9E3779B97F4A7C15ull)) | 1;
  for (auto& left : h->sample_left) left = draw_gap(h);
}

void* sample_arm(Heap* h, Page* pg, size_t size) {
  if (pg->free_len == kLenUnknown) return nullptr;  // counted when it was first handed out
  unsigned c = pg->size_class;
  void* p = nullptr;
  if (h->sample_left[c] <= int64_t(pg->block_size)) {  // this very allocation
    h->sample_left[c] = draw_gap(h);
    p = sample_small(h, pg, size);
    if (!p) return nullptr;  // out of memory for the sample: serve it from the page, uncounted
  }
  cut(h, pg);
  return p;
}

void* sample_at_cut(Heap* h, Page* pg, size_t size) {
  pg->free = pg->sample_rest;
  pg->free_len = pg->rest_len;
  pg->sample_rest = nullptr;
  h->sample_left[pg->size_class] = draw_gap(h);
  void* p = sample_small(h, pg, size);
  if (p) cut(h, pg);
  return p;
}

void sample_prepare(Heap* h, Page* pg) {
  if (!pg->sample_rest && pg->free && pg->free_len != kLenUnknown) cut(h, pg);
}

void page_unstash(Page* pg) {
  Block* rest = pg->sample_rest;
  if (!rest) return;
  pg->sample_rest = nullptr;
  pg->free_len = kLenUnknown;
  if (!pg->free) {
    pg->free = rest;
    return;
  }
  Block* tail = pg->free;
  for (Block* n; (n = link_decode(pg, tail)) != nullptr && link_plausible(tail, n);) tail = n;
  link_set(pg, tail, rest);
}

void sample_count_large(void* p, size_t size) {
  Heap* h = heap_for_thread();
  if (!h) return;
  int64_t& left = h->sample_left[kMaxClasses];
  if (left > int64_t(size)) {
    left -= int64_t(size);
    return;
  }
  left = draw_gap(h);
  void* frames[kProfileFrames + 8];
  int depth = capture_stack(frames);
  profile_record_alloc(p, size, usable_size(p), h->thread_no, -1, frames, depth);
}

void sample_on_free(void* p) { profile_record_free(p); }
bool sample_is_sampled(const void* p) { return profile_is_sampled(p); }

}  // namespace mallocim
