#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace bm {

// The placeholders filled when a task starts, not when it is planned: they vary between attempts
// and so are never part of a task's spec hash.
enum class RuntimeField { Slot, Cores, Gpus, ResultDir, TaskId };

// One piece of a parsed template word.
struct Segment {
  enum class Kind { Literal, Axis, Runtime };
  Kind kind = Kind::Literal;
  std::string text;          // Literal: the text; Axis: the axis name
  std::string field;         // Axis: "binary" for {engine.binary}; empty for the value's name
  RuntimeField runtime = RuntimeField::Slot;
};

// A word such as "--n={n}" parsed once into segments. Syntax: {axis}, {axis.field}, {slot},
// {cores}, {gpus}, {result_dir}, {task_id}, %%PARALLEL%% (= {slot}); {{ and }} are literal braces.
class Template {
public:
  // Throws UserError at `where` for an unclosed or empty brace or a malformed name. Whether the
  // named axes exist is checked by the plan, which knows them.
  static Template parse(std::string_view text, const SourceLocation& where);

  const std::vector<Segment>& segments() const { return m_segments; }
  const SourceLocation& location() const { return m_location; }

  // Renders with `axis(name, field)` for axis segments and `runtime(field)` for the others;
  // `quote` is applied to every substituted value (shell mode), never to literals.
  std::string render(const std::function<std::string(const std::string&, const std::string&)>& axis,
                     const std::function<std::string(RuntimeField)>& runtime,
                     const std::function<std::string(std::string_view)>& quote = nullptr) const;

private:
  std::vector<Segment> m_segments;
  SourceLocation m_location;
};

std::string_view runtime_field_name(RuntimeField field);
// The task protocol's environment variable that holds a runtime placeholder's value
// (BENCHMATRIX_SLOT for {slot}, ...): what a shell script refers to in its place.
std::string_view runtime_variable(RuntimeField field);

} // namespace bm
