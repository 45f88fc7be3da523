// bignum: arithmetic on many tiny, short-lived numbers (small-object-heavy compute).
//
// Models factoring programs and computer-algebra kernels written with an arbitrary-precision
// library that returns a new heap number from every operation (the pattern of continued-fraction
// factoring programs such as cfrac): operands are dropped a few operations after they were made,
// so the heap sees a dense stream of 16-60 byte blocks with very short lifetimes, among a table
// of --keep longer-lived numbers (the relations a factoring program collects). Single-threaded.
//
// The program factors random --bits-bit odd numbers with Pollard's rho (Floyd's cycle finding,
// products of differences accumulated between gcds), divides found factors out, and tests each
// cofactor with a base-2 Fermat test, drawing new numbers until it has allocated --ops numbers.
// A number is one malloc'd block: a 16-byte header and 32-bit limbs.
//
// Every number carries its residue modulo 2^64-1, derived from its operands' residues (a*b from
// ra*rb, a mod b from ra - rq*rb, ...). Before a number is freed its limbs are read back and their
// residue compared with that, so wrong arithmetic or an overwritten block ends the program
// (exit 3). The factors found and a digest of them are reported; they depend only on the seed.
#include <algorithm>

#include "common.h"

using namespace bench;

namespace {

constexpr uint32_t kMaxLimbs = 160; // largest number: products of two 2048-bit ones

// Residues modulo M = 2^64-1. Since 2^64 = 1 (mod M), a number's residue is the sum of its 64-bit
// words with end-around carry: one add per two limbs, so the check before every free costs
// about as much as reading the number. Values are kept in [0, M).
constexpr uint64_t kM = ~uint64_t(0);
uint64_t addp(uint64_t a, uint64_t b) {
  uint64_t s = a + b;
  s += s < a; // end-around carry
  return s == kM ? 0 : s;
}
uint64_t subp(uint64_t a, uint64_t b) { return addp(a, kM - b); }
uint64_t mulp(uint64_t a, uint64_t b) {
  const unsigned __int128 p = (unsigned __int128)a * b;
  return addp(uint64_t(p), uint64_t(p >> 64));
}
uint64_t modp(uint64_t v) { return v == kM ? 0 : v; }

struct Num {
  uint32_t len; // limbs in use, the top one non-zero (0: the number 0)
  uint32_t cap; // limbs allocated
  uint64_t res; // expected value modulo kP
  uint32_t* d() { return reinterpret_cast<uint32_t*>(this + 1); }
  const uint32_t* d() const { return reinterpret_cast<const uint32_t*>(this + 1); }
};
static_assert(sizeof(Num) == 16);

struct Heap {
  uint64_t allocs = 0, live = 0, live_peak = 0;
} g;

size_t bytes_of(uint32_t cap) { return sizeof(Num) + 4 * size_t(cap); }

Num* alloc(uint32_t cap) {
  if (cap > kMaxLimbs) {
    std::fprintf(stderr, "bench_bignum: number of %u limbs exceeds the limit\n", cap);
    std::exit(kExitUsage);
  }
  const size_t size = bytes_of(cap);
  auto* n = static_cast<Num*>(checked(std::malloc(size), size));
  n->len = cap;
  n->cap = cap;
  ++g.allocs;
  g.live += size;
  g.live_peak = std::max(g.live_peak, g.live);
  return n;
}

uint64_t residue_of(const Num* n) {
  unsigned __int128 sum = 0;
  uint32_t i = 0;
  for (; i + 1 < n->len; i += 2) sum += uint64_t(n->d()[i]) | (uint64_t(n->d()[i + 1]) << 32);
  if (i < n->len) sum += n->d()[i];
  return addp(uint64_t(sum), uint64_t(sum >> 64));
}

// Drops leading zero limbs and records the expected residue.
Num* finish(Num* n, uint64_t res) {
  while (n->len > 0 && n->d()[n->len - 1] == 0) --n->len;
  n->res = res;
  return n;
}

// Reads the number back, compares its residue with the expected one, frees it.
void drop(Num* n) {
  if (n->cap > kMaxLimbs || n->len > n->cap) corrupt(n, "bad number header", bytes_of(n->cap));
  if (residue_of(n) != n->res) corrupt(n, "residue mismatch (limbs overwritten)", bytes_of(n->cap));
  g.live -= bytes_of(n->cap);
  std::free(n);
}

Num* from_u64(uint64_t v) {
  Num* n = alloc(2);
  n->d()[0] = uint32_t(v);
  n->d()[1] = uint32_t(v >> 32);
  return finish(n, modp(v));
}

Num* copy(const Num* a) {
  Num* n = alloc(a->len);
  std::copy_n(a->d(), a->len, n->d());
  return finish(n, a->res);
}

bool is_zero(const Num* a) { return a->len == 0; }
bool is_one(const Num* a) { return a->len == 1 && a->d()[0] == 1; }

int cmp(const Num* a, const Num* b) {
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  for (uint32_t i = a->len; i-- > 0;)
    if (a->d()[i] != b->d()[i]) return a->d()[i] < b->d()[i] ? -1 : 1;
  return 0;
}

Num* add_small(const Num* a, uint32_t c) {
  Num* n = alloc(a->len + 1);
  uint64_t carry = c;
  for (uint32_t i = 0; i < a->len; ++i) {
    carry += a->d()[i];
    n->d()[i] = uint32_t(carry);
    carry >>= 32;
  }
  n->d()[a->len] = uint32_t(carry);
  return finish(n, addp(a->res, c));
}

// a - b for a >= b.
Num* sub(const Num* a, const Num* b) {
  Num* n = alloc(a->len);
  int64_t borrow = 0;
  for (uint32_t i = 0; i < a->len; ++i) {
    const int64_t t = int64_t(a->d()[i]) - (i < b->len ? int64_t(b->d()[i]) : 0) + borrow;
    n->d()[i] = uint32_t(t);
    borrow = t >> 32;
  }
  if (borrow != 0) corrupt(n, "subtraction underflow", bytes_of(n->cap));
  return finish(n, subp(a->res, b->res));
}

Num* mul(const Num* a, const Num* b) {
  Num* n = alloc(a->len + b->len);
  std::fill_n(n->d(), n->len, 0u);
  for (uint32_t i = 0; i < a->len; ++i) {
    uint64_t carry = 0;
    const uint64_t ai = a->d()[i];
    for (uint32_t j = 0; j < b->len; ++j) {
      const uint64_t t = ai * b->d()[j] + n->d()[i + j] + carry;
      n->d()[i + j] = uint32_t(t);
      carry = t >> 32;
    }
    n->d()[i + b->len] = uint32_t(carry);
  }
  return finish(n, mulp(a->res, b->res));
}

// Quotient and remainder of a / b, b != 0 (Knuth's algorithm D on 32-bit limbs).
void divmod(const Num* a, const Num* b, Num** qout, Num** rout) {
  if (is_zero(b)) corrupt(b, "division by zero", bytes_of(b->cap));
  if (cmp(a, b) < 0) {
    *qout = finish(alloc(0), 0);
    *rout = copy(a);
    return;
  }
  const uint32_t m = a->len, n = b->len;
  Num* q = alloc(m - n + 1);
  Num* r = alloc(n);
  if (n == 1) {
    const uint64_t v = b->d()[0];
    uint64_t rem = 0;
    for (uint32_t i = m; i-- > 0;) {
      const uint64_t cur = (rem << 32) | a->d()[i];
      if (i < q->len) q->d()[i] = uint32_t(cur / v);
      rem = cur % v;
    }
    r->d()[0] = uint32_t(rem);
  } else {
    uint32_t un[2 * kMaxLimbs + 2], vn[kMaxLimbs];
    const int s = std::countl_zero(b->d()[n - 1]);
    const uint32_t* u = a->d();
    const uint32_t* v = b->d();
    for (uint32_t i = n - 1; i > 0; --i)
      vn[i] = uint32_t((uint64_t(v[i]) << s) | (uint64_t(v[i - 1]) >> (32 - s)));
    vn[0] = uint32_t(uint64_t(v[0]) << s);
    un[m] = uint32_t(uint64_t(u[m - 1]) >> (32 - s));
    for (uint32_t i = m - 1; i > 0; --i)
      un[i] = uint32_t((uint64_t(u[i]) << s) | (uint64_t(u[i - 1]) >> (32 - s)));
    un[0] = uint32_t(uint64_t(u[0]) << s);
    constexpr uint64_t kBase = uint64_t(1) << 32;
    for (uint32_t j = m - n + 1; j-- > 0;) {
      const uint64_t num = (uint64_t(un[j + n]) << 32) | un[j + n - 1];
      uint64_t qhat = num / vn[n - 1];
      uint64_t rhat = num - qhat * vn[n - 1];
      while (qhat >= kBase || qhat * vn[n - 2] > ((rhat << 32) | un[j + n - 2])) {
        --qhat;
        rhat += vn[n - 1];
        if (rhat >= kBase) break;
      }
      int64_t k = 0, t;
      for (uint32_t i = 0; i < n; ++i) {
        const uint64_t p = qhat * vn[i];
        t = int64_t(un[i + j]) - k - int64_t(p & 0xffffffffu);
        un[i + j] = uint32_t(t);
        k = int64_t(p >> 32) - (t >> 32);
      }
      t = int64_t(un[j + n]) - k;
      un[j + n] = uint32_t(t);
      if (t < 0) { // qhat was one too large: add the divisor back
        --qhat;
        uint64_t c = 0;
        for (uint32_t i = 0; i < n; ++i) {
          c += uint64_t(un[i + j]) + vn[i];
          un[i + j] = uint32_t(c);
          c >>= 32;
        }
        un[j + n] = uint32_t(un[j + n] + c);
      }
      q->d()[j] = uint32_t(qhat);
    }
    for (uint32_t i = 0; i < n; ++i)
      r->d()[i] = uint32_t((uint64_t(un[i]) >> s) | (uint64_t(un[i + 1]) << (32 - s)));
  }
  finish(q, 0);
  q->res = residue_of(q);
  finish(r, subp(a->res, mulp(q->res, b->res))); // checked when r is dropped
  *qout = q;
  *rout = r;
}

Num* mod(const Num* a, const Num* b) {
  Num *q, *r;
  divmod(a, b, &q, &r);
  drop(q);
  return r;
}

Num* mulmod(const Num* a, const Num* b, const Num* n) {
  Num* t = mul(a, b);
  Num* r = mod(t, n);
  drop(t);
  return r;
}

// x*x + c mod n; consumes x.
Num* rho_step(Num* x, uint32_t c, const Num* n) {
  Num* sq = mul(x, x);
  drop(x);
  Num* s = add_small(sq, c);
  drop(sq);
  Num* r = mod(s, n);
  drop(s);
  return r;
}

Num* gcd(const Num* a, const Num* b) {
  Num* x = copy(a);
  Num* y = copy(b);
  while (!is_zero(y)) {
    Num* r = mod(x, y);
    drop(x);
    x = y;
    y = r;
  }
  drop(y);
  return x;
}

// Base-2 Fermat test: 2^(n-1) mod n == 1 (n odd, > 2^64).
bool probably_prime(const Num* n) {
  Num* e = copy(n);
  e->d()[0] -= 1; // n is odd: no borrow
  e->res = subp(e->res, 1);
  Num* two = from_u64(2);
  Num* acc = from_u64(1);
  for (uint32_t bit = e->len * 32; bit-- > 0;) {
    Num* sq = mulmod(acc, acc, n);
    drop(acc);
    acc = sq;
    if ((e->d()[bit / 32] >> (bit % 32)) & 1) {
      Num* t = mulmod(acc, two, n);
      drop(acc);
      acc = t;
    }
  }
  const bool prime = is_one(acc);
  drop(acc);
  drop(two);
  drop(e);
  return prime;
}

Num* random_odd(Rng& rng, uint32_t bits) {
  const uint32_t limbs = (bits + 31) / 32;
  Num* n = alloc(limbs);
  for (uint32_t i = 0; i < limbs; ++i) n->d()[i] = uint32_t(rng.next());
  const uint32_t top = bits - 32 * (limbs - 1); // bits in the top limb, 1..32
  n->d()[limbs - 1] &= uint32_t((uint64_t(1) << top) - 1);
  n->d()[limbs - 1] |= uint32_t(1) << (top - 1);
  n->d()[0] |= 1;
  finish(n, 0);
  n->res = residue_of(n);
  return n;
}

} // namespace

