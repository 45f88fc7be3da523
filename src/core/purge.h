// Deferred purge: memory that stays free for MALLOCIM_PURGE_DELAY_MS goes back to the OS. Driven
// from the slow paths (page retirement, large frees), at most one thread at a time.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "core/config.h"
#include "core/lock.h"

namespace mallocim {

// Called where memory is freed for good (a page back to the pool, a large block, a thread's
// exit); purges what is due. Returns bytes released.
size_t purge_tick(uint64_t now_ms);
// The same without noting a free (the background thread).
size_t purge_due(uint64_t now_ms);
// When memory was last freed through purge_tick.
extern std::atomic<uint64_t> g_last_free_ms MI_HIDDEN;
// Everything free goes back now (malloc_trim); returns bytes released.
size_t purge_all();
SpinLock& purge_lock();

// Reuse through the OS. A layer that is about to fault in `bytes` of fresh memory says so here;
// once about 1 MiB has added up, as much free but resident memory of the other side (small pages:
// the oldest empty ones; large and huge blocks: free spans largest first, the oldest cached huge
// blocks) goes back to the OS first. RSS then stays flat while a program's use moves from one
// kind of block to another, instead of holding the old kind's free memory until the purge delay
// ends.
enum class Layer { small, large, huge };
void purge_pressure(size_t bytes, Layer from);
// Fresh memory that is counted but traded against nothing (a huge block grown by realloc: large
// and huge blocks are one side). purge_pressure counts its bytes too.
void purge_count_fresh(size_t bytes);

// Growth from outside. Every purge_due pass (a quarter of the delay) compares the process's
// anonymous RSS (mapped files left out: their pages are the kernel's cache) with what the
// allocator counted as fresh since the last pass; more than 2 MiB beyond that was
// faulted in by someone else (an interpreter's own arenas, mapped buffers, thread stacks, another
// allocator), and as much free but resident memory goes back: empty pages, free large spans,
// cached huge blocks, oldest first. Python's pymalloc arenas come from mmap, not malloc: the
// memory a dropped structure left here stayed resident for the purge delay while the next
// phase's arenas grew beside it.
// Called with the purge lock held; returns bytes released.
size_t purge_external();

}  // namespace mallocim
