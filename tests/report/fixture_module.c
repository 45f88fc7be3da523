/* A binary with debug info whose functions the synthetic profiles (make_fixture.py) point into,
 * so that the report's addr2line step is tested on a real ELF file: function names, file:line,
 * and an inlined frame (table_slot inlined into long_lived_table). Never run by the tests. */
#include <stdlib.h>
#include <string.h>

static inline __attribute__((always_inline)) char *table_slot(size_t n) {
  char *p = malloc(n);
  if (p)
    memset(p, 1, n);
  return p;
}

__attribute__((noinline)) char *long_lived_table(size_t n) {
  char *p = table_slot(n * 2 + 1);
  return p ? p + 1 : p;
}

__attribute__((noinline)) char *parse_line(const char *s) {
  char *p = malloc(strlen(s) + 1);
  if (p)
    strcpy(p, s);
  return p;
}

__attribute__((noinline)) char *short_lived_tmp(size_t n) {
  char *p = malloc(n);
  if (p)
    p[0] = 0;
  return p;
}

__attribute__((noinline)) char *leaky_cache_insert(size_t n) {
  char *p = malloc(n);
  if (p)
    memset(p, 2, n);
  return p;
}

__attribute__((noinline)) char *load_config(size_t n) {
  char *p = malloc(n);
  if (p)
    memset(p, 3, n);
  return p;
}

__attribute__((noinline)) void process_file(int n) {
  for (int i = 0; i < n; i++) {
    free(parse_line("x"));
    free(short_lived_tmp((size_t)i + 1));
  }
}

int main(int argc, char **argv) {
  (void)argv;
  process_file(argc);
  free(long_lived_table((size_t)argc) - 1);
  free(leaky_cache_insert((size_t)argc));
  free(load_config((size_t)argc));
  return 0;
}
