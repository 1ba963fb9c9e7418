// docs/integrations.md's Catch2 example; the test suite builds and runs it as it is shown.
#include <map>
#include <memory>
#include <string>

// A cache that rebuilds its entries on refresh, releasing the old ones.
class Cache {
 public:
  void refresh() {
    std::map<int, std::unique_ptr<std::string>> fresh;
    for (int key = 0; key < 4; ++key) {
      fresh.emplace(key, std::make_unique<std::string>("an entry longer than the small-string buffer"));
    }
    m_entries.swap(fresh);  // the old entries go with `fresh`
  }

 private:
  std::map<int, std::unique_ptr<std::string>> m_entries;
};

#define CATCH_CONFIG_MAIN
#include <measure/catch2.hpp>

TEST_CASE("refreshing the cache leaks nothing") {
  Cache cache;
  cache.refresh();  // the first refresh fills it: its entries stay, as they should
  MEASURE_REQUIRE_NO_LEAKS(cache.refresh());
}
