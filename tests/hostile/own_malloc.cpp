// A program with its own allocator: the executable defines the malloc family (a bump
// allocator over one mapping), so the preload's malloc is never called. operator new still
// reaches measure; the capture must say it is incomplete, and measure run must warn.
#include <cstdio>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace {
constexpr std::size_t arena_size = 64 << 20;
char* g_arena = nullptr;
std::size_t g_used = 0;

void* bump(std::size_t size, std::size_t alignment) {
  if (g_arena == nullptr) {
    void* p = mmap(nullptr, arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_arena = static_cast<char*>(p);
  }
  std::size_t start = (g_used + 16 + alignment - 1) & ~(alignment - 1);
  if (start + size > arena_size) {
    return nullptr;
  }
  std::memcpy(g_arena + start - 8, &size, sizeof size);
  g_used = start + size;
  return g_arena + start;
}
}  // namespace

#define EXPORTED __attribute__((visibility("default")))  // as a replacing allocator's are

extern "C" {
EXPORTED void* malloc(std::size_t size) {
  return bump(size, 16);
}
EXPORTED void free(void*) {}
EXPORTED void* calloc(std::size_t n, std::size_t size) {
  return bump(n * size, 16);
}  // mmap memory is zeroed
EXPORTED void* realloc(void* p, std::size_t size) {
  void* q = bump(size, 16);
  if (p != nullptr && q != nullptr) {
    std::size_t old = 0;
    std::memcpy(&old, static_cast<char*>(p) - 8, sizeof old);
    std::memcpy(q, p, old < size ? old : size);
  }
  return q;
}
EXPORTED int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  *out = bump(size, alignment < 16 ? 16 : alignment);
  return *out != nullptr ? 0 : 12;
}
EXPORTED void* aligned_alloc(std::size_t alignment, std::size_t size) {
  return bump(size, alignment < 16 ? 16 : alignment);
}
EXPORTED void* memalign(std::size_t alignment, std::size_t size) {
  return bump(size, alignment < 16 ? 16 : alignment);
}
EXPORTED std::size_t malloc_usable_size(void* p) {
  std::size_t size = 0;
  std::memcpy(&size, static_cast<char*>(p) - 8, sizeof size);
  return size;
}
}

void* volatile sink;

int main() {
  // More than StackPalette::hot_allocations: blocks of a hot stack, which must still not be
  // sized through glibc (the blocks are this allocator's).
  for (int i = 0; i < 100; ++i) {
    int* numbers = new int[100];  // @own_new
    sink = numbers;
    delete[] numbers;
  }
  void* p = malloc(1000);  // not seen by measure
  sink = p;
  std::puts("own allocator done");
  return 0;
}
