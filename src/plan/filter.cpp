#include "plan/filter.hpp"

#include <algorithm>

#include "util/strings.hpp"

namespace bm {

TaskFilter TaskFilter::parse(const std::string& expression, const Plan& plan) {
  TaskFilter filter;
  if (trim(expression).empty()) {
    return filter;
  }
  std::vector<std::string> axes = plan.axis_names();
  for (const auto& raw : split(expression, ',')) {
    std::string term_text(trim(raw));
    size_t equals = term_text.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw UserError(fmt::format("--filter: '{}' is not a term; expected axis=GLOB or axis!=GLOB", term_text));
    }
    Term term;
    term.negated = term_text[equals - 1] == '!';
    term.axis = std::string(trim(term_text.substr(0, term.negated ? equals - 1 : equals)));
    term.pattern = std::string(trim(term_text.substr(equals + 1)));
    if (std::find(axes.begin(), axes.end(), term.axis) == axes.end()) {
      throw UserError(fmt::format("--filter: there is no axis '{}' (axes: {})", term.axis, join(axes, ", ")));
    }
    filter.m_terms.push_back(std::move(term));
  }
  return filter;
}

bool TaskFilter::matches(const Plan& plan, std::size_t task) const {
  if (m_terms.empty()) {
    return true;
  }
  auto assignment = plan.assignment(task);
  return std::all_of(m_terms.begin(), m_terms.end(), [&](const Term& term) {
    auto found = std::find_if(assignment.begin(), assignment.end(),
                              [&](const auto& pair) { return pair.first == term.axis; });
    bool hit = found != assignment.end() && glob_match(term.pattern, found->second->name);
    return term.negated ? !hit : hit;
  });
}

} // namespace bm
