/* fork() while other threads hold stdio locks and allocate inside stdio.
 *
 * Threads loop on fprintf with wide fields (vfprintf allocates work buffers while it holds the
 * FILE lock), on flockfile(stdout) + malloc, on fopen/fclose of /dev/null (stdio list lock +
 * malloc) and on open_memstream (realloc under the FILE lock). The main thread forks; each child
 * allocates, prints a line through stdio into a pipe and exits with exit(0). The parent reads the
 * line back. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/wait.h>

#include "check.h"
#include "workers.h"

#define FORKS 50

static atomic_int g_stop;

static void* printer(void* arg) {
  FILE* f = (FILE*)arg;
  unsigned i = 0;
  while (!atomic_load(&g_stop)) {
    fprintf(f, "%s %u %*d %.*f\n", "line", i, 20000, (int)i, 3000, 1.0 / 3);
    i++;
  }
  return NULL;
}

static void* stdout_locker(void* arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    flockfile(stdout);
    void* p = malloc(4000);
    memset(p, 1, 4000);
    free(p);
    funlockfile(stdout);
  }
  return NULL;
}

static void* opener(void* arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    FILE* f = fopen("/dev/null", "w");
    if (f) {
      fprintf(f, "%d\n", 42);
      fclose(f);
    }
    char* buf = NULL;
    size_t len = 0;
    FILE* m = open_memstream(&buf, &len);
    if (m) {
      for (int k = 0; k < 200; k++) fprintf(m, "memstream %d ", k);
      fclose(m);
      free(buf);
    }
  }
  return NULL;
}

static int child(unsigned i, int fd) {
  alarm(10); /* a deadlock turns into SIGALRM */
  char* msg = (char*)malloc(256);
  if (!msg) return 3;
  void* blocks[64];
  for (int k = 0; k < 64; k++) blocks[k] = malloc(16 + (size_t)k * 1000);
  for (int k = 0; k < 64; k++) free(blocks[k]);
  snprintf(msg, 256, "child-ok %u", i);
  if (dup2(fd, 1) < 0) return 4;
  printf("%s %s\n", msg, "printed");
  fprintf(stdout, "%*s|\n", 5000, "wide"); /* allocates inside the child's vfprintf */
  free(msg);
  return 0; /* exit(): flushes stdout */
}

int main(int argc, char** argv) {
  check_init("fork_stdio", 120);
  check_require_lib(argc, argv);
  const char* name = "fork.while_threads_hold_stdio_locks";
  check_begin(name);
  FILE* devnull = fopen("/dev/null", "w");
  pthread_t th[4];
  pthread_create(&th[0], NULL, printer, devnull);
  pthread_create(&th[1], NULL, printer, devnull); /* two threads on one FILE: its lock is busy */
  pthread_create(&th[2], NULL, stdout_locker, NULL);
  pthread_create(&th[3], NULL, opener, NULL);
  workers_start(2);

  int failures = 0;
  char first[200] = "";
  for (unsigned i = 0; i < FORKS; i++) {
    int pfd[2];
    if (pipe(pfd) != 0) {
      snprintf(first, sizeof first, "pipe: %s", strerror(errno));
      failures++;
      break;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    /* stdout is line buffered and nothing sits in it: the child inherits no pending output. */
    pid_t pid = fork();
    if (pid == 0) {
      close(pfd[0]);
      exit(child(i, pfd[1]));
    }
    close(pfd[1]);
    char buf[8192];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && ((r = read(pfd[0], buf + got, sizeof buf - 1 - got)) > 0 || (r < 0 && errno == EINTR)))
      if (r > 0) got += (size_t)r;
    buf[got] = 0;
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    char want[64];
    snprintf(want, sizeof want, "child-ok %u printed\n", i);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && strncmp(buf, want, strlen(want)) == 0 &&
             strstr(buf, "wide|\n") != NULL;
    if (!ok) {
      if (!failures)
        snprintf(first, sizeof first, "child %u: %s %d%s, output '%.40s'", i, WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (deadlock: child timed out)" : "", buf);
      failures++;
    }
  }
  atomic_store(&g_stop, 1);
  for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
  workers_stop();
  fclose(devnull);
  check_result(name, failures == 0, "%d forks, %d failed%s%s", FORKS, failures, failures ? "; first: " : "", first);
  return check_summary();
}
