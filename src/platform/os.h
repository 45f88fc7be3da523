// The narrow platform interface: everything the allocator asks of the operating system.
// One implementation per platform (os_linux.cpp). No allocation, no C++ runtime.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace mallocim::os {

enum class ThpMode : uint8_t { unavailable, never, madvise, always };

// Hardware facts, read once at start-up (os::init) and used instead of constants.
struct Hardware {
  size_t page_size;       // base page (AT_PAGESZ)
  size_t cache_line;      // L1 data cache line
  unsigned cpus;          // CPUs this process may run on
};

void init();
const Hardware& hw();

// Transparent huge pages: read from /sys on first use, not at start-up (most processes never ask).
struct Thp {
  ThpMode mode;           // /sys/kernel/mm/transparent_hugepage/enabled
  size_t huge_page_size;  // PMD-sized huge page, 0 when unavailable
};
const Thp& thp();

// Address space. map_aligned returns readable, writable, zeroed memory whose address is a
// multiple of `align` (a power of two >= page size), or nullptr.
void* map_aligned(size_t size, size_t align);
void unmap(void* p, size_t size);
// Gives the pages back to the OS; they read as zero when next touched.
void purge(void* p, size_t size);
void advise_huge_pages(void* p, size_t size);
// Keeps [p, p+size) out of transparent huge pages, whatever the kernel's mode (no-op without THP).
void advise_no_huge_pages(void* p, size_t size);
// Grows or shrinks a mapping in place; false when the address space after it is taken.
bool remap_in_place(void* p, size_t old_size, size_t new_size);
// Moves a mapping's pages (no copy) to `dst`, a reserved range of new_size bytes.
bool remap_to(void* p, size_t old_size, void* dst, size_t new_size);

// 64 random bits from the kernel (the auxiliary vector's AT_RANDOM; getrandom as a fallback).
uint64_t random_u64();

// Which base pages of [p, p+size) are resident: vec[i] & 1 for page i (p page-aligned).
bool residency(const void* p, size_t size, unsigned char* vec);
// Resident bytes of [p, p+size) (p page-aligned); all of it when the kernel cannot tell.
size_t resident_bytes(const void* p, size_t size);

// Monotonic milliseconds (vDSO, no system call on Linux).
uint64_t now_ms();
// Resident set size of the process in bytes (reads /proc/self/statm).
size_t rss_bytes();
// Resident anonymous memory: RSS less the pages of mapped files and shared memory (statm).
size_t anon_rss_bytes();
// Peak resident set size (VmHWM of /proc/self/status), in bytes.
size_t peak_rss_bytes();
// Anonymous memory backed by transparent huge pages (AnonHugePages of /proc/self/smaps_rollup),
// in bytes; 0 when the kernel cannot tell.
size_t anon_huge_bytes();

void write_stderr(const char* s, size_t n);
int process_id();
// The program's short name (/proc/self/comm), for reports.
void program_name(char* buf, size_t cap);
// The executable's full path (/proc/self/exe); false (buf untouched) when it cannot be read.
bool program_path(char* buf, size_t cap);
const char* getenv(const char* name);
[[noreturn]] void abort_process();
void yield_cpu();
// Stable identity of the calling thread (non-zero).
uintptr_t thread_id();

}  // namespace mallocim::os
