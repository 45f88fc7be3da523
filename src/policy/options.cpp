#include "policy/options.h"

#include "debug/report.h"
#include "platform/os.h"

namespace mallocim {

int64_t g_options[int(Opt::count)] = {
#define MALLOCIM_OPT_DEFAULT(name, def, help) def,
    MALLOCIM_OPTIONS(MALLOCIM_OPT_DEFAULT)
#undef MALLOCIM_OPT_DEFAULT
};

namespace {

char g_profile_path[1024];  // copied: the program may change its environment later

struct OptionInfo {
  const char* env;
  const char* help;
};

const OptionInfo kInfo[] = {
#define MALLOCIM_OPT_INFO(name, def, help) {"MALLOCIM_" #name, help},
    MALLOCIM_OPTIONS(MALLOCIM_OPT_INFO)
#undef MALLOCIM_OPT_INFO
};

// Environment names are upper case: MALLOCIM_PURGE_DELAY_MS.
void upper_name(const char* in, char* out, unsigned cap) {
  unsigned i = 0;
  for (; in[i] && i + 1 < cap; ++i) out[i] = (in[i] >= 'a' && in[i] <= 'z') ? char(in[i] - 32) : in[i];
  out[i] = 0;
}

bool parse_int(const char* s, int64_t* out) {
  bool neg = false;
  if (*s == '-') neg = true, ++s;
  if (*s < '0' || *s > '9') return false;
  int64_t v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  if (*s) return false;
  *out = neg ? -v : v;
  return true;
}

}  // namespace

void options_init() {
  for (int i = 0; i < int(Opt::count); ++i) {
    char name[64];
    upper_name(kInfo[i].env, name, sizeof name);
    const char* v = os::getenv(name);
    if (!v) continue;
    int64_t parsed;
    if (parse_int(v, &parsed))
      option_set(Opt(i), parsed);
    else
      report_warning("ignoring %s=%s: not an integer", name, v);
  }
  if (const char* v = os::getenv("MALLOCIM_PROFILE")) {
    size_t n = 0;
    while (v[n] && n + 1 < sizeof g_profile_path) ++n;
    if (v[n]) report_warning("ignoring MALLOCIM_PROFILE: path longer than %d bytes", int(sizeof g_profile_path) - 1);
    else for (size_t i = 0; i <= n; ++i) g_profile_path[i] = v[i];
  }
  if (option(Opt::verbose)) options_print();
}

const char* option_profile_path() { return g_profile_path; }

void options_print() {
  for (int i = 0; i < int(Opt::count); ++i) {
    char name[64];
    upper_name(kInfo[i].env, name, sizeof name);
    report_line("malloc-im: %s=%d  (%s)", name, int(option(Opt(i))), kInfo[i].help);
  }
  report_line("malloc-im: MALLOCIM_PROFILE=%s  (write a sampled allocation profile to this file)", g_profile_path);
}

}  // namespace mallocim
