// The heaptrack importer (import/heaptrack.h) on small recordings written by hand in heaptrack's
// interpreted format, so every number is known: call sites and their stacks, counts and bytes,
// each site's part of the global peak, heaptrack's temporaries, the symbols that come along,
// what a cut-off recording keeps (plain, gzip and zstd), and the exact refusals.
// (integrations/heaptrack_import_test.cpp records a real program with the real heaptrack.)
#include "import/heaptrack.h"

#include <zlib.h>
#include <zstd.h>

#include <ostream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "format/capture_format.h"
#include "support/error.h"
#include "support/subprocess.h"

namespace measure {

std::ostream& operator<<(std::ostream& out, const Metrics& m) {
  return out << "{alloc " << m.alloc_count << " / " << m.alloc_bytes << " B, free " << m.free_count << " / "
             << m.freed_bytes << " B, live " << m.live_count << " / " << m.live_bytes << " B, peak " << m.peak_bytes
             << " B, temporary " << m.temporary_count << "}";
}

namespace {

using namespace std::string_literals;
using test::TempDir;
using test::write_text;

// The metrics in the glossary's order: alloc_count, alloc_bytes, free_count, freed_bytes,
// live_count, live_bytes, peak_bytes, temporary_count.
Metrics metrics(std::uint64_t allocs, std::uint64_t bytes, std::uint64_t frees, std::uint64_t freed,
                std::uint64_t live_count, std::uint64_t live, std::uint64_t peak, std::uint64_t temporary) {
  return Metrics{allocs, bytes, frees, freed, live_count, live, peak, temporary};
}

// A program whose main() calls parse(), which allocates 100 bytes, helper() inlined into
// parse(), which allocates 1000, and render(), which allocates 16; and 32 bytes without a
// stack. File format 3: strings carry their length.
const std::string header =
    "v 10400 3\n"
    "X ./app --port 8080\n"
    "I 1000 5e293f\n"
    "s 3 app\n"    // string 1: the module
    "s 4 main\n"   // 2
    "s 5 app.c\n"  // 3
    "s 5 parse\n"  // 4
    "s 6 helper\n"
    "s 6 render\n"
    "i 401000 1 2 3 a\n"          // address 1: main at app.c:10
    "t 1 0\n"                     // trace 1: main
    "i 401100 1 4 3 14\n"         // address 2: parse at app.c:20
    "t 2 1\n"                     // trace 2: main > parse
    "i 401200 1 5 3 1e 4 3 15\n"  // address 3: helper at app.c:30, inlined into parse at app.c:21
    "t 3 1\n"                     // trace 3: main > parse (helper)
    "i 401300 1 6 3 28\n"         // address 4: render at app.c:40
    "t 4 1\n"                     // trace 4: main > render
    "a 64 2\n"                    // record 0: 100 bytes at trace 2 (parse)
    "a 3e8 3\n"                   // record 1: 1000 bytes at trace 3 (helper)
    "a 10 4\n"                    // record 2: 16 bytes at trace 4 (render)
    "a 20 0\n";                   // record 3: 32 bytes without a stack

// The events, in heaptrack's one global order, and the live bytes after each.
const std::string events =
    "+ 0\n"  // 100: the first peak
    "+ 0\n"  // 200
    "+ 1\n"  // 1200
    "- 1\n"  // 200: a temporary (right after its own allocation)
    "+ 2\n"  // 216
    "- 2\n"  // 200: a temporary
    "- 0\n"  // 100: right after another free, not a temporary (heaptrack_print counts it)
    "+ 2\n"  // 116
    "+ 1\n"  // 1116: below the peak of 1200
    "+ 0\n"  // 1216: the global peak (parse 200, helper 1000, render 16)
    "- 1\n"  // 216: after another allocation, not a temporary
    "+ 3\n"  // 248
    "c 1f4\n"
    "R 3c\n";

const std::string summary = "# strings: 6\n# ips: 4\n";

const std::string version_warning =
    "imported from a heaptrack 1.4.0 recording: no pids, threads or exit status; temporary = freed right after an "
    "allocation of the same size and stack (heaptrack's definition, see docs/integrations.md)";
const std::string incomplete_warning =
    "the heaptrack recording is incomplete (cut off while it was written): the counts stop at its last complete line";

Capture import_text(const TempDir& dir, const std::string& text) {
  std::string path = dir.file("recording");
  write_text(path, text);
  return import_heaptrack(path);
}

// The message of the FormatError importing `text` throws, with the file's path as "P".
std::string refusal(const std::string& text) {
  TempDir dir;
  std::string path = dir.file("recording");
  write_text(path, text);
  try {
    import_heaptrack(path);
  } catch (const FormatError& e) {
    std::string message = e.what();
    REQUIRE(message.rfind(path + ": ", 0) == 0);
    return "P" + message.substr(path.size());
  }
  FAIL("imported without an error");
  return {};
}

// Compressed recordings: zstd frames and gzip members, each from a part of the text.
std::string zstd_frame(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  std::size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  REQUIRE_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A gzip stream of `first` then `second`, flushed in between; `*first_end` is where the
// compressed bytes of `first` end (a decoder given exactly that much has produced all of
// `first` and nothing else, and is still inside the stream).
std::string gzip_two_parts(const std::string& first, const std::string& second, std::size_t* first_end) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, first.size() + second.size()) + 64, '\0');
  auto feed = [&](const std::string& part, int flush) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part.data()));
    z.avail_in = static_cast<uInt>(part.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    int status = deflate(&z, flush);
    REQUIRE((status == Z_OK || status == Z_STREAM_END));
    REQUIRE(z.avail_in == 0);
  };
  feed(first, Z_FULL_FLUSH);
  *first_end = z.total_out;
  feed(second, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void check_complete(const Capture& c) {
  CHECK(c.program.flags == format::program_final);
  CHECK_FALSE(c.partial());
  CHECK(c.warnings == std::vector<std::string>{version_warning});
}

// The capture of `header` and the events up to and including the first "+ 1" (the state the
// cut-off recordings below keep): parse 200 bytes, helper 1000, the peak 1200.
void check_first_three_events(const Capture& c) {
  REQUIRE(c.sites.size() == 2);
  CHECK(c.sites[0].metrics == metrics(2, 200, 0, 0, 2, 200, 200, 0));
  CHECK(c.sites[1].metrics == metrics(1, 1000, 0, 0, 1, 1000, 1000, 0));
  CHECK(c.totals.peak_bytes == 1200);
  CHECK(c.partial());
  CHECK(c.warnings == std::vector<std::string>{version_warning, incomplete_warning});
}

}  // namespace

