#pragma once

#include <boost/system/result.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rrpcd::http {

/// Decoded name/value pairs in arrival order.
using param_list = std::vector<std::pair<std::string, std::string>>;

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
    /// Query and form together (the V1 signed set).
    param_list all() const;
};

}  // namespace rrpcd::http
