// Percent-encoding helpers shared by the admin server's query parsing and the
// waypoint's request matching.
#pragma once

#include <string>
#include <string_view>

namespace ambit {

// 0-15 for a hex digit, -1 otherwise.
int hexDigitValue(char c);

// %XX escapes decoded (a malformed escape stays as written); with
// `plus_as_space`, '+' is a space (form encoding).
std::string percentDecode(std::string_view s, bool plus_as_space);

}  // namespace ambit
