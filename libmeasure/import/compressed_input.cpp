#include "import/compressed_input.h"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "support/error.h"

namespace measure::detail {
namespace {

constexpr std::size_t chunk = 1 << 17;

bool starts_with(const std::vector<char>& bytes, std::size_t size, std::initializer_list<unsigned char> magic) {
  if (size < magic.size()) {
    return false;
  }
  std::size_t i = 0;
  for (unsigned char m : magic) {
    if (static_cast<unsigned char>(bytes[i++]) != m) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct CompressedInput::Decoder {
  ZSTD_DStream* zstd = nullptr;
  z_stream zlib{};
  bool zlib_ready = false;
  bool in_frame = false;  // inside a zstd frame or gzip member: its end has not been seen
  bool pending = false;   // the last call filled the output: more may be buffered inside

  ~Decoder() {
    if (zstd != nullptr) {
      ZSTD_freeDStream(zstd);
    }
    if (zlib_ready) {
      inflateEnd(&zlib);
    }
  }
};

CompressedInput::CompressedInput(const std::string& path) : m_path(path), m_in(chunk), m_out(chunk) {
  m_file = std::fopen(path.c_str(), "rb");
  if (m_file == nullptr) {
    throw IoError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  if (std::fseek(m_file, 0, SEEK_END) == 0) {
    long end = std::ftell(m_file);
    m_size = end > 0 ? static_cast<std::uint64_t>(end) : 0;
    std::fseek(m_file, 0, SEEK_SET);
  }
  refill();
  m_decoder = std::make_unique<Decoder>();
  if (starts_with(m_in, m_in_end, {0x28, 0xb5, 0x2f, 0xfd})) {
    m_encoding = Encoding::zstd;
    m_decoder->zstd = ZSTD_createDStream();
    if (m_decoder->zstd == nullptr || ZSTD_isError(ZSTD_initDStream(m_decoder->zstd))) {
      throw IoError(fmt::format("{}: cannot start zstd decompression", path));
    }
  } else if (starts_with(m_in, m_in_end, {0x1f, 0x8b})) {
    m_encoding = Encoding::gzip;
    if (inflateInit2(&m_decoder->zlib, 15 + 16) != Z_OK) {
      throw IoError(fmt::format("{}: cannot start gzip decompression", path));
    }
    m_decoder->zlib_ready = true;
  }
}

CompressedInput::~CompressedInput() {
  if (m_file != nullptr) {
    std::fclose(m_file);
  }
}

std::string_view CompressedInput::encoding() const noexcept {
  switch (m_encoding) {
    case Encoding::zstd:
      return "zstd";
    case Encoding::gzip:
      return "gzip";
    case Encoding::plain:
      break;
  }
  return "uncompressed";
}

bool CompressedInput::refill() {
  if (m_eof) {
    return false;
  }
  std::size_t n = std::fread(m_in.data(), 1, m_in.size(), m_file);
  if (n < m_in.size() && std::ferror(m_file) != 0) {
    throw IoError(fmt::format("{}: cannot read: {}", m_path, std::strerror(errno)));
  }
  m_in_pos = 0;
  m_in_end = n;
  m_consumed += n;
  if (n == 0) {
    m_eof = true;
  }
  return n != 0;
}

std::string_view CompressedInput::read() {
  for (;;) {
    if (m_in_pos == m_in_end && !m_decoder->pending && !refill()) {
      // The data stopped inside a frame: a recording cut off while it was being written.
      m_truncated = m_decoder->in_frame;
      return {};
    }
    const char* in = m_in.data() + m_in_pos;
    std::size_t available = m_in_end - m_in_pos;
    if (m_encoding == Encoding::plain) {
      m_in_pos = m_in_end;
      return {in, available};
    }
    std::size_t produced = 0;
    if (m_encoding == Encoding::zstd) {
      ZSTD_inBuffer input{in, available, 0};
      ZSTD_outBuffer output{m_out.data(), m_out.size(), 0};
      std::size_t hint = ZSTD_decompressStream(m_decoder->zstd, &output, &input);
      if (ZSTD_isError(hint)) {
        throw FormatError(fmt::format("{}: corrupt zstd data ({})", m_path, ZSTD_getErrorName(hint)));
      }
      m_decoder->in_frame = hint != 0;
      m_in_pos += input.pos;
      produced = output.pos;
    } else {
      z_stream& z = m_decoder->zlib;
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
      z.avail_in = static_cast<uInt>(available);
      z.next_out = reinterpret_cast<Bytef*>(m_out.data());
      z.avail_out = static_cast<uInt>(m_out.size());
      m_decoder->in_frame = true;
      int status = inflate(&z, Z_NO_FLUSH);
      if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) {
        throw FormatError(
            fmt::format("{}: corrupt gzip data ({})", m_path, z.msg != nullptr ? z.msg : "inflate failed"));
      }
      m_in_pos += available - z.avail_in;
      produced = m_out.size() - z.avail_out;
      if (status == Z_STREAM_END) {
        // gzip files may hold several members one after another (gzip -c a b > ab.gz).
        m_decoder->in_frame = false;
        inflateReset(&z);
      }
    }
    m_decoder->pending = produced == m_out.size();
    if (produced != 0) {
      return {m_out.data(), produced};
    }
  }
}

}  // namespace measure::detail
