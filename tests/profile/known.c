// A program with known allocation patterns, for the profile's end-to-end test.
//   leak:  leak_site() keeps 48 MiB of 40-byte blocks to the end; churn_site() allocates and frees
//          128 MiB of 200-byte blocks; big_site() allocates and frees 100 blocks of 1 MiB.
//   frag:  sparse_site() fills 64 MiB with 48-byte blocks, then frees 15 of every 16: the pages
//          of the 48-byte class stay resident, mostly empty.
// Prints the true figures ("truth KEY VALUE") for the checker to compare with the profile.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void** g_keep;
static size_t g_keep_n;

__attribute__((noinline)) void* leak_site(size_t n) {
  void* p = malloc(n);
  memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void churn_site(size_t n, size_t bytes) {
  void* ring[64] = {0};
  for (size_t i = 0; i < bytes / n; ++i) {
    size_t k = i & 63;
    free(ring[k]);
    ring[k] = malloc(n);
    memset(ring[k], 2, n);
  }
  for (int k = 0; k < 64; ++k) free(ring[k]);
}

__attribute__((noinline)) void big_site(void) {
  for (int i = 0; i < 100; ++i) {
    char* p = malloc(1 << 20);
    memset(p, 3, 1 << 20);
    free(p);
  }
}

__attribute__((noinline)) void* sparse_site(size_t n) {
  void* p = malloc(n);
  memset(p, 4, n);
  return p;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "leak";
  if (strcmp(mode, "leak") == 0) {
    g_keep_n = (48u << 20) / 40;
    g_keep = malloc(g_keep_n * sizeof(void*));
    for (size_t i = 0; i < g_keep_n; ++i) {
      g_keep[i] = leak_site(40);
      if (i % 4096 == 0) churn_site(200, (128u << 20) / (g_keep_n / 4096 + 1));  // interleaved
      if (i == g_keep_n / 2) big_site();
    }
    printf("truth leak_bytes %zu\n", g_keep_n * 40);
  } else if (strcmp(mode, "fork") == 0) {  // a forked child's allocations must not reach the file
    void* keep = leak_site(4 << 20);
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = 0; i < 64; ++i) free(leak_site(1 << 20));
      _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    free(keep);
    printf("truth child_status %d\n", status);
  } else {
    size_t n = (64u << 20) / 48;
    void** v = malloc(n * sizeof(void*));
    for (size_t i = 0; i < n; ++i) v[i] = sparse_site(48);
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i % 16 == 0) { ++kept; continue; }
      free(v[i]);
    }
    printf("truth sparse_kept_bytes %zu\n", kept * 48);
  }
  return 0;
}
