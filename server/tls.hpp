#pragma once

#include "config/settings.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace rrpcd::server {

/// The TLS server context of both TLS listeners. A session holds it for its whole life, so a
/// reload (SIGHUP) gives new connections the new certificate while the old ones keep theirs.
using tls_context = std::shared_ptr<boost::asio::ssl::context>;

/// Loads the certificate chain and key of `settings` (TLS 1.2+ only, or 1.3 only; no
/// compression, no renegotiation; the key must match the certificate). The error says which
/// file and why, in OpenSSL's words.
boost::system::result<tls_context, std::string> make_tls_context(
    const config::tls_settings& settings);

/// When the context's certificate stops being valid (its notAfter, Unix seconds).
std::optional<std::int64_t> certificate_not_after(const tls_context& ctx);

/// What a certificate's notAfter means `now` (Unix seconds): warned about at start and on
/// reload within `warn_within` of it, and past it.
struct certificate_expiry {
    enum class state : std::uint8_t { valid, expiring, expired } verdict = state::valid;
    std::int64_t seconds_left = 0;  ///< negative once expired
};
certificate_expiry expiry_of(std::int64_t not_after, std::int64_t now,
                             std::chrono::seconds warn_within = std::chrono::days{30});

}  // namespace rrpcd::server
