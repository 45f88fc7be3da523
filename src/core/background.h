// The background thread: returns memory that stays free to the OS while the program is quiet
// (makes no allocator calls), and takes the profile's snapshots while it sleeps. Started lazily,
// the first time memory is freed that may go back to the OS, never during start-up or exit;
// MALLOCIM_BACKGROUND_THREAD=0 leaves all of that to the slow paths.
#pragma once
#include <stdint.h>

namespace mallocim {

// From a slow path that freed memory: starts the thread if it is not running yet.
void background_wanted();
bool background_running();
void background_fork_child();  // the thread did not survive the fork: start it again when wanted

}  // namespace mallocim
