#pragma once
// Internal to the network layer: a growable byte buffer that is not zero-filled on growth and
// keeps its capacity across uses (a connection's kept input and its queued output).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace sluice::plugins::net {

class ByteBuffer {
 public:
  const char* data() const noexcept { return data_.get(); }
  char* data() noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return cap_; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

  void clear() noexcept { size_ = 0; }
  // Gives the memory back when empty and larger than `keep` bytes (after a burst).
  void trim(std::size_t keep) noexcept {
    if (size_ == 0 && cap_ > keep) {
      data_.reset();
      cap_ = 0;
    }
  }
  // p must not point into this buffer.
  void append(const char* p, std::size_t n) {
    if (n == 0) return;
    reserve(size_ + n);
    std::memcpy(data_.get() + size_, p, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void assign(const char* p, std::size_t n) {
    size_ = 0;
    append(p, n);
  }
  // Drops the first n bytes.
  void consume(std::size_t n) noexcept {
    n = std::min(n, size_);
    if (n == 0) return;
    if (n < size_) std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }
  // Room for n more bytes at the end; commit() what was written there.
  char* tail(std::size_t n) {
    reserve(size_ + n);
    return data_.get() + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }
  void swap(ByteBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }

 private:
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    const std::size_t cap = std::max({n, cap_ * 2, std::size_t{256}});
    std::unique_ptr<char[]> d(new char[cap]);
    if (size_ > 0) std::memcpy(d.get(), data_.get(), size_);
    data_ = std::move(d);
    cap_ = cap;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace sluice::plugins::net
