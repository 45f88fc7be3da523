/* Loading libmallocim.so with dlopen into a program that is not preloaded.
 *
 * The library uses initial-exec TLS, which dlopen can only place in the static TLS surplus: the
 * load must succeed (no "cannot allocate memory in static TLS block"), also with threads already
 * running, and im_malloc/im_free found with dlsym must work on every thread.
 * usage: dlopen_lib /path/to/libmallocim.so */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"

typedef void* (*malloc_fn)(size_t);
typedef void* (*calloc_fn)(size_t, size_t);
typedef void* (*realloc_fn)(void*, size_t);
typedef void* (*aligned_fn)(size_t, size_t);
typedef void (*free_fn)(void*);
typedef size_t (*usable_fn)(const void*);
typedef int (*owns_fn)(const void*);
typedef const char* (*version_fn)(void);

static malloc_fn im_malloc_p;
static calloc_fn im_calloc_p;
static realloc_fn im_realloc_p;
static aligned_fn im_aligned_alloc_p;
static free_fn im_free_p;
static usable_fn im_usable_size_p;
static owns_fn im_owns_p;

static pthread_barrier_t g_loaded;
static atomic_int g_thread_errors;
static _Atomic(void*) g_exchange[16];

/* Allocates and frees through the library; hands blocks to the other threads too. */
static int exercise(unsigned seed) {
  int bad = 0;
  void* v[256] = {0};
  uint64_t r = 88172645463325252ull + seed;
  for (int round = 0; round < 40; round++) {
    for (int i = 0; i < 256; i++) {
      r ^= r << 13;
      r ^= r >> 7;
      r ^= r << 17;
      size_t n = (r % 16 == 0) ? 4096 + r % 300000 : 1 + r % 512;
      if (v[i]) {
        if (((unsigned char*)v[i])[0] != (unsigned char)i) bad = 1;
        im_free_p(v[i]);
      }
      switch (r % 5) {
        case 0: v[i] = im_calloc_p(1, n); break;
        case 1: v[i] = im_aligned_alloc_p(64, n); break;
        case 2: v[i] = im_realloc_p(NULL, n); break;
        default: v[i] = im_malloc_p(n); break;
      }
      if (!v[i] || !im_owns_p(v[i]) || im_usable_size_p(v[i]) < n) bad = 1;
      memset(v[i], i, n);
      if (r % 64 == 0) { /* cross-thread: swap a block through the exchange */
        void* got = atomic_exchange(&g_exchange[r % 16], v[i]);
        v[i] = NULL;
        if (got) im_free_p(got);
      }
    }
  }
  for (int i = 0; i < 256; i++) im_free_p(v[i]);
  return bad;
}

static void* early_thread(void* arg) {
  /* Exists before dlopen; uses the library only after it is loaded. */
  pthread_barrier_wait(&g_loaded);
  if (exercise((unsigned)(uintptr_t)arg)) atomic_fetch_add(&g_thread_errors, 1);
  return NULL;
}

static void* late_thread(void* arg) {
  if (exercise((unsigned)(uintptr_t)arg)) atomic_fetch_add(&g_thread_errors, 1);
  return NULL;
}

int main(int argc, char** argv) {
  check_init("dlopen_lib", 120);
  if (argc < 2) {
    fprintf(stderr, "usage: %s /path/to/libmallocim.so\n", argv[0]);
    return 2;
  }
  if (check_library_loaded()) {
    check_result("dlopen.program_not_preloaded", 0, "libmallocim is already loaded (LD_PRELOAD?)");
    return check_summary();
  }
  pthread_barrier_init(&g_loaded, NULL, 3);
  pthread_t early[2];
  for (int i = 0; i < 2; i++) pthread_create(&early[i], NULL, early_thread, (void*)(uintptr_t)(i + 1));

  check_begin("dlopen.rtld_now_succeeds");
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  const char* err = h ? NULL : dlerror();
  check_result("dlopen.rtld_now_succeeds", h != NULL, "%s", err ? err : argv[1]);
  if (!h) {
    /* Let the early threads finish without the library. */
    _exit(check_summary());
  }

  check_begin("dlopen.api_found_with_dlsym");
  im_malloc_p = (malloc_fn)dlsym(h, "im_malloc");
  im_calloc_p = (calloc_fn)dlsym(h, "im_calloc");
  im_realloc_p = (realloc_fn)dlsym(h, "im_realloc");
  im_aligned_alloc_p = (aligned_fn)dlsym(h, "im_aligned_alloc");
  im_free_p = (free_fn)dlsym(h, "im_free");
  im_usable_size_p = (usable_fn)dlsym(h, "im_usable_size");
  im_owns_p = (owns_fn)dlsym(h, "im_owns");
  version_fn version = (version_fn)dlsym(h, "im_version");
  int all = im_malloc_p && im_calloc_p && im_realloc_p && im_aligned_alloc_p && im_free_p && im_usable_size_p &&
            im_owns_p && version;
  check_result("dlopen.api_found_with_dlsym", all, "im_version() = %s", version ? version() : "?");
  if (!all) _exit(check_summary());

  check_begin("dlopen.im_malloc_im_free_work");
  void* p = im_malloc_p(100);
  int ok = p && im_owns_p(p) && im_usable_size_p(p) >= 100 && ((uintptr_t)p & 15) == 0;
  if (p) memset(p, 0x42, 100);
  im_free_p(p);
  void* big = im_malloc_p(5u << 20);
  ok = ok && big && im_owns_p(big);
  if (big) memset(big, 1, 5u << 20);
  im_free_p(big);
  ok = ok && im_usable_size_p(NULL) == 0;
  check_result("dlopen.im_malloc_im_free_work", ok, NULL);

  check_begin("dlopen.im_owns_rejects_foreign_pointers");
  void* g = malloc(100); /* glibc's malloc: the library was loaded RTLD_LOCAL */
  int stack_var = 0;
  int foreign = im_owns_p(g) || im_owns_p(&stack_var) || im_owns_p(NULL);
  free(g);
  check_result("dlopen.im_owns_rejects_foreign_pointers", !foreign, NULL);

  check_begin("dlopen.threads_before_and_after_load_allocate");
  pthread_barrier_wait(&g_loaded);
  pthread_t late[2];
  for (int i = 0; i < 2; i++) pthread_create(&late[i], NULL, late_thread, (void*)(uintptr_t)(i + 10));
  int main_bad = exercise(99);
  for (int i = 0; i < 2; i++) pthread_join(early[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(late[i], NULL);
  for (int i = 0; i < 16; i++) im_free_p(atomic_exchange(&g_exchange[i], NULL));
  check_result("dlopen.threads_before_and_after_load_allocate", !main_bad && atomic_load(&g_thread_errors) == 0,
               "%d thread(s) saw bad blocks", atomic_load(&g_thread_errors) + main_bad);

  check_begin("dlopen.second_dlopen_same_handle");
  void* h2 = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  check_result("dlopen.second_dlopen_same_handle", h2 == h, NULL);
  return check_summary();
}
