#include "data/agreement.h"

#include <cmath>

#include "core/error.h"

namespace dpo {

namespace {

void finish(KappaResult& r) {
  r.defined = r.items > 0 && r.expected < 1.0 - 1e-12;
  r.kappa = r.defined ? (r.observed - r.expected) / (1.0 - r.expected) : 0.0;
}

}  // namespace

KappaResult cohen_kappa(const std::vector<std::vector<uint64_t>>& table) {
  const size_t k = table.size();
  std::vector<double> rows(k, 0.0), cols(k, 0.0);
  double total = 0, agree = 0;
  for (size_t a = 0; a < k; ++a) {
    if (table[a].size() != k)
      throw UsageError("cohen_kappa: the table is not square");
    for (size_t b = 0; b < k; ++b) {
      double n = static_cast<double>(table[a][b]);
      rows[a] += n;
      cols[b] += n;
      total += n;
      if (a == b)
        agree += n;
    }
  }
  KappaResult r;
  r.items = static_cast<uint64_t>(total);
  if (total > 0) {
    r.observed = agree / total;
    for (size_t c = 0; c < k; ++c)
      r.expected += (rows[c] / total) * (cols[c] / total);
  }
  finish(r);
  return r;
}

KappaResult fleiss_kappa(const std::vector<std::vector<uint64_t>>& counts) {
  KappaResult r;
  if (counts.empty())
    return r;
  const size_t k = counts[0].size();
  std::vector<double> category(k, 0.0);
  double judgments = 0, agreement_sum = 0;
  for (const std::vector<uint64_t>& item : counts) {
    if (item.size() != k)
      throw UsageError("fleiss_kappa: items have different numbers of categories");
    double n = 0, squares = 0;
    for (uint64_t c : item) {
      n += static_cast<double>(c);
      squares += static_cast<double>(c) * static_cast<double>(c);
    }
    if (n < 2)
      continue;  // one judgment cannot agree or disagree
    ++r.items;
    agreement_sum += (squares - n) / (n * (n - 1));
    judgments += n;
    for (size_t c = 0; c < k; ++c)
      category[c] += static_cast<double>(item[c]);
  }
  if (r.items > 0) {
    r.observed = agreement_sum / static_cast<double>(r.items);
    for (double c : category)
      r.expected += (c / judgments) * (c / judgments);
  }
  finish(r);
  return r;
}

}  // namespace dpo
