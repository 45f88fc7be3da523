/* A thread's cached memory goes back for reuse when it exits.
 *
 * 2000 short-lived threads, in runs of 50 started one after the other alternating with runs of
 * 52 started four at a time.
 * Each allocates a few hundred blocks (16 B - 8 KiB, plus a 200 KiB and a 3 MiB block), frees
 * most of them itself and leaves some behind; the main thread frees those later (frees into the
 * heap of a thread that no longer exists). Resident memory (as is, and after malloc_trim) and the
 * allocator's mapped memory (mallinfo2 arena) after 2000 threads must stay within a few MiB of
 * what they were after 100: a per-thread leak grows linearly and is far over those limits. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "mallocim.h"

#define MiB ((size_t)1 << 20)
#define THREADS 2000
#define LEFT_PER_THREAD 16
#define RING 64 /* blocks left behind by the last RING threads stay live */

static void* g_left[RING][LEFT_PER_THREAD];

struct worker_arg {
  unsigned id;
  void** out; /* LEFT_PER_THREAD blocks handed back to main */
};

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static void* worker(void* argp) {
  struct worker_arg* a = (struct worker_arg*)argp;
  enum { N = 300 };
  void* blocks[N];
  uint64_t r = mix(a->id + 1);
  for (int i = 0; i < N; i++) {
    r = mix(r + i);
    size_t s = (i % 10 == 0) ? 1024 + r % 7168 : 16 + r % 512;
    blocks[i] = malloc(s);
    memset(blocks[i], (int)i, s);
  }
  void* mid = malloc(200 * 1024);
  memset(mid, 1, 200 * 1024);
  void* huge = malloc(3 * MiB);
  memset(huge, 2, 3 * MiB);
  free(huge);
  free(mid);
  /* Keep LEFT_PER_THREAD blocks for main, free the rest in a scattered order. */
  for (int i = 0; i < LEFT_PER_THREAD; i++) a->out[i] = blocks[i * (N / LEFT_PER_THREAD)];
  for (int i = 0; i < N; i++) {
    int j = (i * 7) % N;
    if (j % (N / LEFT_PER_THREAD) != 0 || j / (N / LEFT_PER_THREAD) >= LEFT_PER_THREAD) free(blocks[j]);
  }
  /* A few more allocations that stay in the thread's cache when it exits. */
  for (int i = 0; i < 20; i++) free(malloc(32 + i * 16));
  return NULL;
}

static void run_threads(unsigned first, unsigned count, unsigned parallel) {
  for (unsigned t = first; t < first + count; t += parallel) {
    pthread_t th[8];
    struct worker_arg args[8];
    void* out[8][LEFT_PER_THREAD];
    unsigned k = parallel;
    for (unsigned i = 0; i < k; i++) {
      args[i].id = t + i;
      args[i].out = out[i];
      if (pthread_create(&th[i], NULL, worker, &args[i]) != 0) {
        printf("FAIL thread_churn.pthread_create\n");
        exit(1);
      }
    }
    for (unsigned i = 0; i < k; i++) {
      pthread_join(th[i], NULL);
      unsigned slot = (t + i) % RING;
      for (int j = 0; j < LEFT_PER_THREAD; j++) {
        free(g_left[slot][j]); /* left by the thread RING threads ago */
        g_left[slot][j] = out[i][j];
      }
    }
  }
}

struct checkpoint {
  unsigned threads;
  size_t rss, rss_trimmed;
  struct mallinfo2 mi;
};

static void take(struct checkpoint* c, unsigned threads) {
  c->threads = threads;
  c->rss = check_rss_bytes();
  c->mi = mallinfo2();
  malloc_trim(0); /* what stays resident after a trim is what the allocator cannot give back */
  c->rss_trimmed = check_rss_bytes();
}

int main(int argc, char** argv) {
  check_init("thread_churn", 180);
  typedef void (*stats_fn)(struct im_stats*);
  stats_fn get = (stats_fn)dlsym(RTLD_DEFAULT, "im_stats_get");
  check_require_lib(argc, argv);

  struct checkpoint c100, c1000, c2000;
  check_begin("thread_churn.running_threads");
  for (unsigned t = 0; t < THREADS; t += 100) {
    run_threads(t, 48, 1);
    run_threads(t + 48, 52, 4);
    if (t + 100 == 100) take(&c100, 100);
    if (t + 100 == 1000) take(&c1000, 1000);
  }
  take(&c2000, THREADS);
  check_info("after %u / %u / %u threads: RSS %zu / %zu / %zu KiB, RSS after malloc_trim %zu / %zu / %zu KiB, "
             "arena %zu / %zu / %zu KiB, uordblks %zu / %zu / %zu",
             c100.threads, c1000.threads, c2000.threads, c100.rss / 1024, c1000.rss / 1024, c2000.rss / 1024,
             c100.rss_trimmed / 1024, c1000.rss_trimmed / 1024, c2000.rss_trimmed / 1024, c100.mi.arena / 1024,
             c1000.mi.arena / 1024, c2000.mi.arena / 1024, c100.mi.uordblks, c1000.mi.uordblks, c2000.mi.uordblks);

  /* Memory of exited threads is reused: a leak of a few pages per thread adds tens of MiB over
   * 1900 threads. The limits leave room for what stays cached, not yet purged or fragmented:
   * glibc itself grows by about 5 MiB here (with 2 MiB after the 1000th thread). */
  long drss = (long)c2000.rss - (long)c100.rss;
  check_result("thread_churn.rss_flat_after_2000_threads", drss < (long)(10 * MiB),
               "RSS %+ld KiB from 100 to %u threads (limit +10 MiB)", drss / 1024, THREADS);
  long dtrim = (long)c2000.rss_trimmed - (long)c1000.rss_trimmed;
  check_result("thread_churn.rss_after_trim_flat_from_1000_to_2000_threads", dtrim < (long)(4 * MiB),
               "RSS after malloc_trim(0) %+ld KiB from 1000 to %u threads (limit +4 MiB)", dtrim / 1024, THREADS);
  long darena = (long)c2000.mi.arena - (long)c100.mi.arena;
  long dlate = (long)c2000.mi.arena - (long)c1000.mi.arena;
  /* (Mapped memory grows in steps of a segment, 4 MiB, or a large region, 16 MiB: one more of
   * each now and then is caching, or threads that overlapped on a loaded machine and took a
   * region of their own (large-blocks.md); a leak keeps stepping.) */
  check_result("thread_churn.mapped_memory_reused_after_thread_exit", darena < (long)(40 * MiB) && dlate < (long)(24 * MiB),
               "mallinfo2 arena %+ld KiB from 100 to %u threads (limit +40 MiB), %+ld KiB from 1000 (limit +24 MiB)",
               darena / 1024, THREADS, dlate / 1024);
  long duord = (long)c2000.mi.uordblks - (long)c100.mi.uordblks;
  check_result("thread_churn.live_bytes_flat_after_2000_threads", duord < (long)(1 * MiB) && duord > -(long)MiB,
               "uordblks %+ld from 100 to %u threads (the same number of blocks is live)", duord, THREADS);
  if (get) {
    struct im_stats st;
    get(&st);
    check_info("im_stats: threads_seen %zu threads_live %zu segments %zu mapped %zu KiB free %zu KiB",
               st.threads_seen, st.threads_live, st.segments, st.mapped_bytes / 1024, st.free_bytes / 1024);
  }
  for (int s = 0; s < RING; s++)
    for (int j = 0; j < LEFT_PER_THREAD; j++) free(g_left[s][j]);
  return check_summary();
}
