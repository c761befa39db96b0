#include "server/metrics.hpp"

#include "catalog/login.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace rrpcd::server {

namespace {

/// A label value escaped as the exposition format wants (`\\`, `\"`, `\n`).
std::string label(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

class exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(to_, "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    template <class V>
    void sample(std::string_view name, std::string_view labels, V value) {
        if (labels.empty())
            fmt::format_to(to_, "{} {}\n", name, value);
        else
            fmt::format_to(to_, "{}{{{}}} {}\n", name, labels, value);
    }
    template <class V>
    void gauge(std::string_view name, std::string_view help, V value) {
        family(name, "gauge", help);
        sample(name, {}, value);
    }
    template <class V>
    void counter(std::string_view name, std::string_view help, V value) {
        family(name, "counter", help);
        sample(name, {}, value);
    }
    /// One histogram's samples; `labels` (may be empty) prefix `le`.
    void histogram(std::string_view name, const std::string& labels, const kit::histogram& h) {
        const auto with = [&](std::string_view le) {
            return labels.empty() ? fmt::format("le=\"{}\"", le)
                                  : fmt::format("{},le=\"{}\"", labels, le);
        };
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < kit::histogram::bounds.size(); ++i) {
            cumulative += h.counts[i];
            sample(std::string{name} + "_bucket",
                   with(fmt::format("{}", kit::histogram::bounds[i])), cumulative);
        }
        sample(std::string{name} + "_bucket", with("+Inf"), h.count);
        sample(std::string{name} + "_sum", labels, h.sum);
        sample(std::string{name} + "_count", labels, h.count);
    }
    std::string text() && { return std::move(out_); }

private:
    std::string out_;
    std::back_insert_iterator<std::string> to_{out_};
};

void render_cluster(exposition& e, const cluster::member_figures& c) {
    e.gauge("rrpcd_cluster_node", "This node's slot in the cluster (the MessageIds' node bits).",
            c.node);
    e.gauge("rrpcd_cluster_peers", "Other nodes holding a slot, at the last lease renewal.",
            c.peers);
    e.gauge("rrpcd_cluster_redis_up", "1 while Redis answers this node.", c.reachable ? 1 : 0);
    e.family("rrpcd_cluster_forwarded_total", "counter",
             "Calls this node forwarded to the node of their device, by outcome.");
    const std::pair<const char*, std::uint64_t> outcomes[] = {{"SUCCESS", c.forwarded_success},
                                                              {"TIMEOUT", c.forwarded_timeout},
                                                              {"OFFLINE", c.forwarded_offline},
                                                              {"HALFCONN", c.forwarded_halfconn},
                                                              {"UNKNOWN", c.forwarded_unknown}};
    for (const auto& [name, n] : outcomes)
        e.sample("rrpcd_cluster_forwarded_total", fmt::format("outcome=\"{}\"", name), n);
    e.counter("rrpcd_cluster_served_total", "Calls other nodes forwarded to this one.", c.served);
    e.counter("rrpcd_cluster_unavailable_total",
              "Calls answered ServiceUnavailable: Redis did not answer their route.",
              c.unavailable);
    e.counter("rrpcd_cluster_orphan_outcomes_total",
              "Outcomes of forwarded calls that came after their call had ended.", c.orphans);
    e.counter("rrpcd_cluster_kicks_total",
              "Sessions on other nodes closed because their device logged in here.", c.kicks);
    e.family("rrpcd_cluster_redis_round_trips_total", "counter",
             "Redis commands, by what they were for.");
    for (std::size_t i = 0; i < cluster::purpose_names.size(); ++i)
        e.sample("rrpcd_cluster_redis_round_trips_total",
                 fmt::format("purpose=\"{}\"", cluster::purpose_names[i]), c.round_trips[i]);
    e.counter("rrpcd_cluster_redis_errors_total",
              "Redis commands without a reply (down, hung past op_timeout_ms, connection lost).",
              c.errors);
}

}  // namespace

