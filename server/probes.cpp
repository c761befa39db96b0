#include "server/probes.hpp"

#include "kit/crypto.hpp"

#include <algorithm>

namespace rrpcd::server {

std::optional<probe_answer> answer_probe(std::string_view target,
                                         const std::vector<readiness_check>& checks) {
    const auto q = target.find('?');
    const auto path = target.substr(0, q);
    const auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    if (path == "/livez" || path == "/healthz") return probe_answer{200, "ok\n"};
    if (path != "/readyz") return std::nullopt;
    const bool ready =
        std::ranges::all_of(checks, [](const auto& c) { return !c.problem.has_value(); });
    probe_answer answer{ready ? 200u : 503u, {}};
    if (query == "verbose" || query.starts_with("verbose=") || query.starts_with("verbose&")) {
        for (const auto& c : checks)
            answer.body += c.problem ? "[-]" + c.name + " failed: " + *c.problem + "\n"
                                     : "[+]" + c.name + " ok\n";
    }
    answer.body += ready ? "ok\n" : "not ready\n";
    return answer;
}

}  // namespace rrpcd::server
