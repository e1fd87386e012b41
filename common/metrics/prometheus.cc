// Prometheus text exposition (format 0.0.4) of a Registry.
#include <cmath>

#include <fmt/format.h>

#include "common/metrics/registry.h"

namespace ambit::metrics {
namespace {

std::string escapeHelp(const std::string& h) {
  std::string out;
  for (char c : h) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="x",b="y"} with an optional extra pair (the histogram's le).
std::string labelBlock(const std::vector<std::string>& names, const LabelValues& values,
                       const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (names.empty() && extra_name == nullptr) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    out += escapeLabelValue(values[i]);
    out += '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escapeHelp(help), name, type);
}

}  // namespace

std::string escapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string Registry::renderPrometheus() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, e] : entries_) {
    if (e.counter) {
      header(out, name, e.counter->help(), "counter");
      e.counter->forEach([&](const LabelValues& lv, const Counter& c) {
        out += fmt::format("{}{} {}\n", name, labelBlock(e.counter->labelNames(), lv), c.value());
      });
    } else if (e.gauge) {
      header(out, name, e.gauge->help(), "gauge");
      e.gauge->forEach([&](const LabelValues& lv, const Gauge& g) {
        out += fmt::format("{}{} {}\n", name, labelBlock(e.gauge->labelNames(), lv), g.value());
      });
    } else if (e.histogram) {
      header(out, name, e.histogram->help(), "histogram");
      const auto& names = e.histogram->labelNames();
      e.histogram->forEach([&](const LabelValues& lv, const Histogram& h) {
        auto snap = h.snapshot();
        uint64_t cumulative = 0;
        for (std::size_t b = 0; b < h.bounds().size(); ++b) {
          cumulative += snap.bucket_counts[b];
          out += fmt::format("{}_bucket{} {}\n", name,
                             labelBlock(names, lv, "le", formatValue(h.bounds()[b])), cumulative);
        }
        out += fmt::format("{}_bucket{} {}\n", name, labelBlock(names, lv, "le", "+Inf"), snap.count);
        out += fmt::format("{}_sum{} {}\n", name, labelBlock(names, lv), formatValue(snap.sum));
        out += fmt::format("{}_count{} {}\n", name, labelBlock(names, lv), snap.count);
      });
    } else if (e.callback) {
      header(out, name, e.callback_help, "gauge");
      auto samples = e.callback();
      std::sort(samples.begin(), samples.end(),
                [](const CallbackSample& a, const CallbackSample& b) { return a.labels < b.labels; });
      for (const auto& s : samples) {
        if (s.labels.size() != e.callback_labels.size()) continue;  // a buggy callback must not break the scrape
        out += fmt::format("{}{} {}\n", name, labelBlock(e.callback_labels, s.labels), formatValue(s.value));
      }
    }
  }
  return out;
}

}  // namespace ambit::metrics
