// Reading Prometheus text in tests.
#pragma once

#include <string>
#include <vector>

namespace ambit::test {

// The sum of samples of `name` whose label set contains every `labels` entry
// (each written as in the text: key="value").
double metricSum(const std::string& text, const std::string& name, const std::vector<std::string>& labels);

}  // namespace ambit::test