std::string render_metrics(const metrics_snapshot& m, const process_figures& p) {
    exposition e;
    e.family("rrpcd_build_info", "gauge", "The running build: its version, always 1.");
    e.sample("rrpcd_build_info", fmt::format("version=\"{}\"", label(RRPCD_VERSION)), 1);
    e.family("rrpcd_limit_hits_total", "counter",
             "Times a configured limit refused or ended something.");
    for (std::size_t i = 0; i < kit::limit_kinds; ++i)
        e.sample("rrpcd_limit_hits_total",
                 fmt::format("limit=\"{}\"", kit::name_of(static_cast<kit::limit>(i))),
                 m.limit_hits[i]);
    e.gauge("rrpcd_mqtt_connections", "Open MQTT connections.", m.mqtt_connections);
    e.gauge("rrpcd_http_connections", "Open HTTP connections.", m.http_connections);
    e.gauge("rrpcd_devices_online", "Devices with a live session.", m.devices_online);
    e.family("rrpcd_plane_devices_online", "gauge",
             "Devices with a live session, by the device plane (server.threads) that owns them.");
    for (std::size_t i = 0; i < m.plane_devices_online.size(); ++i)
        e.sample("rrpcd_plane_devices_online", fmt::format("plane=\"{}\"", i),
                 m.plane_devices_online[i]);
    e.counter("rrpcd_router_hops_total",
              "Messages to a device (calls, sends, publishes, presence) made from another plane "
              "than the device's own: each one a post to its thread and back.",
              m.router_hops);
    e.gauge("rrpcd_calls_pending", "Calls waiting for a device's reply.", m.calls_pending);
    if (m.cluster) render_cluster(e, *m.cluster);
    e.gauge("rrpcd_login_backoff_entries",
            "Source address and username pairs with failed logins on record.",
            m.login_backoff_entries);
    e.gauge("rrpcd_nonces", "Signature nonces remembered for the replay window.", m.nonces);
    e.gauge("rrpcd_sessions_kept", "clean=0 sessions kept (their devices online or away).",
            m.sessions_kept);
    e.counter("rrpcd_login_backoff_evicted_total",
              "Login back-off pairs forgotten to make room (mqtt.login_backoff_entries).",
              m.login_backoff_evicted);
    e.counter("rrpcd_nonces_forgotten_total",
              "Nonces forgotten before their window ended (http.max_nonces); each raised its own "
              "access key's floor.",
              m.nonces_forgotten);
    e.counter("rrpcd_sessions_expired_total",
              "clean=0 sessions forgotten after mqtt.session_expiry_s without a login.",
              m.sessions_expired);
    e.family("rrpcd_calls_total", "counter", "RRPC calls by outcome.");
    for (const auto& [code, n] : {std::pair{"SUCCESS", m.calls_success},
                                  {"TIMEOUT", m.calls_timeout},
                                  {"OFFLINE", m.calls_offline},
                                  {"HALFCONN", m.calls_halfconn},
                                  {"UNKNOWN", m.calls_ended[0][5]}})
        e.sample("rrpcd_calls_total", fmt::format("code=\"{}\"", code), n);
    // Every kind of call, async ones included, by how it ended.
    constexpr std::array kinds{rrpc::call_kind::rrpc, rrpc::call_kind::async_rrpc,
                               rrpc::call_kind::thing_sync, rrpc::call_kind::thing_async};
    e.family("rrpcd_call_started_total", "counter", "Calls started, by kind.");
    for (const auto k : kinds)
        e.sample("rrpcd_call_started_total", fmt::format("kind=\"{}\"", rrpc::to_string(k)),
                 m.calls_started[static_cast<std::size_t>(k)]);
    e.family("rrpcd_call_ended_total", "counter",
             "Calls ended, by kind and outcome (replied, timeout, offline, halfconn, unknown).");
    for (const auto k : kinds)
        for (std::size_t s = 1; s < 6; ++s)
            e.sample("rrpcd_call_ended_total",
                     fmt::format("kind=\"{}\",outcome=\"{}\"", rrpc::to_string(k),
                                 rrpc::to_string(static_cast<rrpc::call_state>(s))),
                     m.calls_ended[static_cast<std::size_t>(k)][s]);
    e.family("rrpcd_api_requests_total", "counter",
             "API requests by action and outcome (Success, the RrpcCode, or the error code).");
    for (const auto& [key, n] : m.api.calls)
        e.sample("rrpcd_api_requests_total",
                 fmt::format("action=\"{}\",outcome=\"{}\"", label(key.first), label(key.second)),
                 n);
    e.family("rrpcd_api_request_duration_seconds", "histogram",
             "API request latency by action, from the request read to the answer made.");
    for (const auto& [action, h] : m.api.latency)
        e.histogram("rrpcd_api_request_duration_seconds",
                    fmt::format("action=\"{}\"", label(action)), h);
    e.family("rrpcd_auth_failures_total", "counter",
             "API requests refused for their credentials, by error code.");
    for (const auto& [code, n] : m.api.auth_failures)
        e.sample("rrpcd_auth_failures_total", fmt::format("reason=\"{}\"", label(code)), n);
    e.family("rrpcd_mqtt_login_refused_total", "counter", "Device logins refused, by reason.");
    for (const auto reason : catalog::login_refusal_reasons) {  // each from zero
        const auto it = m.login_refused.find(reason);
        e.sample("rrpcd_mqtt_login_refused_total", fmt::format("reason=\"{}\"", reason),
                 it != m.login_refused.end() ? it->second : 0);
    }
    e.counter("rrpcd_mqtt_messages_received_total", "PUBLISH packets devices sent.",
              m.mqtt_messages_in);
    e.counter("rrpcd_mqtt_messages_sent_total", "PUBLISH packets sent to devices.",
              m.mqtt_messages_out);
    e.counter("rrpcd_mqtt_received_bytes_total", "Bytes read from device connections.",
              m.mqtt_bytes_in);
    e.counter("rrpcd_mqtt_sent_bytes_total", "Bytes written to device connections.",
              m.mqtt_bytes_out);
    e.family("rrpcd_alink_requests_total", "counter",
             "Alink requests devices sent (property and event posts, device info, NTP…), by kind "
             "and the code they were answered with (200, or the platform's error code).");
    for (const auto& [key, n] : m.alink_answered)
        e.sample("rrpcd_alink_requests_total",
                 fmt::format("kind=\"{}\",code=\"{}\"", label(key.first), key.second), n);
    e.counter("rrpcd_webhook_deliveries_total", "Replies a webhook answered with 2xx.",
              m.webhook_delivered);
    e.counter("rrpcd_webhook_retries_total", "Webhook attempts after a failed one.",
              m.webhook_retries);
    e.counter("rrpcd_webhook_gave_up_total", "Replies a webhook never took, after every attempt.",
              m.webhook_gave_up);
    e.counter("rrpcd_webhook_dropped_total",
              "Replies dropped from a full webhook queue (replies.max_queued).", m.webhook_dropped);
    e.gauge("rrpcd_sse_clients",
            "Open event streams (GET /v1/replies/stream and the console's /console/api/events).",
            m.sse_clients);
    e.gauge("rrpcd_console_sessions", "Signed-in console sessions.", m.console_sessions);
    e.counter("rrpcd_sse_dropped_total",
              "Replies a reply stream lost because it fell behind (told to it as event: dropped).",
              m.sse_dropped);
    e.counter("rrpcd_async_answer_duplicates_total",
              "Answers to an async call's request that was already answered (a request sent "
              "again with DUP and answered twice): dropped, never given to another call.",
              m.async_duplicates);
    e.counter("rrpcd_handler_failures_total",
              "Connections (or other work) ended by an unexpected exception; never the process.",
              m.handler_failures);
    if (!m.amqp_groups.empty()) {
        e.gauge("rrpcd_amqp_connections", "Open AMQP consumer connections.", m.amqp_connections);
        e.counter("rrpcd_amqp_logins_total", "AMQP consumer logins accepted.", m.amqp_logins);
        e.counter("rrpcd_amqp_logins_refused_total",
                  "AMQP consumer logins refused (user name, signature, key, group, client bound).",
                  m.amqp_logins_refused);
        e.counter("rrpcd_amqp_refused_total",
                  "AMQP connections or links refused after login (sender link, second receiver, "
                  "idle-time-out, no receiver in time).",
                  m.amqp_refused_links);
        const std::pair<const char*, std::uint64_t metrics_snapshot::amqp_group::*> gauges[] = {
            {"rrpcd_amqp_group_messages", &metrics_snapshot::amqp_group::queued},
            {"rrpcd_amqp_group_bytes", &metrics_snapshot::amqp_group::bytes},
            {"rrpcd_amqp_group_consumers", &metrics_snapshot::amqp_group::consumers}};
        const char* gauge_help[] = {"Messages a consumer group keeps (waiting or unsettled).",
                                    "Bytes of the messages a consumer group keeps.",
                                    "Consumers attached to a group."};
        for (std::size_t i = 0; i < std::size(gauges); ++i) {
            e.family(gauges[i].first, "gauge", gauge_help[i]);
            for (const auto& g : m.amqp_groups)
                e.sample(gauges[i].first, fmt::format("group=\"{}\"", label(g.id)),
                         g.*gauges[i].second);
        }
        const std::pair<const char*, std::uint64_t metrics_snapshot::amqp_group::*> counters[] = {
            {"rrpcd_amqp_delivered_total", &metrics_snapshot::amqp_group::delivered},
            {"rrpcd_amqp_accepted_total", &metrics_snapshot::amqp_group::accepted},
            {"rrpcd_amqp_redelivered_total", &metrics_snapshot::amqp_group::redelivered},
            {"rrpcd_amqp_refused_messages_total", &metrics_snapshot::amqp_group::refused},
            {"rrpcd_amqp_expired_total", &metrics_snapshot::amqp_group::expired}};
        const char* counter_help[] = {
            "Messages sent to a consumer (redeliveries included).",
            "Messages a consumer accepted (then forgotten).",
            "Messages sent again (released, modified, link lost, not settled in time).",
            "Messages a group refused: its backlog was at max_bytes.",
            "Messages a group dropped past max_age_s, no consumer having accepted them."};
        for (std::size_t i = 0; i < std::size(counters); ++i) {
            e.family(counters[i].first, "counter", counter_help[i]);
            for (const auto& g : m.amqp_groups)
                e.sample(counters[i].first, fmt::format("group=\"{}\"", label(g.id)),
                         g.*counters[i].second);
        }
    }
    e.gauge("rrpcd_held_messages", "QoS 0 requests held for their device's subscription.",
            m.held_messages);
    e.gauge("rrpcd_held_bytes", "Payload bytes of the QoS 0 requests held for a subscription.",
            m.held_bytes);
    e.gauge("rrpcd_store_queued_bytes",
            "Bytes of records waiting for the store's writer (bounded by store.max_queue_bytes).",
            m.store_queued_bytes);
    e.counter("rrpcd_store_failed_writes_total",
              "Store transactions that failed; their callers were answered ServiceUnavailable.",
              m.store_failed_writes);
    if (m.store_write_seconds) {
        e.family("rrpcd_store_write_duration_seconds", "histogram",
                 "Store transactions, BEGIN to COMMIT.");
        e.histogram("rrpcd_store_write_duration_seconds", {}, *m.store_write_seconds);
    }
    if (m.tls_cert_expiry_seconds)
        e.gauge("rrpcd_tls_cert_expiry_seconds",
                "Seconds until the TLS listeners' certificate expires (negative: expired).",
                *m.tls_cert_expiry_seconds);
    e.counter("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
              p.cpu_seconds);
    e.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_bytes);
    e.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtual_bytes);
    e.gauge("process_open_fds", "Number of open file descriptors.", p.open_fds);
    e.gauge("process_max_fds", "Maximum number of open file descriptors.", p.max_fds);
    e.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
            p.start_time_seconds);
    return std::move(e).text();
}

