// Messages on stderr without allocating: a tiny formatter (%s %d %u %zu %p %x) and the error
// reports every build prints for a misuse it detects.
#pragma once
#include <stddef.h>

namespace mallocim {

// Formats into buf (always terminated); returns the length.
size_t format(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void report_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void report_warning(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// A misuse by the program (invalid free, double free): one clear block on stderr, then abort
// unless MALLOCIM_ABORT_ON_ERROR=0.
void report_misuse(const char* what, const void* p, const char* detail);

}  // namespace mallocim
