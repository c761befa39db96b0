#include "server/health_check.hpp"

#include <openssl/x509_vfy.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <chrono>
#include <cstdio>

namespace rrpcd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

boost::system::result<std::string, std::string> health_url(const std::string& url) {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
        parsed->host().empty())
        return {boost::system::in_place_error,
                url + ": expected http://host:port or https://host:port, with a path or not"};
    if (parsed->encoded_path().empty() || parsed->encoded_path() == "/") {
        boost::urls::url with{*parsed};
        with.set_encoded_path("/readyz");
        return {boost::system::in_place_value, std::string{with.buffer()}};
    }
    return {boost::system::in_place_value, url};
}

namespace {

std::string loopback_host(std::string host) {
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return host;
}

}  // namespace

boost::system::result<health_target, std::string> probe_target(const config::settings& s) {
    if (s.http.listen)
        return health_target{"http://" + loopback_host(s.http.listen->host) + ":" +
                             std::to_string(s.http.listen->port) + "/readyz"};
    if (s.http.tls_listen)
        return health_target{"https://" + loopback_host(s.http.tls_listen->host) + ":" +
                                 std::to_string(s.http.tls_listen->port) + "/readyz",
                             s.tls.cert_file};
    return {boost::system::in_place_error,
            "no HTTP listener is configured (http.listen and http.tls_listen are off): give "
            "--url"};
}

namespace {

/// GET `target` on `stream` (connected, and through its TLS handshake if any).
template <class Stream>
boost::system::error_code get(Stream& stream, const boost::urls::url_view& url,
                              bhttp::response<bhttp::string_body>& res, asio::io_context& io) {
    std::string target{url.encoded_path()};
    if (url.has_query()) target += "?" + std::string{url.encoded_query()};
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, std::string{url.encoded_host_and_port()});
    req.set(bhttp::field::user_agent, "rrpcd-health");
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    bhttp::async_write(stream, req, [&](auto e, std::size_t) {
        ec = e;
        if (e) return;
        bhttp::async_read(stream, buffer, res, [&](auto r, std::size_t) { ec = r; });
    });
    io.restart();
    io.run();
    return ec;
}

}  // namespace

int check_health(const health_target& t) {
    const auto fail = [&](const std::string& why) {
        std::fprintf(stderr, "rrpcd health: %s: %s\n", t.url.c_str(), why.c_str());
        return 1;
    };
    const auto parsed = boost::urls::parse_absolute_uri(t.url);
    if (!parsed) return fail("not a URL");
    const bool https = parsed->scheme() == "https";
    const std::string host = parsed->host_type() == boost::urls::host_type::ipv6
                                 ? parsed->host_address()
                                 : std::string{parsed->host()};
    const std::string port =
        parsed->has_port() ? std::string{parsed->port()} : (https ? "443" : "80");
    asio::io_context io;
    boost::system::error_code ec;
    const auto found = asio::ip::tcp::resolver{io}.resolve(host, port, ec);
    if (ec) return fail(ec.message());
    bhttp::response<bhttp::string_body> res;
    if (!https) {
        beast::tcp_stream stream{io};
        stream.expires_after(std::chrono::seconds{5});
        stream.async_connect(found, [&](auto e, const auto&) { ec = e; });
        io.run();
        if (!ec) ec = get(stream, *parsed, res, io);
    } else {
        asio::ssl::context ctx{asio::ssl::context::tls_client};
        if (t.insecure) {
            ctx.set_verify_mode(asio::ssl::verify_none);
        } else if (!t.pinned_cert.empty()) {
            // The configured certificate is the one trust anchor, a leaf included.
            ctx.load_verify_file(t.pinned_cert.string(), ec);
            if (ec) return fail("cannot read " + t.pinned_cert.string() + ": " + ec.message());
            X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx.native_handle()),
                                        X509_V_FLAG_PARTIAL_CHAIN);
            ctx.set_verify_mode(asio::ssl::verify_peer);
        } else {
            ctx.set_default_verify_paths();  // SSL_CERT_FILE / SSL_CERT_DIR are honoured
            ctx.set_verify_mode(asio::ssl::verify_peer);
            ctx.set_verify_callback(asio::ssl::host_name_verification(host));
        }
        beast::ssl_stream<beast::tcp_stream> stream{io, ctx};
        if (parsed->host_type() == boost::urls::host_type::name)
            SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds{5});
        beast::get_lowest_layer(stream).async_connect(found, [&](auto e, const auto&) {
            ec = e;
            if (!e) stream.async_handshake(asio::ssl::stream_base::client, [&](auto h) { ec = h; });
        });
        io.run();
        if (!ec) ec = get(stream, *parsed, res, io);
    }
    if (ec) return fail(ec.message());
    std::fwrite(res.body().data(), 1, res.body().size(), stdout);
    return res.result() == bhttp::status::ok ? 0 : 1;
}

}  // namespace rrpcd::server
