// The operating-system contract of measure. Every OS call the library makes goes through
// these functions; their implementation files for one OS (platform_linux.cpp, files_linux.cpp,
// elf_symbols_linux.cpp) are the only ones with OS headers. All functions here are safe to call from the runtime's hot
// side: none allocates from the C heap, none takes a lock of the library, and all are async-signal-safe unless a
// comment says otherwise. EINTR is retried inside; callers never see it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::detail::platform {

// ---- memory -------------------------------------------------------------------------
/// Maps `bytes` (rounded up to pages) of zeroed, private, read-write memory that is only
/// committed when touched. Returns nullptr on failure; never aborts.
void* map_pages(std::size_t bytes) noexcept;
/// Unmaps memory obtained from map_pages. pre: `p`/`bytes` are exactly what map_pages saw.
void unmap_pages(void* p, std::size_t bytes) noexcept;
/// Grows memory from map_pages (`p`/`old_bytes` exactly what map_pages or an earlier call
/// returned and saw) to `new_bytes`, keeping its contents, and moving it if it must: the
/// pages already touched move with it, neither copied nor touched again. Returns the new
/// address, or nullptr on failure (the old mapping is then unchanged). `p` may be nullptr
/// (then it maps, as map_pages).
void* grow_pages(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept;
/// Commits the pages of [p, p + bytes) (memory from map_pages) for writing now, in one call:
/// for memory the caller is about to fill. A page first read and then written otherwise
/// faults twice (the kernel's zero page, then a copy), and each fault is a trap. Best effort:
/// does nothing where the kernel cannot (before Linux 5.14) or memory is short.
void populate_pages(void* p, std::size_t bytes) noexcept;
std::size_t page_size() noexcept;
/// How many of the `count` pages from `first_page` (page-aligned) the process can read, counted
/// from the first up to the first that it cannot: asked of the kernel, which copies one byte of
/// each (no fault, no file descriptor). 0 also when the kernel does not answer (a seccomp
/// policy): callers then treat the memory as unreadable.
std::size_t readable_pages(std::uintptr_t first_page, std::size_t count) noexcept;
/// True when `function` lies in the C library's own code and that library is glibc: then it
/// is glibc's malloc_usable_size, and blocks of that allocator can be read with
/// glibc_usable_size.
bool in_glibc(const void* function) noexcept;
/// The usable size of a live block of glibc's allocator, from the chunk header in the word
/// before it (size, with flag bit 2 for an mmapped chunk): what glibc's malloc_usable_size
/// returns for a live block, without its in-use check, which reads the next chunk's header
/// (a cache miss of its own on every call). pre: `block` is live and from glibc's malloc.
inline std::size_t glibc_usable_size(const void* block) noexcept {
  std::size_t header = static_cast<const std::size_t*>(block)[-1];
  return (header & ~std::size_t{7}) - ((header & 2U) != 0 ? 2 * sizeof(std::size_t) : sizeof(std::size_t));
}

// ---- stacks ---------------------------------------------------------------------------
/// Maps a stack of `bytes` (a multiple of the page size) for run_on_stack, with an
/// inaccessible guard page below it; committed only where touched. Returns its top (the
/// highest address, 16-byte aligned) or nullptr.
void* map_stack(std::size_t bytes) noexcept;
/// Calls `fn(arg)` with the stack pointer at `stack_top` (from map_stack), and returns on the
/// caller's stack. The frame it leaves on the caller's stack is 16 bytes; a signal that
/// arrives meanwhile is handled on `stack_top`'s stack (unless the program set a sigaltstack).
void run_on_stack(void* stack_top, void (*fn)(void*), void* arg) noexcept;

// ---- time, identity -------------------------------------------------------------------
std::uint64_t monotonic_ns() noexcept;
/// Wall-clock time since the Unix epoch, in nanoseconds.
std::uint64_t realtime_ns() noexcept;
/// The process id from the kernel (not a cached value, so it is right in a forked child).
int process_id() noexcept;
int parent_process_id() noexcept;
/// The kernel's id of the calling thread.
std::uint64_t thread_id() noexcept;
/// The name of thread `tid` of this process (as pthread_setname_np set it, at most 15 bytes),
/// NUL-terminated in `out` (room for 16). The calling thread's is asked of the kernel directly;
/// another thread's is read from /proc with one descriptor at the top of the range, opened
/// and closed here. An empty name when it cannot be read.
void thread_name(std::uint64_t tid, char (&out)[16]) noexcept;
void yield_cpu() noexcept;
/// 64 random bits from the kernel, never blocking; when the kernel cannot give them (early
/// boot, an old kernel), a mix of the clocks, the process id and an address.
std::uint64_t random_u64() noexcept;
/// Ends the process at once with `status` (no exit handlers), like _exit.
[[noreturn]] void exit_process(int status) noexcept;

// ---- files ----------------------------------------------------------------------------
/// Creates `path` for writing, with permission bits `mode` (less the umask), only if nothing
/// of that name exists: a symbolic link or any other file there makes it fail with -EEXIST
/// (or -ELOOP), so what a name points to is never written through. Returns a descriptor
/// (close-on-exec) or -errno.
int create_new_file(const char* path, unsigned mode) noexcept;
/// Writes into `out` (at least 17 bytes) a name part nobody can predict: 16 hexadecimal digits
/// of random_u64. Returns the length.
std::size_t random_name(char* out) noexcept;
/// Sets the permission bits of an open file. Returns 0 or -errno.
int change_mode(int fd, unsigned mode) noexcept;
/// Writes all of `size` bytes, retrying short writes. Returns 0 or -errno.
int write_all(int fd, const void* data, std::size_t size) noexcept;
/// Writes all of `size` bytes at `offset` of the file, leaving the file offset as it is.
/// Returns 0 or -errno.
int write_all_at(int fd, std::uint64_t offset, const void* data, std::size_t size) noexcept;
/// fsync-free close; returns 0 or -errno.
int close_file(int fd) noexcept;
/// Atomically replaces `to` with `from`. Returns 0 or -errno.
int rename_file(const char* from, const char* to) noexcept;
int remove_file(const char* path) noexcept;
/// Gives the file `from` the additional name `to`; fails with -EEXIST when `to` exists (an
/// atomic "create if absent"). Returns 0 or -errno.
int link_file(const char* from, const char* to) noexcept;

/// Creates an empty regular file at `path` (mode 0600) without opening it: no descriptor is
/// needed and no data block is written. Returns 0 or -errno (-EEXIST when something is there).
int create_marker(const char* path) noexcept;
/// True when `path` exists (any type).
bool path_exists(const char* path) noexcept;

/// A request `measure dump` left for process `pid` in `directory` (the run's status
/// directory, private to its user): the file DIRECTORY/dump-PID holding the absolute path the
/// capture is asked to go to. Copies that path, NUL-terminated, into `path` (room for `size`)
/// and removes the request. False, leaving nothing behind, when there is none; a request that
/// is not a regular file of this process's user, or holds no absolute path that fits, is
/// removed and refused (false). Opens one descriptor only while a request is there.
bool take_dump_request(const char* directory, int pid, char* path, std::size_t size) noexcept;

/// What a path names, to say why a file was not read.
enum class FileType : std::uint8_t { missing, regular, directory, fifo, socket, character_device, block_device, other };
/// A file's identity: every name of one file has the same.
struct FileId {
  std::uint64_t device;
  std::uint64_t inode;
  friend bool operator==(const FileId&, const FileId&) = default;
};
/// Opens `path` for reading if, and only if, it is a regular file (after symbolic links), and
/// never blocks: the type is checked before opening, so a device or FIFO is never opened, and
/// again on the descriptor, opened non-blocking, so one swapped in meanwhile cannot hold the
/// open either. Returns a descriptor (close-on-exec) or -errno (-ENOENT: nothing there;
/// -EINVAL: not a regular file). `*type` says what the path named; `*id` is the file's
/// identity when it opens.
int open_regular_file(const char* path, FileType* type, FileId* id) noexcept;

/// Runs `fn(arg)` in a helper process that shares this process's memory and has a copy of its
/// descriptor table, one of whose descriptors it closes to make room, and waits for it: files
/// can then be opened when every descriptor of the process is in use, without closing or
/// taking one of the program's. The helper has its own process id (ask for the program's
/// before), runs with every signal blocked and the calling thread's thread-local storage, and
/// must call only async-signal-safe code. Returns fn's result, or -errno when no helper could
/// start (a process limit, a sandbox).
int run_with_spare_descriptor(int (*fn)(void*), void* arg) noexcept;

/// Writes the working directory into `buf` (NUL-terminated). Returns false if it does not fit.
bool current_directory(char* buf, std::size_t size) noexcept;
/// Reads the target of /proc/self/exe (or the OS equivalent) into `buf`. False on failure.
bool executable_path(char* buf, std::size_t size) noexcept;
/// Reads the process's command line (NUL-separated arguments) into `buf`; returns the number
/// of bytes stored (0 on failure). Output is truncated to `size`.
std::size_t command_line(char* buf, std::size_t size) noexcept;
/// Writes a message to standard error with one write call (never buffered).
void write_stderr(const char* text, std::size_t size) noexcept;

// ---- process state --------------------------------------------------------------------
/// Resident set size of the process in bytes, or 0 if it cannot be read. Keeps one descriptor
/// open at the top of the descriptor range (see create_file) from the first call on; once the
/// program closes it or reuses its number, answers 0 and never opens the file again.
std::uint64_t resident_bytes() noexcept;
/// Bytes of [p, p + bytes) that are resident (committed), page by page. pre: the range was
/// mapped with map_pages. 0 if it cannot be asked.
std::uint64_t resident_bytes_of(const void* p, std::size_t bytes) noexcept;
/// The calling thread's stack [low, high): memory the thread may read (for the process's
/// first thread, the whole range its stack may grow into). Opens no file. May allocate from the
/// C heap (it asks the thread library), so call it only with the runtime's re-entrancy guard
/// held. False if unknown.
bool thread_stack_bounds(std::uintptr_t* low, std::uintptr_t* high) noexcept;

// ---- loaded modules -------------------------------------------------------------------
struct Segment {
  std::uint64_t vaddr;   // p_vaddr as linked
  std::uint64_t memsz;   // p_memsz
  std::uint64_t offset;  // p_offset in the file
  std::uint32_t flags;   // PF_R/PF_W/PF_X bits
};

struct ModuleView {
  const char* path;               // as the loader knows it; "" for the main program on Linux
  std::uintptr_t load_bias;       // run-time address minus link-time address
  const unsigned char* build_id;  // GNU build-id note bytes, or nullptr
  std::size_t build_id_size;
  const Segment* segments;  // PT_LOAD segments only
  std::size_t segment_count;
  bool has_eh_frame_hdr;  // the module carries unwind tables in memory
};

/// Calls `visit(view, context)` for each loaded module while the loader's list is stable.
/// Takes the loader's lock: never call it while holding a lock of the runtime, and never
/// from inside an intercepted allocation function. Views are valid only during the call.
void for_each_module(void (*visit)(const ModuleView&, void*), void* context) noexcept;

/// True when both addresses lie in the same loaded module.
bool same_module(const void* a, const void* b) noexcept;

/// The unwind tables (.eh_frame_hdr, as mapped) of the module that contains `address`:
/// 1 with *eh_frame_hdr set (0 when the module has none), 0 when no module contains the
/// address, -1 when the loader offers no lock-free lookup. Lock-free and allocation-free, so
/// safe inside the allocation hooks.
int find_unwind_tables(std::uintptr_t address, std::uintptr_t* eh_frame_hdr) noexcept;

/// The [begin, end) range of executable code of the module that contains `address`.
bool module_text_range(const void* address, std::uintptr_t* begin, std::uintptr_t* end) noexcept;

/// Looks up `name` among the objects loaded after the one containing this code
/// (RTLD_NEXT semantics), or in the default scope when `next` is false. Returns a definition:
/// an executable's canonical PLT entry for `name` (a non-PIE program that takes the function's
/// address) is passed over for the definition its calls reach. Returns nullptr if absent.
/// Allocates from the C heap (the loader's error message when `name` is absent, handed back
/// before it returns), so call it with the runtime's re-entrancy guard held.
void* find_symbol(const char* name, bool next) noexcept;

/// The address of the function `name` that the loaded module `module` (the loader's
/// `link_map` of it) defines itself, read from its DT_GNU_HASH table (every toolchain of the
/// last decade emits one); nullptr when it defines none or has no such table. Reads memory
/// only: no lock, no allocation, usable from the loader's audit callbacks.
void* module_function(const void* module, const char* name) noexcept;

// ---- redirected calls (measure attach) -------------------------------------------------
/// A word through which a loaded module reaches a function of another module: a GOT entry
/// or an absolute pointer to the function, as its dynamic relocations name them.
struct CallSlot {
  void** slot;                // the word
  void* original;             // what it held when found
  void* replacement;          // what redirecting puts there
  const void* module;         // the loader's record (link_map) of the module holding it
  std::uintptr_t page_begin;  // its page when read-only after relocation (RELRO), else 0
};

/// Finds the slots through which the loaded modules reach the functions `names[i]`, to be
/// redirected to `replacements[i]` (i < count): every module but measure's own libraries
/// and the loader. Fills at most `capacity` of `out` and returns how many there are (more
/// than `capacity`: call again with room for all). Takes the loader's lock, like
/// for_each_module; allocates nothing.
std::size_t find_call_slots(const char* const* names, void* const* replacements, std::size_t count, CallSlot* out,
                            std::size_t capacity) noexcept;
/// The loader's record (link_map) of the module that contains `address`, and its file's path
/// in `*path` ("" for the main program); nullptr when no module contains it.
const void* module_of(const void* address, const char** path) noexcept;
/// A number that changes whenever the loader loads or unloads a module. Takes the loader's
/// lock, like for_each_module.
std::uint64_t module_generation() noexcept;
/// True while the module that held `slot` when it was found is still loaded. Lock-free.
bool call_slot_loaded(const CallSlot& slot) noexcept;
/// Stores `value` in the slot, making a read-only page writable for the store. Takes no lock
/// and allocates nothing: safe while the program's other threads are stopped anywhere.
/// False when the page could not be made writable (nothing is written then).
bool write_call_slot(const CallSlot& slot, void* value) noexcept;

/// True once the C library has begun initializing the process (its early initialization or
/// its environment); before, only the dynamic loader runs. Stays true when the program
/// clears its environment.
bool c_library_started() noexcept;

/// Forked child: closes the descriptors the toolkit keeps open for itself (at the top of the
/// descriptor range), which the child inherited from its parent.
void close_inherited_files() noexcept;
/// Registers fork handlers: `prepare` in the parent before fork, `parent`/`child` after.
bool at_fork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept;
/// Registers `fn` to run at normal process exit, in exit()'s last-in-first-out order and not
/// tied to this library's unloading.
bool at_exit(void (*fn)()) noexcept;
/// Registers `fn` to run at quick_exit().
bool at_quick_exit(void (*fn)()) noexcept;

/// Starts a detached thread running `fn(arg)` with every signal blocked (the program's
/// signals must never be delivered to the toolkit's thread). False on failure.
bool start_thread(void* (*fn)(void*), void* arg) noexcept;
/// Sleeps for `ns` nanoseconds (returns early on a signal; the caller loops).
void sleep_ns(std::uint64_t ns) noexcept;
/// The largest file this process may write (RLIMIT_FSIZE), UINT64_MAX when unlimited. A
/// write past it would raise SIGXFSZ, which kills the program by default.
std::uint64_t file_size_limit() noexcept;

/// A per-thread destructor slot: `destroy(value)` runs when a thread exits with a non-null
/// value set. Returns false on failure.
bool thread_exit_slot_create(unsigned* slot, void (*destroy)(void*)) noexcept;
void thread_exit_slot_set(unsigned slot, void* value) noexcept;

}  // namespace measure::detail::platform
