#include <gtest/gtest.h>

#include "common/metrics/istio_labels.h"
#include "common/metrics/registry.h"

namespace ambit::metrics {
namespace {

TEST(PrometheusTest, GoldenText) {
  Registry r(2);
  auto& opened = r.counter("istio_tcp_connections_opened_total", "Connections opened",
                           {"reporter", "destination_service", "connection_security_policy"});
  opened.get({"destination", "backend.demo.svc.cluster.local", "mutual_tls"})->inc(3);
  opened.get({"source", "backend.demo.svc.cluster.local", "unknown"})->inc();
  r.gauge("ambit_workloads", "Workloads known").get({})->set(42);
  auto h = r.histogram("istio_request_duration_milliseconds", "Request duration", {"response_code"}, {1, 2.5, 10})
               .get({"200"});
  h->observe(0.4);
  h->observe(2);
  h->observe(50);
  r.callbackGauge("ambit_build_info", "Build", {"version"}, [] {
    return std::vector<CallbackSample>{{{"0.1.0"}, 1}};
  });
  r.counter("ambit_weird_total", "Help with \\ and\nnewline", {"v"}).get({"quote\" back\\slash\nnl"})->inc();

  const std::string expected =
      "# HELP ambit_build_info Build\n"
      "# TYPE ambit_build_info gauge\n"
      "ambit_build_info{version=\"0.1.0\"} 1\n"
      "# HELP ambit_weird_total Help with \\\\ and\\nnewline\n"
      "# TYPE ambit_weird_total counter\n"
      "ambit_weird_total{v=\"quote\\\" back\\\\slash\\nnl\"} 1\n"
      "# HELP ambit_workloads Workloads known\n"
      "# TYPE ambit_workloads gauge\n"
      "ambit_workloads 42\n"
      "# HELP istio_request_duration_milliseconds Request duration\n"
      "# TYPE istio_request_duration_milliseconds histogram\n"
      "istio_request_duration_milliseconds_bucket{response_code=\"200\",le=\"1\"} 1\n"
      "istio_request_duration_milliseconds_bucket{response_code=\"200\",le=\"2.5\"} 2\n"
      "istio_request_duration_milliseconds_bucket{response_code=\"200\",le=\"10\"} 2\n"
      "istio_request_duration_milliseconds_bucket{response_code=\"200\",le=\"+Inf\"} 3\n"
      "istio_request_duration_milliseconds_sum{response_code=\"200\"} 52.4\n"
      "istio_request_duration_milliseconds_count{response_code=\"200\"} 3\n"
      "# HELP istio_tcp_connections_opened_total Connections opened\n"
      "# TYPE istio_tcp_connections_opened_total counter\n"
      "istio_tcp_connections_opened_total{reporter=\"destination\",destination_service=\"backend.demo.svc.cluster."
      "local\",connection_security_policy=\"mutual_tls\"} 3\n"
      "istio_tcp_connections_opened_total{reporter=\"source\",destination_service=\"backend.demo.svc.cluster.local\","
      "connection_security_policy=\"unknown\"} 1\n";
  EXPECT_EQ(r.renderPrometheus(), expected);
}

TEST(PrometheusTest, FormatsValues) {
  EXPECT_EQ(formatValue(1), "1");
  EXPECT_EQ(formatValue(0.25), "0.25");
  EXPECT_EQ(formatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(formatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(formatValue(0.0 / 0.0), "NaN");
}

TEST(PrometheusTest, IstioLabelSetsServeStandardNames) {
  Registry r;
  auto& fam = r.counter(istio::kTcpSentBytes, "Bytes sent", istio::tcpLabels());
  LabelValues values(istio::tcpLabels().size(), "unknown");
  values[0] = "destination";
  fam.get(values)->inc(100);
  std::string text = r.renderPrometheus();
  EXPECT_NE(text.find("istio_tcp_sent_bytes_total{reporter=\"destination\",source_workload=\"unknown\""),
            std::string::npos);
  EXPECT_NE(text.find("connection_security_policy=\"unknown\"} 100\n"), std::string::npos);
  EXPECT_EQ(istio::requestLabels().back(), "grpc_response_status");
}

}  // namespace
}  // namespace ambit::metrics
