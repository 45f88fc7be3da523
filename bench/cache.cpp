// cache: a key/value cache with a byte capacity and LRU eviction.
//
// Models memcached- or redis-like caches that run for weeks: a fixed key space (--capacity-mb
// MiB / 256 keys) is requested with a skewed popularity (key = keys * u^3, u uniform: the most
// popular tenth of the keys gets about 46% of the requests). A request for a cached key is a hit
// (the item moves to the front of the LRU list, and --update-pct percent of hits store a new
// value of a new size); a miss stores the item. Each item is three blocks, as in real caches: an
// entry (links, 48 B), the key (16-64 B) and the value, whose size is skewed: 16 B - 64 KiB with
// the power of two drawn geometrically (each one 0.7 times as likely as the one below, so most
// values are small but most bytes are in large ones). Items are evicted from the LRU tail while
// the bytes stored exceed the capacity. The run goes on until --turnover times the capacity has
// been stored. With --shift 1 the value sizes move halfway to a bell around 1 KiB (256 B - 32 KiB),
// so the memory the small and large values left behind must serve new sizes. Single-threaded.
#include <algorithm>
#include <bit>

#include "common.h"

using namespace bench;

namespace {

struct Entry {
  Entry* prev;
  Entry* next;
  void* key;
  void* value;
  uint64_t id;
  uint64_t bytes; // entry + key + value, as requested
};

// Value size: 16 B - 64 KiB, power of two geometric with ratio 0.7 (before the shift), or a bell
// of powers of two 2^8 .. 2^14 around 1 KiB (after it).
size_t value_size(Rng& rng, bool shifted) {
  unsigned b;
  if (!shifted) {
    b = 4;
    while (b < 15 && rng.below(10) < 7) ++b; // P(b) ~ 0.7^(b-4), capped at 2^15..2^16
  } else {
    b = unsigned(8 + rng.below(4) + rng.below(4)); // 8..14, most often 11
  }
  return size_t(rng.range(size_t(1) << b, size_t(2) << b));
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_cache", "A key/value cache with LRU eviction.");
  const uint64_t capacity_mb = opt.get("capacity-mb", 96, "bytes stored at most, MiB", 1);
  const uint64_t turnover = opt.get("turnover", 8, "bytes stored in all, times the capacity", 1);
  const uint64_t update_pct = opt.get("update-pct", 10, "percent of hits that store a new value");
  const uint64_t shift = opt.get("shift", 1, "1: value sizes change halfway");
  const uint64_t seed = opt.get("seed", 1, "random seed");
  Tracer trace(opt);
  opt.done();

  const uint64_t capacity = capacity_mb << 20;
  const uint64_t keys = std::max<uint64_t>(1024, capacity / 256);
  // The index, one pointer per key, allocated once (counted in live bytes, like the items).
  auto** index = static_cast<Entry**>(checked(std::calloc(keys, sizeof(Entry*)), keys * 8));
  Entry* head = nullptr; // most recently used
  Entry* tail = nullptr;
  auto unlink = [&](Entry* e) {
    (e->prev ? e->prev->next : head) = e->next;
    (e->next ? e->next->prev : tail) = e->prev;
  };
  auto push_front = [&](Entry* e) {
    e->prev = nullptr;
    e->next = head;
    (head ? head->prev : tail) = e;
    head = e;
  };

  Rng rng(seed);
  uint64_t stored = 0, live = keys * sizeof(Entry*), live_peak = live, requests = 0;
  uint64_t hits = 0, misses = 0, updates = 0, evictions = 0, items = 0, items_peak = 0;
  uint64_t written = 0;
  const uint64_t goal = turnover * capacity;
  auto drop = [&](Entry* e) {
    if (e->id >= keys || index[e->id] != e) corrupt(e, "entry not in the index", sizeof(Entry));
    live -= e->bytes;
    stored -= e->bytes;
    free_block(e->key);
    free_block(e->value);
    index[e->id] = nullptr;
    delete e;
    --items;
  };

  Stopwatch clock;
  while (written < goal) {
    ++requests;
    const bool shifted = shift != 0 && written >= goal / 2;
    const double u = double(rng.next() >> 11) * 0x1p-53;
    const uint64_t id = std::min<uint64_t>(keys - 1, uint64_t(double(keys) * u * u * u));
    Entry* e = index[id];
    if (e != nullptr) {
      ++hits;
      unlink(e);
      push_front(e);
      if (rng.below(100) >= update_pct) continue;
      ++updates;
      const size_t old_size = free_block(e->value);
      const size_t size = value_size(rng, shifted);
      e->value = make_block(size, rng.next());
      e->bytes += size - old_size;
      live += size - old_size;
      stored += size - old_size;
      written += size;
    } else {
      ++misses;
      const size_t key_size = size_t(rng.range(16, 64));
      const size_t size = value_size(rng, shifted);
      e = new Entry{nullptr, nullptr, make_block(key_size, id), make_block(size, rng.next()), id,
                    sizeof(Entry) + key_size + size};
      index[id] = e;
      push_front(e);
      live += e->bytes;
      stored += e->bytes;
      written += size + key_size;
      items_peak = std::max(items_peak, ++items);
    }
    live_peak = std::max(live_peak, live);
    trace.tick(live);
    while (stored > capacity && tail != e) {
      Entry* victim = tail;
      unlink(victim);
      drop(victim);
      ++evictions;
      trace.tick(live);
    }
  }
  const uint64_t rss_full = rss_now_kb();
  const uint64_t live_full = live;
  trace.sample(live);
  while (tail != nullptr) {
    Entry* e = tail;
    unlink(e);
    drop(e);
    trace.tick(live);
  }
  std::free(index);
  live -= keys * sizeof(Entry*);
  const double seconds = clock.seconds();

  Result("cache")
      .common(1, requests, seconds, live_peak)
      .add("hits", hits)
      .add("misses", misses)
      .add("updates", updates)
      .add("evictions", evictions)
      .add("items_peak", items_peak)
      .add("live_full_bytes", live_full)
      .add("rss_full_kb", rss_full)
      .frag_ratio(live_peak)
      .print();
  return trace.write(live) ? 0 : 1;
}
