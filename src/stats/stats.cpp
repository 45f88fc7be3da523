#include "stats/stats.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/heap.h"
#include "core/huge.h"
#include "core/init.h"
#include "core/large.h"
#include "core/mixed.h"
#include "core/page_pool.h"
#include "debug/report.h"
#include "platform/os.h"
#include "policy/class_tuner.h"
#include "policy/options.h"
#include "stats/profile.h"

namespace mallocim {

std::atomic<int> g_stats_signal_seen{0};

namespace {

// Resident bytes of [lo, hi) according to vec, the residency of the region starting at base.
size_t resident_in(const unsigned char* vec, uintptr_t base, uintptr_t lo, uintptr_t hi, size_t page) {
  size_t n = 0;
  for (uintptr_t a = align_up(lo, page); a + page <= hi; a += page) n += vec[(a - base) / page] & 1;
  return n * page;
}

// Walks the segments once for the totals and, if asked, the per-class figures. What is resident
// is asked of the kernel (mincore, one call per segment or region), not assumed.
void collect(im_stats* out, ClassFigures* classes, FreeFigures* where = nullptr) {
  memset(out, 0, sizeof *out);
  FreeFigures unused;
  FreeFigures& fr = where ? *where : unused;
  fr = FreeFigures{};
  if (!ensure_init()) return;
  size_t page = os::hw().page_size;
  unsigned char vec[kLargeRegionSize / 4096];  // residency of one segment or region (4 KiB pages)
  // Small objects: live = blocks handed out (frees still in flight from other threads count as
  // live until the owner collects them); free = resident memory of pages not holding live blocks.
  pool_for_each_segment([&](Segment* s) {
    out->segments++;
    bool known = kSegmentSize / page <= sizeof vec && os::residency(s, kSegmentSize, vec);
    for (unsigned i = 1; i < kPagesPerSegment; ++i) {
      const Page& pg = s->pages[i];
      uintptr_t start = uintptr_t(s) + (uintptr_t(i) << kPageShift);
      size_t resident = known ? resident_in(vec, uintptr_t(s), start, start + kPageSize, page) : kPageSize;
      size_t live = pg.state == PageState::free ? 0 : size_t(pg.used) * pg.block_size + mixed_resident_bytes(&pg);
      if (resident < live) resident = live;
      out->small_live_bytes += live;
      out->free_bytes += resident - live;
      (pg.state == PageState::free || pg.used == 0 ? fr.empty_pages : fr.in_pages) += resident - live;
      out->purged_bytes += kPageSize - resident;
      if (classes && pg.state != PageState::free) {
        ClassFigures& c = classes[pg.size_class];
        c.blocks += pg.used;
        c.pages++;
        c.carved_bytes += resident;
      }
    }
  });
  out->metadata_bytes += out->segments * align_up(sizeof(Segment), page);
  out->mapped_bytes += out->segments * kSegmentSize;

  LargeFigures lf = large_figures(vec, sizeof vec);
  out->large_regions = lf.regions;
  out->large_live_bytes = lf.live;
  out->free_bytes += lf.free;
  fr.large = lf.free;
  out->purged_bytes += lf.purged;
  out->mapped_bytes += lf.mapped;
  out->metadata_bytes += lf.regions * page;

  HugeFigures hf = huge_figures(true);
  out->huge_blocks = hf.blocks;
  out->huge_live_bytes = hf.usable;
  out->mapped_bytes += hf.mapped + hf.cached;
  out->free_bytes += hf.cached_resident;  // freed huge blocks kept for reuse
  fr.huge_cache = hf.cached_resident;
  out->purged_bytes += hf.cached - hf.cached_resident;
  out->metadata_bytes += hf.blocks * page;

  HeapFigures heaps = heap_figures();
  // Blocks in the threads' medium caches are live as far as their regions know; they are free.
  // Usable bytes (16-byte headers); the sums are read while their owners work: kept in range.
  size_t headers = heaps.cached_blocks * kLargeHeader;
  size_t cached = heaps.cached_bytes > headers ? heaps.cached_bytes - headers : 0;
  if (cached > out->large_live_bytes) cached = out->large_live_bytes;
  out->large_live_bytes -= cached;
  out->free_bytes += cached;
  fr.large += cached;
  out->threads_live = heaps.live;
  out->threads_seen = heaps.created;
  out->metadata_bytes += heaps.created * sizeof(Heap);
  out->live_bytes = out->small_live_bytes + out->large_live_bytes + out->huge_live_bytes;
  if (classes) {
    size_t sampled[kMaxClasses] = {};
    profile_sampled_small(sampled);
    for (unsigned c = 0; c < kMaxClasses; ++c) classes[c].sampled = sampled[c];
  }
}

// "12.3 MiB" / "512 KiB" / "77 B"
const char* human(char* buf, size_t cap, size_t bytes) {
  if (bytes >= (size_t(1) << 20))
    format(buf, cap, "%zu.%zu MiB", bytes >> 20, ((bytes & ((1u << 20) - 1)) * 10) >> 20);
  else if (bytes >= 1024)
    format(buf, cap, "%zu KiB", bytes >> 10);
  else
    format(buf, cap, "%zu B", bytes);
  return buf;
}

void signal_handler(int) { g_stats_signal_seen.store(1, std::memory_order_relaxed); }
void at_exit() { stats_print("at exit"); }

}  // namespace

void stats_collect(im_stats* out) { collect(out, nullptr); }
void stats_collect_classes(im_stats* out, ClassFigures* classes) {
  memset(classes, 0, sizeof(ClassFigures) * kMaxClasses);
  collect(out, classes);
}

void stats_print(const char* when) {
  static ClassFigures classes[kMaxClasses];
  memset(classes, 0, sizeof classes);
  im_stats s;
  FreeFigures fr;
  collect(&s, classes, &fr);
  HeapFigures heaps = heap_figures();
  size_t rss = os::rss_bytes(), hwm = os::peak_rss_bytes();
  size_t ours = s.live_bytes + s.free_bytes + s.metadata_bytes;
  char a[32], b[32], c[32], d[32];
  char comm[64];
  os::program_name(comm, sizeof comm);
  report_line("==malloc-im== memory summary %s: pid %d (%s), malloc-im %s", when, os::process_id(), comm,
              MALLOCIM_VERSION_STRING);
  report_line("  RSS %s now, %s at the peak", human(a, sizeof a, rss), human(b, sizeof b, hwm));
  report_line("  %12s  live: blocks handed out (small %s, large %s, huge %s)", human(a, sizeof a, s.live_bytes),
              human(b, sizeof b, s.small_live_bytes), human(c, sizeof c, s.large_live_bytes),
              human(d, sizeof d, s.huge_live_bytes));
  report_line("  %12s  free but resident: held for reuse, given back after MALLOCIM_PURGE_DELAY_MS",
              human(a, sizeof a, s.free_bytes));
  if (s.free_bytes)
    report_line("                between live small blocks %s (fragmentation), in empty small pages %s, "
                "in large regions %s, huge blocks kept %s",
                human(a, sizeof a, fr.in_pages), human(b, sizeof b, fr.empty_pages), human(c, sizeof c, fr.large),
                human(d, sizeof d, fr.huge_cache));
  report_line("  %12s  metadata: segment and region headers, thread heaps", human(a, sizeof a, s.metadata_bytes));
  report_line("  %12s  not the allocator's: program, libraries, stacks (RSS minus the three above)",
              human(a, sizeof a, rss > ours ? rss - ours : 0));
  report_line("  %12s  released: mapped but not resident (purged, or never touched)",
              human(a, sizeof a, s.purged_bytes));
  // Rounding waste: the share of sampled live bytes that was not asked for, applied to live.
  SampleFigures sf = profile_live_figures();
  if (sf.samples && sf.live)
    report_line("  %12s  rounding waste (part of live): blocks larger than asked for, estimated from %zu samples",
                human(a, sizeof a, size_t(double(s.live_bytes) * double(sf.live - sf.requested) / double(sf.live))),
                sf.samples);
  else
    report_line("  rounding waste: not estimated (no sampled allocation is live)");
  report_line("  mapped %s: %zu segments, %zu large regions, %zu huge blocks", human(a, sizeof a, s.mapped_bytes),
              s.segments, s.large_regions, s.huge_blocks);
  // Huge pages keep 2 MiB resident for one touched byte: say how much of the RSS is in them.
  const os::Thp& thp = os::thp();
  if (thp.mode != os::ThpMode::unavailable) {
    static const char* const kModes[] = {"unavailable", "never", "madvise", "always"};
    int64_t opt = option(Opt::thp);
    report_line("  transparent huge pages: kernel mode %s; %s of the process in huge pages; %s",
                kModes[int(thp.mode)], human(a, sizeof a, os::anon_huge_bytes()),
                opt < 0    ? "no advice given (MALLOCIM_THP=-1)"
                : opt == 1 ? "segments and regions kept out, huge blocks ask for them (MALLOCIM_THP=1)"
                           : "segments and regions kept out (MALLOCIM_THP=0)");
  }
  report_line("  threads: %zu live, %zu seen; slow-path calls: %zu; sparse pages reused by another class: %zu",
              s.threads_live, s.threads_seen, size_t(heaps.slow_calls), mixed_made());
  ClassTunerFigures tf = class_tuner_figures();
  if (tf.given)
    report_line("  adaptive size classes: %u in use, %u sized so far (of %u)%s", tf.active, tf.given,
                kAdaptiveClasses, tf.full ? "; some hot sizes found no free slot" : "");
  // The size classes holding the most memory.
  report_line("  small size classes by resident bytes:");
  for (int shown = 0; shown < 8; ++shown) {
    int best = -1;
    for (unsigned i = 0; i < kMaxClasses; ++i)
      if ((classes[i].pages || classes[i].sampled) && (best < 0 || classes[i].carved_bytes > classes[best].carved_bytes)) best = int(i);
    if (best < 0) break;
    ClassFigures& f = classes[best];
    size_t live = f.blocks * class_size(unsigned(best));
    report_line("    %6zu B  %9zu blocks  %6zu pages  %s resident, %zu%% live%s", class_size(unsigned(best)),
                f.blocks + f.sampled, f.pages, human(a, sizeof a, f.carved_bytes),
                f.carved_bytes ? live * 100 / f.carved_bytes : 0,
                !class_is_adaptive(unsigned(best)) ? ""
                : class_is_active(unsigned(best)) ? "  (adaptive class)" : "  (adaptive class, retired)");
    f.pages = f.sampled = 0;
  }
}

void stats_print_requested() {
  int expected = 1;
  if (!g_stats_signal_seen.compare_exchange_strong(expected, 0)) return;
  char when[48];
  format(when, sizeof when, "on signal %d", int(option(Opt::stats_signal)));
  stats_print(when);
}

void stats_install() {
  if (option(Opt::stats)) atexit(at_exit);
  if (int sig = int(option(Opt::stats_signal))) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_handler;
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, nullptr);
  }
}

}  // namespace mallocim

extern "C" void im_stats_get(struct im_stats* out) { mallocim::stats_collect(out); }
extern "C" void im_stats_print(void) { mallocim::stats_print("on request"); }
