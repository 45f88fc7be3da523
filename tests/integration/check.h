/* Tiny check harness shared by the integration programs.
 *
 * Every check prints one line: "PASS name", "FAIL name: why" or "SKIP name: why"; check_summary()
 * prints the totals and gives the exit status. A crash inside a check names the check on stderr
 * (SIGSEGV/SIGBUS/SIGABRT handler), so a failing run always says where it died. */
#ifndef MALLOCIM_TESTS_CHECK_H
#define MALLOCIM_TESTS_CHECK_H

#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __cplusplus
#define CHECK_INLINE inline
#else
#define CHECK_INLINE static inline
#endif

/* A fixed pseudo-random sequence (xorshift64), the same in every run. */
CHECK_INLINE uint64_t check_rand(void) {
  static uint64_t state = 0x9E3779B97F4A7C15ull;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

/* Keeps the compiler from reasoning about (and removing) allocations. */
CHECK_INLINE void* check_opaque(void* p) {
  __asm__ __volatile__("" : "+r"(p) : : "memory");
  return p;
}
CHECK_INLINE size_t check_opaque_size(size_t n) {
  __asm__ __volatile__("" : "+r"(n));
  return n;
}

struct check_state {
  int passed, failed, skipped;
  const char* current;
  const char* program;
};
static struct check_state g_check = {0, 0, 0, "(startup)", "test"};

CHECK_INLINE void check_write_str(const char* s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

CHECK_INLINE void check_crash_handler(int sig) {
  check_write_str("\nCRASH (");
  check_write_str(sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGABRT ? "SIGABRT"
                  : sig == SIGALRM ? "SIGALRM: timeout, deadlock?" : "signal");
  check_write_str(") in check: ");
  check_write_str(g_check.current ? g_check.current : "?");
  check_write_str("\n");
  signal(sig, SIG_DFL);
  raise(sig);
}

/* timeout_s: whole-program watchdog (alarm); 0 for none. */
CHECK_INLINE void check_init(const char* program, unsigned timeout_s) {
  g_check.program = program;
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGSEGV, check_crash_handler);
  signal(SIGBUS, check_crash_handler);
  signal(SIGABRT, check_crash_handler);
  if (timeout_s) {
    signal(SIGALRM, check_crash_handler);
    alarm(timeout_s);
  }
}

CHECK_INLINE void check_begin(const char* name) { g_check.current = name; }

CHECK_INLINE void check_result(const char* name, int ok, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
CHECK_INLINE void check_result(const char* name, int ok, const char* fmt, ...) {
  char why[512] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
  }
  if (ok) {
    g_check.passed++;
    printf("PASS %s%s%s\n", name, why[0] ? "  " : "", why);
  } else {
    g_check.failed++;
    printf("FAIL %s: %s\n", name, why);
  }
  fflush(stdout);
  g_check.current = "(between checks)";
}

CHECK_INLINE void check_skip(const char* name, const char* why) {
  g_check.skipped++;
  printf("SKIP %s: %s\n", name, why);
  fflush(stdout);
}

CHECK_INLINE void check_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
CHECK_INLINE void check_info(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("INFO ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

CHECK_INLINE int check_summary(void) {
  printf("%s: %d passed, %d failed, %d skipped\n", g_check.program, g_check.passed, g_check.failed,
         g_check.skipped);
  fflush(stdout);
  return g_check.failed ? 1 : 0;
}

/* Resident set size in bytes, from /proc/self/statm. */
CHECK_INLINE size_t check_rss_bytes(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (!f) return 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  fclose(f);
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* The shared object a symbol of the global scope resolves into ("" when none). */
CHECK_INLINE const char* check_symbol_owner(const char* name, void** addr_out) {
  void* addr = dlsym(RTLD_DEFAULT, name);
  Dl_info info;
  if (addr_out) *addr_out = addr;
  if (!addr) return "";
  memset(&info, 0, sizeof info);
  if (!dladdr(addr, &info) || !info.dli_fname) return "";
  return info.dli_fname;
}

/* The library's own API, looked up at run time so the programs also run without it. */
typedef int (*check_owns_fn)(const void*);
CHECK_INLINE check_owns_fn check_im_owns(void) {
  return (check_owns_fn)dlsym(RTLD_DEFAULT, "im_owns");
}
CHECK_INLINE int check_library_loaded(void) { return dlsym(RTLD_DEFAULT, "im_malloc") != NULL; }

/* With --require-lib on the command line (how ctest runs the preloaded programs), a run in which
 * the preload did not take effect fails instead of silently testing glibc. Prints the mode. */
CHECK_INLINE void check_require_lib(int argc, char** argv) {
  int require = 0;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--require-lib")) require = 1;
  int loaded = check_library_loaded();
  printf("%s: libmallocim %s\n", g_check.program, loaded ? "loaded" : "NOT loaded (glibc mode)");
  if (require && !loaded) {
    check_result("library.loaded", 0, "im_malloc not found: run with LD_PRELOAD=libmallocim.so");
    exit(check_summary());
  }
}

#endif
