#include "util/environment.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>

extern char** environ;

namespace bm {

bool is_secret_name(std::string_view name) {
  // By the parts of the name between '_' (TOKENIZERS_PARALLELISM and KEYBOARD_LAYOUT are not
  // secrets; HF_TOKEN, AWS_SECRET_ACCESS_KEY, APIKEY and DB_PASSWORDS are): a part that is a
  // marker, its plural, or ends with one.
  static constexpr std::array<std::string_view, 7> k_markers = {"TOKEN", "KEY", "PASSWORD", "PASSWD", "SECRET",
                                                                "CREDENTIAL", "PASSPHRASE"};
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::size_t start = 0;
  while (start <= upper.size()) {
    std::size_t end = upper.find_first_of("_-.", start);
    std::string_view part = std::string_view(upper).substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!part.empty() && part.back() == 'S') {
      part.remove_suffix(1);
    }
    for (std::string_view marker : k_markers) {
      if (part.size() >= marker.size() && part.substr(part.size() - marker.size()) == marker) {
        return true;
      }
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return false;
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
  // What one terminal, session or login has and the next lacks: never a reason for a program to
  // measure differently.
  static constexpr std::array<std::string_view, 22> k_volatile = {
      "_",          "SHLVL",     "OLDPWD",    "PWD",           "COLUMNS",     "LINES",     "TERM",      "COLORTERM",
      "WINDOWID",   "DISPLAY",   "XAUTHORITY", "GPG_TTY",      "LS_COLORS",   "PS1",       "PS2",       "PROMPT_COMMAND",
      "TMUX",       "STY",       "WINDOW",    "INVOCATION_ID", "JOURNAL_STREAM", "MAIL"};
  static constexpr std::array<std::string_view, 14> k_prefixes = {
      "SSH_",   "TERM_",      "XDG_SESSION_", "TMUX_",   "VSCODE_", "ITERM_",  "KONSOLE_",
      "GNOME_TERMINAL_", "KITTY_", "ALACRITTY_", "WEZTERM_", "WT_",    "DBUS_",   "WAYLAND_"};
  if (std::find(k_volatile.begin(), k_volatile.end(), name) != k_volatile.end()) {
    return true;
  }
  return std::any_of(k_prefixes.begin(), k_prefixes.end(),
                     [&](std::string_view prefix) { return name.substr(0, prefix.size()) == prefix; });
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) {
    return "unknown-host";
  }
  return buffer;
}

} // namespace bm
