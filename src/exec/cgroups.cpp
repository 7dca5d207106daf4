#include "exec/cgroups.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_root = "/sys/fs/cgroup";

bool write_text(const std::string& path, const std::string& text, std::string* error = nullptr) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    if (error != nullptr) {
      *error = fmt::format("write({}, \"{}\"): {}", path, printable(text, 40), std::strerror(errno));
    }
    return false;
  }
  return true;
}

std::string read_text(const std::string& path) {
  try {
    return std::string(trim(read_file(path)));
  } catch (const std::exception&) {
    return {};
  }
}

std::string cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (int cpu : cpus) {
    out += (out.empty() ? "" : ",") + std::to_string(cpu);
  }
  return out;
}

// "N:controllers:/path" lines of /proc/self/cgroup: the path for a v1 controller, or for v2 ("").
std::optional<std::string> own_path(const std::string& controller) {
  for (const auto& line : split(read_text("/proc/self/cgroup"), '\n')) {
    auto parts = split(line, ':');
    if (parts.size() < 3) {
      continue;
    }
    std::string path = line.substr(parts[0].size() + parts[1].size() + 2);
    if (controller.empty() ? (parts[0] == "0" && parts[1].empty()) : (parts[1] == controller)) {
      return path;
    }
    if (!controller.empty()) {
      for (const auto& name : split(parts[1], ',')) {
        if (name == controller) {
          return path;
        }
      }
    }
  }
  return std::nullopt;
}

std::uint64_t read_key(const std::string& path, std::string_view key) {
  for (const auto& line : split(read_text(path), '\n')) {
    auto words = split(line, ' ');
    if (words.size() == 2 && words[0] == key) {
      return std::strtoull(words[1].c_str(), nullptr, 10);
    }
  }
  return 0;
}

} // namespace

CgroupManager::CgroupManager() {
  if (::geteuid() != 0 && ::access(k_root, W_OK) != 0) {
    // Not fatal: a delegated subtree may still be writable; the setups below find out.
  }
  if (setup_v2() || setup_v1()) {
    return;
  }
  m_version = 0;
  m_controllers.clear();
}

namespace {

// The cgroups of earlier benchmatrix processes that were killed (SIGKILL, a crash) stay behind:
// remove the empty ones of processes that no longer exist. rmdir only ever removes an empty
// cgroup, so one still holding a process is left for a later run.
void remove_stale_cgroups(const std::string& own) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(own, error)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("benchmatrix-") || !entry.is_directory(error)) {
      continue;
    }
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + 12, &end, 10);
    if (end == name.c_str() + 12 || *end != '\0' || pid <= 0 || pid == ::getpid() ||
        ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) {
      continue;
    }
    for (const auto& child : fs::directory_iterator(entry.path(), error)) {
      if (child.is_directory(error)) {
        ::rmdir(child.path().c_str());
      }
    }
    ::rmdir(entry.path().c_str());
  }
}

} // namespace

CgroupManager::~CgroupManager() {
  for (const auto& [limits, cgroup] : m_spares) {
    m_leftovers.push_back(cgroup);
  }
  for (const auto& cgroup : m_leftovers) {
    for (const auto& dir : cgroup.dirs) {
      ::rmdir(dir.c_str());
    }
  }
  for (const auto& controller : m_controllers) {
    ::rmdir(controller.base.c_str());
  }
}

