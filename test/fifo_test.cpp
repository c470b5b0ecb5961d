#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "core/fifo.hpp"

// core::fifo: a queue's order at both ends, no memory while empty, and its room given back
// when it empties after holding more than a handful.

using nsqd::core::fifo;

BOOST_AUTO_TEST_SUITE(fifo_queue)

BOOST_AUTO_TEST_CASE(holds_no_memory_until_the_first_push) {
  fifo<std::string> q;
  BOOST_TEST(q.empty());
  BOOST_TEST(q.capacity() == 0u);
  q.push_back("a");
  BOOST_TEST(q.capacity() >= 1u);
}

BOOST_AUTO_TEST_CASE(keeps_first_in_first_out_order_at_both_ends) {
  fifo<int> q;
  for (int i = 0; i < 1000; ++i) q.push_back(i);
  q.push_front(-1);
  BOOST_TEST(q.size() == 1001u);
  BOOST_TEST(q.front() == -1);
  BOOST_TEST(q.back() == 999);
  q.insert(q.begin() + 2, 42);  // between 0 and 1
  BOOST_TEST(q[2] == 42);
  q.pop_front();
  q.pop_front();
  BOOST_TEST(q.front() == 42);
  q.pop_front();
  int expected = 1;
  for (; !q.empty(); ++expected, q.pop_front()) BOOST_TEST(q.front() == expected);
  BOOST_TEST(expected == 1000);
}

BOOST_AUTO_TEST_CASE(gives_its_room_back_once_empty) {
  fifo<std::unique_ptr<int>> q;
  for (int i = 0; i < 100000; ++i) q.push_back(std::make_unique<int>(i));
  BOOST_TEST(q.capacity() >= 100000u);
  while (q.size() > 1) q.pop_front();
  BOOST_TEST(q.capacity() >= 100000u);  // not while something is left
  q.pop_front();
  BOOST_TEST(q.capacity() == 0u);
  for (int i = 0; i < 100000; ++i) q.push_back(std::make_unique<int>(i));
  q.clear();
  BOOST_TEST(q.capacity() == 0u);
}

BOOST_AUTO_TEST_CASE(keeps_a_small_room_for_a_trickle) {
  // Two in, two out, over and over: emptied each round, the room is kept, not taken anew.
  fifo<int> q;
  std::size_t room = 0;
  for (int round = 0; round < 1000; ++round) {
    q.push_back(round);
    q.push_back(round);
    q.pop_front();
    q.pop_front();
    if (round == 0) room = q.capacity();
    BOOST_TEST(q.capacity() == room);
  }
  BOOST_TEST(room >= 2u);
  BOOST_TEST(room <= fifo<int>::kept_when_empty);
}

BOOST_AUTO_TEST_CASE(a_trickle_through_a_long_lived_queue_stays_small) {
  // Pushes at the back and pops at the front for ever: the buffer is reused (relocated), not
  // grown without bound.
  fifo<int> q;
  for (int i = 0; i < 100; ++i) q.push_back(i);
  for (int i = 100; i < 1000000; ++i) {
    q.push_back(i);
    q.pop_front();
  }
  BOOST_TEST(q.size() == 100u);
  BOOST_TEST(q.capacity() <= 1024u);
  BOOST_TEST(q.front() == 1000000 - 100);
}

// Room made at the front of a queue of none or one element whose front is full (after a
// clear, or one push_back): Boost 1.81's devector, used before, asserted there.
BOOST_AUTO_TEST_CASE(push_front_on_a_full_front_of_a_tiny_queue) {
  fifo<std::string> q;
  q.push_front("b");
  q.push_front("a");
  BOOST_TEST(q.size() == 2u);
  BOOST_TEST(q.front() == "a");
  q.clear();
  q.push_back("y");
  q.push_front("x");
  BOOST_TEST(q.front() == "x");
  BOOST_TEST(q.back() == "y");
  q.pop_front();
  q.insert(q.begin(), "w");
  BOOST_TEST(q.front() == "w");
  BOOST_TEST(q.back() == "y");
  for (int i = 0; i < 100; ++i) q.insert(q.begin(), std::to_string(i));
  BOOST_TEST(q.front() == "99");
  BOOST_TEST(q.size() == 102u);
}