process_figures read_process_figures() {
    process_figures p;
    const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (std::ifstream stat{"/proc/self/stat"}; stat) {
        std::string text{std::istreambuf_iterator<char>{stat}, {}};
        // After the command name (in parentheses, which may hold spaces): field 3 onwards.
        std::istringstream rest{text.substr(text.rfind(')') + 2)};
        std::string field;
        double utime = 0, stime = 0, start = 0;
        std::uint64_t vsize = 0, rss = 0;
        for (int i = 3; rest >> field; ++i) {
            if (i == 14) utime = std::stod(field);
            if (i == 15) stime = std::stod(field);
            if (i == 22) start = std::stod(field);
            if (i == 23) vsize = std::stoull(field);
            if (i == 24) rss = std::stoull(field);
        }
        p.cpu_seconds = (utime + stime) / ticks;
        p.virtual_bytes = vsize;
        p.resident_bytes = rss * page;
        if (std::ifstream boot{"/proc/stat"}; boot)
            for (std::string line; std::getline(boot, line);)
                if (line.starts_with("btime "))
                    p.start_time_seconds = std::stod(line.substr(6)) + start / ticks;
    }
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const auto* entry = ::readdir(d))
            if (entry->d_name[0] != '.') ++p.open_fds;
        ::closedir(d);
        if (p.open_fds > 0) --p.open_fds;  // the one opendir() holds
    }
    if (rlimit r{}; ::getrlimit(RLIMIT_NOFILE, &r) == 0) p.max_fds = r.rlim_cur;
    return p;
}

}  // namespace rrpcd::server
