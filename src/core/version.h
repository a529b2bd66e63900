// The project's version and the git description of the source it was built from (recorded in run
// configs so results say which code made them).
#pragma once

namespace loid {

const char* version();      // e.g. "0.1.0"
const char* git_version();  // `git describe --always --dirty` when last built, or "unknown"

}  // namespace loid
