#include "symbols/process_modules.h"

#include "platform/platform.h"

namespace measure {

std::vector<Module> loaded_modules() {
  std::vector<Module> modules;
  detail::platform::for_each_module(
      [](const detail::platform::ModuleView& view, void* context) {
        auto* out = static_cast<std::vector<Module>*>(context);
        Module m;
        m.path = view.path;
        if (m.path.empty()) {
          char exe[4096];
          if (detail::platform::executable_path(exe, sizeof exe)) {
            m.path = exe;
          }
        }
        m.build_id.assign(reinterpret_cast<const char*>(view.build_id), view.build_id_size);
        m.load_bias = view.load_bias;
        for (std::size_t i = 0; i < view.segment_count; ++i) {
          m.segments.push_back(
              {view.segments[i].vaddr, view.segments[i].memsz, view.segments[i].offset, view.segments[i].flags});
        }
        out->push_back(std::move(m));
      },
      &modules);
  return modules;
}

}  // namespace measure
