#pragma once
// Min-heap of elements keyed by an int64 priority (an absolute deadline in ns), each element
// knowing its own heap position so it can be removed or re-keyed in O(log n). This is the
// shape of upstream's per-channel in-flight and deferred queues (SPEC D.5), including their
// capacity policy: the initial capacity is given (upstream: max(1, mem-queue-size/10)), a
// full heap doubles, and a pop/remove that leaves it under half full halves it while the
// capacity is above 25.
//
// The queue holds `Ptr`s (raw pointers, or any pointer-like type whose default value is
// null); it does not own what they point to. The priority and position live in the element,
// in a `pqueue_slot` reached through `Access::slot(ptr)`; by default `ptr->pq_slot`. The heap
// keeps a copy of each priority beside its pointer, so sifting reads no element. An
// element is in at most one queue per slot. One channel on one shard owns each queue; it is
// not thread-safe.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace nsqd::broker {

// Per-element bookkeeping the queue reads and writes. index is -1 while not queued.
struct pqueue_slot {
  std::int64_t priority = 0;
  std::int64_t index = -1;
};

// Default accessor: the element has a public `pqueue_slot pq_slot` member.
struct member_pqueue_slot {
  template <class Ptr>
  static pqueue_slot& slot(const Ptr& p) {
    return p->pq_slot;
  }
};

template <class Ptr, class Access = member_pqueue_slot>
class pqueue {
 public:
  // `initial_capacity` 0 is taken as 1 (a zero capacity could never grow).
  explicit pqueue(std::size_t initial_capacity = 1)
      : _capacity(initial_capacity < 1 ? 1 : initial_capacity) {
    _heap.reserve(_capacity);
  }

  bool empty() const { return _heap.empty(); }
  std::size_t size() const { return _heap.size(); }
  // Slots reserved, following the grow x2 / shrink /2 policy above.
  std::size_t capacity() const { return _capacity; }

  // Drops every element (their slots are left as they were: the caller is discarding them).
  void clear() { _heap.clear(); }

  // Whether `p` is in this queue.
  bool contains(const Ptr& p) const {
    const std::int64_t i = Access::slot(p).index;
    return i >= 0 && static_cast<std::size_t>(i) < _heap.size() &&
           _heap[static_cast<std::size_t>(i)].ptr == p;
  }

  // Adds `p` (not already queued) with `priority`.
  void push(Ptr p, std::int64_t priority) {
    assert(Access::slot(p).index < 0);
    if (_heap.size() == _capacity) resize(_capacity * 2);
    pqueue_slot& s = Access::slot(p);
    s.priority = priority;
    s.index = static_cast<std::int64_t>(_heap.size());
    _heap.push_back({priority, std::move(p)});
    up(_heap.size() - 1);
  }

  // The element with the lowest priority; the queue must not be empty.
  const Ptr& top() const {
    assert(!empty());
    return _heap.front().ptr;
  }

  // Removes and returns the top; the queue must not be empty.
  Ptr pop() { return remove_at(0); }

  // The top if its priority is <= now (it is due), removed; otherwise (or when empty) a null
  // Ptr and the queue is unchanged. Upstream's PeekAndShift.
  Ptr pop_due(std::int64_t now) {
    if (empty() || _heap.front().priority > now) return Ptr{};
    return pop();
  }

  // Removes `p`, which must be in this queue; returns it.
  Ptr remove(const Ptr& p) {
    assert(contains(p));
    return remove_at(static_cast<std::size_t>(Access::slot(p).index));
  }

  // Gives queued `p` a new priority and restores the heap order.
  void update(const Ptr& p, std::int64_t priority) {
    assert(contains(p));
    pqueue_slot& s = Access::slot(p);
    const std::int64_t old = s.priority;
    s.priority = priority;
    const auto i = static_cast<std::size_t>(s.index);
    _heap[i].priority = priority;
    if (priority < old)
      up(i);
    else
      down(i);
  }

 private:
  // An element with a copy of its priority: sifting compares within the array and touches
  // an element only to tell it its new position.
  struct node {
    std::int64_t priority;
    Ptr ptr;
  };
  static std::int64_t pri(const node& n) { return n.priority; }

  void place(std::size_t i, node n) {
    Access::slot(n.ptr).index = static_cast<std::int64_t>(i);
    _heap[i] = std::move(n);
  }

  void up(std::size_t i) {
    node x = std::move(_heap[i]);
    const std::int64_t xp = pri(x);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (pri(_heap[parent]) <= xp) break;
      place(i, std::move(_heap[parent]));
      i = parent;
    }
    place(i, std::move(x));
  }

  void down(std::size_t i) {
    const std::size_t n = _heap.size();
    node x = std::move(_heap[i]);
    const std::int64_t xp = pri(x);
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && pri(_heap[child + 1]) < pri(_heap[child])) ++child;
      if (xp <= pri(_heap[child])) break;
      place(i, std::move(_heap[child]));
      i = child;
    }
    place(i, std::move(x));
  }

  Ptr remove_at(std::size_t i) {
    const std::size_t n = _heap.size();
    assert(i < n);
    Ptr out = std::move(_heap[i].ptr);
    Access::slot(out).index = -1;
    if (i != n - 1) {
      node last = std::move(_heap.back());
      _heap.pop_back();
      place(i, std::move(last));
      // The moved-in element may belong above or below position i.
      if (i > 0 && pri(_heap[i]) < pri(_heap[(i - 1) / 2]))
        up(i);
      else
        down(i);
    } else {
      _heap.pop_back();
    }
    if (n < _capacity / 2 && _capacity > 25) resize(_capacity / 2);
    return out;
  }

  void resize(std::size_t capacity) {
    std::vector<node> next;
    next.reserve(capacity);
    for (auto& n : _heap) next.push_back(std::move(n));
    _heap.swap(next);
    _capacity = capacity;
  }

  std::vector<node> _heap;
  std::size_t _capacity;  // the policy's capacity; _heap.capacity() is at least this
};

}  // namespace nsqd::broker
