#pragma once

#include "config/settings.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

#include <memory>
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

}  // namespace rrpcd::server
