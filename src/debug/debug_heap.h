// The debug heap: what libmallocim-debug.so puts between the program and the core allocator.
// Every block gets a header (size, how it was allocated, the allocating stack, a live/freed
// mark) and canaries on both sides; freed blocks are poisoned and held in a quarantine, so that
// double frees, invalid frees, overflows, underflows, writes after free and mismatched deletes
// are reported with the stacks that allocated and freed the block. Reports: debug/report.h.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace mallocim {

enum class AllocKind : uint8_t { malloc_family, new_scalar, new_array };

constexpr size_t kUnknownSize = ~size_t(0);

void* debug_allocate(size_t size, size_t align, AllocKind kind);
void* debug_callocate(size_t count, size_t size);
void* debug_reallocate(void* p, size_t size);
// sized: the size operator delete was given, or kUnknownSize.
void debug_release(void* p, AllocKind kind, size_t sized);
size_t debug_usable(const void* p);
// At exit: checks every live and quarantined block, reports leaks when asked to.
void debug_at_exit();

}  // namespace mallocim
