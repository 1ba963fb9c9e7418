// Where the tools may draw status lines: standard error when it is a terminal, and the
// controlling terminal when the measured program's output cannot be on it. The only
// terminal-specific code in the tools (POSIX: terminal_posix.cpp).
#pragma once

#include <string>
#include <string_view>

namespace measure::tools {

/// True when standard error is a terminal (not a file, pipe or /dev/null).
bool stderr_is_terminal() noexcept;

/// The controlling terminal, opened for writing, when something can be drawn on it without
/// mixing into a program's output: standard output and standard error are not terminals
/// (the program started with them writes elsewhere) and this process is in the terminal's
/// foreground process group (not a background job). -1 otherwise. The caller closes it.
int open_free_terminal() noexcept;

/// Writes all of `text` to `fd`, retrying short writes and EINTR; errors are ignored (a
/// status line is never worth failing a command for).
void write_all(int fd, std::string_view text) noexcept;

/// The width of the terminal `fd` in columns; 80 when it cannot be told.
unsigned terminal_columns(int fd) noexcept;

/// Closes a descriptor from open_free_terminal().
void close_terminal(int fd) noexcept;

/// Terminal sequences: return to the start of the line and erase it.
inline constexpr std::string_view erase_line = "\r\033[K";

/// `text` cut to fit in one line of `columns` (a wrapped line cannot be redrawn with \r).
std::string fit_line(std::string_view text, unsigned columns);

}  // namespace measure::tools
