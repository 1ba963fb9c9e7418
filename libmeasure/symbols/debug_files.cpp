#include "symbols/debug_files.h"

#include <gelf.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include <elfutils/libdwelf.h>
#include <fmt/format.h>

namespace measure::detail {
namespace {

constexpr const char* debug_root = "/usr/lib/debug";

const char* type_name(platform::FileType type) noexcept {
  switch (type) {
    case platform::FileType::directory:
      return "a directory";
    case platform::FileType::fifo:
      return "a FIFO";
    case platform::FileType::socket:
      return "a socket";
    case platform::FileType::character_device:
      return "a character device";
    case platform::FileType::block_device:
      return "a block device";
    case platform::FileType::missing:
    case platform::FileType::regular:
    case platform::FileType::other:
      break;
  }
  return "not a regular file";
}

// What a candidate must be to be taken.
struct Wanted {
  std::string build_id;              // when not empty, exactly this build-id
  std::optional<std::uint32_t> crc;  // else, when set, this CRC-32 of the whole file
};

// The CRC-32 of the whole file (as .gnu_debuglink records it: zlib's polynomial).
std::uint32_t file_crc(Elf* elf) {
  std::size_t size = 0;
  const char* bytes = elf_rawfile(elf, &size);
  uLong crc = crc32(0, nullptr, 0);
  for (std::size_t done = 0; bytes != nullptr && done < size;) {
    auto n = static_cast<uInt>(std::min<std::size_t>(size - done, 1U << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes + done), n);
    done += n;
  }
  return static_cast<std::uint32_t>(crc);
}

// True when the file open on `fd` is the one wanted; `alt` gets its own dwz link.
bool is_wanted(int fd, const Wanted& wanted, AltLink* alt) {
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf == nullptr) {
    return false;
  }
  bool ok = false;
  if (!wanted.build_id.empty()) {
    const void* id = nullptr;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    ok = n == static_cast<ssize_t>(wanted.build_id.size()) && std::memcmp(id, wanted.build_id.data(), n) == 0;
  } else {
    ok = !wanted.crc || file_crc(elf) == *wanted.crc;
  }
  if (ok && alt != nullptr) {
    *alt = alt_link_of(elf);
  }
  elf_end(elf);
  return ok;
}

// A candidate path: its descriptor when it is the file wanted, else -1.
int try_candidate(DebugSearch& s, const std::string& path, const Wanted& wanted, AltLink* alt) {
  platform::FileId id{};
  int fd = open_regular(path, s.not_regular, &id);
  if (fd < 0) {
    return -1;
  }
  // The module's own file by another name is not its debug file.
  if (id == s.main || !is_wanted(fd, wanted, alt)) {
    platform::close_file(fd);
    return -1;
  }
  return fd;
}

std::string build_id_path(const std::string& id) {
  std::string path = fmt::format("{}/.build-id/", debug_root);
  for (std::size_t i = 0; i < id.size(); ++i) {
    path += fmt::format("{}{:02x}", i == 1 ? "/" : "", static_cast<unsigned char>(id[i]));
  }
  return path + ".debug";
}

// Joins a directory (empty: none, the name stays relative) and a name.
std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// The candidate paths of a separate debug file for the module file `file`, in libdwfl's order.
std::vector<std::string> debug_candidates(const std::string& file, const char* debuglink) {
  std::filesystem::path f(file);
  std::string dir = f.has_parent_path() ? f.parent_path().string() : std::string();
  std::string base = f.filename().string();
  // Without a debug link, B.debug stands for it, and B itself is also tried in debug dirs.
  std::vector<std::string> names = {debuglink != nullptr ? std::string(debuglink) : base + ".debug"};
  std::vector<std::string> out = {join(dir, names.front())};
  if (debuglink == nullptr) {
    names.push_back(base);
  }
  for (const std::string& name : names) {
    out.push_back(join(join(dir, ".debug"), name));
  }
  if (!dir.empty() && dir.front() == '/') {
    // /usr/lib/debug/usr/lib/x, then /usr/lib/debug/lib/x, then /usr/lib/debug/x.
    for (std::size_t at = 0; at != std::string::npos && at + 1 < dir.size(); at = dir.find('/', at + 1)) {
      for (const std::string& name : names) {
        out.push_back(fmt::format("{}/{}/{}", debug_root, dir.substr(at + 1), name));
      }
    }
  }
  return out;
}

// The candidate paths of the dwz file `name` for the DWARF of `file`.
std::vector<std::string> alt_candidates(const std::string& file, const std::string& name) {
  std::filesystem::path f(file);
  std::string dir = f.has_parent_path() ? f.parent_path().string() : std::string();
  std::string base = std::filesystem::path(name).filename().string();
  std::vector<std::string> out = {join(dir, name), join(join(dir, ".dwz"), base), join(join(dir, ".debug"), name),
                                  fmt::format("{}/{}", debug_root, base), fmt::format("{}/.dwz/{}", debug_root, base)};
  if (!name.empty() && name.front() == '/') {
    out.push_back(name);
  }
  return out;
}

// Searches the build-id directory (for `wanted.build_id`), then the `candidates` of the
// module file's name and of its real path. Returns a descriptor and sets `found`, or -1.
template <class Candidates>
int search(DebugSearch& s, const char* file_name, Candidates candidates, const Wanted& wanted, AltLink* alt,
           std::string* found) {
  std::vector<std::string> paths;
  if (!wanted.build_id.empty()) {
    paths.push_back(build_id_path(wanted.build_id));
  }
  if (file_name != nullptr && *file_name != '\0') {
    std::vector<std::string> more = candidates(file_name);
    paths.insert(paths.end(), more.begin(), more.end());
    std::error_code ec;
    std::filesystem::path real = std::filesystem::canonical(file_name, ec);
    if (!ec && real.string() != file_name) {
      more = candidates(real.string());
      paths.insert(paths.end(), more.begin(), more.end());
    }
  }
  for (const std::string& path : paths) {
    int fd = try_candidate(s, path, wanted, alt);
    if (fd >= 0) {
      *found = path;
      return fd;
    }
  }
  return -1;
}

char* copy_for_libdwfl(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) {
    std::memcpy(out, s.c_str(), s.size() + 1);
  }
  return out;
}

}  // namespace

