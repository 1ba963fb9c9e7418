// The html format's page: its style and markup around the report's data (format_html.cpp)
// and its script (format_html_script.cpp and the two files after it). Everything is inline and nothing is fetched, so
// the file opens from disk anywhere.
#include <fmt/format.h>

#include "report/formats.h"
#include "report/html_page.h"

namespace measure::detail {
namespace {

const std::string_view page_head = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: #1d1d1f; background: #fafafa; }
header { padding: 10px 14px 4px; }
h1 { font-size: 16px; margin: 0 0 2px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
h2 { font-size: 14px; margin: 8px 0; }
#run, #totals { color: #555; }
#verdict { font-weight: 600; }
#verdict.failed { color: #b00020; }
.diff-only { display: none; }
body.diff .diff-only { display: inline; }
body.diff .report-only { display: none; }
nav { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; padding: 6px 14px;
      border-bottom: 1px solid #ddd; position: sticky; top: 0; background: #fafafa; z-index: 1; }
.group { display: inline-flex; }
.group button { border-radius: 0; margin-left: -1px; }
.group button:first-child { border-radius: 4px 0 0 4px; }
.group button:last-child { border-radius: 0 4px 4px 0; }
button { font: inherit; padding: 3px 9px; border: 1px solid #bbb; background: #fff; border-radius: 4px; cursor: pointer; }
button.on { background: #2b5fab; color: #fff; border-color: #2b5fab; }
button:disabled { color: #aaa; cursor: default; }
input { font: inherit; padding: 3px 6px; border: 1px solid #bbb; border-radius: 4px; width: 15em; }
#tip { position: fixed; display: none; pointer-events: none; background: #fff; border: 1px solid #999;
       border-radius: 4px; padding: 6px 9px; font-size: 12px; box-shadow: 0 2px 6px rgba(0,0,0,.2); z-index: 2;
       max-width: 560px; }
#tip b { font-family: ui-monospace, monospace; word-break: break-all; }
#tip td { padding: 0 6px; }
#details { padding: 4px 14px; min-height: 1.4em; color: #333; font-family: ui-monospace, monospace; font-size: 12px;
           white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
main { padding: 0 14px 14px; }
canvas { display: block; width: 100%; cursor: pointer; }
table { border-collapse: collapse; font-size: 12px; }
th, td { padding: 2px 8px; text-align: right; white-space: nowrap; }
th { position: sticky; top: 38px; background: #eee; cursor: pointer; user-select: none; }
td.k, th.k { text-align: left; font-family: ui-monospace, monospace; max-width: 60vw; overflow: hidden;
             text-overflow: ellipsis; }
tbody tr:nth-child(even) { background: #f0f0f0; }
tbody tr:hover { background: #e3ecf8; }
tr.hit td.k { background: #f4c6f4; }
tr.regressed td { color: #b00020; font-weight: 600; }
.tw { cursor: pointer; display: inline-block; width: 1.2em; color: #666; }
.two { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
#timeline { height: 110px; cursor: crosshair; margin: 4px 0 2px; }
#timeline-legend { font-size: 12px; margin-bottom: 6px; }
#range { font-size: 12px; margin-bottom: 6px; padding: 3px 6px; background: #fff3cc; }
#notes { padding: 0 14px 14px; color: #666; font-size: 12px; }
body.reading nav, body.reading main { pointer-events: none; }
body.reading nav { opacity: 0.6; }
.muted { color: #888; }
.bar { height: 10px; background: #2b5fab; min-width: 1px; }
#summary-view table { margin-bottom: 6px; }
#summary-view th { position: static; }
</style>
)html";

const std::string_view page_body = R"html(</head>
<body>
<header><h1 id="title"></h1><div id="run"></div><div id="totals"></div><div id="verdict"></div>
<div class="diff-only muted">Widths: the new capture. <span style="color:#d02020">Red</span>: grew,
<span style="color:#2020d0">blue</span>: shrank, the deeper the more; pale: unchanged. Hover a frame for old, new and change.</div></header>
<nav>
  <div class="group" id="views">
    <button data-view="flame" class="on">Flame graph</button><button data-view="icicle">Icicle</button><button
    data-view="top" class="report-only">Top-down</button><button data-view="bottom" class="report-only">Bottom-up</button><button
    data-view="callers" class="report-only">Callers &amp; callees</button><button data-view="table">Table</button><button
    data-view="summary" class="report-only">Summary</button>
  </div>
  <div class="group" id="metrics"></div>
  <span><input id="search" placeholder="Search frames (regex)" spellcheck="false"> <span id="matched"></span></span>
  <span><input id="hide" placeholder="Hide frames, e.g. ^std::" spellcheck="false"> <button id="reset">Reset zoom</button></span>
</nav>
<div id="details">&nbsp;</div>
<div id="tip"></div>
<main>
  <section id="timeline-view" hidden><canvas id="timeline" height="110"></canvas>
    <div id="timeline-legend" class="muted"></div>
    <div id="range" hidden><span id="range-text"></span> <button id="range-clear">Whole run</button></div></section>
  <section id="flame-view"><canvas id="flame"></canvas></section>
  <section id="tree-view" hidden><table><thead><tr><th class="k">Function</th><th>Total</th><th>%</th><th id="self-heading">Self</th></tr></thead>
    <tbody id="tree-body"></tbody></table></section>
  <section id="callers-view" hidden><h2 id="focus"></h2><div class="two">
    <div><h2>Called from</h2><table><thead><tr><th class="k">Caller</th><th>Total</th><th>%</th></tr></thead><tbody id="callers"></tbody></table></div>
    <div><h2>Calls</h2><table><thead><tr><th class="k">Callee</th><th>Total</th><th>%</th></tr></thead><tbody id="callees"></tbody></table></div>
  </div></section>
  <section id="table-view" hidden><table><thead><tr id="rows-head"></tr></thead><tbody id="rows-body"></tbody></table>
    <p id="rows-more" class="muted"></p></section>
  <section id="summary-view" hidden></section>
</main>
<footer id="notes"></footer>
)html";

const std::string_view page_tail = R"html(</body>
</html>
)html";

}  // namespace

std::string html_document(std::string_view title, const std::string& data, const HtmlLists& first,
                          const HtmlLists& lists, const HtmlLists* later) {
  std::string encoded = lists.encoded();
  std::string out;
  out.reserve(data.size() + encoded.size() + page_head.size() + page_body.size() + 256);
  out += page_head;
  out += fmt::format("<title>{}</title>\n", xml_text(title));
  out += "<script id=\"measure-data\" type=\"application/json\">";
  // "</" inside the data would end the script element early.
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '<' && i + 1 < data.size() && data[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out.push_back(data[i]);
    }
  }
  out += "</script>\n";
  out += page_body;
  // The blocks of numbers, base64 in comments: the parser reads a comment faster than a
  // script element's text (0.56-0.66 s against 0.63-0.81 s for 14 MB), and base64 holds no
  // "--". data-bytes: the inflated size, so that the page inflates into one array. The
  // script comes before the large blocks: it paints the first block's view while the
  // browser reads them.
  out += fmt::format("<div id=\"measure-first\" hidden data-bytes=\"{}\"><!--", first.size());
  out += first.encoded();
  out += "--></div>\n<script>\n";
  out += html_script_model;
  out += html_script_views;
  out += html_script_summary;
  out += html_script_range;
  out += html_script_controls;
  out += "</script>\n";
  out += fmt::format("<div id=\"measure-lists\" hidden data-bytes=\"{}\"><!--", lists.size());
  out += encoded;
  out += "--></div>\n";
  if (later != nullptr) {
    out += fmt::format("<div id=\"measure-later\" hidden data-bytes=\"{}\"><!--", later->size());
    out += later->encoded();
    out += "--></div>\n";
  }
  out += page_tail;
  return out;
}

}  // namespace measure::detail
