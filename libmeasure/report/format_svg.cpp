// The svg format: an interactive flame graph in one self-contained file. Every stack is drawn
// from the outermost frame (bottom) to the allocating one (top), each frame as wide as its
// share of the --sort metric; a graph too deep for a window is drawn top-down instead (an
// icicle), so that its roots and widest frames are in view and its deep towers below them.
// An inline script (no network) zooms on click, searches, and shows details on hover; every
// frame also carries a <title> tooltip with all eight metrics, which works even where
// scripts are off.
#include <algorithm>

#include <fmt/format.h>

#include "report/formats.h"

namespace measure {

std::string detail::xml_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        case '\n':
          out += "&#10;";
          break;
        default:
          out.push_back(c < 0x20 ? '?' : static_cast<char>(c));
      }
      ++i;
      continue;
    }
    std::size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    bool valid = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; valid && k < n; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (valid) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

namespace {

using detail::xml_text;

constexpr double image_width = 1200;
constexpr double side = 10;  // horizontal margin
constexpr double frame_height = 16;
constexpr double top = 60;          // title, buttons
constexpr double bottom = 34;       // the details line
constexpr double min_width = 0.1;   // narrower frames are not drawn (pixels)
constexpr double char_width = 7.3;  // of the 12px monospace labels, with some room
// Deeper graphs are drawn top-down: upright, their roots would lie below the fold of a window
// about 900 pixels high, under towers of narrow frames.
constexpr std::uint32_t upright_levels = 44;

std::uint32_t fnv1a(std::string_view s) noexcept {
  std::uint32_t h = 2166136261U;
  for (unsigned char c : s) {
    h = (h ^ c) * 16777619U;
  }
  return h;
}

// Warm colours for the program's own code, cool ones for system code, grey for frames
// without a name; the shade follows the name, so a function keeps its colour everywhere.
std::string colour(std::string_view label, int kind) {
  std::uint32_t h = fnv1a(label);
  unsigned a = h % 55;
  unsigned b = (h >> 8) % 80;
  switch (kind) {
    case 0:
      return fmt::format("rgb({},{},{})", 200 + a, 90 + b, 40 + a / 2);
    case 1:
      return fmt::format("rgb({},{},{})", 70 + a, 140 + b / 2, 190 + a);
    default:
      return fmt::format("rgb({},{},{})", 160 + a / 2, 160 + a / 2, 160 + a / 2);
  }
}

struct Node {
  std::uint32_t label = 0;  // rank among the sorted labels
  std::uint32_t depth = 0;
  std::uint64_t start = 0;  // offset along the x axis, in metric units
  std::uint64_t value = 0;
  Metrics metrics;
};

struct Label {
  std::string text;
  int kind = 0;  // 0 program, 1 system, 2 unnamed
};

// The flame graph's nodes: samples sorted by their label sequence (outermost first) merge
// along common prefixes, so each node opens once and its x offset is the running sum.
std::vector<Node> build_nodes(const Report& r, std::vector<Label>& labels) {
  // Stacks of no width are kept: their frames are not drawn, but the frames they share with
  // others (and "all") count their metrics, so that "all" agrees with the header.
  detail::StackPaths p = detail::stack_paths(r, frame_label, true);
  for (std::size_t i = 0; i < p.labels.size(); ++i) {
    const Frame* frame = p.label_frames[i] < r.frames.size() ? &r.frames[p.label_frames[i]] : nullptr;
    labels.push_back({std::move(p.labels[i]), detail::frame_kind(frame)});
  }
  const std::vector<std::vector<std::uint32_t>>& paths = p.paths;
  const std::vector<const Sample*>& owners = p.samples;

  std::uint64_t total = 0;
  for (const Sample* s : owners) {
    total += sort_value(s->metrics, r.options.sort);
  }
  // A frame too narrow to draw has only narrower frames above it: when it closes, it and
  // its subtree (the nodes after it, in this depth-first order) go, so memory follows what
  // is drawn, not every frame of every stack.
  auto visible = [&](const Node& n) {
    return n.value != 0 && static_cast<double>(n.value) * image_width >= min_width * static_cast<double>(total);
  };
  auto close_to = [&](std::vector<std::size_t>& open, std::size_t depth, std::vector<Node>& nodes) {
    while (open.size() > depth) {
      if (!visible(nodes[open.back()])) {
        nodes.resize(open.back());
      }
      open.pop_back();
    }
  };
  std::vector<Node> nodes(1);  // the root: everything
  std::vector<std::size_t> open = {0};
  std::uint64_t x = 0;
  const std::vector<std::uint32_t>* previous = nullptr;
  for (std::size_t i : p.order) {
    const std::vector<std::uint32_t>& path = paths[i];
    std::size_t common = 0;
    if (previous != nullptr) {
      while (common < path.size() && common < previous->size() && path[common] == (*previous)[common]) {
        ++common;
      }
    }
    close_to(open, common + 1, nodes);
    for (std::size_t d = common; d < path.size(); ++d) {
      open.push_back(nodes.size());
      nodes.push_back({path[d], static_cast<std::uint32_t>(d + 1), x, 0, {}});
    }
    std::uint64_t value = sort_value(owners[i]->metrics, r.options.sort);
    for (std::size_t n : open) {
      nodes[n].value += value;
      nodes[n].metrics += owners[i]->metrics;
    }
    x += value;
    previous = &path;
  }
  close_to(open, 1, nodes);
  return nodes;
}

std::string metric_text(std::uint64_t value, SortBy sort) {
  return sort == SortBy::count || sort == SortBy::temporary ? grouped(value) : human_bytes(value);
}

// The first line is what the frame shows (templates shortened), then the full name when it
// differs, then every metric.
std::string tooltip(const std::string& shown, const std::string& label, const Node& n, std::uint64_t total, SortBy sort,
                    MetricSet unknown) {
  const Metrics& m = n.metrics;
  auto both = [&](Metric metric) {
    return unknown.contains(metric) ? std::string("—")
                                    : fmt::format("{} ({})", grouped(m.value(metric)), human_bytes(m.value(metric)));
  };
  return fmt::format(
      "{}{}\n{}: {} ({})\nalloc_bytes {}, alloc_count {}\nfreed_bytes {}, free_count {}\n"
      "live_bytes {}, live_count {} (leaked)\npeak_bytes {}\ntemporary_count {}",
      shown, shown == label ? std::string() : "\n" + label, metric_heading(sort), metric_text(n.value, sort),
      percent(n.value, total), both(Metric::alloc_bytes), metric_cell(m, Metric::alloc_count, unknown),
      metric_cell(m, Metric::freed_bytes, unknown), metric_cell(m, Metric::free_count, unknown),
      both(Metric::live_bytes), metric_cell(m, Metric::live_count, unknown), both(Metric::peak_bytes),
      metric_cell(m, Metric::temporary_count, unknown));
}

// Zoom, search and hover. Positions are recomputed from each frame's data-x/data-w (metric
// units) and data-d (depth), so zooming needs no server and no layout library.
constexpr std::string_view script = R"js(
(function () {
  var svg = document.documentElement;
  var W = +svg.getAttribute('data-width'), side = +svg.getAttribute('data-side');
  var total = +svg.getAttribute('data-total'), charWidth = +svg.getAttribute('data-char');
  var frames = Array.prototype.slice.call(document.getElementsByClassName('f'));
  var details = document.getElementById('details'), matched = document.getElementById('matched');
  var reset = document.getElementById('reset'), zoomed = null, searching = null;
  function attr(g, n) { return +g.getAttribute(n); }
  function name(g) { return g.getElementsByTagName('title')[0].textContent.split('\n')[0]; }
  function fit(g, x, w) {
    var t = g.getElementsByTagName('text')[0], n = name(g), room = Math.floor((w - 6) / charWidth);
    t.setAttribute('x', x + 3);
    t.textContent = room < 3 ? '' : (n.length <= room ? n : n.substring(0, room - 2) + '..');
  }
  function layout() {
    frames.forEach(function (g) {
      var x = attr(g, 'data-x'), w = attr(g, 'data-w'), d = attr(g, 'data-d'), nx, nw;
      g.classList.remove('ancestor');
      if (!zoomed) { nx = x / total * W; nw = w / total * W; }
      else if (d >= zoomed.d && x >= zoomed.x && x + w <= zoomed.x + zoomed.w) {
        nx = (x - zoomed.x) / zoomed.w * W; nw = w / zoomed.w * W;
      } else if (d < zoomed.d && x <= zoomed.x && x + w >= zoomed.x + zoomed.w) {
        nx = 0; nw = W; g.classList.add('ancestor');
      } else { nw = 0; }
      if (nw < 0.1) { g.style.display = 'none'; return; }
      g.style.display = '';
      var r = g.getElementsByTagName('rect')[0];
      r.setAttribute('x', side + nx); r.setAttribute('width', nw);
      fit(g, side + nx, nw);
    });
    reset.style.opacity = zoomed ? 1 : 0.3;
  }
  function zoom(g) {
    zoomed = attr(g, 'data-d') === 0 ? null : { x: attr(g, 'data-x'), w: attr(g, 'data-w'), d: attr(g, 'data-d') };
    layout();
  }
  function search(term) {
    searching = term ? term : null;
    var re = null;
    if (searching) { try { re = new RegExp(searching); } catch (e) { re = null; } }
    var spans = [];
    frames.forEach(function (g) {
      var r = g.getElementsByTagName('rect')[0];
      var n = g.getElementsByTagName('title')[0].textContent.split('\n').slice(0, 2).join('\n');
      var hit = searching && (re ? re.test(n) : n.indexOf(searching) >= 0);
      r.setAttribute('fill', hit ? 'rgb(230,0,230)' : g.getAttribute('data-fill'));
      if (hit) { spans.push([attr(g, 'data-x'), attr(g, 'data-x') + attr(g, 'data-w')]); }
    });
    // Nested matches count once: the union of the matched spans.
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var sum = 0, end = -1;
    spans.forEach(function (s) {
      if (s[1] <= end) { return; }
      sum += s[1] - Math.max(s[0], end); end = s[1];
    });
    matched.textContent = searching ? 'Matched: ' + (total ? (100 * sum / total).toFixed(1) : '0.0') + '%' : '';
  }
  frames.forEach(function (g) {
    g.addEventListener('click', function () { zoom(g); });
    g.addEventListener('mouseover', function () {
      details.textContent = g.getElementsByTagName('title')[0].textContent.split('\n').slice(0, 2).join(': ');
    });
    g.addEventListener('mouseout', function () { details.textContent = ' '; });
  });
  reset.addEventListener('click', function () { zoomed = null; layout(); });
  document.getElementById('search').addEventListener('click', function () {
    search(searching ? null : window.prompt('Search frames (regular expression or text):', ''));
  });
  window.addEventListener('keydown', function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === 'f') {
      e.preventDefault();
      search(window.prompt('Search frames (regular expression or text):', searching || ''));
    } else if (e.key === 'Escape') { zoomed = null; search(null); layout(); }
  });
  layout();
})();
)js";

}  // namespace

