/* Keeps 10 MiB live in 1000-byte blocks (class 1024 B), then exits without freeing; with
 * "signal" it first raises SIGUSR2 and allocates once more, so the summary is printed on it. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  static char* keep[10240];
  for (int i = 0; i < 10240; ++i) {
    keep[i] = malloc(1000);
    memset(keep[i], i, 1000);
  }
  if (argc > 1 && !strcmp(argv[1], "signal")) {
    raise(SIGUSR2);
    for (int i = 0; i < 100; ++i) free(malloc(100000));  /* slow paths: the summary comes here */
  }
  return keep[5][0] == 5 ? 0 : 1;
}
