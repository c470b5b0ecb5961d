#pragma once
// A double-ended queue that holds no memory while it is empty.
//
//   core::fifo<message> q;          // no allocation
//   q.push_back(m); q.pop_front();  // storage taken at the first push, given back once empty
//
// std::deque allocates about 600 bytes when it is constructed, full or not, and a node of 512
// bytes stays with it for ever; a node with 10,000 topics holds tens of thousands of queues
// that are empty nearly always. This one is one contiguous buffer (boost::container::devector:
// O(1) at both ends, relocates instead of growing when one end has room), dropped whenever the
// last element leaves and it is larger than a handful of elements, so a queue that once held a
// million messages does not keep their room. References are valid until the next insertion
// (a contiguous buffer moves when it grows), unlike std::deque's.

#include <cstddef>
#include <optional>
#include <utility>

#include <boost/container/devector.hpp>

namespace nsqd::core {

template <class T>
class fifo {
  using storage = boost::container::devector<T>;

 public:
  using value_type = T;
  using iterator = typename storage::iterator;
  using const_iterator = typename storage::const_iterator;
  using reverse_iterator = typename storage::reverse_iterator;

  // Room kept when the queue empties: a trickle of messages costs no allocation each.
  static constexpr std::size_t kept_when_empty = 16;

  bool empty() const noexcept { return _items.empty(); }
  std::size_t size() const noexcept { return _items.size(); }
  std::size_t capacity() const noexcept { return _items.capacity(); }

  T& front() noexcept { return _items.front(); }
  const T& front() const noexcept { return _items.front(); }
  T& back() noexcept { return _items.back(); }
  const T& back() const noexcept { return _items.back(); }
  T& operator[](std::size_t i) noexcept { return _items[i]; }
  const T& operator[](std::size_t i) const noexcept { return _items[i]; }

  iterator begin() noexcept { return _items.begin(); }
  iterator end() noexcept { return _items.end(); }
  const_iterator begin() const noexcept { return _items.begin(); }
  const_iterator end() const noexcept { return _items.end(); }
  reverse_iterator rbegin() noexcept { return _items.rbegin(); }
  reverse_iterator rend() noexcept { return _items.rend(); }

  void push_back(const T& v) { _items.push_back(v); }
  void push_back(T&& v) { _items.push_back(std::move(v)); }
  void push_front(T&& v) {
    if (_items.front_free_capacity() == 0 && _items.size() <= 1) {
      // Boost 1.81's devector asserts wrongly when it makes room at the front of a queue of
      // at most one element (it relocates correctly): done here by the back instead.
      std::optional<T> only;
      if (!_items.empty()) only.emplace(std::move(_items.front()));
      _items.clear();
      _items.push_back(std::move(v));
      if (only) _items.push_back(std::move(*only));
      return;
    }
    _items.push_front(std::move(v));
  }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    return _items.emplace_back(std::forward<Args>(args)...);
  }
  iterator insert(const_iterator at, T&& v) {
    if (at == _items.cbegin()) {  // (see push_front)
      push_front(std::move(v));
      return begin();
    }
    return _items.insert(at, std::move(v));
  }

  void pop_front() noexcept {
    _items.pop_front();
    if (_items.empty()) give_back();
  }
  void clear() noexcept {
    _items.clear();
    give_back();
  }
  void swap(fifo& other) noexcept { _items.swap(other._items); }

 private:
  void give_back() noexcept {
    if (_items.capacity() > kept_when_empty) storage().swap(_items);
  }

  storage _items;
};

}  // namespace nsqd::core
