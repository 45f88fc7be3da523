/* callgrind_pair: N malloc/free pairs of one small size, for counting the allocator's fast path.
 *
 * usage: callgrind_pair N [SIZE [KEEP]]     (SIZE defaults to 32, KEEP to 0)
 *
 * bench/callgrind_pair.sh runs this under valgrind --tool=callgrind with each allocator in
 * LD_PRELOAD, for two values of N, and divides the difference of the instruction counts by the
 * difference of N: instructions per pair, with start-up and first-use costs cancelled.
 *
 * KEEP blocks of SIZE are allocated before the loop and freed after it. With KEEP 0 the loop's
 * block is the only one of its size class, so on allocators that count live blocks per page
 * every free empties the page and takes that path; with KEEP 1 the page stays in use and the
 * pair measures the plain fast path.
 *
 * The block is written (one store) between malloc and free, and the pointer passes through an
 * empty asm statement, so the compiler can neither drop the pair nor merge iterations. Built
 * with -fno-builtin so that malloc and free stay real calls. The program prints which shared
 * object malloc and free were bound to (dladdr), so the script can check that the preloaded
 * allocator is the one being counted. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* The loop callgrind's --toggle-collect selects: only instructions executed inside it (the loop
 * and the allocator calls it makes) are counted. */
__attribute__((noinline)) void run_pairs(unsigned long n, size_t size) {
  for (unsigned long i = 0; i < n; ++i) {
    char* p = malloc(size);
    if (p == NULL) {
      fprintf(stderr, "callgrind_pair: malloc(%zu) failed\n", size);
      exit(4);
    }
    __asm__ volatile("" : : "r"(p) : "memory");
    *(volatile char*)p = (char)i;
    free(p);
  }
}

static const char* object_of(void* fn) {
  Dl_info info;
  return dladdr(fn, &info) != 0 && info.dli_fname != NULL ? info.dli_fname : "?";
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: %s N [SIZE [KEEP]]\n", argv[0]);
    return 2;
  }
  const unsigned long n = strtoul(argv[1], NULL, 0);
  const size_t size = argc >= 3 ? (size_t)strtoul(argv[2], NULL, 0) : 32;
  const unsigned long keep = argc >= 4 ? strtoul(argv[3], NULL, 0) : 0;
  if (size == 0 || keep > 1000) {
    fprintf(stderr, "callgrind_pair: SIZE must be at least 1, KEEP at most 1000\n");
    return 2;
  }
  void* kept[1000];
  for (unsigned long i = 0; i < keep; ++i) {
    kept[i] = malloc(size);
    if (kept[i] == NULL) return 4;
    *(volatile char*)kept[i] = 1;
  }
  /* One pair before the counted loop, so lazy initialisation (the allocator's, the loader's
   * binding of malloc and free) happens outside it. */
  free(malloc(size));
  run_pairs(n, size);
  for (unsigned long i = 0; i < keep; ++i) free(kept[i]);
  printf("pairs=%lu size=%zu keep=%lu\nmalloc_from=%s\nfree_from=%s\n", n, size, keep,
         object_of((void*)&malloc), object_of((void*)&free));
  return 0;
}
