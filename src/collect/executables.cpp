#include "collect/executables.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

#include "util/command.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

std::string resolve(const std::string& word, const std::string& workdir, bool search_path) {
  if (word.find('/') != std::string::npos) {
    return word.front() == '/' || workdir.empty() ? word : workdir + "/" + word;
  }
  return search_path ? find_in_path(word) : std::string();
}

std::string hash_file(const std::string& path) {
  using Key = std::tuple<std::string, dev_t, ino_t, off_t, long, long>;
  static std::mutex mutex;
  static std::map<Key, std::string> cache;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    return {};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    ::close(fd);
    return {};
  }
  Key key{path, st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache.find(key);
    if (found != cache.end()) {
      ::close(fd);
      return found->second;
    }
  }
  Hasher hasher;
  char buffer[1 << 16];
  ssize_t got = 0;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0) {
    hasher.add(std::string_view(buffer, static_cast<size_t>(got)));
  }
  ::close(fd);
  if (got < 0) {
    return {};
  }
  std::string hex = hasher.hex();
  std::lock_guard<std::mutex> lock(mutex);
  cache[key] = hex;
  return hex;
}

} // namespace

std::vector<ExecutableHash> hash_executables(const std::vector<std::string>& argv, const std::string& workdir) {
  std::vector<ExecutableHash> found;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].empty() || (i > 0 && argv[i].front() == '-')) {
      continue;
    }
    std::string path = resolve(argv[i], workdir, i == 0);
    if (path.empty()) {
      continue;
    }
    std::string hash = hash_file(path);
    if (!hash.empty()) {
      found.push_back({argv[i] == path ? path : (i == 0 && argv[i].find('/') == std::string::npos ? path : argv[i]),
                       hash});
    }
  }
  return found;
}

} // namespace bm
