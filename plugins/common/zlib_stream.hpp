#pragma once
// zlib streams for a connection's bytes, as Netty's ZlibEncoder/ZlibDecoder (ZLIB wrapper) make
// and read them: one stream per direction for the life of the connection, every message written
// with Z_SYNC_FLUSH so the peer can decode it as soon as it arrives. Flume's Avro source and
// sink use this for compression-type = deflate. Header-only; link zlib.

#include <zlib.h>

#include <cstddef>
#include <string>

namespace sluice::plugins::zlib_stream {

// Decompresses a connection's incoming bytes. Not copyable (the z_stream points into itself).
class Inflater {
 public:
  Inflater() = default;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater() {
    if (ready_) inflateEnd(&zs_);
  }

  bool init() noexcept {
    if (ready_) return true;
    ready_ = inflateInit(&zs_) == Z_OK;  // zlib header expected, any window size
    return ready_;
  }

  // Inflates data[0, n), handing the output to sink(const char*, std::size_t) in pieces of at
  // most cap bytes written to scratch; sink returns false to stop. Returns false on a corrupt
  // stream or data after the stream's end (*error says which).
  template <class Sink>
  bool feed(const char* data, std::size_t n, char* scratch, std::size_t cap, Sink&& sink,
            const char** error) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs_.avail_in = static_cast<uInt>(n);
    for (;;) {
      if (ended_ && zs_.avail_in > 0) {
        *error = "data after the end of the deflate stream";
        return false;
      }
      zs_.next_out = reinterpret_cast<Bytef*>(scratch);
      zs_.avail_out = static_cast<uInt>(cap);
      const int rc = inflate(&zs_, Z_SYNC_FLUSH);
      const std::size_t produced = cap - zs_.avail_out;
      if (rc == Z_STREAM_END) ended_ = true;
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        *error = rc == Z_DATA_ERROR ? "corrupt deflate stream" : "inflate failed";
        return false;
      }
      if (produced > 0 && !sink(scratch, static_cast<std::size_t>(produced))) return true;
      if (produced == cap) continue;             // the scratch was too small: more output waits
      if (ended_ && zs_.avail_in > 0) continue;  // reported at the top of the loop
      return true;  // everything given was consumed (zlib keeps a partial block)
    }
  }

 private:
  z_stream zs_{};
  bool ready_ = false;
  bool ended_ = false;
};

// Compresses a connection's outgoing messages.
class Deflater {
 public:
  Deflater() = default;
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() {
    if (ready_) deflateEnd(&zs_);
  }

  // level 0..9. windowBits 9..15 and memLevel 1..9 trade memory for ratio: a sender of small
  // messages (the source's replies) needs little of either.
  bool init(int level, int windowBits = 15, int memLevel = 8) noexcept {
    if (ready_) return true;
    ready_ =
        deflateInit2(&zs_, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY) == Z_OK;
    return ready_;
  }

  // Appends the compressed data to out, ended with a sync flush.
  bool compress(const char* data, std::size_t n, std::string& out) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs_.avail_in = static_cast<uInt>(n);
    for (;;) {
      const std::size_t room = deflateBound(&zs_, zs_.avail_in) + 16;
      const std::size_t at = out.size();
      out.resize(at + room);
      zs_.next_out = reinterpret_cast<Bytef*>(out.data() + at);
      zs_.avail_out = static_cast<uInt>(room);
      const int rc = deflate(&zs_, Z_SYNC_FLUSH);
      out.resize(at + room - zs_.avail_out);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
      if (zs_.avail_in == 0 && zs_.avail_out != 0) return true;
    }
  }

 private:
  z_stream zs_{};
  bool ready_ = false;
};

}  // namespace sluice::plugins::zlib_stream
