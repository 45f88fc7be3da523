#include "debug/stack.h"

#include <dlfcn.h>
#include <link.h>
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debug/report.h"
#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {

__thread bool t_capturing __attribute__((tls_model("initial-exec")));

namespace {

// The address range of this library: frames inside it are the allocator's, not the program's.
uintptr_t g_self_lo = 0, g_self_hi = 0;

int find_self(struct dl_phdr_info* info, size_t, void* data) {
  uintptr_t target = reinterpret_cast<uintptr_t>(data);
  uintptr_t lo = ~uintptr_t(0), hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph.p_vaddr;
    if (a < lo) lo = a;
    if (a + ph.p_memsz > hi) hi = a + ph.p_memsz;
  }
  if (target < lo || target >= hi) return 0;
  g_self_lo = lo;
  g_self_hi = hi;
  return 1;
}

bool in_self(void* pc) { return uintptr_t(pc) >= g_self_lo && uintptr_t(pc) < g_self_hi; }

constexpr const char* kAddr2line = "/usr/bin/addr2line";

// Runs addr2line on one address; fills func and loc ("file:line"). Uses vfork and exec so that
// nothing is allocated and no fork handler runs.
bool addr2line(const char* module, uintptr_t addr, char* func, size_t fcap, char* loc, size_t lcap) {
  if (!option(Opt::debug_symbolize) || access(kAddr2line, X_OK) != 0) return false;
  int fd[2];
  if (pipe(fd) != 0) return false;
  char hex[24];
  format(hex, sizeof hex, "0x%zx", size_t(addr));
  const char* argv[] = {kAddr2line, "-C", "-f", "-e", module, hex, nullptr};
  pid_t pid = vfork();
  if (pid == 0) {
    dup2(fd[1], 1);
    int null = open("/dev/null", 0);
    if (null >= 0) dup2(null, 2);
    // A clean environment: addr2line must not run under this library (its own leak report would
    // call addr2line again); should it be preloaded anyway (ld.so.preload), reports stay off.
    const char* envp[] = {"LC_ALL=C", "MALLOCIM_DEBUG_LEAKS=0", "MALLOCIM_DEBUG_SYMBOLIZE=0", nullptr};
    execve(kAddr2line, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    _exit(127);
  }
  close(fd[1]);
  char buf[1024];
  size_t n = 0;
  for (ssize_t r; n + 1 < sizeof buf && (r = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0;) n += size_t(r);
  buf[n] = 0;
  close(fd[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  if (pid <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
  char* nl = strchr(buf, '\n');
  if (!nl) return false;
  *nl = 0;
  char* second = nl + 1;
  if (char* nl2 = strchr(second, '\n')) *nl2 = 0;
  format(func, fcap, "%s", buf);
  format(loc, lcap, "%s", second);
  return strcmp(func, "??") != 0;
}

}  // namespace

int stack_drop_self(void** frames, int n) {
  if (g_self_hi == 0) dl_iterate_phdr(find_self, reinterpret_cast<void*>(&stack_prepare));
  int i = 0;
  while (i < n && in_self(frames[i])) ++i;
  for (int j = i; j < n; ++j) frames[j - i] = frames[j];
  return n - i;
}

void stack_capture(Stack* out) {
  void* buf[kStackFrames + 16];
  int n = stack_walk(buf, kStackFrames + 16);
  out->depth = n < kStackFrames ? n : kStackFrames;
  memcpy(out->frames, buf, sizeof(void*) * size_t(out->depth));
}

void stack_prepare() {
  dl_iterate_phdr(find_self, reinterpret_cast<void*>(&stack_prepare));
  void* buf[2];
  t_capturing = true;
  backtrace(buf, 2);  // loads the unwinder now
  t_capturing = false;
  unwind_init();
}

bool stack_locate(uintptr_t pc, Frame* out) {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(pc - 1), &info) || !info.dli_fname) return false;
  out->module = info.dli_fname;
  // The main program: dladdr gives its name as started.
  if (out->module[0] != '/' && os::program_path(out->path, sizeof out->path)) out->module = out->path;
  // Shared objects and PIE programs are looked up by offset, fixed-address programs by address.
  auto* ehdr = static_cast<const Elf64_Ehdr*>(info.dli_fbase);
  out->vaddr = pc - 1 - (ehdr && ehdr->e_type == ET_DYN ? uintptr_t(info.dli_fbase) : 0);
  out->symbol = info.dli_sname;
  out->symbol_addr = uintptr_t(info.dli_saddr);
  return true;
}

void stack_print(const Stack& s) {
  if (s.depth == 0) {
    report_line("    (no stack)");
    return;
  }
  for (int i = 0; i < s.depth; ++i) {
    uintptr_t pc = uintptr_t(s.frames[i]);
    Frame fr;
    if (!stack_locate(pc, &fr)) {
      report_line("    #%d %p", i, s.frames[i]);
      continue;
    }
    const char* module = fr.module;
    const char* base = strrchr(module, '/') ? strrchr(module, '/') + 1 : module;
    uintptr_t lookup = fr.vaddr;
    char func[256], loc[256];
    if (addr2line(module, lookup, func, sizeof func, loc, sizeof loc)) {
      if (strncmp(loc, "??", 2) == 0)
        report_line("    #%d %p %s (%s)", i, s.frames[i], func, base);
      else
        report_line("    #%d %p %s %s (%s)", i, s.frames[i], func, loc, base);
    } else if (fr.symbol) {
      report_line("    #%d %p %s+0x%zx (%s)", i, s.frames[i], fr.symbol, size_t(pc - fr.symbol_addr), base);
    } else {
      report_line("    #%d %p (%s+0x%zx)", i, s.frames[i], base, size_t(lookup));
    }
  }
}

unsigned long stack_hash(const Stack& s) {
  unsigned long h = 1469598103934665603ul;
  for (int i = 0; i < s.depth; ++i) h = (h ^ uintptr_t(s.frames[i])) * 1099511628211ul;
  return h;
}

}  // namespace mallocim