bool CgroupManager::setup_v2() {
  if (!fs::exists(std::string(k_root) + "/cgroup.controllers")) {
    m_reason = "no cgroup v2 hierarchy at /sys/fs/cgroup";
    return false;
  }
  auto path = own_path("");
  if (!path) {
    m_reason = "this process's cgroup v2 path is unknown";
    return false;
  }
  Controller controller{"", std::string(k_root) + *path, {}};
  std::string available = read_text(controller.own + "/cgroup.controllers");
  for (const char* needed : {"cpuset", "memory", "pids"}) {
    if (available.find(needed) == std::string::npos) {
      m_reason = fmt::format("cgroup v2: the {} controller is not delegated to {}", needed, controller.own);
      return false;
    }
  }
  // Controllers for our children must be enabled in our own cgroup, which the kernel allows only
  // when it holds no processes (or is the root): so this works in a delegated subtree or a
  // container's own root, and fails on a shared session cgroup, which is then left alone.
  std::string error;
  if (!write_text(controller.own + "/cgroup.subtree_control", "+cpuset +memory +pids", &error)) {
    m_reason = "cgroup v2: " + error;
    return false;
  }
  remove_stale_cgroups(controller.own);
  controller.base = controller.own + "/benchmatrix-" + std::to_string(::getpid());
  if (::mkdir(controller.base.c_str(), 0755) != 0 ||
      !write_text(controller.base + "/cgroup.subtree_control", "+cpuset +memory +pids", &error)) {
    m_reason = "cgroup v2: cannot create " + controller.base + (error.empty() ? "" : ": " + error);
    ::rmdir(controller.base.c_str());
    return false;
  }
  m_controllers.push_back(controller);
  m_version = 2;
  return true;
}

bool CgroupManager::setup_v1() {
  std::string why = m_reason;
  for (const char* name : {"cpuset", "memory", "pids"}) {
    auto path = own_path(name);
    std::string mount = std::string(k_root) + "/" + name;
    if (!path || !fs::exists(mount + "/cgroup.procs")) {
      m_reason = why + fmt::format("; no cgroup v1 {} hierarchy", name);
      return false;
    }
    Controller controller{name, mount + (*path == "/" ? "" : *path), {}};
    remove_stale_cgroups(controller.own);
    controller.base = controller.own + "/benchmatrix-" + std::to_string(::getpid());
    if (::mkdir(controller.base.c_str(), 0755) != 0 && errno != EEXIST) {
      m_reason = why + fmt::format("; cgroup v1: cannot create {}: {}", controller.base, std::strerror(errno));
      for (const auto& made : m_controllers) {
        ::rmdir(made.base.c_str());
      }
      m_controllers.clear();
      return false;
    }
    if (controller.name == "cpuset") {
      // v1 cpusets start empty: a cgroup takes no process until cpus and mems are set.
      write_text(controller.base + "/cpuset.cpus", read_text(controller.own + "/cpuset.cpus"));
      write_text(controller.base + "/cpuset.mems", read_text(controller.own + "/cpuset.mems"));
    }
    m_controllers.push_back(controller);
  }
  m_version = 1;
  m_reason.clear();
  return true;
}

std::string CgroupManager::describe() const {
  if (m_version == 2) {
    return "cgroup v2 (cpuset, memory, pids, cgroup.kill) in " + m_controllers.front().base;
  }
  if (m_version == 1) {
    return "cgroup v1 (cpuset, memory, pids)";
  }
  return "none";
}

std::string CgroupManager::dir_of(const TaskCgroup& cgroup, const std::string& controller) const {
  for (std::size_t i = 0; i < m_controllers.size(); ++i) {
    if (m_controllers[i].name == controller) {
      return cgroup.dirs[i];
    }
  }
  return {};
}

std::optional<TaskCgroup> CgroupManager::create(std::uint64_t token, const CgroupLimits& limits,
                                                std::string& error) {
  auto spare = std::find_if(m_spares.begin(), m_spares.end(), [&](const auto& entry) { return entry.first == limits; });
  if (spare != m_spares.end()) {
    TaskCgroup cgroup = std::move(spare->second);
    m_spares.erase(spare);
    return cgroup;
  }
  return make("p" + std::to_string(token), limits, error);
}

void CgroupManager::want_spare(const CgroupLimits& limits) {
  if (std::find(m_wanted.begin(), m_wanted.end(), limits) == m_wanted.end()) {
    m_wanted.push_back(limits);
  }
}

