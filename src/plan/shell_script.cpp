#include "plan/shell_script.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "util/strings.hpp"

namespace bm {

namespace {

constexpr int k_hole = -1;  // a placeholder in the stream of script characters

// What the scanner is inside of. A Command frame is the unquoted text of a command line: the
// script itself, a $(...) command substitution or a ( ) subshell within one.
enum class Frame { Command, Double, Single, AnsiC, Backquote, Parameter, Arithmetic };

struct FrameState {
  Frame kind = Frame::Command;
  int depth = 0;  // Command: open parentheses (0 for the script itself); Parameter: braces; Arithmetic: parentheses or brackets
  bool bracket = false;  // Arithmetic opened by $[
};

struct HereDocument {
  std::string delimiter;
  bool strip_tabs = false;  // <<-
  bool expands = true;      // the delimiter is unquoted: the body undergoes expansion
};

// A POSIX sh scanner good enough to tell, for each placeholder, which quoting it stands in. It need
// not be perfect: a reference holds no value, so a context misjudged can at worst split or glob
// the value as a word, never run it.
class Scanner {
public:
  explicit Scanner(std::vector<int> stream) : m_in(std::move(stream)) { m_frames.push_back({}); }

  // The contexts of the holes, in order; a non-empty `error` says why one cannot be placed.
  std::vector<ShellContext> run(std::string& error) {
    while (m_at < m_in.size() && m_error.empty()) {
      if (m_body) {
        body_step();
      } else {
        step();
      }
    }
    error = m_error;
    return m_contexts;
  }

private:
  int peek(std::size_t ahead = 0) const { return m_at + ahead < m_in.size() ? m_in[m_at + ahead] : -2; }
  FrameState& top() { return m_frames.back(); }

  // A hole in the current frame; also checks what precedes it.
  void hole(ShellContext context) {
    if (m_escape_pending) {
      m_error = "it follows a '\\', which would escape the quoting benchmatrix puts around the value";
      return;
    }
    bool expands = context != ShellContext::SingleQuoted && context != ShellContext::AnsiC;
    if (expands && m_previous == '$') {
      m_error = "it follows a '$' (for a shell variable write ${{NAME}}; for a literal '$' before the value put a "
              "space or quotes between them)";
      return;
    }
    m_contexts.push_back(context);
    m_previous = k_hole;
    ++m_at;
  }

  void push(Frame kind, int depth = 0, bool bracket = false) { m_frames.push_back({kind, depth, bracket}); }

  void step() {
    int c = peek();
    FrameState& frame = top();
    if (c == k_hole) {
      switch (frame.kind) {
      case Frame::Command:
        return hole(ShellContext::Unquoted);
      case Frame::Double:
        return hole(ShellContext::DoubleQuoted);
      case Frame::Single:
        m_escape_pending = false;
        return hole(ShellContext::SingleQuoted);
      case Frame::AnsiC:
        return hole(ShellContext::AnsiC);
      case Frame::Arithmetic:
        return hole(ShellContext::Arithmetic);
      case Frame::Backquote:
        m_error = "it stands inside `...` backquotes, where quoting is re-read; use $(...) instead";
        return;
      case Frame::Parameter:
        m_error = "it stands inside a ${...} parameter expansion; assign the value to a variable first";
        return;
      }
    }
    m_escape_pending = false;
    if (m_comment) {
      if (c == '\n') {
        m_comment = false;
        newline();
        return;
      }
      advance();
      return;
    }
    switch (frame.kind) {
    case Frame::Single:
      if (c == '\'') {
        m_frames.pop_back();
      }
      advance();
      return;
    case Frame::AnsiC:
    case Frame::Backquote:
      // Both end at their quote and take a backslash as escaping the next character.
      if (c == '\\') {
        escape();
        return;
      }
      if (c == (frame.kind == Frame::AnsiC ? '\'' : '`')) {
        m_frames.pop_back();
      }
      advance();
      return;
    case Frame::Double:
      if (c == '\\') {
        int next = peek(1);
        if (next == '$' || next == '`' || next == '"' || next == '\\' || next == '\n' || next == k_hole) {
          escape();
          return;
        }
        advance();
        return;
      }
      if (c == '"') {
        m_frames.pop_back();
        advance();
        return;
      }
      if (c == '`') {
        push(Frame::Backquote);
        advance();
        return;
      }
      if (c == '$') {
        dollar(false);
        return;
      }
      advance();
      return;
    case Frame::Parameter:
      if (c == '\\') {
        escape();
        return;
      }
      if (c == '\'' || c == '"') {
        push(c == '\'' ? Frame::Single : Frame::Double);
        advance();
        return;
      }
      return bracketed_step(c, '{', '}');
    case Frame::Arithmetic:
      return bracketed_step(c, frame.bracket ? '[' : '(', frame.bracket ? ']' : ')');
    case Frame::Command:
      command_step(c);
      return;
    }
  }

