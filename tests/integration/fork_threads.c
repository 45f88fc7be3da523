/* fork() while other threads allocate: the child can malloc and free, start threads that do the
 * same, free blocks the parent's threads allocated, and exit(0), with no deadlock.
 *
 * A deadlocked child is killed by its own alarm (10 s) and reported; the whole program has a
 * watchdog too. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/wait.h>

#include "check.h"
#include "workers.h"

#define FORKS 60

static void* child_thread(void* arg) {
  uintptr_t seed = (uintptr_t)arg;
  for (int i = 0; i < 200; i++) {
    void* p = malloc(16 + (seed * 31 + (uintptr_t)i * 977) % 20000);
    memset(p, 3, 16);
    free(p);
  }
  return malloc(1000); /* freed by the child's main thread */
}

static int child(unsigned i) {
  alarm(10); /* a deadlock turns into SIGALRM */
  int bad = workers_child_exercise(i);
  pthread_t t[2];
  for (int k = 0; k < 2; k++)
    if (pthread_create(&t[k], NULL, child_thread, (void*)(uintptr_t)(i * 2 + k)) != 0) return 3;
  for (int k = 0; k < 2; k++) {
    void* r = NULL;
    pthread_join(t[k], &r);
    free(r);
  }
  char* s = strdup("child done");
  bad |= strcmp(s, "child done") != 0;
  free(s);
  return bad ? 2 : 0;
}

int main(int argc, char** argv) {
  check_init("fork_threads", 120);
  check_require_lib(argc, argv);
  workers_start(4);
  check_begin("fork.child_allocates_while_parent_threads_allocate");
  int failures = 0;
  char first_failure[160] = "";
  for (unsigned i = 0; i < FORKS; i++) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      snprintf(first_failure, sizeof first_failure, "fork failed: %s", strerror(errno));
      failures++;
      break;
    }
    if (pid == 0) exit(child(i));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      if (!failures)
        snprintf(first_failure, sizeof first_failure, "child %u: %s %d%s", i,
                 WIFEXITED(st) ? "exit status" : "killed by signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (deadlock: child timed out)" : "");
      failures++;
    }
  }
  workers_stop();
  check_result("fork.child_allocates_while_parent_threads_allocate", failures == 0,
               "%d forks, %d failed%s%s; worker ops %lu", FORKS, failures, failures ? ", first: " : "",
               first_failure, (unsigned long)atomic_load(&g_worker_ops));
  /* The parent is still fine too. */
  check_begin("fork.parent_allocates_after_forks");
  void* p = malloc(12345);
  memset(p, 1, 12345);
  free(p);
  check_result("fork.parent_allocates_after_forks", 1, NULL);
  return check_summary();
}
