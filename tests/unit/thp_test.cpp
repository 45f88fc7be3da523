// Transparent huge pages (policy/thp.h): which mappings carry which advice, read back from the
// kernel's own view of them (the VmFlags of /proc/self/smaps: "nh" no huge pages, "hg" huge pages).
#include "policy/thp.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/init.h"
#include "core/large.h"
#include "platform/os.h"
#include "policy/options.h"

using namespace mallocim;

namespace {

// The VmFlags of the mapping that holds p, as " rd wr ... " (spaces around every flag); "" if none.
std::string vm_flags(const void* p) {
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f) return "";
  char line[512];
  bool inside = false;
  std::string flags;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char dash;
    if (sscanf(line, "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
      inside = uintptr_t(p) >= lo && uintptr_t(p) < hi;
    } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
      flags = std::string(line + 8);
      flags.erase(flags.find_last_not_of(" \n") + 1);
      flags += " ";
      break;
    }
  }
  fclose(f);
  return flags;
}

bool has(const std::string& flags, const char* flag) { return flags.find(std::string(" ") + flag + " ") != std::string::npos; }

// The kernel keeps the advice only where it has transparent huge pages at all.
bool kernel_has_thp() { return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0; }

class Thp : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ensure_init());
    if (!kernel_has_thp()) GTEST_SKIP() << "kernel without transparent huge pages";
    saved_ = option(Opt::thp);
    size_ = size_t(4) << 20;
    map_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(map_, MAP_FAILED);
  }
  void TearDown() override {
    if (map_ && map_ != MAP_FAILED) munmap(map_, size_);
    if (kernel_has_thp()) option_set(Opt::thp, saved_);
  }
  int64_t saved_ = 0;
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

TEST_F(Thp, TheAllocatorsOwnMappingsOptOutByDefault) {
  ASSERT_EQ(option(Opt::thp), 0);
  void* small = alloc(100);
  void* medium = alloc(3000);
  void* large = alloc(200000);
  ASSERT_TRUE(small && medium && large);
  EXPECT_TRUE(has(vm_flags(small), "nh")) << vm_flags(small);    // a small-object segment
  EXPECT_TRUE(has(vm_flags(medium), "nh")) << vm_flags(medium);  // a region
  EXPECT_TRUE(has(vm_flags(large), "nh")) << vm_flags(large);
  EXPECT_TRUE(has(vm_flags(g_segmap.entries), "nh")) << vm_flags(g_segmap.entries);
  dealloc(small);
  dealloc(medium);
  dealloc(large);
}

TEST_F(Thp, FineGrainedMemoryOptsOutUnlessTheOptionIsMinusOne) {
  EXPECT_FALSE(has(vm_flags(map_), "nh"));
  option_set(Opt::thp, -1);
  thp_fine_grained(map_, size_);
  EXPECT_FALSE(has(vm_flags(map_), "nh")) << vm_flags(map_);
  option_set(Opt::thp, 0);
  thp_fine_grained(map_, size_);
  EXPECT_TRUE(has(vm_flags(map_), "nh")) << vm_flags(map_);
}

TEST_F(Thp, HugeBlocksAskForHugePagesOnlyWithOptionOne) {
  option_set(Opt::thp, 0);
  thp_huge_block(map_, size_);
  EXPECT_FALSE(has(vm_flags(map_), "hg")) << vm_flags(map_);
  EXPECT_FALSE(has(vm_flags(map_), "nh")) << vm_flags(map_);  // left to the kernel
  option_set(Opt::thp, 1);
  thp_huge_block(map_, size_);
  const os::Thp& t = os::thp();
  bool offered = t.huge_page_size && t.mode != os::ThpMode::never && t.mode != os::ThpMode::unavailable;
  EXPECT_EQ(has(vm_flags(map_), "hg"), offered) << vm_flags(map_);
}
