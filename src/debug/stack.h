// Call stacks for the debug heap's reports: captured with the unwinder, printed with symbol
// names (dladdr) and, where the binary has debug information, file:line (addr2line).
#pragma once
#include <execinfo.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "debug/unwind.h"

namespace mallocim {

constexpr int kStackFrames = 12;

struct Stack {
  void* frames[kStackFrames];
  int depth;
};

// Captures the calling program's stack (the allocator's own frames left out).
void stack_capture(Stack* out);

extern __thread bool t_capturing __attribute__((tls_model("initial-exec")));  // while unwinding
int stack_drop_self(void** frames, int n);  // drops the allocator's frames; returns the depth
// Unwinds the calling program's stack into frames[0, cap), the allocator's own frames left out.
// Inline, so that its caller adds no frame for the unwinder to walk. Returns the depth; 0 when
// called from inside the unwinder (it may allocate).
MI_INLINE int stack_unwind(void** frames, int cap) {
  if (t_capturing) return 0;
  t_capturing = true;
  int n = backtrace(frames, cap);
  t_capturing = false;
  return stack_drop_self(frames, n);
}
// The fast unwinder (debug/unwind.h) where it knows every frame's rule, the general one otherwise.
MI_INLINE int stack_walk(void** frames, int cap) {
  int n = unwind_fast(frames, cap);
  return n >= 0 ? stack_drop_self(frames, n) : stack_unwind(frames, cap);
}
// Loads the unwinders ahead of time, outside any allocation, so capturing never recurses.
void stack_prepare();
// Prints "    #i 0xADDR function file:line (module)" lines on stderr.
void stack_print(const Stack& s);
unsigned long stack_hash(const Stack& s);

// Where a return address lies: its module's path, the call instruction (pc - 1) relative to the
// module (what addr2line takes), and the dynamic symbol if there is one.
struct Frame {
  const char* module;
  uintptr_t vaddr;
  const char* symbol;  // or null
  uintptr_t symbol_addr;
  char path[512];  // holds the main program's path
};
bool stack_locate(uintptr_t pc, Frame* out);

}  // namespace mallocim
