/* Memory freed before a quiet period goes back to the OS without any further allocator call.
 *
 * Allocates about 120 MiB in small and medium blocks, touching every byte, frees them in random
 * order and then sleeps, making no call at all: with the background thread (the default) the
 * resident set must fall far below the peak within the purge delay (the test sets 200 ms).
 * Run with "off" (and MALLOCIM_BACKGROUND_THREAD=0) it checks the opposite, so that the test
 * shows the thread is what returns the memory. Done again in a forked child, where the thread
 * must be started anew. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"

#define MiB ((size_t)1 << 20)


static void quiet(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static int background_thread_seen(void) {
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  int seen = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char path[300], comm[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && strncmp(comm, "mallocim-bg", 11) == 0) seen = 1;
    fclose(f);
  }
  closedir(d);
  return seen;
}

/* Returns 1 when the check holds; prints the figures. */
static int round_trip(const char* name, int expect_returned) {
  static void* v[300000];
  size_t n = 0, bytes = 0;
  size_t base = check_rss_bytes();
  while (bytes < 120 * MiB && n < sizeof v / sizeof v[0]) {
    size_t s = n % 4 == 3 ? 8192 + check_rand() % (120 * 1024) : 16 + check_rand() % 1009;
    v[n] = malloc(s);
    memset(v[n], (int)(n & 0xff), s);
    bytes += s;
    n++;
  }
  size_t peak = check_rss_bytes();
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = check_rand() % (i + 1);
    void* t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
  for (size_t i = 0; i < n; i++) free(v[i]);
  size_t freed = check_rss_bytes();
  quiet(1200); /* 200 ms delay, at most 1.25x that to be seen, and margin for a loaded machine */
  size_t after = check_rss_bytes();
  size_t grown = peak > base ? peak - base : 0, left = after > base ? after - base : 0;
  int returned = grown >= 80 * MiB && left <= grown / 4;
  int kept = grown >= 80 * MiB && left >= grown / 2;
  int ok = expect_returned ? returned : kept;
  check_result(name, ok, "RSS base %zu MiB, peak %zu MiB, after free %zu MiB, after 1.2 s without calls %zu MiB",
               base / MiB, peak / MiB, freed / MiB, after / MiB);
  return ok;
}

int main(int argc, char** argv) {
  check_init("quiet_purge", 120);
  check_require_lib(argc, argv);
  int on = !(argc > 2 && strcmp(argv[2], "off") == 0);
  round_trip(on ? "quiet.rss_returned_without_calls" : "quiet.rss_kept_without_thread", on);
  check_begin("quiet.background_thread_named");
  check_result("quiet.background_thread_named", background_thread_seen() == on,
               on ? "a thread named mallocim-bg runs" : "no mallocim-bg thread");
  if (on) {
    check_begin("quiet.forked_child");
    pid_t pid = fork();
    if (pid == 0) _exit(round_trip("quiet.forked_child_rss_returned", 1) ? 0 : 1);
    int st = 0;
    waitpid(pid, &st, 0);
    check_result("quiet.forked_child", WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
  }
  return check_summary();
}
