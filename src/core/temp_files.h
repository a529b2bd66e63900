// Clean-up after a process killed while it wrote files through AtomicOutput (core/fs.h).
#pragma once

#include <string>

namespace loid {

// Removes from `dir` (not recursively) the temporary files "<name>.tmp.<pid>" (AtomicOutput's
// names) of processes that are no longer running: what a process killed while writing leaves.
// Those of a running process are kept. Returns how many were removed; a missing dir is none.
int remove_stale_temp_files(const std::string& dir);

}  // namespace loid
