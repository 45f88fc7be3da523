// C++ misuses the debug heap catches: mismatched new/delete forms and sized-delete sizes.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const char* c = argv[1];
  if (!strcmp(c, "delete_of_new_array")) {
    void* p = ::operator new[](40);
    ::operator delete(p);
  } else if (!strcmp(c, "free_of_new")) {
    void* p = ::operator new(40);
    free(p);
  } else if (!strcmp(c, "sized_delete_mismatch")) {
    void* p = ::operator new(48);
    ::operator delete(p, size_t(40));
  } else {
    std::fprintf(stderr, "unknown case %s\n", c);
    return 2;
  }
  std::printf("misuse not detected\n");
  return 0;
}
