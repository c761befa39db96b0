#include "http/render.hpp"

#include "kit/base64.hpp"

#include <boost/json/serialize.hpp>
#include <boost/uuid/random_generator.hpp>

#include <boost/uuid/uuid_io.hpp>

#include <algorithm>
#include <random>

namespace rrpcd::http {
namespace {

namespace bhttp = boost::beast::http;

void xml_escape(std::string_view s, std::string& out) {
    for (const char c : s) {
        switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default: out += c;
        }
    }
}

/// `<name>value</name>`, objects as nested elements in their order.
void xml_element(std::string_view name, const boost::json::value& v, std::string& out) {
    out += '<';
    out += name;
    out += '>';
    if (const auto* s = v.if_string()) {
        xml_escape(*s, out);
    } else if (const auto* o = v.if_object()) {
        for (const auto& [k, child] : *o) xml_element(k, child, out);
    } else {
        out += boost::json::serialize(v);  // numbers and booleans print the same in both formats
    }
    out += "</";
    out += name;
    out += '>';
}

}  // namespace

std::string render_body(const boost::json::object& body, format f, std::string_view xml_root) {
    if (f == format::json) return boost::json::serialize(body);
    std::string out = "<?xml version='1.0' encoding='UTF-8'?>";
    xml_element(xml_root, body, out);
    return out;
}

response make_response(unsigned status, const boost::json::object& body, format f,
                       std::string_view xml_root, unsigned http_version, bool keep_alive) {
    response res{static_cast<bhttp::status>(status), http_version};
    res.set(bhttp::field::server, "rrpcd");
    res.set(bhttp::field::content_type,
            f == format::json ? "application/json;charset=utf-8" : "text/xml;charset=utf-8");
    res.body() = render_body(body, f, xml_root);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

boost::json::object error_body(const api_error& e, std::string_view request_id,
                               std::string_view host_id) {
    boost::json::object body;
    body["RequestId"] = request_id;
    if (e.status == 200) {
        body["Success"] = false;
        body["Code"] = e.code;
        body["ErrorMessage"] = e.message;
        body["Message"] = e.message;  // pop-core reads Message
    } else {
        body["HostId"] = host_id;
        body["Code"] = e.code;
        body["Message"] = e.message;
        body["Recommend"] = "";
    }
    return body;
}

std::string new_request_id() {
    // One generator per thread, seeded once: Boost 1.81's random_generator asks the kernel for
    // entropy on every id (a getrandom syscall per request). RequestIds need to be unique, not
    // secret.
    thread_local boost::uuids::basic_random_generator<std::mt19937_64> generate{[] {
        thread_local std::mt19937_64 engine{std::random_device{}()};
        return &engine;
    }()};
    auto id = boost::uuids::to_string(generate());
    // Hex digits only: no locale (boost::to_upper_copy looks up a ctype facet per character).
    std::transform(id.begin(), id.end(), id.begin(), [](char c) {
        return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c;
    });
    return id;
}

std::string forwarding_json(const rrpc::async_reply& r) {
    boost::json::object event;
    event["gmtCreate"] = r.gmt_create_ms;
    event["iotId"] = r.iot_id;
    event["productKey"] = r.device.product_key;
    event["deviceName"] = r.device.device_name;
    event["requestId"] = r.request_id;
    event["code"] = r.code;
    event["message"] = r.message;
    event["topic"] = r.topic;
    event["data"] = r.data;
    event["payloadBase64"] = kit::base64_encode(r.payload);
    event["MessageId"] = r.message_id;
    return boost::json::serialize(event);
}

}  // namespace rrpcd::http