std::string render_svg(const Report& r) {
  std::vector<Label> labels;
  std::vector<Node> nodes = build_nodes(r, labels);
  std::uint64_t total = nodes.front().value;
  std::uint32_t depth = 0;
  for (const Node& n : nodes) {
    depth = std::max(depth, n.depth);
  }
  bool icicle = depth + 1 > upright_levels;
  // An icicle's details line goes under the buttons, in view with the roots.
  double first_row = icicle ? top + 20 : top;
  double height = first_row + (depth + 1) * frame_height + (icicle ? 10 : bottom);
  double details_y = icicle ? top + 4 : height - 12;
  double width = image_width + 2 * side;
  const Program& p = r.capture->program;
  std::string command = command_line(p);
  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
      "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" data-width=\"{}\" data-side=\"{}\" data-total=\"{}\" data-char=\"{}\">\n",
      width, height, width, height, image_width, side, total, char_width);
  out +=
      "<style>\n"
      "text { font-family: monospace; font-size: 12px; fill: rgb(0,0,0); }\n"
      ".f text { pointer-events: none; }\n"
      ".f:hover rect { stroke: rgb(0,0,0); stroke-width: 0.5; cursor: pointer; }\n"
      ".ancestor rect { opacity: 0.6; }\n"
      ".button { cursor: pointer; fill: rgb(0,0,160); }\n"
      "</style>\n";
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"rgb(250,250,245)\"/>\n", width, height);
  out += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" style=\"font-size:16px\">{}</text>\n", width / 2,
                     xml_text(fmt::format("{} by {}{}", command, metric_heading(r.options.sort),
                                          r.options.cumulative ? " (cumulative)" : "")));
  out += fmt::format(
      "<text x=\"{}\" y=\"42\">{}: {} in {} stacks{}; click a frame to zoom, Ctrl-F or Search to find</text>\n", side,
      metric_heading(r.options.sort), metric_text(total, r.options.sort), grouped(r.samples.size()),
      icicle ? fmt::format(", {} levels deep, drawn top-down", depth + 1) : std::string());
  out += fmt::format(
      "<text id=\"reset\" class=\"button\" x=\"{}\" y=\"42\" text-anchor=\"end\" "
      "style=\"opacity:0.3\">Reset zoom</text>\n",
      width - side - 80);
  out += fmt::format("<text id=\"search\" class=\"button\" x=\"{}\" y=\"42\" text-anchor=\"end\">Search</text>\n",
                     width - side);
  out += fmt::format("<text id=\"matched\" x=\"{}\" y=\"{}\" text-anchor=\"end\"> </text>\n", width - side, details_y);
  out += fmt::format("<text id=\"details\" x=\"{}\" y=\"{}\"> </text>\n", side, details_y);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    double w = total == 0 ? 0 : static_cast<double>(n.value) / static_cast<double>(total) * image_width;
    if (w < min_width && i != 0) {
      continue;
    }
    double x = total == 0 ? 0 : static_cast<double>(n.start) / static_cast<double>(total) * image_width;
    double y = first_row + (icicle ? n.depth : depth - n.depth) * frame_height;
    std::string label = i == 0 ? std::string("all") : labels[n.label].text;
    std::string fill = i == 0 ? "rgb(200,200,200)" : colour(label, labels[n.label].kind);
    std::string name = shorten_templates(label);
    auto room = static_cast<std::size_t>(std::max(0.0, (w - 6) / char_width));
    std::string shown = room < 3 ? std::string() : name.size() <= room ? name : name.substr(0, room - 2) + "..";
    out += fmt::format(
        "<g class=\"f\" data-x=\"{}\" data-w=\"{}\" data-d=\"{}\" data-fill=\"{}\"><title>{}</title>"
        "<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\" rx=\"2\"/>"
        "<text x=\"{:.2f}\" y=\"{}\">{}</text></g>\n",
        n.start, n.value, n.depth, fill, xml_text(tooltip(name, label, n, total, r.options.sort, r.unknown_in_rows)),
        side + x, y, w, frame_height - 1, fill, side + x + 3, y + frame_height - 4, xml_text(shown));
  }
  // Last, so the elements it looks up exist when it runs (browsers run it as it is parsed).
  out += fmt::format("<script type=\"text/ecmascript\"><![CDATA[{}]]></script>\n", script);
  out += "</svg>\n";
  return out;
}

}  // namespace measure
