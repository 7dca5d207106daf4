#pragma once

#include <string>
#include <vector>

#include "plan/plan.hpp"

namespace bm {

// --filter EXPR: comma-separated terms `axis=GLOB` or `axis!=GLOB` ("algo=*sort,n!=1000"). Terms
// on different axes must all hold; several `=` terms on one axis are alternatives
// ("algo=std_sort,algo=heap_sort", or shorter "algo=std_sort,heap_sort": a bare GLOB is one more
// value of the axis before it); every `!=` term must hold. An `=` term on an axis that a task does
// not have never matches (`!=` always does). Glob: '*' and '?'.
class TaskFilter {
public:
  // Throws UserError naming the bad term, or an axis the plan does not have.
  static TaskFilter parse(const std::string& expression, const Plan& plan);

  bool matches(const Plan& plan, std::size_t task) const;
  bool empty() const { return m_terms.empty(); }

private:
  struct Term {
    std::string axis;
    std::string pattern;
    bool negated = false;
  };
  std::vector<Term> m_terms;
};

} // namespace bm
