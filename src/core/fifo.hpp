#pragma once
// A double-ended queue that holds no memory while it is empty.
//
//   core::fifo<message> q;          // no allocation
//   q.push_back(m); q.pop_front();  // storage taken at the first push, given back once empty
//
// std::deque allocates about 600 bytes when it is constructed, full or not, and a node of 512
// bytes stays with it for ever; a node with 10,000 topics holds tens of thousands of queues
// that are empty nearly always. This one is a ring buffer (a power-of-two number of slots):
// O(1) at both ends, an element moved only when the ring doubles or for an insertion in the
// middle (from the nearer end). It is dropped whenever the last element leaves and it is larger
// than a handful of elements, so a queue that once held a million messages does not keep their
// room. References are valid until the next insertion, unlike std::deque's.
//
// (boost::container::devector, used before, relocates its elements to the middle of its
// buffer whenever one end is full and a tenth of it is free: a queue that takes at the back and
// gives at the front moved all its elements every few pushes.)

#include <compare>
#include <cstddef>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace nsqd::core {

template <class T>
class fifo {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>,
                "elements move when the ring grows");

  template <bool Const>
  class basic_iterator {
    using owner = std::conditional_t<Const, const fifo, fifo>;

   public:
    using iterator_category = std::random_access_iterator_tag;
    using iterator_concept = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;

    basic_iterator() noexcept = default;
    basic_iterator(owner* q, std::ptrdiff_t i) noexcept : _q(q), _i(i) {}
    // iterator -> const_iterator
    template <bool C = Const, class = std::enable_if_t<C>>
    basic_iterator(const basic_iterator<false>& other) noexcept : _q(other._q), _i(other._i) {}

    reference operator*() const noexcept { return (*_q)[std::size_t(_i)]; }
    pointer operator->() const noexcept { return &**this; }
    reference operator[](difference_type n) const noexcept { return *(*this + n); }

    basic_iterator& operator++() noexcept { return ++_i, *this; }
    basic_iterator operator++(int) noexcept { return {_q, _i++}; }
    basic_iterator& operator--() noexcept { return --_i, *this; }
    basic_iterator operator--(int) noexcept { return {_q, _i--}; }
    basic_iterator& operator+=(difference_type n) noexcept { return _i += n, *this; }
    basic_iterator& operator-=(difference_type n) noexcept { return _i -= n, *this; }
    friend basic_iterator operator+(basic_iterator it, difference_type n) noexcept { return it += n; }
    friend basic_iterator operator+(difference_type n, basic_iterator it) noexcept { return it += n; }
    friend basic_iterator operator-(basic_iterator it, difference_type n) noexcept { return it -= n; }
    friend difference_type operator-(const basic_iterator& a, const basic_iterator& b) noexcept {
      return a._i - b._i;
    }
    friend bool operator==(const basic_iterator& a, const basic_iterator& b) noexcept {
      return a._i == b._i;
    }
    friend auto operator<=>(const basic_iterator& a, const basic_iterator& b) noexcept {
      return a._i <=> b._i;
    }

   private:
    friend class fifo;
    friend class basic_iterator<!Const>;
    owner* _q = nullptr;
    std::ptrdiff_t _i = 0;  // position from the front
  };

 public:
  using value_type = T;
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  // Room kept when the queue empties: a trickle of messages costs no allocation each.
  static constexpr std::size_t kept_when_empty = 16;

  fifo() noexcept = default;
  fifo(fifo&& other) noexcept
      : _slots(std::exchange(other._slots, nullptr)),
        _capacity(std::exchange(other._capacity, 0)),
        _head(std::exchange(other._head, 0)),
        _size(std::exchange(other._size, 0)) {}
  fifo& operator=(fifo&& other) noexcept {
    fifo(std::move(other)).swap(*this);
    return *this;
  }
  ~fifo() {
    destroy_all();
    release();
  }

  bool empty() const noexcept { return _size == 0; }
  std::size_t size() const noexcept { return _size; }
  std::size_t capacity() const noexcept { return _capacity; }

  T& operator[](std::size_t i) noexcept { return _slots[(_head + i) & (_capacity - 1)]; }
  const T& operator[](std::size_t i) const noexcept { return _slots[(_head + i) & (_capacity - 1)]; }
  T& front() noexcept { return _slots[_head]; }
  const T& front() const noexcept { return _slots[_head]; }
  T& back() noexcept { return (*this)[_size - 1]; }
  const T& back() const noexcept { return (*this)[_size - 1]; }

  iterator begin() noexcept { return {this, 0}; }
  iterator end() noexcept { return {this, std::ptrdiff_t(_size)}; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, std::ptrdiff_t(_size)}; }
  reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
  reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (_size == _capacity) {
      T made(std::forward<Args>(args)...);  // the arguments may be elements that move
      grow();
      return emplace_back(std::move(made));
    }
    T* at = &(*this)[_size];
    ::new (static_cast<void*>(at)) T(std::forward<Args>(args)...);
    ++_size;
    return *at;
  }
  void push_front(T&& v) {
    if (_size == _capacity) {
      T made(std::move(v));  // `v` may be an element that moves
      grow();
      return push_front(std::move(made));
    }
    const std::size_t head = (_head - 1) & (_capacity - 1);
    ::new (static_cast<void*>(&_slots[head])) T(std::move(v));
    _head = head;
    ++_size;
  }
  // Inserts before `at`, moving the elements on the nearer side of it by one.
  iterator insert(const_iterator at, T&& v) {
    const std::size_t i = std::size_t(at._i);
    if (i == 0) {
      push_front(std::move(v));
      return begin();
    }
    if (i == _size) {
      push_back(std::move(v));
      return end() - 1;
    }
    if (_size == _capacity) grow();
    if (i < _size / 2) {
      push_front(std::move(front()));  // the old front now sits at 1
      for (std::size_t j = 1; j < i; ++j) (*this)[j] = std::move((*this)[j + 1]);
    } else {
      emplace_back(std::move(back()));  // the old back now sits at _size - 2 and _size - 1
      for (std::size_t j = _size - 2; j > i; --j) (*this)[j] = std::move((*this)[j - 1]);
    }
    (*this)[i] = std::move(v);
    return begin() + std::ptrdiff_t(i);
  }

  void pop_front() noexcept {
    _slots[_head].~T();
    _head = (_head + 1) & (_capacity - 1);
    if (--_size == 0) emptied();
  }
  void clear() noexcept {
    destroy_all();
    _size = 0;
    emptied();
  }
  void swap(fifo& other) noexcept {
    std::swap(_slots, other._slots);
    std::swap(_capacity, other._capacity);
    std::swap(_head, other._head);
    std::swap(_size, other._size);
  }

 private:
  static constexpr std::size_t first_capacity = 4;

  void grow() {
    const std::size_t capacity = _capacity == 0 ? first_capacity : _capacity * 2;
    T* slots = std::allocator<T>().allocate(capacity);
    for (std::size_t i = 0; i < _size; ++i) {
      T& from = (*this)[i];
      ::new (static_cast<void*>(&slots[i])) T(std::move(from));
      from.~T();
    }
    release();
    _slots = slots;
    _capacity = capacity;
    _head = 0;
  }
  void destroy_all() noexcept {
    for (std::size_t i = 0; i < _size; ++i) (*this)[i].~T();
  }
  void emptied() noexcept {
    _head = 0;
    if (_capacity > kept_when_empty) release();
  }
  void release() noexcept {
    if (_slots) std::allocator<T>().deallocate(_slots, _capacity);
    _slots = nullptr;
    _capacity = 0;
  }

  T* _slots = nullptr;
  std::size_t _capacity = 0;  // 0 or a power of two
  std::size_t _head = 0;      // the front's slot
  std::size_t _size = 0;
};

}  // namespace nsqd::core
