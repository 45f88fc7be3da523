#include "stats/stats.h"

#include <string.h>

#include "core/heap.h"
#include "core/huge.h"
#include "core/init.h"
#include "core/large.h"
#include "core/page_pool.h"
#include "debug/report.h"
#include "platform/os.h"

namespace mallocim {

void stats_collect(im_stats* out) {
  memset(out, 0, sizeof *out);
  if (!ensure_init()) return;
  size_t page = os::hw().page_size;
  // Small objects: live = blocks handed out (frees still in flight from other threads count as
  // live until the owner collects them); free = carved but unused blocks and free pages.
  pool_for_each_segment([&](Segment* s) {
    out->segments++;
    for (unsigned i = 1; i < kPagesPerSegment; ++i) {
      const Page& pg = s->pages[i];
      if (pg.state == PageState::free) {
        (pg.purged ? out->purged_bytes : out->free_bytes) += kPageSize;
      } else {  // blocks never carved were never touched: mapped, not resident
        size_t live = size_t(pg.used) * pg.block_size;
        size_t carved = size_t(pg.capacity) * pg.block_size;
        out->small_live_bytes += live;
        out->free_bytes += carved - live;
        out->purged_bytes += kPageSize - carved;
      }
    }
  });
  out->metadata_bytes += out->segments * align_up(sizeof(Segment), page);
  out->mapped_bytes += out->segments * kSegmentSize;

  LargeFigures lf = large_figures();
  out->large_regions = lf.regions;
  out->large_live_bytes = lf.live;
  out->free_bytes += lf.free;
  out->purged_bytes += lf.purged;
  out->mapped_bytes += lf.mapped;
  out->metadata_bytes += lf.regions * page;

  HugeFigures hf = huge_figures();
  out->huge_blocks = hf.blocks;
  out->huge_live_bytes = hf.usable;
  out->mapped_bytes += hf.mapped;
  out->metadata_bytes += hf.blocks * page;

  HeapFigures heaps = heap_figures();
  out->threads_live = heaps.live;
  out->threads_seen = heaps.created;
  out->metadata_bytes += heaps.created * sizeof(Heap);
  out->live_bytes = out->small_live_bytes + out->large_live_bytes + out->huge_live_bytes;
}

void stats_print() {
  im_stats s;
  stats_collect(&s);
  size_t rss = os::rss_bytes();
  report_line("malloc-im %s statistics", MALLOCIM_VERSION_STRING);
  report_line("  rss              %zu KiB", rss >> 10);
  report_line("  live             %zu KiB (small %zu, large %zu, huge %zu)", s.live_bytes >> 10,
              s.small_live_bytes >> 10, s.large_live_bytes >> 10, s.huge_live_bytes >> 10);
  report_line("  free, resident   %zu KiB", s.free_bytes >> 10);
  report_line("  free, released   %zu KiB", s.purged_bytes >> 10);
  report_line("  metadata         %zu KiB", s.metadata_bytes >> 10);
  report_line("  mapped           %zu KiB in %zu segments, %zu large regions, %zu huge blocks",
              s.mapped_bytes >> 10, s.segments, s.large_regions, s.huge_blocks);
  report_line("  threads          %zu live, %zu seen", s.threads_live, s.threads_seen);
}

}  // namespace mallocim

extern "C" void im_stats_get(struct im_stats* out) { mallocim::stats_collect(out); }
