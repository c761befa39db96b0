#pragma once

#include "config/settings.hpp"

#include <boost/system/result.hpp>

#include <filesystem>
#include <string>

namespace rrpcd::server {

/// What `rrpcd health` asks, and how it trusts an https answer.
struct health_target {
    std::string url;  ///< http(s)://host:port/path
    /// https: trust exactly this certificate (the configured one, for a probe of our own
    /// listener on loopback: no host name to check); empty: the system's CAs and the host name.
    std::filesystem::path pinned_cert{};
    bool insecure = false;  ///< https: no check at all (--insecure)
};

/// `--url` as given: a base URL (no path, or `/`) means its readiness probe (`/readyz`); http
/// or https, with a host. The error says what is expected.
boost::system::result<std::string, std::string> health_url(const std::string& url);

/// The probe of the configured listener: `http.listen`'s `/readyz` (a wildcard address asked
/// on loopback), else `http.tls_listen`'s over https trusting the configured certificate only
/// (another process's answer on that port does not pass); an error when neither is on.
boost::system::result<health_target, std::string> probe_target(const config::settings& s);

/// `rrpcd health`: GETs the target (5 s in all) and prints the answer's body. Returns the exit
/// code: 0 for 200, 1 for any other answer or none (the reason on stderr).
int check_health(const health_target& target);

}  // namespace rrpcd::server
