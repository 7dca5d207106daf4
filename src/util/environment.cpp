#include "util/environment.hpp"

#include <algorithm>
#include <array>
#include <cctype>

extern char** environ;

namespace bm {

bool is_secret_name(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  static constexpr std::array<std::string_view, 6> k_markers = {"TOKEN", "KEY", "PASSWORD", "PASSWD", "SECRET",
                                                                "CREDENTIAL"};
  return std::any_of(k_markers.begin(), k_markers.end(),
                     [&](std::string_view marker) { return upper.find(marker) != std::string::npos; });
}

std::string redacted(std::string_view name, std::string_view value) {
  return is_secret_name(name) ? std::string("<redacted>") : std::string(value);
}

std::vector<std::string> current_environment(const std::optional<std::vector<std::string>>& allow) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    if (name.substr(0, 12) == "BENCHMATRIX_") {
      continue;
    }
    if (allow && std::find(allow->begin(), allow->end(), name) == allow->end()) {
      continue;
    }
    env.emplace_back(text);
  }
  return env;
}

bool is_volatile_variable(std::string_view name) {
  static constexpr std::array<std::string_view, 14> k_volatile = {
      "_",           "SHLVL",          "OLDPWD",         "PWD",     "TERM_SESSION_ID", "WINDOWID", "SSH_CLIENT",
      "SSH_CONNECTION", "SSH_TTY",     "XDG_SESSION_ID", "COLUMNS", "LINES",           "SSH_AUTH_SOCK", "TMUX_PANE"};
  return std::find(k_volatile.begin(), k_volatile.end(), name) != k_volatile.end();
}

} // namespace bm
