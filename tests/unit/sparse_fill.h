// Test helpers for sparse pages (sparse_test.cpp, mixed_test.cpp): pages of one size full of
// written blocks, then all freed but one in `every`; a free whose misuse report is wanted.
#pragma once
#include <gtest/gtest.h>
#include <string.h>

#include <set>
#include <string>
#include <vector>

#include "core/alloc.h"
#include "mallocim.h"
#include "policy/options.h"

// Frees p with MALLOCIM_ABORT_ON_ERROR=0; returns what was reported on stderr.
inline std::string free_reported(void* p) {
  using namespace mallocim;
  option_set(Opt::abort_on_error, 0);
  testing::internal::CaptureStderr();
  im_free(p);
  std::string err = testing::internal::GetCapturedStderr();
  option_set(Opt::abort_on_error, 1);
  return err;
}

inline mallocim::Page* page_of_block(const void* p) {
  using namespace mallocim;
  return page_of(reinterpret_cast<Segment*>(segmap_lookup(p)), p);
}

struct SparseFill {
  std::vector<unsigned char*> kept;  // each block filled with one byte value
  std::set<mallocim::Page*> pages;   // the pages they are in
  // fill: the byte value of every block, or -1 for the block's number (modulo 256).
  SparseFill(size_t size, size_t count, size_t every, size_t phase, int fill = -1) {
    std::vector<unsigned char*> all;
    for (size_t i = 0; i < count; ++i) {
      auto* p = static_cast<unsigned char*>(im_malloc(size));
      memset(p, fill >= 0 ? fill : int(i & 0xff), size);
      all.push_back(p);
    }
    for (size_t i = 0; i < all.size(); ++i) {
      if (i % every == phase) {
        kept.push_back(all[i]);
        pages.insert(page_of_block(all[i]));
      } else {
        im_free(all[i]);
      }
    }
  }
};