TEST_CASE("heaptrack import: call sites, their stacks, counts, peaks and temporaries, exactly") {
  TempDir dir;
  Capture c = import_text(dir, header + events + summary);
  check_complete(c);

  // One site per heaptrack trace that allocated; the stackless one first.
  REQUIRE(c.sites.size() == 4);
  REQUIRE(c.stacks.size() == 4);
  CHECK(c.sites[0].stack == 0);
  CHECK(c.stacks[0].frames.empty());
  CHECK(c.sites[0].metrics == metrics(1, 32, 0, 0, 1, 32, 0, 0));  // allocated after the peak
  // parse: 3 x 100 bytes, one freed; 200 bytes live at the peak.
  CHECK(c.stacks[c.sites[1].stack].frames == std::vector<std::uint64_t>{0x401100, 0x401000});
  CHECK(c.sites[1].metrics == metrics(3, 300, 1, 100, 2, 200, 200, 0));
  // helper (inlined into parse): 2 x 1000 bytes, both freed, one right after its allocation.
  CHECK(c.stacks[c.sites[2].stack].frames == std::vector<std::uint64_t>{0x401200, 0x401000});
  CHECK(c.sites[2].metrics == metrics(2, 2000, 2, 2000, 0, 0, 1000, 1));
  // render: 2 x 16 bytes, one freed as a temporary; live, untouched since the peak.
  CHECK(c.stacks[c.sites[3].stack].frames == std::vector<std::uint64_t>{0x401300, 0x401000});
  CHECK(c.sites[3].metrics == metrics(2, 32, 1, 16, 1, 16, 16, 1));
  for (const Stack& s : c.stacks) {
    CHECK(s.flags == 0);
  }

  // Totals add up; the peak is the global one, and the sites' parts of it sum to it.
  CHECK(c.totals == metrics(8, 2364, 4, 2116, 4, 248, 1216, 2));
  CHECK(c.sites[0].metrics.peak_bytes + c.sites[1].metrics.peak_bytes + c.sites[2].metrics.peak_bytes +
            c.sites[3].metrics.peak_bytes ==
        c.totals.peak_bytes);

  // The program: its command line, mode, depth, duration and resident memory (60 pages of 4 KiB).
  CHECK(c.program.executable == "./app");
  CHECK(c.program.arguments == std::vector<std::string>{"./app", "--port", "8080"});
  CHECK(c.program.mode == CaptureMode::exact);
  CHECK(c.program.depth == 2);
  CHECK(c.program.duration_ns == 500'000'000);
  CHECK(c.program.pid == 0);
  CHECK_FALSE(c.program.exit.has_value());
  CHECK(c.resident_bytes == 60 * 4096);
  CHECK(c.timeline.empty());
}