int main(int argc, char** argv) {
  Options opt(argc, argv, "bench_bignum",
              "Pollard-rho factoring with a heap number per operation (tiny short-lived blocks).");
  const uint64_t ops = opt.get("ops", 20000000, "numbers to allocate in total", 1);
  const uint64_t bits = opt.get("bits", 128, "size of the numbers to factor (65..2048)", 65);
  const uint64_t budget = opt.get("budget", 3000, "rho steps per attempt before a new number", 16);
  const uint64_t keep = opt.get("keep", 10000, "table of longer-lived numbers (relations)", 1);
  const uint64_t seed = opt.get("seed", 1, "random seed");
  opt.done();
  if (bits > 2048) opt.fail("--bits must be at most 2048");

  Rng rng(seed);
  // Every 4th rho step on average records a copy of the accumulated product in a random slot of
  // a table, dropping what was there, as a factoring program keeps relations and partial
  // results: the heap holds long-lived numbers among the temporaries.
  std::vector<Num*> table(keep, nullptr);
  uint64_t numbers = 0, factors = 0, primes = 0, digest = 0;
  Stopwatch clock;
  while (g.allocs < ops) {
    Num* n = random_odd(rng, uint32_t(bits));
    ++numbers;
    for (unsigned failures = 0; g.allocs < ops && n->len > 2 && failures < 3;) {
      if (probably_prime(n)) {
        ++primes;
        digest = addp(mulp(digest, 1000003), n->res);
        break;
      }
      const auto c = uint32_t(rng.range(1, 1000));
      Num* x = from_u64(rng.range(2, uint64_t(1) << 40));
      Num* y = copy(x);
      Num* acc = from_u64(1);
      Num* found = nullptr;
      for (uint64_t step = 1; step <= budget && g.allocs < ops; ++step) {
        x = rho_step(x, c, n);
        y = rho_step(rho_step(y, c, n), c, n);
        Num* diff = cmp(x, y) >= 0 ? sub(x, y) : sub(y, x);
        Num* t = mulmod(acc, diff, n);
        drop(diff);
        drop(acc);
        acc = t;
        if (rng.below(4) == 0) {
          Num*& slot = table[rng.below(keep)];
          if (slot != nullptr) drop(slot);
          slot = copy(acc);
        }
        if (step % 16 == 0 || step == budget) {
          Num* g2 = gcd(acc, n);
          if (!is_one(g2)) {
            found = g2;
            break;
          }
          drop(g2);
        }
      }
      drop(x);
      drop(y);
      drop(acc);
      if (found == nullptr) break; // budget spent: a new number
      if (cmp(found, n) == 0) {     // all factors at once: another constant
        drop(found);
        ++failures;
        continue;
      }
      Num *q, *r;
      divmod(n, found, &q, &r);
      if (!is_zero(r)) corrupt(found, "factor does not divide the number", bytes_of(found->cap));
      ++factors;
      digest = addp(mulp(digest, 1000003), found->res);
      drop(r);
      drop(found);
      drop(n);
      n = q;
    }
    drop(n);
  }
  for (Num* k : table)
    if (k != nullptr) drop(k);
  const double seconds = clock.seconds();

  Result("bignum")
      .common(1, g.allocs, seconds, g.live_peak)
      .add("numbers", numbers)
      .add("factors", factors)
      .add("primes", primes)
      .add("digest", digest)
      .print();
  return 0;
}
