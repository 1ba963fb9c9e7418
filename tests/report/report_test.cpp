// Grouping, key frames, allocator-frame removal, filters and template shortening.
#include "report/report.h"

#include <doctest/doctest.h>

#include "report/formats.h"

using namespace measure;

TEST_CASE("template shortening keeps operators") {
  CHECK(shorten_templates("std::vector<int, std::allocator<int> >::push_back(int const&)") ==
        "std::vector<…>::push_back(int const&)");
  CHECK(shorten_templates("operator<<(std::ostream&, Foo<Bar<int>> const&)") ==
        "operator<<(std::ostream&, Foo<…> const&)");
  CHECK(shorten_templates("plain(int)") == "plain(int)");
}

TEST_CASE("the key frame skips system headers and libraries") {
  Frame alloc{"__gnu_cxx::new_allocator<int>::allocate(unsigned long, void const*)",
              "/usr/include/c++/12/ext/new_allocator.h",
              137,
              "/app",
              0x10,
              0,
              true};
  Frame vec{"std::vector<int>::_M_realloc_insert", "/usr/include/c++/12/bits/vector.tcc", 440, "/app", 0x20, 0, true};
  Frame user{"fill(int)", "/src/app.cpp", 12, "/app", 0x30, 0, false};
  std::vector<Frame> frames = {alloc, vec, user};
  const Frame* key = key_frame(frames);
  REQUIRE(key != nullptr);
  CHECK(key->function == "fill(int)");
  std::vector<Frame> only_system = {vec};
  CHECK(key_frame(only_system)->function == vec.function);
  CHECK(key_frame({}) == nullptr);
  Frame libc{"", "", 0, "/lib/x86_64-linux-gnu/libc.so.6", 0x1234, 0, false};
  std::vector<Frame> with_libc = {libc, user};
  CHECK(key_frame(with_libc)->function == "fill(int)");
}

TEST_CASE("row keys carry only the fields of their grouping") {
  Frame f{"fill(int)", "/src/app.cpp", 12, "/app", 0x30, 0x5555, false};
  RowKey line = key_for(&f, GroupBy::line);
  CHECK(line.function == "fill(int)");
  CHECK(line.line == 12u);
  RowKey function = key_for(&f, GroupBy::function);
  CHECK_FALSE(function.line.has_value());
  CHECK(function.function == "fill(int)");
  RowKey file = key_for(&f, GroupBy::file);
  CHECK_FALSE(file.function.has_value());
  CHECK(file.file == "/src/app.cpp");
  RowKey module = key_for(&f, GroupBy::module);
  CHECK(module.module == "/app");
  CHECK_FALSE(module.file.has_value());
  Frame anonymous{"", "", 0, "/lib/libx.so", 0x99, 0x7f00, false};
  RowKey fallback = key_for(&anonymous, GroupBy::line);
  CHECK(fallback.offset == 0x99u);
  CHECK(fallback.module == "/lib/libx.so");
  CHECK(describe_key(fallback, GroupBy::line, true) == "libx.so+0x99");
  RowKey unknown = key_for(nullptr, GroupBy::line);
  CHECK(describe_key(unknown, GroupBy::line, true) == "(unknown stack)");
}

TEST_CASE("glob filters match function, file or module") {
  Frame f{"parse_config(char const*)", "/src/config/parse.cpp", 3, "/usr/lib/libapp.so", 0, 0, false};
  CHECK(frame_matches(f, "parse_*"));
  CHECK(frame_matches(f, "parse.cpp"));
  CHECK(frame_matches(f, "/src/config/*"));
  CHECK(frame_matches(f, "libapp.so"));
  CHECK_FALSE(frame_matches(f, "render*"));
}

TEST_CASE("glob filters also match a function's unqualified name and its name without parameters") {
  Frame f{"(anonymous namespace)::split_words(std::string const&, char)", "/src/demo.cpp", 19, "/app", 0, 0, false};
  CHECK(frame_matches(f, "split*"));
  CHECK(frame_matches(f, "split_words"));
  CHECK(frame_matches(f, "(anonymous namespace)::split_words"));
  CHECK(frame_matches(f, "*::split_words(*)"));
  CHECK_FALSE(frame_matches(f, "words*"));
  CHECK(unqualified_function("ns::Parser<int>::parse(char const*) const") == "parse");
  CHECK(unqualified_function("std::vector<int, std::allocator<int> >::operator[](unsigned long)") == "operator[]");
  CHECK(unqualified_function("std::ostream& operator<< <char>(std::ostream&, Foo const&)") == "operator<< <char>");
  CHECK(unqualified_function("main::{lambda()#1}::operator()() const") == "operator()");
  CHECK(unqualified_function("void run<int>(int)") == "run<int>");
  CHECK(unqualified_function("operator new(unsigned long)") == "operator new");
  CHECK(unqualified_function("plain_c_function") == "plain_c_function");
  CHECK(function_without_parameters("a::b(int) const") == "a::b");
  CHECK(function_without_parameters("a::b") == "a::b");
}

TEST_CASE("human units") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(3ULL << 30) == "3.0 GiB");
  CHECK(grouped(1234567) == "1,234,567");
  CHECK(grouped(12) == "12");
}
