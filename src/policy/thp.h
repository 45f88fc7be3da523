// Transparent huge pages: which of the allocator's mappings the kernel may back with them.
//
// Small-object segments, medium and large regions and the segment map are touched and given
// back a few KiB at a time. Where the kernel backs any anonymous memory with huge pages (THP mode
// `always`, or an mTHP size set to `always`), the first touch in each 2 MiB of them would make the
// whole 2 MiB resident, and khugepaged would fill purged holes back in. So they opt out
// (MADV_NOHUGEPAGE) at creation, whatever the mode: an administrator may switch it to `always`
// while the process runs, and the advice stays on the mapping. Huge blocks, one allocation per
// mapping, are left to the kernel, or ask for huge pages with MALLOCIM_THP=1. MALLOCIM_THP=-1
// gives no advice at all. docs/purge.md has the measurements.
#pragma once
#include <stddef.h>

namespace mallocim {

// [p, p+size): memory the allocator manages below the huge-page size.
void thp_fine_grained(void* p, size_t size);
// [p, p+size): the mapping of one huge block.
void thp_huge_block(void* p, size_t size);

}  // namespace mallocim
