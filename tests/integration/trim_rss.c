/* malloc_trim(0) gives free memory back to the OS.
 *
 * Allocates about 200 MiB in small (16 B - 1 KiB) and medium (1 KiB - 256 KiB) blocks, touching
 * every byte, frees them in random order and calls malloc_trim(0): the resident set must fall far
 * below the peak. Done twice, so memory that was purged once is reused and purged again. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>

#include "check.h"

#define MiB ((size_t)1 << 20)


struct round_result {
  size_t base, peak, freed, trimmed;
  int trim_ret;
};

static void one_round(struct round_result* r) {
  const size_t small_total = 50 * MiB, medium_total = 150 * MiB;
  size_t cap = 400000, n = 0, bytes = 0;
  void** v = (void**)malloc(cap * sizeof(void*));
  r->base = check_rss_bytes();
  while (bytes < small_total && n < cap) {
    size_t s = 16 + check_rand() % 1009;
    v[n] = malloc(s);
    memset(v[n], (int)(n & 0xff), s);
    bytes += s;
    n++;
  }
  while (bytes < small_total + medium_total && n < cap) {
    size_t s = 1024 + check_rand() % (256 * 1024 - 1024);
    v[n] = malloc(s);
    memset(v[n], (int)(n & 0xff), s);
    bytes += s;
    n++;
  }
  r->peak = check_rss_bytes();
  for (size_t i = n - 1; i > 0; i--) { /* shuffle: free in random order */
    size_t j = check_rand() % (i + 1);
    void* t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
  r->freed = check_rss_bytes();
  r->trim_ret = malloc_trim(0);
  r->trimmed = check_rss_bytes();
}

int main(int argc, char** argv) {
  check_init("trim_rss", 120);
  check_require_lib(argc, argv);
  for (int round = 1; round <= 2; round++) {
    char name[64];
    snprintf(name, sizeof name, "malloc_trim.rss_far_below_peak_round%d", round);
    check_begin(name);
    struct round_result r;
    one_round(&r);
    size_t grown = r.peak > r.base ? r.peak - r.base : 0;
    size_t left = r.trimmed > r.base ? r.trimmed - r.base : 0;
    /* "Far below": at most a quarter of what the allocations added remains resident. */
    int ok = grown >= 150 * MiB && left <= grown / 4;
    check_result(name, ok, "RSS base %zu MiB, peak %zu MiB, after free %zu MiB, after malloc_trim(0) %zu MiB "
                 "(returned %d)", r.base / MiB, r.peak / MiB, r.freed / MiB, r.trimmed / MiB, r.trim_ret);
  }
  return check_summary();
}
