#include "server/tls.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

namespace rrpcd::server {

namespace ssl = boost::asio::ssl;

boost::system::result<tls_context, std::string> make_tls_context(
    const config::tls_settings& settings) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use |
                         ssl::context::no_compression,
                     ec);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, settings.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2: forward-secret AEAD suites only (TLS 1.3's are all of that kind).
    SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
    // Idle TLS devices hold no read/write buffers between records.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    if (!ec) ctx->use_certificate_chain_file(settings.cert_file.string(), ec);
    if (ec) return "tls.cert_file " + settings.cert_file.string() + ": " + ec.message();
    ctx->use_private_key_file(settings.key_file.string(), ssl::context::pem, ec);
    if (ec) return "tls.key_file " + settings.key_file.string() + ": " + ec.message();
    if (SSL_CTX_check_private_key(native) != 1)
        return "tls.key_file " + settings.key_file.string() +
               ": does not match the certificate of tls.cert_file";
    return ctx;
}

std::optional<std::int64_t> certificate_not_after(const tls_context& ctx) {
    if (!ctx) return std::nullopt;
    const X509* cert = SSL_CTX_get0_certificate(ctx->native_handle());
    if (cert == nullptr) return std::nullopt;
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return std::nullopt;
    return static_cast<std::int64_t>(timegm(&tm));
}

certificate_expiry expiry_of(std::int64_t not_after, std::int64_t now,
                             std::chrono::seconds warn_within) {
    certificate_expiry e;
    e.seconds_left = not_after - now;
    if (e.seconds_left <= 0)
        e.verdict = certificate_expiry::state::expired;
    else if (e.seconds_left <= warn_within.count())
        e.verdict = certificate_expiry::state::expiring;
    return e;
}

}  // namespace rrpcd::server
