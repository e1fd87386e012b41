// Metric cells, families and the registry's bookkeeping.
#include "common/metrics/registry.h"

#include <algorithm>
#include <regex>
#include <stdexcept>

namespace ambit::metrics {
namespace {
thread_local std::size_t t_shard = 0;

bool validMetricName(const std::string& n) {
  static const std::regex re("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
  return std::regex_match(n, re);
}
bool validLabelName(const std::string& n) {
  static const std::regex re("^[a-zA-Z_][a-zA-Z0-9_]*$");
  return std::regex_match(n, re) && n.rfind("__", 0) != 0;
}
}  // namespace

void setThreadShard(std::size_t shard) { t_shard = shard; }
std::size_t threadShard() { return t_shard; }

Counter::Counter(std::size_t shards)
    : shards_(std::max<std::size_t>(shards, 1)), cells_(new detail::Cell[shards_]) {}

uint64_t Counter::value() const {
  uint64_t sum = 0;
  for (std::size_t i = 0; i < shards_; ++i) sum += cells_[i].value.load(std::memory_order_relaxed);
  return sum;
}

Histogram::Histogram(std::size_t shards, std::shared_ptr<const std::vector<double>> bounds)
    : shards_(std::max<std::size_t>(shards, 1)), bounds_(std::move(bounds)), cells_(new Shard[shards_]) {
  for (std::size_t i = 0; i < shards_; ++i) {
    cells_[i].counts.reset(new std::atomic<uint64_t>[bounds_->size() + 1]);
    for (std::size_t b = 0; b <= bounds_->size(); ++b) cells_[i].counts[b].store(0);
  }
}

void Histogram::observe(double v) {
  // Prometheus buckets are "less than or equal": the first bound >= v.
  auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  auto idx = static_cast<std::size_t>(it - bounds_->begin());
  Shard& s = cells_[threadShard() % shards_];
  s.counts[idx].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.bucket_counts.assign(bounds_->size() + 1, 0);
  for (std::size_t i = 0; i < shards_; ++i) {
    for (std::size_t b = 0; b <= bounds_->size(); ++b) {
      snap.bucket_counts[b] += cells_[i].counts[b].load(std::memory_order_relaxed);
    }
    snap.sum += cells_[i].sum.load(std::memory_order_relaxed);
  }
  // Count is derived from the buckets so _count always equals the +Inf bucket.
  for (uint64_t c : snap.bucket_counts) snap.count += c;
  return snap;
}

template <typename M>
std::shared_ptr<M> Family<M>::get(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " + std::to_string(label_names_.size()) +
                                " label values, got " + std::to_string(values.size()));
  }
  std::lock_guard lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return it->second;
  std::shared_ptr<M> m;
  if constexpr (std::is_same_v<M, Histogram>) {
    m = std::make_shared<Histogram>(shards_, bounds_);
  } else {
    m = std::make_shared<M>(shards_);
  }
  series_.emplace(values, m);
  return m;
}

template <typename M>
void Family<M>::remove(const LabelValues& values) {
  std::lock_guard lock(mu_);
  series_.erase(values);
}

template <typename M>
void Family<M>::forEach(const std::function<void(const LabelValues&, const M&)>& fn) const {
  std::vector<std::pair<LabelValues, std::shared_ptr<M>>> copy;
  {
    std::lock_guard lock(mu_);
    copy.assign(series_.begin(), series_.end());
  }
  for (auto& [labels, m] : copy) fn(labels, *m);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Registry(std::size_t shards) : shards_(std::max<std::size_t>(shards, 1)) {}

Registry::Entry& Registry::declare(const std::string& name, Type type,
                                   const std::vector<std::string>& labels) {
  if (!validMetricName(name)) throw std::invalid_argument("invalid metric name: " + name);
  for (const auto& l : labels) {
    if (!validLabelName(l) || l == "le") {
      throw std::invalid_argument("invalid label name '" + l + "' on metric " + name);
    }
  }
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    const Entry& e = it->second;
    const std::vector<std::string>* existing = nullptr;
    if (e.counter) existing = &e.counter->labelNames();
    if (e.gauge) existing = &e.gauge->labelNames();
    if (e.histogram) existing = &e.histogram->labelNames();
    if (e.callback) existing = &e.callback_labels;
    if (e.type != type || e.callback || existing == nullptr || *existing != labels) {
      throw std::invalid_argument("metric " + name + " is already registered with another type or labels");
    }
    return it->second;
  }
  Entry& e = entries_[name];
  e.type = type;
  return e;
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry& e = declare(name, Type::kCounter, label_names);
  if (!e.counter) e.counter = std::make_unique<CounterFamily>(name, help, std::move(label_names), shards_);
  return *e.counter;
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry& e = declare(name, Type::kGauge, label_names);
  if (!e.gauge) e.gauge = std::make_unique<GaugeFamily>(name, help, std::move(label_names), shards_);
  return *e.gauge;
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names, std::vector<double> bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    throw std::invalid_argument("histogram " + name + " needs strictly increasing bucket bounds");
  }
  std::lock_guard lock(mu_);
  Entry& e = declare(name, Type::kHistogram, label_names);
  if (!e.histogram) {
    e.histogram = std::make_unique<HistogramFamily>(
        name, help, std::move(label_names), shards_,
        std::make_shared<const std::vector<double>>(std::move(bounds)));
  } else if (e.histogram->bounds() != bounds) {
    throw std::invalid_argument("histogram " + name + " is already registered with other buckets");
  }
  return *e.histogram;
}

void Registry::callbackGauge(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names, CallbackFn fn) {
  std::lock_guard lock(mu_);
  if (entries_.count(name)) throw std::invalid_argument("metric " + name + " is already registered");
  Entry& e = declare(name, Type::kGauge, label_names);
  e.callback_labels = std::move(label_names);
  e.callback_help = help;
  e.callback = std::move(fn);
}

}  // namespace ambit::metrics
