// sets: set manipulation with many small sets made and dropped (small-object-heavy compute).
//
// Models logic minimisers and other programs that work on covers of cubes: a cube over V binary
// variables is a bit vector of 2V bits (per variable 01 = false, 10 = true, 11 = either), and the
// program keeps a cover (an array of cubes) while it repeatedly intersects, merges and replaces
// them, allocating a new small set for every intermediate result (the pattern of two-level logic
// minimisers such as espresso). Single-threaded.
//
// The program works on a series of problems: each has a random number of variables (8..--vars,
// so sets of 1..13 words for the default) and a cover of 32..256 random cubes. Each step picks a
// cube and a window of 4..32 neighbours from the cover; for each neighbour it allocates the
// intersection, drops it when empty (some variable 00), and otherwise keeps it in a temporary
// family (a malloc'd pointer array grown with realloc); a neighbour at distance one also yields
// its consensus cube. The family's supercube (union) and a copy of a random member are made;
// that copy replaces a random cube of the cover, and everything else is dropped. A problem ends
// after a random number of steps and its cover is dropped.
//
// Every set's header holds its word count and a check value of its words (a sum and a rotated
// xor), written when it is made;
// the hash is recomputed from all words before the set is freed (exit 3 on a mismatch). The
// digest of the supercubes depends only on the seed.
#include <algorithm>
#include <bit>

#include "common.h"

using namespace bench;

