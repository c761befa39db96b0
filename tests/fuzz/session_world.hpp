#pragma once
// The fuzzers' rrpcd: the real node (its listeners, sessions, API, console and memory store) on
// the embedded default configuration, with listeners on free loopback ports and a silent log.
// A fuzz input is sent over a real loopback connection to one of its listeners and the node's
// io_context runs until the session has answered and closed (or a bound of turns passes).
#include "config/settings.hpp"
#include "server/node.hpp"
#include "server/thing_models.hpp"

#include <spdlog/sinks/null_sink.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>

namespace rrpcd::fuzz {

class session_world {
public:
    session_world() : settings_(make_settings()) {
        auto models = server::load_thing_models(settings_);
        if (!models) std::abort();
        const auto sink = std::make_shared<spdlog::sinks::null_sink_st>();
        const auto logger = [&](const char* name) {
            return std::make_shared<spdlog::logger>(name, sink);
        };
        node_ = std::make_unique<server::node>(
            std::make_shared<const config::settings>(settings_), std::move(*models),
            server::loggers{logger("server"), logger("mqtt"), logger("http"), logger("rrpc")});
        if (!node_->open()) std::abort();
        mqtt_port_ = port_of(node_->listen("mqtt", {"127.0.0.1", 0}, nullptr));
        http_port_ = port_of(node_->listen("http", {"127.0.0.1", 0}, nullptr));
        node_->start();
    }

    std::uint16_t mqtt_port() const noexcept { return mqtt_port_; }
    std::uint16_t http_port() const noexcept { return http_port_; }

    /// Connects to `port`, writes `bytes` in pieces of `piece` bytes (the server reads between
    /// them; at most 256 pieces, so that a long input stays quick), half-closes, and runs the
    /// server until it closes the connection or `turns` io turns pass without it (a stream
    /// that stays open); then closes.
    void exchange(std::uint16_t port, std::span<const std::uint8_t> bytes, std::size_t piece,
                  int turns = 200) {
        piece = std::max(piece, bytes.size() / 256);
        namespace asio = boost::asio;
        auto& io = node_->io();
        asio::ip::tcp::socket client{io};
        boost::system::error_code ec;
        client.connect({asio::ip::address_v4::loopback(), port}, ec);
        if (ec) return;
        client.non_blocking(true, ec);
        std::array<std::uint8_t, 64 * 1024> sink;
        bool closed = false;
        const auto drain = [&] {
            for (;;) {
                const auto n = client.read_some(asio::buffer(sink), ec);
                if (ec == asio::error::would_block) return;
                if (ec || n == 0) {
                    closed = true;
                    return;
                }
            }
        };
        for (std::size_t offset = 0; offset < bytes.size() && !closed;) {
            const auto n = client.write_some(
                asio::buffer(bytes.data() + offset, std::min(piece, bytes.size() - offset)), ec);
            if (ec && ec != asio::error::would_block) break;
            offset += n;
            io.poll();
            drain();
        }
        client.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        for (int i = 0; i < turns && !closed; ++i) {
            io.run_one_for(std::chrono::milliseconds{1});
            io.poll();
            drain();
        }
        client.close(ec);
        io.poll();
    }

private:
    static config::settings make_settings() {
        auto s = config::embedded_default();
        if (!s) std::abort();
        s->store.path.clear();  // memory only
        return std::move(*s);
    }
    static std::uint16_t port_of(const boost::system::result<std::string, std::string>& bound) {
        if (!bound) std::abort();
        return static_cast<std::uint16_t>(std::stoi(bound->substr(bound->rfind(':') + 1)));
    }

    config::settings settings_;
    std::unique_ptr<server::node> node_;
    std::uint16_t mqtt_port_ = 0, http_port_ = 0;
};

}  // namespace rrpcd::fuzz