  // ${...} and $((...)) / $[...]: they end at the bracket that matches their opening one, and a
  // `$` inside opens what it opens.
  void bracketed_step(int c, char open, char close) {
    FrameState& frame = top();
    if (c == open) {
      ++frame.depth;
    } else if (c == close && --frame.depth == 0) {
      m_frames.pop_back();
    } else if (c == '$') {
      dollar(false);
      return;
    }
    advance();
  }

  void command_step(int c) {
    FrameState& frame = top();
    switch (c) {
    case '\\':
      escape();
      return;
    case '\'':
      push(Frame::Single);
      break;
    case '"':
      push(Frame::Double);
      break;
    case '`':
      push(Frame::Backquote);
      break;
    case '$':
      dollar(true);
      return;
    case '#':
      if (word_start()) {
        m_comment = true;
      }
      break;
    case '(':
      if (m_frames.size() > 1) {
        ++frame.depth;
      }
      break;
    case ')':
      if (m_frames.size() > 1 && --frame.depth == 0) {
        m_frames.pop_back();
      }
      break;
    case '<':
      if (peek(1) == '<' && peek(2) != '<') {
        advance();
        advance();
        here_document_operator();
        return;
      }
      break;
    case '\n':
      advance();
      newline();
      return;
    default:
      break;
    }
    advance();
  }

  // After `$`: what it opens, if anything.
  void dollar(bool allow_ansi_c) {
    int next = peek(1);
    if (next == '(' && peek(2) == '(') {
      advance(3);
      push(Frame::Arithmetic, 2);
    } else if (next == '(') {
      advance(2);
      push(Frame::Command, 1);
    } else if (next == '{') {
      advance(2);
      push(Frame::Parameter, 1);
    } else if (next == '[') {
      advance(2);
      push(Frame::Arithmetic, 1, true);
    } else if (next == '\'' && allow_ansi_c) {
      advance(2);
      push(Frame::AnsiC);
    } else {
      advance();
    }
  }

  bool word_start() const {
    return m_previous == -2 || m_previous == ' ' || m_previous == '\t' || m_previous == '\n' || m_previous == ';' ||
           m_previous == '&' || m_previous == '|' || m_previous == '(' || m_previous == ')';
  }

  void advance(std::size_t count = 1) {
    for (std::size_t i = 0; i < count && m_at < m_in.size(); ++i) {
      m_previous = m_in[m_at++];
    }
  }

  // A backslash and the character it escapes (a hole right after it is refused by hole()).
  void escape() {
    advance();
    if (peek() == k_hole) {
      m_escape_pending = true;
      return;
    }
    advance();
    m_previous = 'x';  // an escaped character is a plain one: "\$" does not make a "$" before a hole
  }

