// The svg flame graph in a real browser: headless Chromium (Debian's, driven over the
// DevTools protocol by flame_browser.mjs) opens `measure report --format svg`, takes
// screenshots (kept under the build tree), zooms on a clicked frame, and searches.
#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "integrations/npm_package.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_node;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

// The position of the one frame named `name` (at `depth` and `x`, when names repeat); frames
// keep their order from one state of the page to the next.
std::size_t frame_index(const json& frames, const std::string& name, int depth = -1, double x = -1) {
  std::size_t found = frames.size();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const json& f = frames[i];
    if (f["name"] == name && (depth < 0 || f["depth"] == depth) && (x < 0 || f["x"] == x)) {
      REQUIRE_MESSAGE(found == frames.size(), "two frames named " << name);
      found = i;
    }
  }
  REQUIRE_MESSAGE(found != frames.size(), "no frame named " << name);
  return found;
}

void check_box(const json& f, double x, double width) {
  CAPTURE(f);
  CHECK(f["visible"] == true);
  CHECK(f["x"].get<double>() == doctest::Approx(x).epsilon(1e-4));
  CHECK(f["width"].get<double>() == doctest::Approx(width).epsilon(1e-4));
}

}  // namespace

TEST_CASE("the flame graph in headless Chromium: drawn to scale, zooms on a click, finds by search") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "Debian's chromium is missing (install-deps.sh)");
  TempDir dir;
  ProcessResult run =
      run_process({tool_path(), "run", "-q", "-o", dir.file("flame.msr"), "--", fixture_path("flame_fixture")});
  REQUIRE_MESSAGE(run.status() == 0, run.err);
  std::string artifacts = MEASURE_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  std::string svg = artifacts + "/flame.svg";
  REQUIRE(run_process({tool_path(), "report", dir.file("flame.msr"), "--format", "svg", "-o", svg}).status() == 0);

  json page = json::parse(run_node("tests/integrations/flame_browser.mjs", {svg, artifacts, "parse", "tree"}));
  CHECK(page["errors"] == json::array());

  // 8 MiB over 1200 pixels from x = 10: parse 6 MiB, render 2; tokenize 2, build_tree 4.
  const json& initial = page["initial"];
  std::size_t all = frame_index(initial, "all");
  std::size_t main = frame_index(initial, "main");
  std::size_t parse = frame_index(initial, "parse");
  std::size_t build_tree = frame_index(initial, "build_tree");
  std::size_t tokenize = frame_index(initial, "tokenize");
  std::size_t render = frame_index(initial, "render");
  std::size_t tree_keep = frame_index(initial, "keep", initial[build_tree]["depth"].get<int>() + 1, 10);
  std::size_t render_keep = frame_index(initial, "keep", initial[render]["depth"].get<int>() + 1);
  check_box(initial[all], 10, 1200);
  check_box(initial[main], 10, 1200);
  check_box(initial[parse], 10, 900);
  check_box(initial[build_tree], 10, 600);
  check_box(initial[tokenize], 610, 300);
  check_box(initial[render], 910, 300);

  // Clicking parse: it spans the width, its callees scale with it, its callers stay whole
  // (marked as ancestors) and everything else is hidden.
  const json& zoomed = page["zoomed"];
  check_box(zoomed[parse], 10, 1200);
  check_box(zoomed[build_tree], 10, 800);
  check_box(zoomed[tokenize], 810, 400);
  check_box(zoomed[tree_keep], 10, 800);
  CHECK(zoomed[render]["visible"] == false);
  CHECK(zoomed[render_keep]["visible"] == false);
  for (std::size_t caller : {all, main}) {
    check_box(zoomed[caller], 10, 1200);
    CHECK(zoomed[caller]["ancestor"] == true);
  }
  CHECK(page["reset_opacity"] == "1");

  // Reset, then search "tree": the match is highlighted, the rest keeps its colour, and the
  // matched share is build_tree's 4 of 8 MiB.
  const json& searched = page["searched"];
  check_box(searched[parse], 10, 900);
  for (const json& f : searched) {
    CAPTURE(f);
    CHECK((f["fill"] == "rgb(230,0,230)") == (f["name"] == "build_tree"));
  }
  CHECK(page["matched"] == "Matched: 50.0%");

  for (const char* shot : {"flame-initial.png", "flame-zoomed.png", "flame-search.png"}) {
    std::string png = read_text(artifacts + "/" + shot);
    CHECK(png.size() > 4000);
    CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  }
}
