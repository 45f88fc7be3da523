#include "policy/class_tuner.h"

#include "policy/options.h"

namespace mallocim {

namespace {
constexpr ClassMap make_class_map() {
  ClassMap m{};
  for (unsigned c = 0; c < kNumClasses; ++c) m.size[c] = kClasses.size[c];
  for (size_t w = 0; w <= kSmallMax / 8; ++w) m.lut[w] = kClasses.small_lut[w];
  return m;
}
}  // namespace

constinit ClassMap g_class_map = make_class_map();
std::atomic<uint32_t> g_class_epoch{0};

namespace {

// Notes are counted in bins of 16 B: bin k holds sizes (16(k-1), 16k]. Sizes and class
// boundaries are in these units below.
constexpr unsigned kBinLo = kTunedMin / 16;   // a boundary, not a bin: sizes above it are noted
constexpr unsigned kBinHi = kSmallMax / 16;
constexpr uint32_t kRoundNotes = 256;   // notes between rounds
constexpr uint32_t kMinNotes = 32;      // a class needs this many (decayed) to be split
constexpr uint32_t kColdNotes = 2;      // an adaptive class with fewer retires
constexpr unsigned kMinSavedPct = 4;    // a split must save this share of the class's bytes
constexpr unsigned kHotShare = 4;       // at a size with 1/kHotShare of the class's notes or more
constexpr unsigned kSplitsPerRound = 4;

std::atomic<uint32_t> g_bins[kBinHi + 1];
std::atomic<uint32_t> g_notes{0};
SpinLock g_lock;
bool g_active[kMaxClasses];  // adaptive classes in the lookup (under g_lock)
uint64_t g_rounds, g_changes, g_full;

bool fixed_boundary(unsigned k) { return kClasses.size[size_to_fixed_class(size_t(k) * 16)] == k * 16u; }
// What a block of bin k's size takes in its page (size_class.h), in bytes.
uint64_t footprint(unsigned k) { return block_footprint(size_t(k) * 16); }

void set_active(unsigned c, bool on) {
  __atomic_store_n(&g_active[c], on, __ATOMIC_RELAXED);
  ++g_changes;
}

// Writes the lookup for the classes active now; true if any entry changed.
bool rebuild_lookup() {
  bool changed = false;
  for (size_t w = kTunedMin / 8 + 1; w <= kSmallMax / 8; ++w) {
    unsigned best = kClasses.small_lut[w];
    size_t best_size = kClasses.size[best];
    for (unsigned c = kNumClasses; c < kMaxClasses; ++c) {
      size_t s = g_class_map.size[c];
      if (g_active[c] && s >= w * 8 && s < best_size) best = c, best_size = s;
    }
    if (g_class_map.lut[w] != best) {
      __atomic_store_n(&g_class_map.lut[w], uint8_t(best), __ATOMIC_RELEASE);
      changed = true;
    }
  }
  if (changed) g_class_epoch.fetch_add(1, std::memory_order_release);
  return changed;
}

// The adaptive slot whose size is 16k (active or not), or kMaxClasses.
unsigned class_of_size(unsigned k) {
  for (unsigned c = kNumClasses; c < kMaxClasses; ++c)
    if (g_class_map.size[c] == k * 16u) return c;
  return kMaxClasses;
}

struct Split {
  uint64_t saved;  // notes x bytes of page saved
  unsigned at;     // the new boundary, in bins
};

bool round_locked() {
  ++g_rounds;
  uint32_t n[kBinHi + 1] = {};
  for (unsigned k = kBinLo + 1; k <= kBinHi; ++k) n[k] = g_bins[k].load(std::memory_order_relaxed);
  // The boundaries in force: fixed classes, and adaptive ones, which retire when cold.
  bool boundary[kBinHi + 1] = {};
  for (unsigned k = kBinLo; k <= kBinHi; ++k) boundary[k] = fixed_boundary(k);
  for (unsigned c = kNumClasses; c < kMaxClasses; ++c)
    if (g_active[c]) boundary[g_class_map.size[c] / 16] = true;
  bool changed = false;
  for (unsigned c = kNumClasses; c < kMaxClasses; ++c) {
    if (!g_active[c]) continue;
    unsigned hi = g_class_map.size[c] / 16, lo = hi - 1;
    while (!boundary[lo]) --lo;
    uint64_t notes = 0;
    for (unsigned k = lo + 1; k <= hi; ++k) notes += n[k];
    if (notes < kColdNotes) {
      set_active(c, false);
      boundary[hi] = false;
      changed = true;
    }
  }
  // Each class interval (lo, hi]: the boundary inside, at a hot size, that saves the most page
  // memory, if it saves enough. (None can where the class's blocks and the smaller ones fit as
  // many to a page: 6704 B and 7168 B both fit 9.) Sizes spread evenly over a class never
  // qualify: no size is hot, and no boundary would save 4 % (at most 2.8 %, half the waste of
  // the half below it; the margin keeps chance clusters among a few notes from splitting classes).
  Split best[kSplitsPerRound] = {};
  for (unsigned lo = kBinLo, hi; lo < kBinHi; lo = hi) {
    for (hi = lo + 1; !boundary[hi]; ++hi) {}
    uint64_t total = 0, below = 0;
    for (unsigned k = lo + 1; k <= hi; ++k) total += n[k];
    if (total < kMinNotes) continue;
    Split s{0, 0};
    for (unsigned k = lo + 1; k < hi; ++k) {
      below += n[k];
      uint64_t saved = below * (footprint(hi) - footprint(k));
      if (n[k] * kHotShare >= total && saved > s.saved) s = {saved, k};
    }
    if (s.saved * 100 < uint64_t(kMinSavedPct) * total * footprint(hi)) continue;
    for (unsigned i = 0; i < kSplitsPerRound; ++i)  // keep the largest few
      if (s.saved > best[i].saved) {
        Split t = best[i];
        best[i] = s;
        s = t;
      }
  }
  for (const Split& s : best) {
    if (!s.saved) break;
    unsigned c = class_of_size(s.at);
    if (c == kMaxClasses) {  // a free slot gets this size for good
      for (c = kNumClasses; c < kMaxClasses && g_class_map.size[c]; ++c) {}
      if (c == kMaxClasses) {
        ++g_full;
        continue;
      }
      __atomic_store_n(&g_class_map.size[c], s.at * 16u, __ATOMIC_RELEASE);
    }
    set_active(c, true);
    changed = true;
  }
  // Halve the counts (less what was added meanwhile, which stays whole).
  for (unsigned k = kBinLo + 1; k <= kBinHi; ++k)
    if (n[k]) g_bins[k].fetch_sub(n[k] - n[k] / 2, std::memory_order_relaxed);
  return changed && rebuild_lookup();
}

}  // namespace

void class_tuner_note(size_t size) {
  g_bins[(size + 15) / 16].fetch_add(1, std::memory_order_relaxed);
  if (g_notes.fetch_add(1, std::memory_order_relaxed) % kRoundNotes != kRoundNotes - 1) return;
  if (!g_lock.try_lock()) return;  // a round is under way
  round_locked();
  g_lock.unlock();
}

bool class_tuner_round() {
  LockGuard g(g_lock);
  return round_locked();
}

void class_tuner_reset() {
  LockGuard g(g_lock);
  for (unsigned c = kNumClasses; c < kMaxClasses; ++c)
    if (g_active[c]) set_active(c, false);
  for (auto& b : g_bins) b.store(0, std::memory_order_relaxed);
  rebuild_lookup();
}

ClassTunerFigures class_tuner_figures() {
  LockGuard g(g_lock);
  ClassTunerFigures f{};
  for (unsigned c = kNumClasses; c < kMaxClasses; ++c) {
    f.active += g_active[c];
    f.given += g_class_map.size[c] != 0;
  }
  f.rounds = g_rounds;
  f.changes = g_changes;
  f.full = g_full;
  return f;
}

bool class_is_active(unsigned c) {
  return c < kNumClasses || (c < kMaxClasses && __atomic_load_n(&g_active[c], __ATOMIC_RELAXED));
}

SpinLock& class_tuner_lock() { return g_lock; }

}  // namespace mallocim