std::optional<TaskCgroup> CgroupManager::make(const std::string& name, const CgroupLimits& limits, std::string& error) {
  TaskCgroup cgroup;
  for (const auto& controller : m_controllers) {
    std::string dir = controller.base + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      error = fmt::format("mkdir({}): {}", dir, std::strerror(errno));
      finish(cgroup);
      return std::nullopt;
    }
    cgroup.dirs.push_back(dir);
  }
  std::string cpuset = m_version == 2 ? cgroup.dirs.front() : dir_of(cgroup, "cpuset");
  std::string memory = m_version == 2 ? cgroup.dirs.front() : dir_of(cgroup, "memory");
  std::string pids = m_version == 2 ? cgroup.dirs.front() : dir_of(cgroup, "pids");
  bool ok = true;
  if (m_version == 1) {
    ok = write_text(cpuset + "/cpuset.mems", read_text(m_controllers.front().base + "/cpuset.mems"), &error);
  }
  if (ok && !limits.cpus.empty()) {
    ok = write_text(cpuset + "/cpuset.cpus", cpu_list(limits.cpus), &error);
  } else if (ok && m_version == 1) {
    ok = write_text(cpuset + "/cpuset.cpus", read_text(m_controllers.front().base + "/cpuset.cpus"), &error);
  }
  if (ok && limits.memory_max > 0) {
    ok = write_text(memory + (m_version == 2 ? "/memory.max" : "/memory.limit_in_bytes"),
                    std::to_string(limits.memory_max), &error);
    if (ok && m_version == 2) {
      write_text(memory + "/memory.swap.max", "0");  // a limit that swaps is no limit for timings
    }
  }
  if (ok && limits.pids_max > 0) {
    ok = write_text(pids + "/pids.max", std::to_string(limits.pids_max), &error);
  }
  if (!ok) {
    finish(cgroup);
    return std::nullopt;
  }
  return cgroup;
}

void CgroupManager::kill(const TaskCgroup& cgroup) {
  if (cgroup.dirs.empty()) {
    return;
  }
  if (m_version == 2 && write_text(cgroup.dirs.front() + "/cgroup.kill", "1")) {
    return;
  }
  // v1 (or a kernel before 5.14): signal every listed process; new ones cannot escape the cgroup.
  // A few rounds catch processes forked while the list was read; an empty list ends them (the
  // common case: the run's process was the only one, and it has been reaped).
  for (int round = 0; round < 3; ++round) {
    bool found = false;
    for (const auto& line : split(read_text(cgroup.dirs.back() + "/cgroup.procs"), '\n')) {
      if (!line.empty()) {
        ::kill(static_cast<pid_t>(std::strtol(line.c_str(), nullptr, 10)), SIGKILL);
        found = true;
      }
    }
    if (!found) {
      break;
    }
  }
}

CgroupStats CgroupManager::finish(const TaskCgroup& cgroup) {
  CgroupStats stats;
  if (cgroup.dirs.empty()) {
    return stats;
  }
  kill(cgroup);
  std::string memory = m_version == 2 ? cgroup.dirs.front() : dir_of(cgroup, "memory");
  if (!memory.empty()) {
    if (m_version == 2) {
      stats.memory_peak = std::strtoull(read_text(memory + "/memory.peak").c_str(), nullptr, 10);
      stats.oom_killed = read_key(memory + "/memory.events", "oom_kill") > 0;
    } else {
      stats.memory_peak = std::strtoull(read_text(memory + "/memory.max_usage_in_bytes").c_str(), nullptr, 10);
      stats.oom_killed = read_key(memory + "/memory.oom_control", "oom_kill") > 0;
    }
  }
  // Removed by tidy(), when the orchestrator has nothing else to do: not between a slot's
  // process and its next one.
  m_leftovers.push_back(cgroup);
  return stats;
}

void CgroupManager::tidy() {
  std::erase_if(m_leftovers, [](TaskCgroup& cgroup) {
    std::erase_if(cgroup.dirs, [](const std::string& dir) {
      // Killed processes leave the cgroup as they exit, asynchronously: EBUSY is retried later.
      return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
    });
    return cgroup.dirs.empty();
  });
  for (const auto& limits : m_wanted) {
    bool have = std::any_of(m_spares.begin(), m_spares.end(), [&](const auto& entry) { return entry.first == limits; });
    std::string error;
    if (!have) {
      if (auto cgroup = make("s" + std::to_string(++m_spares_made), limits, error)) {
        m_spares.emplace_back(limits, std::move(*cgroup));
      }  // else: the next create() makes one itself and reports the error there
    }
  }
  m_wanted.clear();
}

} // namespace bm
