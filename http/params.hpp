#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rrpcd::http {

/// The largest header field name or value a request may carry: Beast's fields keep each in at
/// most 65,535 bytes with its separator (16-bit offsets), and refuse more by throwing. The
/// server's reader answers a larger one 431, like headers past `http.max_header_bytes`.
inline constexpr std::size_t max_header_field_bytes = 65'533;

/// Decoded name/value pairs in arrival order.
using param_list = std::vector<std::pair<std::string, std::string>>;

/// Views of name/value pairs held elsewhere (a signed set, without copying it).
using param_views = std::vector<std::pair<std::string_view, std::string_view>>;

/// Views of every pair of `params`, in order.
param_views views_of(const param_list& params);

/// Decodes `a=b&c=d` (a query or an x-www-form-urlencoded body) with Boost.URL: split on '&',
/// first '=', '+' as space, %XX as a byte. An invalid escape or character is an error.
boost::system::result<param_list> parse_form(std::string_view encoded);

/// The first value of `name`, or nullopt.
std::optional<std::string_view> find_param(const param_list& params,
                                           std::string_view name) noexcept;

/// The parameters of one API request: from the query, and from a form body when there is one.
struct request_params {
    param_list query;
    param_list form;

    /// The first value of `name` in the query, then in the form body.
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// Query and form together (the V1 signed set), as views of this object.
    param_views all() const;
};

/// An API request's path and parameters, decoded from its request-target and, when the content
/// type is `application/x-www-form-urlencoded`, its body.
struct decoded_request {
    std::string path;  ///< still percent-encoded, as the V3 signature covers it
    request_params params;
};

/// Decodes what every action reads; the error names the part that is not valid (`request-target`,
/// which includes its query, or `form body`), for the cloud's InvalidParameter. The target is
/// in origin form (`/path?query`), or in absolute form (`http://host:port/path?query`, which a
/// server must accept, RFC 9112 §3.2.2) naming the same authority as the `host` header.
boost::system::result<decoded_request, std::string_view> decode_request(
    std::string_view target, std::string_view host, std::string_view content_type,
    std::string_view body);

}  // namespace rrpcd::http
