#include "http/params.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/url/encoding_opts.hpp>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>

namespace rrpcd::http {

namespace {

/// The decoded pairs of an already validated query.
param_list decode_pairs(boost::urls::params_encoded_view query) {
    param_list out;
    if (query.buffer().empty()) return out;  // not one empty pair
    boost::urls::encoding_opts opts;
    opts.space_as_plus = true;
    out.reserve(query.size());
    // Most names and values have nothing to decode (Boost.URL counted their decoded size while
    // parsing): those are copied as they are.
    const auto decode = [&opts](boost::urls::pct_string_view s) {
        if (s.decoded_size() == s.size() && s.find('+') == s.npos) return std::string{s};
        return s.decode(opts);
    };
    for (const auto& p : query) out.emplace_back(decode(p.key), decode(p.value));
    return out;
}

}  // namespace

boost::system::result<param_list> parse_form(std::string_view encoded) {
    if (encoded.empty()) return param_list{};
    // Boost.URL 1.81's parse_query rebuilds its view from `s.data()` alone (a strlen), so it
    // must be given a NUL-terminated copy, never a view into a larger buffer.
    const std::string text{encoded};
    const auto query = boost::urls::parse_query(text);  // one pass validates and splits
    if (!query) return query.error();
    return decode_pairs(*query);
}

std::optional<std::string_view> find_param(const param_list& params,
                                           std::string_view name) noexcept {
    for (const auto& [k, v] : params)
        if (k == name) return std::string_view{v};
    return std::nullopt;
}

std::optional<std::string_view> request_params::get(std::string_view name) const noexcept {
    if (auto v = find_param(query, name)) return v;
    return find_param(form, name);
}

param_views views_of(const param_list& params) {
    return {params.begin(), params.end()};
}

param_views request_params::all() const {
    param_views out;
    out.reserve(query.size() + form.size());
    out.insert(out.end(), query.begin(), query.end());
    out.insert(out.end(), form.begin(), form.end());
    return out;
}

boost::system::result<decoded_request, std::string_view> decode_request(
    std::string_view target, std::string_view host, std::string_view content_type,
    std::string_view body) {
    const auto url = !target.empty() && target.front() == '/'
                         ? boost::urls::parse_origin_form(target)
                         : boost::urls::parse_absolute_uri(target);
    if (!url) return std::string_view{"request-target"};
    if (url->has_scheme()) {
        const auto scheme = url->scheme();
        if ((!boost::algorithm::iequals(scheme, "http") &&
             !boost::algorithm::iequals(scheme, "https")) ||
            !boost::algorithm::iequals(url->encoded_host_and_port(), host) || url->has_userinfo())
            return std::string_view{"request-target"};
    }
    decoded_request out;
    const auto encoded_path = url->encoded_path();
    out.path.assign(encoded_path.data(), encoded_path.size());
    if (out.path.empty()) out.path = "/";
    out.params.query = decode_pairs(url->encoded_params());  // validated with the target
    if (boost::algorithm::istarts_with(content_type, "application/x-www-form-urlencoded")) {
        auto form = parse_form(body);
        if (!form) return std::string_view{"form body"};
        out.params.form = std::move(*form);
    }
    return out;
}

}  // namespace rrpcd::http
