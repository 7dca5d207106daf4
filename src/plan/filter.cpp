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
    if (equals == std::string::npos && !term_text.empty() && !filter.m_terms.empty() &&
        !filter.m_terms.back().negated) {
      Term more = filter.m_terms.back();  // another value of the axis before: "algo=a,b"
      more.pattern = term_text;
      filter.m_terms.push_back(std::move(more));
      continue;
    }
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
  auto hit = [&](const Term& term) {
    auto found = std::find_if(assignment.begin(), assignment.end(),
                              [&](const auto& pair) { return pair.first == term.axis; });
    return found != assignment.end() && glob_match(term.pattern, found->second->name);
  };
  // Per axis: any of its `=` terms; every `!=` term.
  for (const Term& term : m_terms) {
    if (term.negated) {
      if (hit(term)) {
        return false;
      }
      continue;
    }
    bool any = std::any_of(m_terms.begin(), m_terms.end(),
                           [&](const Term& other) { return !other.negated && other.axis == term.axis && hit(other); });
    if (!any) {
      return false;
    }
  }
  return true;
}

} // namespace bm