namespace {

constexpr uint64_t kOdd = 0x5555555555555555ull; // the low bit of every variable's pair

struct Set {
  uint32_t words;
  uint32_t pad;
  uint64_t hash;
  uint64_t* w() { return reinterpret_cast<uint64_t*>(this + 1); }
  const uint64_t* w() const { return reinterpret_cast<const uint64_t*>(this + 1); }
};
static_assert(sizeof(Set) == 16);

struct Heap {
  uint64_t allocs = 0, live = 0, live_peak = 0;
} g;

size_t bytes_of(uint32_t words) { return sizeof(Set) + 8 * size_t(words); }

// Check value of the words: a sum and a rotated xor, in independent chains so that it costs
// about as much as reading the set.
uint64_t hash_words(const Set* s) {
  uint64_t sum = s->words, x = 0x9e3779b97f4a7c15ull;
  for (uint32_t i = 0; i < s->words; ++i) {
    sum += s->w()[i];
    x ^= std::rotl(s->w()[i], int(i % 64));
  }
  return sum ^ std::rotl(x, 29);
}

void account(int64_t bytes) {
  g.live += uint64_t(bytes);
  g.live_peak = std::max(g.live_peak, g.live);
}

Set* alloc(uint32_t words) {
  const size_t size = bytes_of(words);
  auto* s = static_cast<Set*>(checked(std::malloc(size), size));
  s->words = words;
  s->pad = 0;
  ++g.allocs;
  account(int64_t(size));
  return s;
}

Set* seal(Set* s) {
  s->hash = hash_words(s);
  return s;
}

void drop(Set* s) {
  if (s->words == 0 || s->words > 1024) corrupt(s, "bad set header", bytes_of(s->words));
  if (hash_words(s) != s->hash) corrupt(s, "set words overwritten", bytes_of(s->words));
  account(-int64_t(bytes_of(s->words)));
  std::free(s);
}

// Variables whose pair is 00 in s (the intersection is empty there): 0, 1, or 2 for more.
unsigned conflicts(const Set* s) {
  unsigned n = 0;
  for (uint32_t i = 0; i < s->words; ++i) {
    const uint64_t x = s->w()[i];
    const uint64_t empty = ~(x | (x >> 1)) & kOdd;
    if (empty != 0) n += (empty & (empty - 1)) == 0 ? 1 : 2;
  }
  return std::min(n, 2u);
}

Set* random_cube(Rng& rng, uint32_t vars) {
  const uint32_t words = (2 * vars + 63) / 64;
  Set* s = alloc(words);
  for (uint32_t i = 0; i < words; ++i) {
    uint64_t x = 0;
    for (unsigned v = 0; v < 32; ++v) {
      const uint32_t var = i * 32 + v;
      const uint64_t r = rng.next() & 3; // 01, 10 or 11 (11 twice as likely)
      const uint64_t pair = var >= vars ? 3 : (r == 0 ? 1 : r == 1 ? 2 : 3);
      x |= pair << (2 * v);
    }
    s->w()[i] = x;
  }
  return seal(s);
}

Set* intersect(const Set* a, const Set* b) {
  Set* s = alloc(a->words);
  for (uint32_t i = 0; i < a->words; ++i) s->w()[i] = a->w()[i] & b->w()[i];
  return seal(s);
}

// The intersection with its single conflicting variable raised to 11.
Set* consensus(const Set* a, const Set* b) {
  Set* s = alloc(a->words);
  for (uint32_t i = 0; i < a->words; ++i) {
    const uint64_t x = a->w()[i] & b->w()[i];
    const uint64_t empty = ~(x | (x >> 1)) & kOdd;
    s->w()[i] = x | empty | (empty << 1);
  }
  return seal(s);
}

Set* copy(const Set* a) {
  Set* s = alloc(a->words);
  std::copy_n(a->w(), a->words, s->w());
  return seal(s);
}

// A family: pointer array grown with realloc, as a set-family library would.
struct Family {
  Set** item = nullptr;
  size_t count = 0, cap = 0;
  void push(Set* s) {
    if (count == cap) {
      const size_t ncap = cap == 0 ? 4 : cap * 2;
      item = static_cast<Set**>(checked(std::realloc(item, ncap * sizeof(Set*)), ncap * sizeof(Set*)));
      account(int64_t((ncap - cap) * sizeof(Set*)));
      cap = ncap;
    }
    item[count++] = s;
  }
  void clear() {
    for (size_t i = 0; i < count; ++i) drop(item[i]);
    std::free(item);
    account(-int64_t(cap * sizeof(Set*)));
    *this = Family{};
  }
};

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_sets",
              "Cube-cover manipulation with a heap set per intermediate result.");
  const uint64_t ops = opt.get("ops", 2000000, "steps in total (each makes ~10-40 sets)", 1);
  const uint64_t max_vars = opt.get("vars", 400, "most variables in a problem (8..16000)", 8);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (max_vars > 16000) opt.fail("--vars must be at most 16000");

  Rng rng(seed);
  uint64_t steps = 0, problems = 0, digest = 0;
  Stopwatch clock;
  while (steps < ops) {
    ++problems;
    const auto vars = uint32_t(rng.range(8, max_vars));
    Family cover;
    for (uint64_t i = rng.range(32, 256); i > 0; --i) cover.push(random_cube(rng, vars));
    for (uint64_t n = rng.range(200, 5000); n > 0 && steps < ops; --n, ++steps) {
      const Set* a = cover.item[rng.below(cover.count)];
      const size_t start = rng.below(cover.count);
      Family family;
      for (uint64_t j = rng.range(4, 32); j > 0; --j) {
        const Set* b = cover.item[(start + j) % cover.count];
        Set* x = intersect(a, b);
        const unsigned c = conflicts(x);
        if (c == 0) {
          family.push(x);
        } else {
          drop(x);
          if (c == 1) family.push(consensus(a, b));
        }
      }
      if (family.count > 0) {
        Set* super = copy(family.item[0]);
        for (size_t k = 1; k < family.count; ++k)
          for (uint32_t i = 0; i < super->words; ++i) super->w()[i] |= family.item[k]->w()[i];
        seal(super);
        digest = std::rotl(digest, 5) ^ super->hash;
        drop(super);
        Set*& victim = cover.item[rng.below(cover.count)];
        drop(victim);
        victim = copy(family.item[rng.below(family.count)]);
      }
      family.clear();
    }
    cover.clear();
  }
  const double seconds = clock.seconds();

  Result("sets")
      .common(1, steps, seconds, g.live_peak)
      .add("sets", g.allocs)
      .add("problems", problems)
      .add("digest", digest)
      .print();
  return 0;
}
