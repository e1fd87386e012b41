// Shared by the lab's command files: starting and waiting for components,
// what a pod's processes see, and the agent's view of enrolment.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/lab/manifest.h"
#include "tools/lab/state.h"

namespace ambit::lab {

inline constexpr int kAgentAdminPort = 15030;
inline constexpr int kAgentStatsPort = 15031;
inline constexpr int kAgentReadyPort = 15032;
inline constexpr int kAmbitdAdminPort = 8080;
inline constexpr int kAmbitdStatsPort = 15014;
inline constexpr int kAmbitdReadyPort = 15021;
inline constexpr int kWaypointAdminPort = 15000;  // in the waypoint pod's netns
inline constexpr int kWaypointStatsPort = 15020;
inline constexpr int kWaypointReadyPort = 15021;

void requireRoot();
// Polls `done` every 50 ms until it holds (true) or `timeout` passes (false).
bool tryWaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);
// As tryWaitFor, but a timeout throws
// "<what> (<detail()>)".
void waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout, const std::string& what,
             const std::function<std::string()>& detail = {});

// GET on 127.0.0.1:port inside `netns`: the body of a 200, or nullopt.
std::optional<std::string> adminGet(const std::string& netns, int port, const std::string& path);
std::optional<nlohmann::json> adminJson(const std::string& netns, int port, const std::string& path);

std::string netnsPath(const std::string& name);  // /run/netns/NAME
std::string tail(const std::string& file, int lines);

void startAmbitd(LabState& s);
void startAgent(LabState& s, NodeState& n, const std::string& capture);
void waitAgentReady(const LabState& s, NodeState& n);
void startZtunnel(LabState& s, NodeState& n, int generation);
// Ready, and serving every enrolled pod of the node with a certificate.
void waitZtunnelReady(const LabState& s, const NodeState& n, int generation);

// After the lab wrote (or removed) config files: waits until ambitd has read
// them (an error in one is thrown), built xDS from them, and every ztunnel
// and running waypoint holds exactly what ambitd serves (xDS digests equal);
// waypoint pods in `leaving_pods` (being deleted) are not waited for.
void waitMeshSynced(const LabState& s, const std::map<std::string, std::string>& written,
                    const std::vector<std::string>& removed, const std::set<std::string>& leaving_pods = {});

// The enrolled pods ("ns/name") on `node`, as the agent decides from the lab's config.
std::set<std::string> enrolledPods(const LabState& s, const std::string& node);

std::map<std::string, std::string> podEnvironment(const LabState& s, const PodState& p);
void startPodProcesses(LabState& s, PodState& p, const PodSpec& spec);
void waitPodListening(const LabState& s, const PodState& p);
// Rewrites every pod's /etc/hosts (in place: the bind mounts keep working).
void writeHostsFiles(const LabState& s);

// Waypoints (a pod per Gateway of a waypoint class, manifest.h): the CA token
// file of a pod, the container the lab runs in it, and tokens.yaml (ambitd
// reads it again when it changes): every node's token and every waypoint pod's.
std::string tokenPath(const LabState& s, const std::string& ns, const std::string& pod);
Container waypointContainer(const LabState& s, const PodSpec& pod);
void writeTokens(const LabState& s);

}  // namespace ambit::lab
