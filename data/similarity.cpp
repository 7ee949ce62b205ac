#include "data/similarity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/text.h"

namespace dpo {

size_t bounded_levenshtein(std::string_view a, std::string_view b, size_t max_distance) {
  // Common prefix and suffix do not change the distance.
  while (!a.empty() && !b.empty() && a.front() == b.front()) {
    a.remove_prefix(1);
    b.remove_prefix(1);
  }
  while (!a.empty() && !b.empty() && a.back() == b.back()) {
    a.remove_suffix(1);
    b.remove_suffix(1);
  }
  if (a.size() > b.size())
    std::swap(a, b);  // a is the shorter one
  const size_t n = a.size();
  const size_t m = b.size();
  if (m - n > max_distance)
    return max_distance + 1;
  if (n == 0)
    return m;

  // Row i of the DP over b, restricted to columns j with |i - j| <= k.
  const size_t k = max_distance;
  const size_t too_far = k + 1;
  std::vector<size_t> previous(m + 1, too_far);
  std::vector<size_t> current(m + 1, too_far);
  for (size_t j = 0; j <= std::min(m, k); ++j)
    previous[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    size_t low = i > k ? i - k : 0;
    size_t high = std::min(m, i + k);
    std::fill(
        current.begin() + static_cast<long>(low),
        current.begin() + static_cast<long>(high) + 1,
        too_far);
    if (low == 0)
      current[0] = i;
    // The cell left of the band must read as "too far" (it may hold a value from 2 rows ago).
    if (low > 0)
      current[low - 1] = too_far;
    size_t row_minimum = low == 0 ? i : too_far;
    for (size_t j = std::max<size_t>(low, 1); j <= high; ++j) {
      size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      size_t deletion = previous[j] + 1;
      size_t insertion = current[j - 1] + 1;
      size_t value = std::min({substitution, deletion, insertion, too_far});
      current[j] = value;
      row_minimum = std::min(row_minimum, value);
    }
    if (row_minimum > k)
      return too_far;
    std::swap(previous, current);
  }
  return std::min(previous[m], too_far);
}

bool similar_at_least(
    std::string_view a, std::string_view b, double threshold, double* similarity) {
  a = trim_whitespace(a);
  b = trim_whitespace(b);
  size_t longest = std::max(a.size(), b.size());
  if (longest == 0) {
    if (similarity)
      *similarity = 1.0;
    return true;
  }
  if (threshold <= 0.0)
    threshold = 0.0;
  // similarity >= t  <=>  distance <= (1 - t) * longest
  double allowed = std::floor((1.0 - threshold) * static_cast<double>(longest) + 1e-9);
  size_t max_distance = static_cast<size_t>(std::max(0.0, allowed));
  size_t distance = bounded_levenshtein(a, b, max_distance);
  if (distance > max_distance)
    return false;
  if (similarity)
    *similarity = 1.0 - static_cast<double>(distance) / static_cast<double>(longest);
  return true;
}

}  // namespace dpo
