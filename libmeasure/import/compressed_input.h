// Reading a data file that may be compressed, in chunks, without holding it in memory: zstd
// and gzip are recognized by their magic numbers (not by the file name), anything else is
// read as it is. Importers parse recordings of gigabytes through this.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace measure::detail {

class CompressedInput {
 public:
  /// Opens `path`. Throws IoError when it cannot be opened or read.
  explicit CompressedInput(const std::string& path);
  ~CompressedInput();
  CompressedInput(const CompressedInput&) = delete;
  CompressedInput& operator=(const CompressedInput&) = delete;

  /// The next decompressed bytes (valid until the next call), empty at the end of the data.
  /// Throws FormatError naming the file when the compressed data is corrupt, and IoError when
  /// the file cannot be read. Compressed data that simply stops (a recording cut off while it
  /// was written) ends the data early and sets truncated() instead.
  std::string_view read();

  /// True when the compressed data ended in the middle of a frame or stream.
  bool truncated() const noexcept { return m_truncated; }
  /// "zstd", "gzip" or "uncompressed".
  std::string_view encoding() const noexcept;
  /// Bytes of the file consumed so far, and the file's size: progress for long imports.
  std::uint64_t consumed() const noexcept { return m_consumed; }
  std::uint64_t size() const noexcept { return m_size; }

 private:
  enum class Encoding { plain, zstd, gzip };
  struct Decoder;

  // Reads more of the file into m_in; false at the end of the file.
  bool refill();

  std::string m_path;
  std::FILE* m_file = nullptr;
  Encoding m_encoding = Encoding::plain;
  std::unique_ptr<Decoder> m_decoder;
  std::vector<char> m_in;  // compressed bytes read from the file
  std::size_t m_in_pos = 0;
  std::size_t m_in_end = 0;
  std::vector<char> m_out;  // decompressed bytes handed out by read()
  std::uint64_t m_consumed = 0;
  std::uint64_t m_size = 0;
  bool m_eof = false;
  bool m_truncated = false;
};

}  // namespace measure::detail
