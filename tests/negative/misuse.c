/* One misuse per run, chosen by argv[1]: the library preloaded into this program must report it
 * on stderr and abort. Compiled without builtin knowledge of malloc so the calls stay as written. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int in_data;

__attribute__((noinline)) void leaky_function(void) {
  for (int i = 0; i < 3; ++i) {
    void* volatile p = malloc(1000);
    (void)p;
  }
}

static void* free_in_thread(void* p) {
  free(p);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* c = argv[1];
  if (!strcmp(c, "double_free_small")) {
    void* p = malloc(48);
    free(p);
    free(p);
  } else if (!strcmp(c, "double_free_small_other_thread")) {
    void* p = malloc(48);
    free(p);
    pthread_t t;
    pthread_create(&t, NULL, free_in_thread, p);
    pthread_join(t, NULL);
  } else if (!strcmp(c, "double_free_large")) {
    void* p = malloc(100000);
    free(p);
    free(p);
  } else if (!strcmp(c, "double_free_huge")) {
    void* p = malloc(16 << 20);
    free(p);
    free(p);
  } else if (!strcmp(c, "free_stack")) {
    int x = 0;
    free(&x);
  } else if (!strcmp(c, "free_global")) {
    free(&in_data);
  } else if (!strcmp(c, "free_foreign")) {  /* memory another allocator (here: mmap) handed out */
    void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    free(p);
  } else if (!strcmp(c, "free_interior_large")) {
    char* p = malloc(50000);
    free(p + 64);
  } else if (!strcmp(c, "free_interior_huge")) {
    char* p = malloc(8 << 20);
    free(p + 8192);
  } else if (!strcmp(c, "realloc_stack")) {
    int x = 0;
    void* volatile r = realloc(&x, 100);
    (void)r;
  } else if (!strcmp(c, "write_after_free")) {  /* damages the free-list link */
    char* p = malloc(80);
    free(p);
    memset(p, 0x41, 16);
    for (int i = 0; i < 10000; ++i) (void)malloc(80);
  } else if (!strcmp(c, "overflow_small")) {  /* debug heap: canary after the block */
    char* p = malloc(24);
    p[24] = 1;
    free(p);
  } else if (!strcmp(c, "underflow_small")) {  /* debug heap: canary before the block */
    char* p = malloc(24);
    p[-1] = 1;
    free(p);
  } else if (!strcmp(c, "write_after_free_at_exit")) {  /* debug heap: poison checked at exit */
    char* p = malloc(100);
    free(p);
    p[50] = 7;
    exit(0);
  } else if (!strcmp(c, "uninitialised_pattern")) {  /* debug heap: new memory is 0xbe */
    unsigned char* p = malloc(64);
    for (int i = 0; i < 64; ++i)
      if (p[i] != 0xbe) return 1;
    free(p);
    fprintf(stderr, "uninitialised memory reads as 0xbe\n");
    return 0;
  } else if (!strcmp(c, "leak")) {  /* debug heap with MALLOCIM_DEBUG_LEAKS=1 */
    leaky_function();
    return 0;
  } else if (!strcmp(c, "overflow_large")) {  /* overwrites the next block's header */
    char* a = malloc(40000);
    char* b = malloc(40000);
    memset(a, 0x41, malloc_usable_size(a) + 16);
    free(a);
    free(b);
  } else {
    fprintf(stderr, "unknown case %s\n", c);
    return 2;
  }
  printf("misuse not detected\n");
  return 0;
}