TEST_CASE("heaptrack import: heaptrack's symbols come along for every address, inlined frames included") {
  TempDir dir;
  Capture c = import_text(dir, header + events + summary);
  CHECK(c.symbols.strings == std::vector<std::string>{"app", "main", "app.c", "parse", "helper", "render"});
  REQUIRE(c.symbols.addresses.size() == 4);
  const AddressSymbols* main_frame = c.symbols.find(0x401000);
  REQUIRE(main_frame != nullptr);
  CHECK(main_frame->module == 1);
  CHECK(main_frame->offset == 0);  // heaptrack does not record where modules were loaded
  CHECK(main_frame->frames == std::vector<SymbolFrame>{{2, 3, 10}});
  const AddressSymbols* helper = c.symbols.find(0x401200);
  REQUIRE(helper != nullptr);
  CHECK(helper->frames == std::vector<SymbolFrame>{{5, 3, 30}, {4, 3, 21}});  // helper, inlined into parse
  const AddressSymbols* render = c.symbols.find(0x401300);
  REQUIRE(render != nullptr);
  CHECK(render->frames == std::vector<SymbolFrame>{{6, 3, 40}});
  CHECK(c.symbols.find(0x401400) == nullptr);
  for (std::size_t i = 1; i < c.symbols.addresses.size(); ++i) {
    CHECK(c.symbols.addresses[i - 1].address < c.symbols.addresses[i].address);
  }
  REQUIRE(c.modules.size() == 1);
  CHECK(c.modules[0].path == "app");
  CHECK(c.modules[0].build_id.empty());
  CHECK(c.modules[0].segments.empty());
}

TEST_CASE("heaptrack import: file formats 1 and 2 (strings without lengths), and heaptrack 1.0's header") {
  TempDir dir;
  // Strings are the rest of the line, spaces included; an address without symbols has only
  // its module.
  const std::string body =
      "X ./old\n"
      "s ./old\n"
      "s parse(char const*, int)\n"
      "i 500000 1 2\n"
      "i 500010 1\n"
      "t 1 0\n"
      "t 2 1\n"
      "a 8 2\n"
      "+ 0\n"
      "+ 0\n"
      "- 0\n"
      "# strings: 2\n";
  for (const char* version : {"v 10200\n", "v 10300 1\n", "v 10300 2\n"}) {
    CAPTURE(version);
    Capture c = import_text(dir, version + body);
    REQUIRE(c.sites.size() == 1);
    CHECK(c.sites[0].metrics == metrics(2, 16, 1, 8, 1, 8, 16, 1));
    CHECK(c.stacks[c.sites[0].stack].frames == std::vector<std::uint64_t>{0x500010, 0x500000});
    CHECK(c.symbols.strings == std::vector<std::string>{"./old", "parse(char const*, int)"});
    REQUIRE(c.symbols.addresses.size() == 2);
    CHECK(c.symbols.addresses[0].frames == std::vector<SymbolFrame>{{2, 0, 0}});
    CHECK(c.symbols.addresses[1].frames.empty());
    CHECK(c.modules.size() == 1);
  }
  CHECK(import_text(dir, "v 10200\n" + body).warnings[0].rfind("imported from a heaptrack 1.2.0 recording", 0) == 0);
}

TEST_CASE("heaptrack import: what the warnings say, and NUL bytes in the command line and module names") {
  TempDir dir;
  // Attached to a running process, a leak suppression, a record of a newer heaptrack, comments.
  Capture attached = import_text(dir, header + "A\nS leak_*\nZ 1 2 3\n# a comment\n" + events + summary);
  CHECK(attached.totals == metrics(8, 2364, 4, 2116, 4, 248, 1216, 2));
  CHECK(attached.warnings ==
        std::vector<std::string>{version_warning,
                                 "heaptrack attached to a running process: allocations made before it attached are "
                                 "missing",
                                 "1 lines of a kind this measure does not know were skipped"});

  // A NUL byte ends an argument and a module's name (no file name holds one).
  Capture nul = import_text(dir, "v 10400 3\nX ./a\0b c\ns 8 lib\0x.so\ni 10 1\nt 1 0\na 8 1\n+ 0\n"s + summary);
  CHECK(nul.program.arguments == std::vector<std::string>{"./a", "b", "c"});
  REQUIRE(nul.modules.size() == 1);
  CHECK(nul.modules[0].path == "lib");
  CHECK(nul.symbols.strings == std::vector<std::string>{"lib\0x.so"s});
}

