#include "debug/unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include <atomic>

#include "core/config.h"
#include "platform/os.h"

namespace mallocim {

#if defined(__x86_64__)
namespace {

// One cache word per slot, indexed by the low bits of the address, tagged with the high bits:
//   bits 0-1  kind: 0 empty, 1 frame, 2 last frame (no caller), 3 not cacheable
//   bit  2    the frame address is rbp + offset (else rsp + offset)
//   bits 3-18 that offset
//   bits 19-26 rbp saved at cfa - 8 * n (0: rbp unchanged)
//   bits 27-63 address >> kCacheBits
constexpr unsigned kCacheBits = 13;
constexpr uint64_t kEmpty = 0, kFrame = 1, kLast = 2, kGiveUp = 3;
std::atomic<uint64_t>* g_cache = nullptr;
unsigned long long g_unloads = 0;  // modules unloaded when the cache was last valid

constexpr int kRegRbp = 6, kRegRsp = 7, kRegRa = 16;

struct Rule {
  int cfa_reg = kRegRsp;
  int64_t cfa_off = 8;
  int64_t rbp_off = 0;  // 0: unchanged; else saved at cfa + rbp_off
  int64_t ra_off = -8;  // saved at cfa + ra_off
  bool ra_undefined = false, odd = false;  // odd: a rule not cached
};

struct Reader {
  const uint8_t* p;
  uint64_t uleb() {
    uint64_t v = 0;
    for (unsigned s = 0;; s += 7) {
      uint8_t b = *p++;
      if (s < 64) v |= uint64_t(b & 0x7f) << s;
      if (!(b & 0x80)) return v;
    }
  }
  int64_t sleb() {
    int64_t v = 0;
    unsigned s = 0;
    uint8_t b;
    do {
      b = *p++;
      if (s < 64) v |= int64_t(b & 0x7f) << s;
      s += 7;
    } while (b & 0x80);
    if (s < 64 && (b & 0x40)) v |= -(int64_t(1) << s);
    return v;
  }
  template <class T> T raw() {
    T v;
    memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  // A DW_EH_PE-encoded pointer; datarel against `data`. False for encodings not handled.
  bool ptr(uint8_t enc, uintptr_t data, uintptr_t* out) {
    if (enc == 0xff) return false;
    uintptr_t at = uintptr_t(p), v;
    switch (enc & 0x0f) {
      case 0x00: v = raw<uint64_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = raw<uint16_t>(); break;
      case 0x03: v = raw<uint32_t>(); break;
      case 0x04: v = raw<uint64_t>(); break;
      case 0x09: v = uintptr_t(sleb()); break;
      case 0x0a: v = uintptr_t(intptr_t(raw<int16_t>())); break;
      case 0x0b: v = uintptr_t(intptr_t(raw<int32_t>())); break;
      case 0x0c: v = raw<uint64_t>(); break;
      default: return false;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += at; break;
      case 0x30: v += data; break;
      default: return false;
    }
    if (enc & 0x80) return false;  // indirect
    *out = v;
    return true;
  }
};

struct Cie {
  uint64_t code_align;
  int64_t data_align;
  uint8_t fde_enc = 0;
  bool has_aug = false, signal = false;
  const uint8_t *insns, *end;
};

bool parse_cie(const uint8_t* at, Cie* c) {
  Reader r{at};
  uint32_t len = r.raw<uint32_t>();
  if (len == 0 || len == 0xffffffff) return false;
  c->end = at + 4 + len;
  if (r.raw<uint32_t>() != 0) return false;  // not a CIE
  uint8_t version = *r.p++;
  const char* aug = reinterpret_cast<const char*>(r.p);
  r.p += strlen(aug) + 1;
  c->code_align = r.uleb();
  c->data_align = r.sleb();
  if (version == 1) r.p++; else r.uleb();  // return address register
  const uint8_t* aug_end = nullptr;
  for (const char* a = aug; *a; ++a) {
    if (*a == 'z') {
      c->has_aug = true;
      uint64_t n = r.uleb();
      aug_end = r.p + n;
    } else if (*a == 'R') {
      c->fde_enc = *r.p++;
    } else if (*a == 'L') {
      r.p++;
    } else if (*a == 'P') {
      uint8_t enc = *r.p++;
      uintptr_t ignored;
      if (!r.ptr(enc & 0x7f, 0, &ignored)) return false;
    } else if (*a == 'S') {
      c->signal = true;
    } else if (c->has_aug) {
      break;  // unknown: its data is skipped by the length
    } else {
      return false;
    }
  }
  if (aug_end) r.p = aug_end;
  c->insns = r.p;
  return true;
}

// Runs a call-frame program up to (not past) pc. loc: the address the program starts at.
void run_cfa(const uint8_t* p, const uint8_t* end, const Cie& c, uintptr_t loc, uintptr_t pc,
             const Rule& initial, Rule* rule) {
  Rule saved[4];
  int depth = 0;
  Reader r{p};
  auto set_reg = [&](uint64_t reg, int64_t off) {
    if (reg == kRegRbp) rule->rbp_off = off;
    else if (reg == kRegRa) rule->ra_off = off;
  };
  auto odd_reg = [&](uint64_t reg) {
    if (reg == kRegRbp || reg == kRegRa) rule->odd = true;
  };
  while (r.p < end && !rule->odd) {
    uint8_t op = *r.p++;
    uint8_t hi = op & 0xc0, lo = op & 0x3f;
    if (hi == 0x40) {
      loc += lo * c.code_align;
      if (loc > pc) return;
      continue;
    }
    if (hi == 0x80) {
      set_reg(lo, int64_t(r.uleb()) * c.data_align);
      continue;
    }
    if (hi == 0xc0) {
      if (lo == kRegRbp) rule->rbp_off = initial.rbp_off;
      continue;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x01: {
        uintptr_t v;
        if (!r.ptr(c.fde_enc, 0, &v)) { rule->odd = true; break; }
        loc = v;
        if (loc > pc) return;
        break;
      }
      case 0x02: loc += r.raw<uint8_t>() * c.code_align; if (loc > pc) return; break;
      case 0x03: loc += r.raw<uint16_t>() * c.code_align; if (loc > pc) return; break;
      case 0x04: loc += r.raw<uint32_t>() * c.code_align; if (loc > pc) return; break;
      case 0x05: { uint64_t reg = r.uleb(); set_reg(reg, int64_t(r.uleb()) * c.data_align); break; }
      case 0x06: { uint64_t reg = r.uleb(); if (reg == kRegRbp) rule->rbp_off = initial.rbp_off; break; }
      case 0x07: { uint64_t reg = r.uleb(); if (reg == kRegRa) rule->ra_undefined = true; else odd_reg(reg); break; }
      case 0x08: { uint64_t reg = r.uleb(); if (reg == kRegRbp) rule->rbp_off = 0; else odd_reg(reg); break; }
      case 0x09: { uint64_t reg = r.uleb(); r.uleb(); odd_reg(reg); break; }
      case 0x0a: if (depth == 4) rule->odd = true; else saved[depth++] = *rule; break;
      case 0x0b: {
        if (depth == 0) { rule->odd = true; break; }
        *rule = saved[--depth];  // the frame address rule too, as GCC's epilogues expect
        break;
      }
      case 0x0c: rule->cfa_reg = int(r.uleb()); rule->cfa_off = int64_t(r.uleb()); break;
      case 0x0d: rule->cfa_reg = int(r.uleb()); break;
      case 0x0e: rule->cfa_off = int64_t(r.uleb()); break;
      case 0x0f: rule->odd = true; break;  // frame address by expression
      case 0x10: case 0x16: { uint64_t reg = r.uleb(); r.p += r.uleb(); odd_reg(reg); break; }
      case 0x11: { uint64_t reg = r.uleb(); set_reg(reg, r.sleb() * c.data_align); break; }
      case 0x12: rule->cfa_reg = int(r.uleb()); rule->cfa_off = r.sleb() * c.data_align; break;
      case 0x13: rule->cfa_off = r.sleb() * c.data_align; break;
      case 0x14: { uint64_t reg = r.uleb(); r.uleb(); odd_reg(reg); break; }
      case 0x15: { uint64_t reg = r.uleb(); r.sleb(); odd_reg(reg); break; }
      case 0x2e: r.uleb(); break;  // GNU_args_size
      case 0x2f: { uint64_t reg = r.uleb(); set_reg(reg, -int64_t(r.uleb()) * c.data_align); break; }
      default: rule->odd = true; break;
    }
  }
}

// The FDE that covers pc, found through the module's .eh_frame_hdr search table.
const uint8_t* find_fde(uintptr_t pc) {
  dl_find_object fo;
  if (_dl_find_object(reinterpret_cast<void*>(pc), &fo) != 0 || !fo.dlfo_eh_frame) return nullptr;
  const uint8_t* hdr = static_cast<const uint8_t*>(fo.dlfo_eh_frame);
  if (hdr[0] != 1 || hdr[3] != 0x3b) return nullptr;  // version 1, table of datarel sdata4 pairs
  Reader r{hdr + 4};
  uintptr_t eh_frame, count;
  if (!r.ptr(hdr[1], uintptr_t(hdr), &eh_frame) || !r.ptr(hdr[2], uintptr_t(hdr), &count) || !count)
    return nullptr;
  const int32_t* table = reinterpret_cast<const int32_t*>(r.p);
  intptr_t rel = intptr_t(pc - uintptr_t(hdr));
  size_t lo = 0, hi = count;  // last entry whose start is <= pc
  if (table[0] > rel) return nullptr;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (table[2 * mid] <= rel) lo = mid; else hi = mid;
  }
  return hdr + table[2 * lo + 1];
}

uint64_t compute_rule(uintptr_t pc) {
  const uint8_t* fde = find_fde(pc);
  if (!fde) return kLast;  // no unwind information: the general unwinder stops here too
  Reader r{fde};
  uint32_t len = r.raw<uint32_t>();
  if (len == 0 || len == 0xffffffff) return kGiveUp;
  const uint8_t* end = fde + 4 + len;
  const uint8_t* id_at = r.p;
  uint32_t cie_off = r.raw<uint32_t>();
  if (cie_off == 0) return kGiveUp;
  Cie c;
  if (!parse_cie(id_at - cie_off, &c) || c.signal) return kGiveUp;
  uintptr_t begin, range;
  if (!r.ptr(c.fde_enc, 0, &begin) || !r.ptr(c.fde_enc & 0x0f, 0, &range)) return kGiveUp;
  if (pc < begin || pc >= begin + range) return kLast;
  if (c.has_aug) r.p += r.uleb();
  Rule initial;
  initial.cfa_off = 0;
  initial.ra_off = 0;
  run_cfa(c.insns, c.end, c, 0, ~uintptr_t(0) - 1, initial, &initial);
  Rule rule = initial;
  run_cfa(r.p, end, c, begin, pc, initial, &rule);
  if (rule.odd) return kGiveUp;
  if (rule.ra_undefined) return kLast;
  if ((rule.cfa_reg != kRegRsp && rule.cfa_reg != kRegRbp) || rule.cfa_off < 0 || rule.cfa_off > 0xffff ||
      rule.ra_off != -8 || rule.rbp_off > 0 || rule.rbp_off < -8 * 255 || rule.rbp_off % 8)
    return kGiveUp;
  return kFrame | (rule.cfa_reg == kRegRbp ? 4 : 0) | uint64_t(rule.cfa_off) << 3 |
         uint64_t(-rule.rbp_off / 8) << 19;
}

MI_INLINE uint64_t rule_of(uintptr_t pc) {
  auto& slot = g_cache[pc & ((1u << kCacheBits) - 1)];
  uint64_t tag = uint64_t(pc >> kCacheBits) << 27, w = slot.load(std::memory_order_relaxed);
  if ((w & ~((uint64_t(1) << 27) - 1)) == tag && (w & 3) != kEmpty) return w;
  w = compute_rule(pc) | tag;
  slot.store(w, std::memory_order_relaxed);
  return w;
}

int count_unloads(dl_phdr_info* info, size_t, void* out) {
  *static_cast<unsigned long long*>(out) = info->dlpi_subs;
  return 1;
}

}  // namespace

bool unwind_init() {
  if (g_cache) return true;
  size_t bytes = sizeof(uint64_t) << kCacheBits;
  g_cache = static_cast<std::atomic<uint64_t>*>(os::map_aligned(bytes, os::hw().page_size));
  if (g_cache) dl_iterate_phdr(count_unloads, &g_unloads);
  return g_cache != nullptr;
}

__attribute__((noinline)) int unwind_fast(void** frames, int cap) {
  if (!g_cache) return -1;
  // A module unloaded since the rules were read: another may now lie at its addresses.
  unsigned long long unloads = 0;
  dl_iterate_phdr(count_unloads, &unloads);
  if (unloads != __atomic_load_n(&g_unloads, __ATOMIC_RELAXED)) {
    for (size_t i = 0; i < (size_t(1) << kCacheBits); ++i) g_cache[i].store(0, std::memory_order_relaxed);
    __atomic_store_n(&g_unloads, unloads, __ATOMIC_RELAXED);
  }
  uintptr_t pc, sp, bp;
  asm volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2" : "=r"(pc), "=r"(sp), "=r"(bp));
  uintptr_t look = pc;  // the first frame's own address; then return addresses, looked up at ra - 1
  int n = 0;
  while (n < cap) {
    frames[n++] = reinterpret_cast<void*>(pc);
    uint64_t w = rule_of(look);
    if ((w & 3) == kLast) break;
    if ((w & 3) == kGiveUp) return -1;
    uintptr_t cfa = ((w & 4) ? bp : sp) + ((w >> 3) & 0xffff);
    if (cfa <= sp) break;  // the stack grows down: a caller's frame lies above
    uint64_t rbp_slot = (w >> 19) & 0xff;
    if (rbp_slot) bp = *reinterpret_cast<const uintptr_t*>(cfa - 8 * rbp_slot);
    pc = *reinterpret_cast<const uintptr_t*>(cfa - 8);
    sp = cfa;
    if (pc == 0) break;
    look = pc - 1;
  }
  return n;
}

#else

bool unwind_init() { return false; }
int unwind_fast(void**, int) { return -1; }

#endif

}  // namespace mallocim
