#include "server/health_check.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <cstdio>

namespace rrpcd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

int check_health(const std::string& url) {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed || parsed->scheme() != "http" || parsed->host().empty()) {
        std::fprintf(stderr, "rrpcd health: %s: expected an http://host:port/path URL\n",
                     url.c_str());
        return 1;
    }
    const std::string host = parsed->host_type() == boost::urls::host_type::ipv6
                                 ? parsed->host_address()
                                 : std::string{parsed->host()};
    const std::string port = parsed->has_port() ? std::string{parsed->port()} : "80";
    std::string target{parsed->encoded_path()};
    if (target.empty()) target = "/";
    if (parsed->has_query()) target += "?" + std::string{parsed->encoded_query()};
    asio::io_context io;
    beast::tcp_stream stream{io};
    stream.expires_after(std::chrono::seconds{5});
    bhttp::response<bhttp::string_body> res;
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    const auto found = asio::ip::tcp::resolver{io}.resolve(host, port, ec);
    if (!ec) stream.async_connect(found, [&](auto e, const auto&) { ec = e; });
    io.run();
    io.restart();
    if (!ec) {
        bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
        req.set(bhttp::field::host, std::string{parsed->encoded_host_and_port()});
        req.set(bhttp::field::user_agent, "rrpcd-health");
        bhttp::async_write(stream, req, [&](auto e, std::size_t) {
            ec = e;
            if (e) return;
            bhttp::async_read(stream, buffer, res, [&](auto r, std::size_t) { ec = r; });
        });
        io.run();
    }
    if (ec) {
        std::fprintf(stderr, "rrpcd health: %s: %s\n", url.c_str(), ec.message().c_str());
        return 1;
    }
    std::fwrite(res.body().data(), 1, res.body().size(), stdout);
    return res.result() == bhttp::status::ok ? 0 : 1;
}

}  // namespace rrpcd::server
