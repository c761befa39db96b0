#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::server {

/// One check of `GET /readyz`: its name and, when it fails, why (never a secret).
struct readiness_check {
    std::string name;
    std::optional<std::string> problem;
};

/// An answer to a probe: status and a plain-text body.
struct probe_answer {
    unsigned status = 200;
    std::string body;
};

/// `GET /livez` (and `/healthz`): the process serves. `GET /readyz`: every check passes;
/// `?verbose` lists each as `[+]name ok` or `[-]name failed: why`. Unauthenticated. nullopt:
/// `target` is not a probe.
std::optional<probe_answer> answer_probe(std::string_view target,
                                         const std::vector<readiness_check>& checks);

/// Whether `authorization` carries the scrape token (`Bearer <token>`); an empty token never
/// matches. Compared in constant time.

}  // namespace rrpcd::server