TEST_CASE("heaptrack import: a recording cut off keeps its complete lines and says so") {
  TempDir dir;
  // The part every cut below keeps, and the rest.
  const std::string kept = header + "+ 0\n+ 0\n+ 1\n";
  const std::string rest = events.substr(12) + summary;
  REQUIRE(kept + rest == header + events + summary);

  SUBCASE("uncompressed: no closing summary, and a last line without its newline") {
    check_first_three_events(import_text(dir, kept));
    check_first_three_events(import_text(dir, kept + "- 1"));  // the free is not counted
  }
  SUBCASE("zstd: one whole frame, and a second frame cut before its first block ends") {
    std::string whole = zstd_frame(kept);
    std::string second = zstd_frame(rest);
    write_text(dir.file("cut.zst"), whole + second.substr(0, second.size() / 2));
    check_first_three_events(import_heaptrack(dir.file("cut.zst")));
    write_text(dir.file("whole.zst"), whole + second);
    check_complete(import_heaptrack(dir.file("whole.zst")));
  }
  SUBCASE("gzip: cut right after the part a full flush ended") {
    std::size_t first_end = 0;
    std::string gz = gzip_two_parts(kept, rest, &first_end);
    write_text(dir.file("cut.gz"), gz.substr(0, first_end));
    check_first_three_events(import_heaptrack(dir.file("cut.gz")));
    write_text(dir.file("whole.gz"), gz);
    check_complete(import_heaptrack(dir.file("whole.gz")));
  }
  SUBCASE("zstd cut before its first line is complete") {
    std::string frame = zstd_frame(kept);
    write_text(dir.file("early.zst"), frame.substr(0, frame.size() / 2));
    try {
      import_heaptrack(dir.file("early.zst"));
      FAIL("imported without an error");
    } catch (const FormatError& e) {
      CHECK(std::string(e.what()) ==
            dir.file("early.zst") + ": the heaptrack recording ends before its first complete line");
    }
  }
}

TEST_CASE("heaptrack import: what is not a heaptrack recording, or is corrupt, is refused in one message") {
  CHECK(refusal("") == "P: not a heaptrack data file (empty)");
  CHECK(refusal("hello\n") == "P: not a heaptrack data file (it does not start with a version line)");
  CHECK(refusal("v 10400 4\n") == "P: heaptrack file format version 4 is newer than this measure reads (version 3)");
  CHECK(refusal("v 10000\n") == "P: heaptrack file format version 0 (heaptrack 1.0 or older) is not supported");
  CHECK(refusal("v 10400 3\nm 1 /lib/libc.so.6 7f0000000000 0 1000\n") ==
        "P: a raw heaptrack trace, not yet interpreted; import the file heaptrack writes after the run "
        "(heaptrack_interpret < RAW | zstd > FILE.zst makes one)");
  CHECK(refusal("v 10400 3\nv 10400 3\n") == "P: corrupt heaptrack data (line 2: a second version line)");
  CHECK(refusal("v 10400 3\nt 5 0\n") == "P: corrupt heaptrack data (line 2: address index 0x5 refers to nothing)");
  CHECK(refusal("v 10400 3\ni 400000 1\n") == "P: corrupt heaptrack data (line 2: module 0x1 refers to nothing)");
  CHECK(refusal("v 10400 3\ns 1 m\ni 400000 1 7\n") ==
        "P: corrupt heaptrack data (line 3: a function name refers to nothing)");
  CHECK(refusal("v 10400 3\ns 1 m\ni 400000 1 1 1\n") ==
        "P: corrupt heaptrack data (line 3: missing or malformed line)");
  CHECK(refusal("v 10400 3\na zz 0\n") == "P: corrupt heaptrack data (line 2: missing or malformed size)");
  CHECK(refusal("v 10400 3\na 10 3\n") == "P: corrupt heaptrack data (line 2: trace 0x3 refers to nothing)");
  CHECK(refusal("v 10400 3\n+ 3\n") == "P: corrupt heaptrack data (line 2: allocation record 0x3 refers to nothing)");
  CHECK(refusal("v 10400 3\na 10 0\n+ 0\n- 0\n- 0\n") ==
        "P: corrupt heaptrack data (line 5: a free of more than was allocated)");
  CHECK(refusal("v 10400 3\nc -1\n") == "P: corrupt heaptrack data (line 2: missing or malformed time stamp)");
  CHECK(refusal("\x28\xb5\x2f\xfd garbage that is no zstd frame\n").rfind("P: corrupt zstd data (", 0) == 0);
  CHECK(refusal("\x1f\x8b garbage that is no gzip member\n").rfind("P: corrupt gzip data (", 0) == 0);

  TempDir dir;
  std::string missing = dir.file("missing") + ": cannot open: No such file or directory";
  CHECK_THROWS_WITH_AS(import_heaptrack(dir.file("missing")), missing.c_str(), IoError);
}

}  // namespace measure
