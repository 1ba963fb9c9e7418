#include "bench/workload_set.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>

#include <fmt/format.h>

namespace measure::bench {
namespace {

// A fixed pseudo-random stream, so the inputs are the same bytes on every machine.
struct Random {
  std::uint64_t state = 0x2545f4914f6cdd1dULL;
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

// jq: 60,000 objects with strings, arrays and nested objects (about 8 MB).
std::string json_document() {
  Random r;
  std::string out = "[";
  for (int i = 0; i < 60000; ++i) {
    std::string tags;
    for (unsigned t = 0, n = r.below(7); t < n; ++t) {
      tags += fmt::format("{}\"t{}\"", t == 0 ? "" : ",", r.below(50));
    }
    out += fmt::format(
        "{}{{\"id\":{},\"name\":\"item{}\",\"tags\":[{}],\"value\":{}.{},\"nested\":{{\"a\":{},"
        "\"b\":[{},{},{}]}}}}",
        i == 0 ? "" : ",", i, i, tags, r.below(1000), r.below(1000), i % 7, r.below(100), r.below(100), r.below(100));
  }
  return out + "]\n";
}

// xmllint: 200,000 elements with attributes and text (about 20 MB).
std::string xml_document() {
  Random r;
  std::string out = "<root>\n";
  for (int i = 0; i < 200000; ++i) {
    std::string tags;
    for (unsigned t = 0, n = r.below(7); t < n; ++t) {
      tags += fmt::format("{}t{}", t == 0 ? "" : " ", r.below(50));
    }
    out += fmt::format("<item id=\"{}\" kind=\"k{}\"><name>item {}</name><tags>{}</tags><value>{}.{}</value></item>\n",
                       i, i % 13, i, tags, r.below(1000), r.below(1000));
  }
  return out + "</root>\n";
}

// sqlite3: a table of 100,000 rows with an index, filled in one transaction, then queried,
// updated and pruned.
std::string sql_script() {
  Random r;
  std::string out =
      "create table t(id integer primary key, name text, grp int, v real);\n"
      "create index ti on t(name);\nbegin;\n";
  for (int i = 0; i < 100000; ++i) {
    out += fmt::format("insert into t values({},'name{}',{},{}.{});\n", i, r.below(1000000000), i % 100, r.below(1000),
                       r.below(1000));
  }
  return out +
         "commit;\n"
         "select grp, count(*), sum(v) from t group by grp order by 3 desc limit 5;\n"
         "select count(*) from t where name like 'name1%';\n"
         "update t set v = v * 2 where grp < 50;\n"
         "delete from t where grp % 3 = 0;\n"
         "select grp, count(*) from t group by grp order by 2 desc limit 3;\n";
}

// python3: dictionaries, lists, tuples and strings built and dropped, and a recursion.
const char* python_program =
    "def tree(n):\n"
    "    return None if n == 0 else (tree(n - 1), [n] * 3, str(n))\n"
    "d = {}\n"
    "for i in range(200000):\n"
    "    d[str(i)] = [i, str(i * 2), (i, i + 1)]\n"
    "s = sorted(d.items(), key=lambda kv: kv[1][1])\n"
    "for _ in range(300):\n"
    "    t = tree(400)\n"
    "print(len(s))\n";

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "measure_bench_overhead: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

}  // namespace

std::vector<Workload> all_workloads(const std::string& workload_dir, const std::string& input_dir) {
  std::string churn = workload_dir + "/churn";
  std::string churn_cpp = workload_dir + "/churn_cpp";
  std::string shapes = workload_dir + "/shapes";
  std::vector<Workload> w = {
      {"c-small-1t", "churn", {churn, "--threads", "1"}, 5000000, {}, ""},
      {"c-small-2t", "churn", {churn, "--threads", "2"}, 5000000, {}, ""},
      {"c-large-1t", "churn", {churn, "--threads", "1", "--size", "large"}, 1000000, {}, ""},
      {"cpp-small-1t", "churn", {churn_cpp, "--threads", "1"}, 2500000, {}, ""},
      {"cpp-small-2t", "churn", {churn_cpp, "--threads", "2"}, 2500000, {}, ""},
      {"c-small-1t-fp", "churn", {workload_dir + "/churn_fp", "--threads", "1"}, 5000000, {}, ""},
      {"recursion-1t", "shapes", {shapes, "--shape", "recursion", "--threads", "1"}, 1500000, {}, ""},
      {"recursion-2t", "shapes", {shapes, "--shape", "recursion", "--threads", "2"}, 1500000, {}, ""},
      {"rising-1t", "shapes", {shapes, "--shape", "rising", "--threads", "1"}, 3000000, {}, ""},
      {"sizes-1t", "shapes", {shapes, "--shape", "sizes", "--threads", "1"}, 2500000, {}, ""},
      {"sizes-2t", "shapes", {shapes, "--shape", "sizes", "--threads", "2"}, 2500000, {}, ""},
      {"stacks-1t", "shapes", {shapes, "--shape", "stacks", "--threads", "1"}, 2000000, {}, "", 300000},
      {"jq",
       "real",
       {"/usr/bin/jq", "-c", "[.[] | {n: .name, t: (.tags | join(\",\")), s: (.nested.b | add)}] | length",
        input_dir + "/input.json"},
       0,
       {},
       "/usr/bin/jq"},
      {"xmllint", "real", {"/usr/bin/xmllint", "--noout", input_dir + "/input.xml"}, 0, {}, "/usr/bin/xmllint"},
      {"sqlite3",
       "real",
       {"/usr/bin/sqlite3", ":memory:", ".read " + input_dir + "/input.sql"},
       0,
       {},
       "/usr/bin/sqlite3"},
      // Python's own small-object allocator would hide most allocations; PYTHONMALLOC=malloc
      // is how Python is run under memory tools.
      {"python3",
       "real",
       {"/usr/bin/python3", input_dir + "/input.py"},
       0,
       {{"PYTHONMALLOC", "malloc"}},
       "/usr/bin/python3"},
  };
  return w;
}

bool write_real_inputs(const std::string& input_dir) {
  return write_file(input_dir + "/input.json", json_document()) &&
         write_file(input_dir + "/input.xml", xml_document()) && write_file(input_dir + "/input.sql", sql_script()) &&
         write_file(input_dir + "/input.py", python_program);
}

bool available(const Workload& w) {
  static std::set<std::string> told;
  if (w.needs.empty() || access(w.needs.c_str(), X_OK) == 0) {
    return true;
  }
  if (told.insert(w.needs).second) {
    std::fprintf(stderr, "%s is not installed: workload %s is left out (apt-get install %s)\n", w.needs.c_str(),
                 w.name.c_str(), w.name == "xmllint" ? "libxml2-utils" : w.name.c_str());
  }
  return false;
}

std::vector<std::string> floor_prefix(const std::string& mode, const std::string& totals) {
  std::vector<std::string> prefix = {
      "/usr/bin/env", "LD_PRELOAD=" + std::string(MEASURE_BENCH_WORKLOADS) + "/floor_" + mode.substr(6) + ".so"};
  if (mode == "floor-totals") {
    prefix.push_back("MEASURE_FLOOR_OUTPUT=" + totals);
  }
  return prefix;
}

bool floor_counted(const std::string& mode, const std::string& totals) {
  if (mode != "floor-totals") {
    return true;
  }
  std::ifstream in(totals);
  unsigned long long alloc_count = 0, alloc_bytes = 0, free_count = 0, freed_bytes = 0, missed = 0;
  unsigned shadow_bits = 0;
  return static_cast<bool>(in >> alloc_count >> alloc_bytes >> free_count >> freed_bytes >> missed >> shadow_bits) &&
         alloc_count != 0 && shadow_bits != 0;
}

std::uint64_t address_space_limit(const std::string& mode) {
  std::uint64_t limit = std::uint64_t{8} << 30;
  return mode == "floor-totals" ? limit + (std::uint64_t{8} << 40) : limit;
}

std::vector<std::string> workload_command(const Workload& w, long ops) {
  std::vector<std::string> argv = w.argv;
  if (w.ops != 0) {
    argv.push_back("--ops");
    argv.push_back(std::to_string(ops));
  }
  return argv;
}

}  // namespace measure::bench
