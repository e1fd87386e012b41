// Plain-text tables for ambitctl's output: columns as wide as their widest cell.
#pragma once

#include <string>
#include <vector>

namespace ambit::ctl {

std::string formatTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace ambit::ctl
