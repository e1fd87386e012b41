// Metrics registry: counters, gauges and histograms with labels, rendered in the
// Prometheus text format. Hot-path updates touch only the calling thread's cell
// (one relaxed atomic add, no lock); label lookups happen once, when a caller
// asks its family for a series and keeps the returned handle.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ambit::metrics {

// Each thread writes to its own shard of every metric so workers never share a
// cache line. Worker threads call setThreadShard(worker_index + 1) once at start;
// every other thread uses shard 0 (atomics keep shared shards correct).
void setThreadShard(std::size_t shard);
std::size_t threadShard();

using LabelValues = std::vector<std::string>;

namespace detail {
// A cache-line sized slot so two threads' cells never share a line.
struct alignas(64) Cell {
  std::atomic<uint64_t> value{0};
};
}  // namespace detail

class Counter {
 public:
  explicit Counter(std::size_t shards);
  void inc(uint64_t n = 1) {
    cells_[threadShard() % shards_].value.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const;

 private:
  std::size_t shards_;
  std::unique_ptr<detail::Cell[]> cells_;
};

// A gauge is one atomic value: set() must be exact, and gauges change far less
// often than counters (once per connection, not per byte).
class Gauge {
 public:
  explicit Gauge(std::size_t /*shards*/) {}
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  void sub(int64_t d) { value_.fetch_sub(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Histogram {
 public:
  struct Snapshot {
    std::vector<uint64_t> bucket_counts;  // per bucket (not cumulative); last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };

  // `bounds` are the upper bounds, strictly increasing; +Inf is implied.
  Histogram(std::size_t shards, std::shared_ptr<const std::vector<double>> bounds);
  void observe(double v);
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  struct alignas(64) Shard {
    std::atomic<double> sum{0};
    std::unique_ptr<std::atomic<uint64_t>[]> counts;
  };
  std::size_t shards_;
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<Shard[]> cells_;
};

enum class Type { kCounter, kGauge, kHistogram };

// A named metric with fixed label names; one series per distinct label values.
template <typename M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::size_t shards, std::shared_ptr<const std::vector<double>> bounds = nullptr)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
        shards_(shards), bounds_(std::move(bounds)) {}

  // Returns the series for these label values (one per label name, in order),
  // creating it on first use. Keep the handle; do not call this per packet.
  std::shared_ptr<M> get(const LabelValues& values);
  // Drops a series (e.g. a workload that left); holders keep a valid object.
  void remove(const LabelValues& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  // Histogram bucket bounds (empty for other types).
  std::vector<double> bounds() const { return bounds_ ? *bounds_ : std::vector<double>{}; }

  // Calls fn(values, metric) for each series, ordered by label values.
  void forEach(const std::function<void(const LabelValues&, const M&)>& fn) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::size_t shards_;
  std::shared_ptr<const std::vector<double>> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, std::shared_ptr<M>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Values computed at scrape time (e.g. "workloads known"), rendered as gauges.
struct CallbackSample {
  LabelValues labels;
  double value = 0;
};
using CallbackFn = std::function<std::vector<CallbackSample>()>;

class Registry {
 public:
  // `shards` should be the number of worker threads + 1 (shard 0 for the rest).
  explicit Registry(std::size_t shards = 1);

  // Registering a name again with the same type and labels returns the same
  // family; a clash (other type or labels, bad names) throws std::invalid_argument:
  // metric declarations are fixed at start-up, so that is a programmer error.
  CounterFamily& counter(const std::string& name, const std::string& help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names, std::vector<double> bounds);
  void callbackGauge(const std::string& name, const std::string& help,
                     std::vector<std::string> label_names, CallbackFn fn);

  // Prometheus text exposition format 0.0.4; families sorted by name.
  std::string renderPrometheus() const;

  std::size_t shards() const { return shards_; }

 private:
  struct Entry {
    Type type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
    std::vector<std::string> callback_labels;
    std::string callback_help;
    CallbackFn callback;
  };
  Entry& declare(const std::string& name, Type type, const std::vector<std::string>& labels);

  std::size_t shards_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// Escapes a label value for the text format: backslash, double quote, newline.
std::string escapeLabelValue(const std::string& v);
// Formats a sample value the way Prometheus clients do (integers without ".0",
// +Inf/-Inf/NaN spelled out).
std::string formatValue(double v);

}  // namespace ambit::metrics