BOOST_AUTO_TEST_CASE(swap_exchanges_contents) {
  fifo<int> a, b;
  a.push_back(1);
  a.push_back(2);
  a.swap(b);
  BOOST_TEST(a.empty());
  BOOST_TEST(b.size() == 2u);
  BOOST_TEST(b.front() == 1);
}

// An element that counts the times it was moved.
struct counted {
  explicit counted(int v, long* moves) : value(v), moves(moves) {}
  counted(counted&& o) noexcept : value(o.value), moves(o.moves) { ++*moves; }
  counted& operator=(counted&& o) noexcept {
    value = o.value;
    moves = o.moves;
    ++*moves;
    return *this;
  }
  int value;
  long* moves;
};

BOOST_AUTO_TEST_CASE(a_queue_taking_at_the_back_and_giving_at_the_front_moves_nothing) {
  // A channel's queue under load: a backlog of 100,000, a million more in and out. Elements
  // move only while the ring doubles to its size (devector, used before, moved the whole
  // backlog every few thousand pushes: about 18 moves per push).
  long moves = 0;
  fifo<counted> q;
  for (int i = 0; i < 100000; ++i) q.push_back(counted(i, &moves));
  const long moves_to_fill = moves;
  BOOST_TEST(moves_to_fill <= 100000 + 131072 + 17);  // one per push, doublings: copies + 1
  for (int i = 100000; i < 1100000; ++i) {
    q.push_back(counted(i, &moves));
    BOOST_TEST_REQUIRE(q.front().value == i - 100000);
    q.pop_front();
  }
  BOOST_TEST(moves - moves_to_fill == 1000000);  // each push's one move into its slot
  BOOST_TEST(q.capacity() == 131072u);
}

BOOST_AUTO_TEST_CASE(behaves_as_a_deque_under_random_operations) {
  // Against std::deque: pushes at both ends, ordered insertions anywhere (as a channel keeps
  // its keyed queue: std::upper_bound over the iterators), pops, clears.
  std::mt19937 rng(12345);
  fifo<int> q;
  std::deque<int> model;
  for (int step = 0; step < 200000; ++step) {
    const int op = int(rng() % 100);
    const int v = int(rng() % 1000);
    if (op < 30) {
      q.push_back(v);
      model.push_back(v);
    } else if (op < 40) {
      q.push_front(int(v));
      model.push_front(v);
    } else if (op < 60) {
      const auto at = std::size_t(rng() % (model.size() + 1));
      auto it = q.insert(q.begin() + std::ptrdiff_t(at), int(v));
      BOOST_TEST_REQUIRE(*it == v);
      model.insert(model.begin() + std::ptrdiff_t(at), v);
    } else if (op < 95) {
      if (!model.empty()) {
        BOOST_TEST_REQUIRE(q.front() == model.front());
        q.pop_front();
        model.pop_front();
      }
    } else if (op == 99 && rng() % 50 == 0) {
      q.clear();
      model.clear();
    }
    BOOST_TEST_REQUIRE(q.size() == model.size());
    if (step % 1000 == 0) {
      BOOST_TEST_REQUIRE(std::equal(q.begin(), q.end(), model.begin(), model.end()));
      BOOST_TEST_REQUIRE(std::equal(q.rbegin(), q.rend(), model.rbegin(), model.rend()));
    }
  }
}

BOOST_AUTO_TEST_CASE(sorted_insertion_keeps_order) {
  fifo<int> q;
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    const int v = int(rng() % 100000);
    q.insert(std::upper_bound(q.begin(), q.end(), v), int(v));
  }
  BOOST_TEST(std::is_sorted(q.begin(), q.end()));
  BOOST_TEST(q.size() == 5000u);
}

BOOST_AUTO_TEST_CASE(moved_from_queue_is_empty_and_owns_nothing) {
  fifo<std::string> a;
  for (int i = 0; i < 100; ++i) a.push_back(std::to_string(i));
  fifo<std::string> b(std::move(a));
  BOOST_TEST(a.empty());
  BOOST_TEST(a.capacity() == 0u);
  BOOST_TEST(b.size() == 100u);
  BOOST_TEST(b.back() == "99");
  a = std::move(b);
  BOOST_TEST(a.size() == 100u);
}

BOOST_AUTO_TEST_SUITE_END()
