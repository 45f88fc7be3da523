/* malloc-im public API.
 *
 * Programs do not need this header: preloading or linking libmallocim replaces malloc, free and
 * the C++ operators. The im_* functions give direct access to the allocator and its figures. */
#ifndef MALLOCIM_H
#define MALLOCIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MALLOCIM_API __attribute__((visibility("default")))
#else
#define MALLOCIM_API
#endif

#define MALLOCIM_VERSION_STRING "0.1.0"

MALLOCIM_API void* im_malloc(size_t size);
MALLOCIM_API void* im_calloc(size_t count, size_t size);
MALLOCIM_API void* im_realloc(void* p, size_t size);
MALLOCIM_API void* im_aligned_alloc(size_t alignment, size_t size); /* any power of two */
MALLOCIM_API void im_free(void* p);
/* Usable bytes of a block this allocator returned (>= the request); 0 for NULL. */
MALLOCIM_API size_t im_usable_size(const void* p);
/* Non-zero when p is the start of a live block of this allocator. */
MALLOCIM_API int im_owns(const void* p);
/* Returns free memory to the OS now (what the delayed purge would do later). Returns bytes released. */
MALLOCIM_API size_t im_trim(void);

/* Figures of the whole process. All byte counts are exact at the moment of the call (up to frees
 * from other threads still in flight). */
struct im_stats {
  size_t live_bytes;       /* usable bytes of live blocks */
  size_t small_live_bytes; /* of which in small size classes */
  size_t large_live_bytes; /* of which in boundary-tag regions */
  size_t huge_live_bytes;  /* of which in directly mapped blocks */
  size_t free_bytes;       /* free bytes the allocator holds that are (or may be) resident */
  size_t mapped_bytes;     /* address space mapped from the OS (segments, regions, huge blocks) */
  size_t purged_bytes;     /* mapped but not resident: given back to the OS, or never touched */
  size_t metadata_bytes;   /* headers and page descriptors */
  size_t huge_blocks;      /* directly mapped blocks */
  size_t segments;         /* small-object segments */
  size_t large_regions;    /* boundary-tag regions */
  size_t threads_seen;     /* thread heaps created since start */
  size_t threads_live;     /* thread heaps in use now */
};
MALLOCIM_API void im_stats_get(struct im_stats* out);
/* The memory summary (what MALLOCIM_STATS=1 prints at exit) on stderr, now. */
MALLOCIM_API void im_stats_print(void);

MALLOCIM_API const char* im_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MALLOCIM_H */
