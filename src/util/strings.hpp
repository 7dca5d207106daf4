#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bm {

std::vector<std::string> split(std::string_view text, char separator);
std::string join(const std::vector<std::string>& parts, std::string_view separator);
std::string_view trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);
// A letter or '_', then letters, digits and '_' (and '-' when allowed): a name for an axis, a
// field, an environment variable.
bool is_identifier(std::string_view name, bool allow_dash = false);

// Shell glob over a whole string: '*' any run, '?' one character, no classes.
bool glob_match(std::string_view pattern, std::string_view text);

// Quotes a word for POSIX sh so that it reaches the command as exactly these bytes.
std::string shell_quote(std::string_view word);

// Makes text printable on one line: control characters become \n, \t or \xNN.
std::string printable(std::string_view text, std::size_t max_length = 200);
// `text` for HTML or XML element content and quoted attributes: &, <, >, " and ' as entities,
// other control characters than newline and tab as spaces (XML 1.0 allows none of them).
std::string escape_markup(std::string_view text);

// A CSV field (RFC 4180): quoted, with doubled quotes, when it holds a comma, quote or newline.
std::string csv_field(std::string_view text);

// Whether the bytes are well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

} // namespace bm