AltLink alt_link_of(Elf* elf) {
  std::size_t names = 0;
  if (elf == nullptr || elf_getshdrstrndx(elf, &names) != 0) {
    return {};
  }
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    const char* name = gelf_getshdr(scn, &header) != nullptr ? elf_strptr(elf, names, header.sh_name) : nullptr;
    if (name == nullptr || std::strcmp(name, ".gnu_debugaltlink") != 0) {
      continue;
    }
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || data->d_buf == nullptr) {
      return {};
    }
    const char* p = static_cast<const char*>(data->d_buf);
    const void* end = std::memchr(p, '\0', data->d_size);
    if (end == nullptr) {
      return {};
    }
    auto length = static_cast<std::size_t>(static_cast<const char*>(end) - p);
    return {std::string(p, length), std::string(p + length + 1, data->d_size - length - 1)};
  }
  return {};
}

int open_regular(const std::string& path, std::vector<std::string>* not_regular, platform::FileId* id) {
  platform::FileType type = platform::FileType::missing;
  int fd = platform::open_regular_file(path.c_str(), &type, id);
  if (fd < 0 && type != platform::FileType::missing && type != platform::FileType::regular && not_regular != nullptr) {
    std::string entry = fmt::format("{} ({})", path, type_name(type));
    if (std::find(not_regular->begin(), not_regular->end(), entry) == not_regular->end()) {
      not_regular->push_back(std::move(entry));
    }
  }
  return fd < 0 ? -1 : fd;
}

int find_debuginfo(Dwfl_Module* module, void** userdata, const char*, Dwarf_Addr, const char* file_name,
                   const char* debuglink, GElf_Word debuglink_crc, char** debuginfo_file_name) {
  if (userdata == nullptr || *userdata == nullptr) {
    return -1;
  }
  auto& s = *static_cast<DebugSearch*>(*userdata);
  std::string found;
  // libdwfl asks again for the dwz file of the DWARF it loaded, with the link's name and no CRC.
  const AltLink& link = s.debug_file.empty() ? s.main_alt : s.debug_alt;
  if (debuglink != nullptr && debuglink_crc == 0 && !link.build_id.empty() && link.name == debuglink) {
    auto candidates = [&](const std::string& file) { return alt_candidates(file, link.name); };
    int fd = search(s, file_name, candidates, Wanted{link.build_id, {}}, nullptr, &found);
    if (fd >= 0) {
      *debuginfo_file_name = copy_for_libdwfl(found);
    }
    return fd;
  }
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  int n = dwfl_module_build_id(module, &bits, &vaddr);
  Wanted wanted;
  if (n > 0) {
    wanted.build_id.assign(reinterpret_cast<const char*>(bits), static_cast<std::size_t>(n));
  } else if (debuglink != nullptr && debuglink_crc != 0) {
    wanted.crc = debuglink_crc;  // a module without a build-id: its debug link's checksum decides
  }
  auto candidates = [&](const std::string& file) { return debug_candidates(file, debuglink); };
  int fd = search(s, file_name, candidates, wanted, &s.debug_alt, &found);
  if (fd >= 0) {
    s.debug_file = found;
    *debuginfo_file_name = copy_for_libdwfl(found);
  }
  return fd;
}

int find_no_elf(Dwfl_Module*, void**, const char*, Dwarf_Addr, char**, Elf** elf) {
  *elf = nullptr;
  return -1;
}

}  // namespace measure::detail
