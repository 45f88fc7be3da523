/* A program linked against malloc-im: its malloc must be the library's. */
#include <mallocim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  char* p = malloc(100);
  if (!p) return 1;
  strcpy(p, "linked");
  int owned = im_owns(p);
  printf("%s: malloc %s malloc-im (%s)\n", p, owned ? "is" : "is NOT", im_version());
  free(p);
  return owned ? 0 : 1;
}
