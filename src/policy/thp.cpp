#include "policy/thp.h"

#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {

void thp_fine_grained(void* p, size_t size) {
  if (option(Opt::thp) >= 0) os::advise_no_huge_pages(p, size);
}

void thp_huge_block(void* p, size_t size) {
  if (option(Opt::thp) != 1) return;
  const os::Thp& t = os::thp();
  if (t.huge_page_size && t.mode != os::ThpMode::never && t.mode != os::ThpMode::unavailable)
    os::advise_huge_pages(p, size);
}

}  // namespace mallocim
