#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "plan/template.hpp"

namespace bm {

// Where a placeholder stands in a POSIX shell script, as far as quoting goes.
enum class ShellContext {
  Unquoted,      // a word of a command (also inside $(...), and in a comment)
  DoubleQuoted,  // "..."
  SingleQuoted,  // '...'
  AnsiC,         // $'...' (bash, ksh, zsh)
  HereDocument,  // the body of a here-document whose delimiter is unquoted
  Arithmetic,    // $((...)) or $[...]: the shell evaluates the value as an expression
};

// A shell script's placeholders never put their values into the script's text: each becomes a
// reference to an environment variable that holds the value ("${NAME}", quoted as its place in
// the script needs), so no value, whatever bytes it holds, can change how the shell parses the
// script. Only a script that evaluates text itself (eval, sh -c "...", ssh host "...") can run a
// value as code, and then by its own choice.
//
// Finds the context of every placeholder segment of `script`, in order. Throws UserError at the
// script's location for a placeholder where the shell would not expand a reference (the body of a
// here-document with a quoted delimiter, a delimiter itself) or where one cannot be placed
// reliably (inside backquotes, inside ${...}, right after a '\' or a '$').
std::vector<ShellContext> shell_contexts(const Template& script);

// The text that stands for the environment variable `name` in `context`.
std::string shell_reference(ShellContext context, std::string_view name);

// For an argv whose program is a shell (sh, bash, dash, ...), the index of the word it runs as a
// script (the one after -c, or after an option cluster holding c such as -ec); 0 when there is
// none. `words` are the literal texts of the argv templates.
std::size_t shell_script_word(const std::vector<const Template*>& words);

} // namespace bm
