#pragma once

#include "http/api_error.hpp"
#include "http/authenticator.hpp"
#include "http/params.hpp"
#include "http/render.hpp"
#include "rrpc/device_directory.hpp"
#include "rrpc/service.hpp"

#include <spdlog/logger.h>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace rrpcd::http {

/// Limits the action layer applies to parameters.
struct api_limits {
    std::chrono::milliseconds timeout_min{1000};  ///< RRpc Timeout range
    std::chrono::milliseconds timeout_max{8000};
    std::size_t max_payload_bytes = 256 * 1024 - 512;  ///< what fits one MQTT packet with its topic
};

/// The Alibaba Cloud IoT RPC API (version 2018-01-20) over Beast message types: parameters from
/// query and form body, both signature schemes, actions, and the cloud's JSON/XML bodies and
/// error codes. Knows no sockets. io thread only.
class api {
public:
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    api(api_limits limits, authenticator& auth, rrpc::service& rrpc,
        const rrpc::device_directory& devices, std::shared_ptr<spdlog::logger> log);

    /// Answers one request; never throws for bad input (every failure is a cloud error body).
    boost::asio::awaitable<response> handle(request req);

    static constexpr std::string_view api_version = "2018-01-20";

private:
    /// A successful action's body (without RequestId/Success) and its XML root.
    struct reply {
        boost::json::object body;
    };
    using action_result = boost::system::result<reply, api_error>;

    boost::asio::awaitable<action_result> dispatch(const request& req, std::string_view path,
                                                   const request_params& params);
    boost::asio::awaitable<action_result> rrpc_action(const request_params& params);

    api_limits limits_;
    authenticator& auth_;
    rrpc::service& rrpc_;
    const rrpc::device_directory& devices_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace rrpcd::http