  // `<<` was consumed: reads the delimiter word of a here-document.
  void here_document_operator() {
    HereDocument document;
    if (peek() == '-') {
      document.strip_tabs = true;
      advance();
    }
    while (peek() == ' ' || peek() == '\t') {
      advance();
    }
    std::optional<int> quote;
    for (;;) {
      int c = peek();
      if (c == k_hole) {
        m_error = "it stands in a here-document's delimiter";
        return;
      }
      if (c < 0 || (!quote && (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
                               c == '>' || c == '(' || c == ')'))) {
        break;
      }
      if (quote) {
        if (c == *quote) {
          quote.reset();
        } else {
          document.delimiter.push_back(static_cast<char>(c));
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        document.expands = false;
      } else if (c == '\\') {
        document.expands = false;
        advance();
        c = peek();
        if (c >= 0) {
          document.delimiter.push_back(static_cast<char>(c));
        }
      } else {
        document.delimiter.push_back(static_cast<char>(c));
      }
      advance();
    }
    m_pending.push_back(std::move(document));
  }

  // The end of a command line: pending here-documents' bodies start here.
  void newline() {
    if (!m_pending.empty()) {
      m_body = true;
      m_line.clear();
      m_line_has_hole = false;
    }
  }

  void body_step() {
    const HereDocument& document = m_pending.front();
    int c = peek();
    if (c == k_hole) {
      if (!document.expands) {
        m_error = fmt::format("it stands in a here-document whose delimiter is quoted (<<'{}'), where the shell expands "
                            "nothing; write the delimiter unquoted (<<{}) to have the value there",
                            document.delimiter, document.delimiter);
        return;
      }
      if (m_line_open > 0) {
        m_error = "it stands inside an expansion ($(...), ${...} or `...`) within a here-document";
        return;
      }
      m_line_has_hole = true;
      return hole(ShellContext::HereDocument);
    }
    m_escape_pending = false;
    if (c == '\n') {
      std::string_view line = m_line;
      if (document.strip_tabs) {
        line.remove_prefix(std::min(line.find_first_not_of('\t'), line.size()));
      }
      advance();
      if (!m_line_has_hole && line == document.delimiter) {
        m_pending.erase(m_pending.begin());
        if (m_pending.empty()) {
          m_body = false;
        }
      }
      m_line.clear();
      m_line_has_hole = false;
      m_line_open = 0;
      return;
    }
    if (document.expands) {
      if (c == '\\' && peek(1) != '\n') {
        m_line.push_back('\\');
        advance();
        if (peek() == k_hole) {
          m_escape_pending = true;
          return;
        }
        c = peek();
        if (c < 0) {
          return;
        }
      } else if (c == '$' && (peek(1) == '(' || peek(1) == '{' || peek(1) == '[')) {
        ++m_line_open;
      } else if (c == '`') {
        m_line_open += m_backquote_open ? -1 : 1;
        m_backquote_open = !m_backquote_open;
      } else if ((c == ')' || c == '}' || c == ']') && m_line_open > 0) {
        --m_line_open;
      }
    }
    m_line.push_back(static_cast<char>(c));
    advance();
  }

  std::vector<int> m_in;
  std::size_t m_at = 0;
  int m_previous = -2;  // the character before the current one; -2 at the start
  bool m_escape_pending = false;
  bool m_comment = false;
  std::vector<FrameState> m_frames;
  std::vector<ShellContext> m_contexts;
  std::string m_error;
  std::vector<HereDocument> m_pending;  // here-documents whose bodies come after the line
  bool m_body = false;
  std::string m_line;
  bool m_line_has_hole = false;
  int m_line_open = 0;  // expansions opened on this body line and not closed
  bool m_backquote_open = false;
};

std::string segment_text(const Segment& segment) {
  if (segment.kind == Segment::Kind::Runtime) {
    return fmt::format("{{{}}}", runtime_field_name(segment.runtime));
  }
  return fmt::format("{{{}}}", segment.text + (segment.field.empty() ? "" : "." + segment.field));
}

} // namespace

std::vector<ShellContext> shell_contexts(const Template& script) {
  std::vector<int> stream;
  std::vector<const Segment*> holes;
  for (const auto& segment : script.segments()) {
    if (segment.kind == Segment::Kind::Literal) {
      for (unsigned char c : segment.text) {
        stream.push_back(c);
      }
    } else {
      stream.push_back(k_hole);
      holes.push_back(&segment);
    }
  }
  std::string error;
  std::vector<ShellContext> contexts = Scanner(std::move(stream)).run(error);
  if (!error.empty()) {
    const Segment& at = *holes[std::min(contexts.size(), holes.size() - 1)];
    throw UserError(script.location(), fmt::format("the placeholder {} in the shell command cannot be given its value "
                                                   "safely: {}",
                                                   segment_text(at), error));
  }
  BM_ASSERT(contexts.size() == holes.size());
  return contexts;
}

std::string shell_reference(ShellContext context, std::string_view name) {
  switch (context) {
  case ShellContext::Unquoted:
    return fmt::format("\"${{{}}}\"", name);
  case ShellContext::DoubleQuoted:
  case ShellContext::HereDocument:
  case ShellContext::Arithmetic:
    return fmt::format("${{{}}}", name);
  case ShellContext::SingleQuoted:
    return fmt::format("'\"${{{}}}\"'", name);
  case ShellContext::AnsiC:
    return fmt::format("'\"${{{}}}\"$'", name);
  }
  return fmt::format("\"${{{}}}\"", name);
}

std::size_t shell_script_word(const std::vector<const Template*>& words) {
  static const std::vector<std::string_view> k_shells = {"sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "yash", "posh"};
  auto literal = [&](std::size_t i) -> std::optional<std::string> {
    const auto& segments = words[i]->segments();
    if (segments.empty()) {
      return std::string();
    }
    if (segments.size() != 1 || segments[0].kind != Segment::Kind::Literal) {
      return std::nullopt;
    }
    return segments[0].text;
  };
  if (words.size() < 3) {
    return 0;
  }
  std::optional<std::string> program = literal(0);
  if (!program) {
    return 0;
  }
  std::string_view base = *program;
  base.remove_prefix(std::min(base.size(), base.rfind('/') == std::string_view::npos ? 0 : base.rfind('/') + 1));
  if (std::find(k_shells.begin(), k_shells.end(), base) == k_shells.end()) {
    return 0;
  }
  for (std::size_t i = 1; i + 1 < words.size(); ++i) {
    std::optional<std::string> word = literal(i);
    if (!word || word->size() < 2 || ((*word)[0] != '-' && (*word)[0] != '+') || *word == "--") {
      return 0;  // an operand (a script file) or a placeholder: no -c script
    }
    if (*word == "-o" || *word == "+o" || *word == "-O" || *word == "+O") {
      ++i;  // -o pipefail: the option's argument
      continue;
    }
    if ((*word)[0] == '-' && word->find('c') != std::string::npos &&
        word->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 1) == std::string::npos) {
      return i + 1;
    }
  }
  return 0;
}

} // namespace bm
