/* Background threads that allocate without pause, for the fork tests.
 *
 * Each worker keeps a table of blocks and replaces random entries (malloc, calloc, realloc,
 * posix_memalign; 1 B - 4 MiB, mostly small). It also publishes blocks in g_published, atomic
 * slots a forked child may take and free: blocks that another thread allocated. */
#ifndef MALLOCIM_TESTS_WORKERS_H
#define MALLOCIM_TESTS_WORKERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS_MAX 8
#define PUBLISHED_SLOTS 64

static atomic_int g_workers_stop;
static _Atomic(void*) g_published[PUBLISHED_SLOTS];
static atomic_ulong g_worker_ops;

static inline uint64_t workers_rnd(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static inline size_t workers_size(uint64_t r) {
  unsigned k = (unsigned)(r & 1023);
  if (k < 800) return 1 + (r >> 10) % 256;              /* small */
  if (k < 1000) return 257 + (r >> 10) % (64 * 1024);   /* medium */
  if (k < 1020) return 65536 + (r >> 10) % (1 << 20);   /* large */
  return (1 << 20) + (r >> 10) % (3u << 20);             /* up to 4 MiB: huge blocks */
}

static void* workers_main(void* arg) {
  enum { SLOTS = 256 };
  void* slots[SLOTS] = {0};
  uint64_t s = 0x1234567ull + (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull;
  while (!atomic_load_explicit(&g_workers_stop, memory_order_relaxed)) {
    for (int burst = 0; burst < 64; burst++) {
      uint64_t r = workers_rnd(&s);
      unsigned i = (unsigned)(r >> 40) % SLOTS;
      size_t n = workers_size(workers_rnd(&s));
      switch (r % 8) {
        case 0:
          slots[i] = realloc(slots[i], n);
          break;
        case 1: {
          free(slots[i]);
          void* p = NULL;
          slots[i] = posix_memalign(&p, (size_t)16 << (r >> 8) % 8, n) == 0 ? p : NULL;
          break;
        }
        case 2:
          free(slots[i]);
          slots[i] = calloc(1, n);
          break;
        case 3: { /* publish a block for a forked child to free; take back what nobody took */
          void* p = malloc(n);
          if (p) memset(p, 0x5a, n < 256 ? n : 256);
          void* old = atomic_exchange(&g_published[i % PUBLISHED_SLOTS], p);
          free(old);
          continue; /* slots[i] unchanged */
        }
        default:
          free(slots[i]);
          slots[i] = malloc(n);
          break;
      }
      if (slots[i]) memset(slots[i], (int)r, n < 64 ? n : 64);
    }
    atomic_fetch_add_explicit(&g_worker_ops, 64, memory_order_relaxed);
  }
  for (int i = 0; i < SLOTS; i++) free(slots[i]);
  return NULL;
}

static pthread_t g_worker_threads[WORKERS_MAX];
static int g_worker_count;

static inline void workers_start(int n) {
  atomic_store(&g_workers_stop, 0);
  g_worker_count = n;
  for (int i = 0; i < n; i++) pthread_create(&g_worker_threads[i], NULL, workers_main, (void*)(uintptr_t)(i + 1));
}

static inline void workers_stop(void) {
  atomic_store(&g_workers_stop, 1);
  for (int i = 0; i < g_worker_count; i++) pthread_join(g_worker_threads[i], NULL);
  for (int i = 0; i < PUBLISHED_SLOTS; i++) free(atomic_exchange(&g_published[i], NULL));
}

/* What a forked child does: allocate, touch and free blocks of every size class, including the
 * blocks the parent's workers published. Returns 0 when every block had the expected contents. */
static inline int workers_child_exercise(unsigned seed) {
  int bad = 0;
  uint64_t s = 0xabcdefull + seed;
  void* keep[128];
  for (int i = 0; i < 128; i++) {
    size_t n = workers_size(workers_rnd(&s));
    keep[i] = malloc(n);
    if (!keep[i]) return 1;
    memset(keep[i], i, n);
  }
  for (int i = 0; i < 128; i += 2) {
    keep[i] = realloc(keep[i], 100 + (size_t)i * 1000);
    if (!keep[i]) return 1;
  }
  for (int i = 0; i < 128; i++) {
    if (i % 2 == 1 && ((unsigned char*)keep[i])[0] != (unsigned char)i) bad = 1;
    free(keep[i]);
  }
  for (int i = 0; i < PUBLISHED_SLOTS; i++) {
    void* p = atomic_exchange(&g_published[i], NULL);
    if (p && ((unsigned char*)p)[0] != 0x5a) bad = 1;
    free(p);
  }
  void* big = malloc(8u << 20);
  if (!big) return 1;
  memset(big, 1, 8u << 20);
  free(big);
  return bad;
}

#endif
