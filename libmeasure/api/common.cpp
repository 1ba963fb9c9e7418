// Conversions shared by the API's parts, and the small public functions.
#include <cstddef>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "api/api_internal.h"
#include "report/formats.h"
#include "stacks/stack_table.h"
#include "symbols/process_modules.h"

namespace measure {

StackFrame public_frame(const Frame& f) {
  return StackFrame{f.function, f.file, f.line, f.module, f.offset, f.inlined};
}

std::vector<StackFrame> public_frames(const std::vector<Frame>& frames) {
  std::vector<StackFrame> out;
  out.reserve(frames.size());
  for (const Frame& f : frames) {
    out.push_back(public_frame(f));
  }
  return out;
}

Frame internal_frame(const StackFrame& f) {
  return Frame{f.function, f.file, f.line, f.module, f.offset, 0, f.inlined};
}

std::vector<Frame> internal_frames(const std::vector<StackFrame>& frames) {
  std::vector<Frame> out;
  out.reserve(frames.size());
  for (const StackFrame& f : frames) {
    out.push_back(internal_frame(f));
  }
  return out;
}

GroupBy group_by(By by) noexcept {
  switch (by) {
    case By::stack:
      return GroupBy::stack;
    case By::function:
      return GroupBy::function;
    case By::line:
      return GroupBy::line;
    case By::file:
      return GroupBy::file;
    case By::module:
      return GroupBy::module;
  }
  return GroupBy::line;
}

Key detail_access::make_key(const RowKey& k, By by, std::shared_ptr<const std::vector<StackFrame>> frame_table,
                            std::vector<std::uint32_t> frames, std::string identity) {
  Key key;
  key.m_frame_table = std::move(frame_table);
  key.m_frames = std::move(frames);
  key.m_by = by;
  key.m_offset = k.offset.value_or(0);
  key.m_function = k.function.value_or("");
  key.m_file = k.file.value_or("");
  key.m_line = k.line.value_or(0);
  key.m_module = k.module.value_or("");
  key.m_identity = std::move(identity);
  return key;
}

std::string StackFrame::to_string() const {
  return describe_frame(internal_frame(*this), false);
}

std::string Key::to_string() const {
  RowKey k;
  if (!m_function.empty()) {
    k.function = m_function;
  }
  if (!m_file.empty()) {
    k.file = m_file;
  }
  if (m_line != 0) {
    k.line = m_line;
  }
  if (!m_module.empty()) {
    k.module = m_module;
  }
  if (m_offset != 0) {
    k.offset = m_offset;
  }
  return describe_key(k, group_by(m_by), true);
}

bool operator==(const Key& a, const Key& b) noexcept {
  return a.m_by == b.m_by && a.m_identity == b.m_identity;
}

std::vector<StackFrame> Key::stack() const {
  std::vector<StackFrame> out;
  if (m_frame_table) {
    out.reserve(m_frames.size());
    for (std::uint32_t f : m_frames) {
      out.push_back((*m_frame_table)[f]);
    }
  }
  return out;
}

std::shared_ptr<SymbolFiles> shared_symbol_files() {
  static std::mutex mutex;
  // Never destroyed: its control block was allocated untraced, and must not be freed traced
  // at exit.
  static auto* shared = new std::weak_ptr<SymbolFiles>();
  std::lock_guard<std::mutex> lock(mutex);
  std::shared_ptr<SymbolFiles> files = shared->lock();
  if (!files) {
    files = std::make_shared<SymbolFiles>();
    *shared = files;
  }
  return files;
}

std::mutex& symbolization_mutex() noexcept {
  static std::mutex mutex;
  return mutex;
}

std::size_t Key::hash() const noexcept {
  return std::hash<std::string>()(m_identity) ^ static_cast<std::size_t>(m_by);
}

bool runtime_frames(std::uint32_t stack_id, PackedList<std::uint64_t>* frames) {
  measure_rt_stack s{};
  if (rt().size <= offsetof(measure_rt_interface, stack_frames)) {
    // A runtime from before stack_frames: its `stack` hands out the frames themselves.
    if (rt().stack(stack_id, &s) == 0) {
      return false;
    }
    frames->assign(s.frames, s.frames + (s.frames != nullptr ? s.depth : 0));
    return true;
  }
  std::uintptr_t buffer[detail::StackTable::max_frames];
  if (rt().stack_frames(stack_id, buffer, detail::StackTable::max_frames, &s) == 0) {
    return false;
  }
  frames->assign(buffer, buffer + s.depth);
  return true;
}

std::vector<Frame> runtime_stack(std::uint32_t stack_id) {
  Stack stack;
  if (!runtime_frames(stack_id, &stack.frames)) {
    return {};
  }
  Capture capture;
  capture.modules = loaded_modules();
  std::shared_ptr<SymbolFiles> files = shared_symbol_files();
  std::lock_guard<std::mutex> lock(symbolization_mutex());
  Symbolizer symbolizer(capture, files.get());
  return symbolized_stack(stack, symbolizer);
}

std::optional<AllocationSite> allocation_site(const void* block) {
  std::uint32_t stack_id = 0;
  std::uint64_t size = 0;
  if (rt().allocation_site(block, &stack_id, &size) == 0) {
    return std::nullopt;
  }
  Untraced untraced;
  auto frames = std::make_unique<std::vector<Frame>>(runtime_stack(stack_id));
  untraced.pause();
  AllocationSite site{size, public_frames(*frames)};
  untraced.resume();
  frames.reset();
  return site;
}

bool write_capture(const std::string& path) {
  return measure_write_capture(path.empty() ? nullptr : path.c_str()) == 0;
}

}  // namespace measure
