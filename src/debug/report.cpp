#include "debug/report.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "platform/os.h"
#include "policy/options.h"

namespace mallocim {
namespace {

struct Out {
  char* buf;
  size_t cap, len;
  void put(char c) {
    if (len + 1 < cap) buf[len++] = c;
  }
  void puts(const char* s) {
    while (*s) put(*s++);
  }
  void num(uint64_t v, unsigned base, int min_digits = 1) {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = "0123456789abcdef"[v % base];
      v /= base;
    } while (v);
    while (n < min_digits) tmp[n++] = '0';
    while (n) put(tmp[--n]);
  }
};

size_t vformat(char* buf, size_t cap, const char* fmt, va_list ap) {
  Out o{buf, cap, 0};
  for (const char* f = fmt; *f; ++f) {
    if (*f != '%') {
      o.put(*f);
      continue;
    }
    ++f;
    unsigned width = 0;  // right-aligned field width, for %Ns only
    while (*f >= '0' && *f <= '9') width = width * 10 + unsigned(*f++ - '0');
    bool z = false;
    if (*f == 'z') z = true, ++f;
    switch (*f) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        for (size_t n = strlen(s); n < width; ++n) o.put(' ');
        o.puts(s);
        break;
      }
      case 'd': {
        int64_t v = z ? int64_t(va_arg(ap, size_t)) : va_arg(ap, int);
        if (v < 0) o.put('-'), v = -v;
        o.num(uint64_t(v), 10);
        break;
      }
      case 'u': o.num(z ? va_arg(ap, size_t) : va_arg(ap, unsigned), 10); break;
      case 'x': o.num(z ? va_arg(ap, size_t) : va_arg(ap, unsigned), 16); break;
      case 'p':
        o.puts("0x");
        o.num(uintptr_t(va_arg(ap, void*)), 16);
        break;
      case '%': o.put('%'); break;
      default: o.put('%'); o.put(*f); break;
    }
    if (!*f) break;
  }
  if (cap) buf[o.len < cap ? o.len : cap - 1] = 0;
  return o.len;
}

void vreport(const char* prefix, const char* fmt, va_list ap) {
  char buf[512];
  size_t n = 0;
  while (prefix[n]) buf[n] = prefix[n], ++n;
  n += vformat(buf + n, sizeof buf - n - 1, fmt, ap);
  buf[n++] = '\n';
  os::write_stderr(buf, n);
}

}  // namespace

size_t format(char* buf, size_t cap, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}

void report_line(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("", fmt, ap);
  va_end(ap);
}

void report_warning(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("malloc-im: warning: ", fmt, ap);
  va_end(ap);
}

void report_misuse(const char* what, const void* p, const char* detail) {
  report_line("malloc-im: error: %s of pointer %p: %s", what, p, detail);
  if (option(Opt::abort_on_error)) {
    report_line("malloc-im: aborting (set MALLOCIM_ABORT_ON_ERROR=0 to report and continue)");
    os::abort_process();
  }
}

}  // namespace mallocim
