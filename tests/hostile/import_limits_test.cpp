// `measure import` on recordings made to exhaust memory: a few kilobytes of zstd whose lines
// decompress to gigabytes. Each is refused with one line and exit status 2, quickly and in
// bounded memory; and an import whose module has an empty name gives a capture that reports.
#include <zstd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using measure::test::write_text;
namespace fs = std::filesystem;

namespace {

// Writes `head`, then `repeat` over and over until `total` bytes, zstd-compressed as it goes:
// a small file that decompresses to gigabytes, never held in memory.
void write_zstd(const std::string& path, const std::string& head, const std::string& repeat, std::uint64_t total) {
  std::ofstream out(path, std::ios::binary);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  REQUIRE(cctx != nullptr);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  std::string block;
  while (block.size() < (1U << 20)) {
    block += repeat;
  }
  std::vector<char> buffer(ZSTD_CStreamOutSize());
  auto feed = [&](std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    for (bool done = false; !done;) {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      std::size_t left = ZSTD_compressStream2(cctx, &o, &in, mode);
      if (ZSTD_isError(left)) {
        FAIL("zstd: " << ZSTD_getErrorName(left));
      }
      out.write(buffer.data(), static_cast<std::streamsize>(o.pos));
      done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
    }
  };
  feed(head, ZSTD_e_continue);
  for (std::uint64_t written = head.size(); written < total; written += block.size()) {
    feed(block, ZSTD_e_continue);
  }
  feed({}, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  REQUIRE(out.good());
}

// `measure import` of a recording of `head` then `repeat` up to `total` bytes, with 4 GiB of
// address space: enough for any honest import of such a small file, and a quick bad_alloc
// instead of a machine brought to its knees for one that is not. It must be refused with one
// line that contains `reason`, and write nothing.
void check_refused(const std::string& head, const std::string& repeat, std::uint64_t total, const std::string& reason) {
  TempDir dir;
  std::string recording = dir.file("hostile.zst");
  write_zstd(recording, head, repeat, total);
  CHECK(fs::file_size(recording) < 200 * 1024);
  ProcessResult r = run_process({"bash", "-c", "ulimit -v 4194304 && exec \"$@\"", "bash", tool_path(), "import",
                                 recording, "-o", dir.file("out.msr")});
  check_one_line_error(r, recording + ": refused: " + reason);
  CHECK_FALSE(fs::exists(dir.file("out.msr")));
}

}  // namespace

TEST_CASE("hostile limits: a recording whose second line is 3 GB long is refused in one line") {
  check_refused("v 10400 3\ns ", "x", std::uint64_t{3} << 30,
                "line 2 is longer than 16 MiB (corrupt, or made to exhaust memory)");
}

TEST_CASE("hostile limits: a recording of a billion tiny strings is refused before memory runs out") {
  check_refused("v 10400 3\n", "s 1 x\n", std::uint64_t{1} << 30,
                "importing it would take more than 256 MiB of memory");
}

TEST_CASE("hostile limits: an imported module with an empty name reports") {
  // Its module entry is 6 bytes, the smallest the format has.
  TempDir dir;
  std::string recording = dir.file("empty-module.app");
  write_text(recording, "v 10400 3\nX ./app\ns 4 main\ns 0\ni 1000 2 1\nt 1 0\na 40 1\n+ 0\n# strings: 2\n");
  ProcessResult imported = run_process({tool_path(), "import", recording, "-o", dir.file("i.msr")});
  REQUIRE_MESSAGE(imported.status() == 0, imported.err);
  ProcessResult report = run_process({tool_path(), "report", dir.file("i.msr")});
  CHECK_MESSAGE(report.status() == 0, report.err);
  CHECK(report.out.find("main") != std::string::npos);
}
