// A program linked against the library (libmallocim.a, or libmallocim.so without LD_PRELOAD):
// malloc and operator new resolve to it, in the program and inside libc/libstdc++.
// usage: link_check static|shared
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <new>
#include <string>
#include <vector>

#include "check.h"
#include "mallocim.h"

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "shared";
  bool is_static = strcmp(mode, "static") == 0;
  check_init(is_static ? "link_static" : "link_shared", 60);
  printf("%s: im_version %s, LD_PRELOAD=%s\n", g_check.program, im_version(),
         getenv("LD_PRELOAD") ? getenv("LD_PRELOAD") : "(unset)");

  std::string prefix = is_static ? "link_static." : "link_shared.";
  // Where the global symbols resolve.
  {
    std::string name = prefix + "malloc_symbols_resolve_to_library";
    check_begin(name.c_str());
    std::string bad;
    const char* syms[] = {"malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc",
                          "malloc_usable_size", "_Znwm", "_ZdlPv"};
    for (const char* s : syms) {
      void* addr = nullptr;
      const char* owner = check_symbol_owner(s, &addr);
      bool ok;
      if (is_static)  // defined in the executable itself, ahead of libc and libstdc++
        ok = addr && !strstr(owner, "libc.so") && !strstr(owner, "libstdc++") && !strstr(owner, "libmallocim");
      else
        ok = strstr(owner, "libmallocim") != nullptr;
      if (!ok) bad += std::string(" ") + s + " -> " + (owner[0] ? owner : "(nothing)") + ";";
    }
    check_result(name.c_str(), bad.empty(), "%s", bad.c_str());
  }
  if (is_static) {
    std::string name = prefix + "malloc_is_the_library_copy";
    check_begin(name.c_str());
    void* via_dlsym = dlsym(RTLD_DEFAULT, "malloc");
    check_result(name.c_str(), via_dlsym == (void*)&malloc, "dlsym(malloc)=%p, &malloc=%p", via_dlsym,
                 (void*)&malloc);
  }
  // Blocks from every path are the library's.
  {
    std::string name = prefix + "blocks_owned_by_library";
    check_begin(name.c_str());
    std::string bad;
    auto probe = [&](const char* what, void* p) {
      if (!p || !im_owns(p)) bad += std::string(" ") + what + ";";
    };
    void* p = malloc((size_t)check_opaque_size(100)); probe("malloc", p); free(p);
    p = calloc(4, check_opaque_size(25)); probe("calloc", p); free(p);
    p = realloc(nullptr, check_opaque_size(3000)); probe("realloc", p); free(p);
    p = nullptr; if (posix_memalign(&p, 4096, 100) == 0) probe("posix_memalign", p); free(p);
    p = aligned_alloc(64, 128); probe("aligned_alloc", p); free(p);
    p = malloc(check_opaque_size(5u << 20)); probe("malloc(5 MiB)", p); free(p);
    char* s = strdup("inside libc"); probe("strdup", s); free(s);
    p = ::operator new(check_opaque_size(48)); probe("operator new", p); ::operator delete(p);
    p = ::operator new[](check_opaque_size(48), std::align_val_t(512)); probe("operator new[](align)", p);
    ::operator delete[](p, std::align_val_t(512));
    {
      std::vector<std::string> v(100, std::string(100, 'z'));
      probe("std::vector", v.data());
      probe("std::string", v[7].data());
    }
    check_result(name.c_str(), bad.empty(), "%s", bad.c_str());
  }
  {
    std::string name = prefix + "new_handler_and_bad_alloc";
    check_begin(name.c_str());
    bool threw = false;
    try {
      void* p = ::operator new(check_opaque_size(SIZE_MAX));
      (void)p;
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    check_result(name.c_str(), threw, NULL);
  }
  return check_summary();
}
