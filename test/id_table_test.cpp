#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <map>
#include <random>
#include <string>

#include "broker/id_table.hpp"

// broker::id_table: entries found by id, pointers that stay put until erased, slots reused,
// and next to nothing kept once empty.

using nsqd::message_id;
using nsqd::broker::id_table;

namespace {

message_id id_of(unsigned n) {
  message_id id{};
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016x", n);
  for (int i = 0; i < 16; ++i) id.hex[std::size_t(i)] = hex[i];
  return id;
}

struct entry {
  std::string body;
  int* alive = nullptr;
  entry(std::string b, int* a) : body(std::move(b)), alive(a) { ++*alive; }
  entry(entry&& o) noexcept : body(std::move(o.body)), alive(o.alive) { ++*alive; }
  ~entry() { --*alive; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(id_tables)

BOOST_AUTO_TEST_CASE(finds_erases_and_keeps_pointers_valid) {
  int alive = 0;
  {
    id_table<entry> t;
    std::map<unsigned, entry*> where;
    for (unsigned i = 0; i < 5000; ++i) {
      auto [e, fresh] = t.try_emplace(id_of(i), entry("m" + std::to_string(i), &alive));
      BOOST_TEST_REQUIRE(fresh);
      where[i] = e;
    }
    BOOST_TEST(t.size() == 5000u);
    BOOST_TEST(alive == 5000);
    for (unsigned i = 0; i < 5000; ++i) {  // pointers taken early still hold their entry
      BOOST_TEST_REQUIRE(t.find(id_of(i)) == where[i]);
      BOOST_TEST_REQUIRE(where[i]->body == "m" + std::to_string(i));
    }
    auto [again, fresh] = t.try_emplace(id_of(7), entry("other", &alive));
    BOOST_TEST(!fresh);
    BOOST_TEST(again == where[7]);
    BOOST_TEST(again->body == "m7");
    BOOST_TEST(alive == 5000);  // the refused entry is gone
    for (unsigned i = 0; i < 5000; i += 2) t.erase(id_of(i));
    t.erase(id_of(99999));  // not there: nothing happens
    BOOST_TEST(t.size() == 2500u);
    BOOST_TEST(alive == 2500);
    BOOST_TEST(!t.find(id_of(4)));
    BOOST_TEST(t.contains(id_of(5)));
    std::size_t seen = 0;
    t.for_each([&](const message_id& id, entry& e) {
      ++seen;
      BOOST_TEST_REQUIRE(t.find(id) == &e);
    });
    BOOST_TEST(seen == 2500u);
  }
  BOOST_TEST(alive == 0);  // the destructor destroys what is left
}

BOOST_AUTO_TEST_CASE(reuses_slots_and_matches_a_map_under_churn) {
  // Like a channel under load: deliveries and FINs interleaved, a few thousand in flight.
  int alive = 0;
  id_table<entry> t;
  std::map<unsigned, std::string> model;
  std::mt19937 rng(99);
  unsigned next = 0;
  for (int step = 0; step < 200000; ++step) {
    if (model.size() < 3000 && (model.empty() || rng() % 2 == 0)) {
      t.try_emplace(id_of(next), entry(std::to_string(next), &alive));
      model[next] = std::to_string(next);
      ++next;
    } else {
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      BOOST_TEST_REQUIRE(t.find(id_of(it->first))->body == it->second);
      t.erase(id_of(it->first));
      model.erase(it);
    }
    BOOST_TEST_REQUIRE(t.size() == model.size());
  }
  BOOST_TEST(alive == int(model.size()));
  t.clear();
  BOOST_TEST(t.empty());
  BOOST_TEST(alive == 0);
  t.try_emplace(id_of(1), entry("after clear", &alive));  // usable again
  BOOST_TEST(t.find(id_of(1))->body == "after clear");
}

BOOST_AUTO_TEST_SUITE_END()
