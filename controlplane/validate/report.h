// `validate DIR` as ambitd and ambitctl print it: every error with file, line
// and field, translation warnings, and a one-line verdict. Returns the exit code.
#pragma once

#include <iosfwd>
#include <string>

namespace ambit::controlplane {

int printValidation(const std::string& dir, std::ostream& out, std::ostream& err);

}  // namespace ambit::controlplane
