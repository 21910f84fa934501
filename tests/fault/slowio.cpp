// LD_PRELOAD shim for fault tests: a slow disk. Every write(2), pwrite(2), writev(2), pwritev(2)
// (and their 64 variants), fsync(2) and fdatasync(2) on a file descriptor whose path lies under
// SLUICE_SLOWIO_PREFIX sleeps SLUICE_SLOWIO_MS milliseconds first, then does the real call.
// Sockets, pipes and files elsewhere are untouched, so only the disk the test points at is slow.
//
//   SLUICE_SLOWIO_PREFIX=/tmp/x/slow SLUICE_SLOWIO_MS=20 LD_PRELOAD=libsluice-slowio.so sluice ...
//
// SLUICE_SLOWIO_PREFIX may hold several prefixes separated by ':'. The path is looked up through
// /proc/self/fd on every call (a descriptor number is reused after close, so caching by number
// would be wrong, and the cost is noise next to the delay). Test code only.
// Both pwrite and pwrite64 (pwritev, pwritev64) are defined below; with 64-bit file offsets the
// headers would rename the first of each pair to the second.
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using WritevFn = ssize_t (*)(int, const struct iovec*, int);
using PwritevFn = ssize_t (*)(int, const struct iovec*, int, off_t);
using SyncFn = int (*)(int);

bool under(const char* path, const char* prefixes) {
  const char* p = prefixes;
  while (*p) {
    const char* end = strchr(p, ':');
    size_t n = end ? static_cast<size_t>(end - p) : strlen(p);
    while (n > 1 && p[n - 1] == '/') --n;  // "dir/" and "dir" mean the same
    if (n > 0 && strncmp(path, p, n) == 0 && (path[n] == '/' || path[n] == '\0')) return true;
    if (!end) break;
    p = end + 1;
  }
  return false;
}

// Sleeps when fd is a regular file (or directory, for fsync) under one of the prefixes.
void maybe_delay(int fd) {
  const char* prefixes = getenv("SLUICE_SLOWIO_PREFIX");
  const char* ms_text = getenv("SLUICE_SLOWIO_MS");
  if (!prefixes || !*prefixes || !ms_text) return;
  const long ms = strtol(ms_text, nullptr, 10);
  if (ms <= 0) return;
  const int saved = errno;  // callers may look at errno after a successful call
  char link[64];
  char path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n > 0 && path[0] == '/') {
    path[n] = '\0';
    if (under(path, prefixes)) {
      timespec ts{ms / 1000, (ms % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
  }
  errno = saved;
}

// The next definition of name (libc's). Cached once per symbol; a race only looks it up twice.
void* real(void** cache, const char* name) {
  void* f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
  if (f) return f;
  f = dlsym(RTLD_NEXT, name);
  if (!f) abort();  // no libc underneath: nothing sensible to do in a test shim
  __atomic_store_n(cache, f, __ATOMIC_RELEASE);
  return f;
}

}  // namespace

#define REAL(type, name)     \
  static void* cache_##name; \
  const auto next_##name = reinterpret_cast<type>(real(&cache_##name, #name))

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  REAL(WriteFn, write);
  maybe_delay(fd);
  return next_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  REAL(PwriteFn, pwrite);
  maybe_delay(fd);
  return next_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  REAL(PwriteFn, pwrite64);
  maybe_delay(fd);
  return next_pwrite64(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  REAL(WritevFn, writev);
  maybe_delay(fd);
  return next_writev(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  REAL(PwritevFn, pwritev);
  maybe_delay(fd);
  return next_pwritev(fd, iov, iovcnt, offset);
}

ssize_t pwritev64(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  REAL(PwritevFn, pwritev64);
  maybe_delay(fd);
  return next_pwritev64(fd, iov, iovcnt, offset);
}

int fsync(int fd) {
  REAL(SyncFn, fsync);
  maybe_delay(fd);
  return next_fsync(fd);
}

int fdatasync(int fd) {
  REAL(SyncFn, fdatasync);
  maybe_delay(fd);
  return next_fdatasync(fd);
}

}  // extern "C"
