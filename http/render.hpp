#pragma once

#include "http/api_error.hpp"
#include "rrpc/reply_hub.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace rrpcd::http {

/// Response formats of the RPC API (`Format` parameter); JSON unless XML is asked for.
enum class format { json, xml };

using response = boost::beast::http::response<boost::beast::http::string_body>;

/// The body as JSON, or as XML under `<xml_root>` (`<RRpcResponse>`, `<Error>`).
std::string render_body(const boost::json::object& body, format f, std::string_view xml_root);

/// A complete response with the cloud's content types.
response make_response(unsigned status, const boost::json::object& body, format f,
                       std::string_view xml_root, unsigned http_version, bool keep_alive);

/// The cloud's error body for `e`: business errors (200) carry Success/Code/ErrorMessage/Message,
/// gateway errors (4xx/5xx) Code/Message/HostId/Recommend.
boost::json::object error_body(const api_error& e, std::string_view request_id,
                               std::string_view host_id);

/// A fresh RequestId in the cloud's form (upper-case UUID).
std::string new_request_id();

/// The cloud's data-forwarding JSON of a downlink reply `{gmtCreate, iotId, productKey,
/// deviceName, requestId, code, message, topic, data}`, plus `MessageId` and `payloadBase64`
/// (the raw bytes), as webhooks and the reply stream send it.
std::string forwarding_json(const rrpc::async_reply& r);

}  // namespace rrpcd::http
