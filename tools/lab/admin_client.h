// A blocking HTTP GET to a component's admin port, from inside a network
// namespace when the component runs in one (a lab node): what `ambitctl`
// reads /config_dump, /stats/prometheus and /healthz/ready with.
#pragma once

#include <chrono>
#include <string>

#include "common/base/result.h"

namespace ambit::lab {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

// `netns`: /run/netns/NAME or "" (here). `host`: an IPv4/IPv6 literal.
Result<HttpAnswer> httpGet(const std::string& netns, const std::string& host, int port, const std::string& path,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

}  // namespace ambit::lab
