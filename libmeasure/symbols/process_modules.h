// The modules loaded in this process right now, as the runtime records them, for
// symbolizing addresses of the running process (the in-process API).
#pragma once

#include <vector>

#include "format/capture.h"

namespace measure {

/// Every module loaded now, all in generation 0 (the executable under its real path).
std::vector<Module> loaded_modules();

}  // namespace measure
