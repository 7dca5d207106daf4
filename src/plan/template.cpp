#include "plan/template.hpp"

#include <cctype>

#include "util/strings.hpp"

namespace bm {

namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

void append_literal(std::vector<Segment>& segments, std::string_view text) {
  if (text.empty()) {
    return;
  }
  if (!segments.empty() && segments.back().kind == Segment::Kind::Literal) {
    segments.back().text += text;
    return;
  }
  Segment segment;
  segment.text = std::string(text);
  segments.push_back(std::move(segment));
}

} // namespace

std::string_view runtime_field_name(RuntimeField field) {
  switch (field) {
  case RuntimeField::Slot:
    return "slot";
  case RuntimeField::Cores:
    return "cores";
  case RuntimeField::Gpus:
    return "gpus";
  case RuntimeField::ResultDir:
    return "result_dir";
  case RuntimeField::TaskId:
    return "task_id";
  }
  return "slot";
}

std::string_view runtime_variable(RuntimeField field) {
  switch (field) {
  case RuntimeField::Slot:
    return "BENCHMATRIX_SLOT";
  case RuntimeField::Cores:
    return "BENCHMATRIX_CORES";
  case RuntimeField::Gpus:
    return "BENCHMATRIX_GPUS";
  case RuntimeField::ResultDir:
    return "BENCHMATRIX_RESULT_DIR";
  case RuntimeField::TaskId:
    return "BENCHMATRIX_TASK_ID";
  }
  return "BENCHMATRIX_SLOT";
}

Template Template::parse(std::string_view text, const SourceLocation& where) {
  static constexpr std::string_view k_parallel = "%%PARALLEL%%";
  Template result;
  result.m_location = where;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, k_parallel.size(), k_parallel) == 0) {
      Segment segment;
      segment.kind = Segment::Kind::Runtime;
      segment.runtime = RuntimeField::Slot;
      result.m_segments.push_back(segment);
      i += k_parallel.size();
      continue;
    }
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      append_literal(result.m_segments, "{");
      i += 2;
      continue;
    }
    if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      append_literal(result.m_segments, "}");
      i += 2;
      continue;
    }
    if (c == '}') {
      throw UserError(where, fmt::format("'{}': a lone '}}' (write '}}}}' for a literal brace)", printable(text)));
    }
    if (c != '{') {
      size_t next = text.find_first_of("{}%", i + 1);
      if (next == std::string_view::npos) {
        next = text.size();
      }
      append_literal(result.m_segments, text.substr(i, next - i));
      i = next;
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      throw UserError(where, fmt::format("'{}': '{{' is not closed (write '{{{{' for a literal brace)", printable(text)));
    }
    std::string_view inner = text.substr(i + 1, close - i - 1);
    size_t dot = inner.find('.');
    std::string_view name = inner.substr(0, dot);
    std::string_view field = dot == std::string_view::npos ? std::string_view() : inner.substr(dot + 1);
    auto valid = [](std::string_view part, bool dots) {
      if (part.empty()) {
        return false;
      }
      for (char ch : part) {
        if (!is_name_char(ch) && !(dots && ch == '.')) {
          return false;
        }
      }
      return true;
    };
    if (!valid(name, false) || (dot != std::string_view::npos && !valid(field, true))) {
      throw UserError(where, fmt::format("'{}': '{{{}}}' is not a placeholder; expected {{axis}}, {{axis.field}} or "
                                         "one of {{slot}}, {{cores}}, {{gpus}}, {{result_dir}}, {{task_id}} (for a literal brace, "
                                         "as in a shell's ${{{{VAR}}}}, write {{{{ and }}}})",
                                         printable(text), printable(inner)));
    }
    Segment segment;
    segment.kind = Segment::Kind::Axis;
    for (RuntimeField runtime : {RuntimeField::Slot, RuntimeField::Cores, RuntimeField::Gpus, RuntimeField::ResultDir,
                                 RuntimeField::TaskId}) {
      if (name == runtime_field_name(runtime) && field.empty()) {
        segment.kind = Segment::Kind::Runtime;
        segment.runtime = runtime;
      }
    }
    if (segment.kind == Segment::Kind::Axis) {
      segment.text = std::string(name);
      segment.field = std::string(field);
    }
    result.m_segments.push_back(std::move(segment));
    i = close + 1;
  }
  return result;
}

std::string Template::render(const std::function<std::string(const std::string&, const std::string&)>& axis,
                             const std::function<std::string(RuntimeField)>& runtime,
                             const std::function<std::string(std::string_view)>& quote) const {
  std::string out;
  for (const auto& segment : m_segments) {
    switch (segment.kind) {
    case Segment::Kind::Literal:
      out += segment.text;
      break;
    case Segment::Kind::Axis:
      out += quote ? quote(axis(segment.text, segment.field)) : axis(segment.text, segment.field);
      break;
    case Segment::Kind::Runtime:
      out += quote ? quote(runtime(segment.runtime)) : runtime(segment.runtime);
      break;
    }
  }
  return out;
}

} // namespace bm
