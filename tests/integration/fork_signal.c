/* fork() from a signal handler while other threads allocate.
 *
 * An interval timer sends SIGALRM; the handler runs on the main thread (the workers block the
 * signal), which is never inside the allocator itself, and calls fork(). The child allocates and
 * frees from within the handler and leaves with _exit. A child that hangs is killed by its own
 * alarm, the parent has a watchdog. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "check.h"
#include "workers.h"

#define FORKS 40

static volatile sig_atomic_t g_forks;
static volatile sig_atomic_t g_fork_errors;

static void on_timer(int sig) {
  (void)sig;
  if (g_forks >= FORKS) return;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) {
    /* Child: single-threaded, still inside the handler. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGALRM, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    alarm(10); /* a deadlock turns into SIGALRM */
    int bad = workers_child_exercise((unsigned)g_forks);
    _exit(bad ? 2 : 0);
  }
  if (pid < 0)
    g_fork_errors++;
  else
    g_forks++;
  errno = saved;
}

int main(int argc, char** argv) {
  check_init("fork_signal", 0);
  check_require_lib(argc, argv);
  const char* name = "fork.from_signal_handler_while_threads_allocate";
  check_begin(name);

  /* Workers start with SIGALRM blocked; only the main thread takes it. */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  workers_start(4);
  pthread_sigmask(SIG_SETMASK, &old, NULL);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_timer;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 3000}, {0, 3000}}; /* every 3 ms */
  setitimer(ITIMER_REAL, &it, NULL);

  /* The main thread only sleeps and reaps: no allocation here until the timer is off. */
  int reaped = 0, failures = 0, first_status = 0, first_signal = 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (reaped < FORKS) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
      reaped++;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (!failures) {
          first_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
          first_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
        }
        failures++;
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 90) break; /* watchdog: report instead of hanging */
    if (g_fork_errors > 100) break;
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  workers_stop();

  int ok = reaped == FORKS && failures == 0;
  check_result(name, ok,
               "%d forks from the handler, %d reaped, %d failed (first: exit %d, signal %d%s), %d fork errors; "
               "worker ops %lu",
               (int)g_forks, reaped, failures, first_status, first_signal,
               first_signal == SIGALRM ? " = child deadlocked" : "", (int)g_fork_errors,
               (unsigned long)atomic_load(&g_worker_ops));
  return check_summary();
}
