// The device-management actions: products and devices registered at run time, with the cloud's
// parameters, response shapes and codes. Every change is on disk (journal) before the answer.
#include "http/actions.hpp"
#include "kit/unix_ms.hpp"

#include "config/names.hpp"
#include "kit/crypto.hpp"
#include "kit/parse_whole.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <limits>

namespace rrpcd::http {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

/// `n` random characters of A-Z a-z 0-9 (generated names, keys and secrets).
std::string random_name(std::size_t n) {
    constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const auto bytes = kit::random_bytes(n);
    std::string out;
    for (const unsigned char b : bytes) out += alphabet[b % alphabet.size()];
    return out;
}

/// The cloud's two time forms: `Gmt*` "2026-12-01 09:24:24", `Utc*` "2026-12-01T09:24:24.000Z".
std::string time_text(std::int64_t ms, bool utc) {
    if (ms == 0) return {};
    const std::time_t t = ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    return utc ? std::string{buf} + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z"
               : std::string{buf};
}

/// What CreateProduct and QueryProduct both say of a product.
json::object product_json(const catalog::product_record& p) {
    json::object data;
    data["ProductKey"] = p.product_key;
    data["ProductName"] = p.name;
    data["NodeType"] = p.node_type;
    data["DataFormat"] = p.data_format;
    data["Description"] = p.description;
    data["AuthType"] = "secret";
    return data;
}

/// ONLINE, OFFLINE, UNACTIVE (never logged in) or DISABLE. A device online is active even when
/// this node's catalog has not seen its first login (cluster mode: it logged in on another node).
std::string_view status_of(const catalog::device_record& d, const rrpc::presence& p) {
    if (d.disabled) return "DISABLE";
    if (p.link == rrpc::presence::state::connected) return "ONLINE";
    return d.active_ms == 0 ? "UNACTIVE" : "OFFLINE";
}

/// Whether a device's status depends on its link (it is enabled).
bool linked_status(const catalog::device_record& d) {
    return !d.disabled;
}

/// The status of each of `devices`, in their order: one message to the router for all of them.
asio::awaitable<std::vector<std::string_view>> statuses_of(
    action_context& ctx, const std::vector<catalog::device_ref>& devices) {
    std::vector<catalog::device_key> asked;
    for (const auto& d : devices)
        if (linked_status(*d)) asked.push_back(d->key);
    const auto links = co_await ctx.services.router.links(std::move(asked));
    std::vector<std::string_view> out;
    out.reserve(devices.size());
    std::size_t next = 0;
    for (const auto& d : devices)
        out.push_back(status_of(*d, linked_status(*d) ? links[next++] : rrpc::presence{}));
    co_return out;
}

using product_result = boost::system::result<catalog::product_ref, api_error>;

product_result find_product(const action_context& ctx, const request_params& params) {
    const auto pk = params.get("ProductKey").value_or("");
    if (pk.empty()) return business("iot.prod.NullProductKey", "The productKey is empty.");
    if (!config::is_valid_product_key(pk))
        return business("iot.prod.InvalidFormattedProductkey",
                        "The productKey format is incorrect.");
    if (auto p = ctx.services.devices.find_product(pk)) return p;
    return business("iot.prod.NotExistedProduct", "The product does not exist.");
}

/// CurrentPage and PageSize (1 to `max_size`), the cloud's paging of a list.
struct page_request {
    std::size_t page = 1;
    std::size_t size = 10;

    /// How many items come before the page (saturating: (page - 1) * size may not fit).
    std::size_t skip() const {
        constexpr auto most = std::numeric_limits<std::size_t>::max();
        return page - 1 <= most / size ? (page - 1) * size : most;
    }
    /// The index of the page's first item of `total` (the end when the page is past it).
    std::size_t first(std::size_t total) const { return std::min(skip(), total); }
    std::size_t count(std::size_t total) const { return (total + size - 1) / size; }
};

boost::system::result<page_request, api_error> page_of(const request_params& params,
                                                       std::size_t max_size) {
    const auto size = kit::parse_whole<std::size_t>(params.get("PageSize").value_or("10"));
    const auto page = kit::parse_whole<std::size_t>(params.get("CurrentPage").value_or("1"));
    if (!size || *size < 1 || *size > max_size)
        return business("iot.common.InvalidPageParams",
                        "PageSize must be 1 to " + std::to_string(max_size) + ".");
    if (!page || *page < 1)
        return business("iot.common.InvalidPageParams", "CurrentPage must be 1 or more.");
    return page_request{*page, *size};
}

/// What QueryDevice and QueryDeviceByStatus say of each device of a page.
json::object device_info(const catalog::device_record& d, std::string_view status) {
    json::object info;
    info["DeviceId"] = d.iot_id;
    info["IotId"] = d.iot_id;
    info["ProductKey"] = d.key.product_key;
    info["DeviceName"] = d.key.device_name;
    info["DeviceSecret"] = d.secret;
    info["Nickname"] = d.nickname;
    info["GmtCreate"] = time_text(d.created_ms, false);
    info["UtcCreate"] = time_text(d.created_ms, true);
    info["Status"] = status;
    return info;
}

asio::awaitable<action_result> set_disabled(action_context& ctx, const request_params& params,
                                            bool disabled) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    ctx.services.fleet.set_disabled((*device)->key, disabled);
    if (co_await ctx.services.fleet.sync()) co_return gateway::service_unavailable();
    co_return reply{};
}

}  // namespace

asio::awaitable<action_result> create_product(action_context& ctx, const request_params& params) {
    const auto name = params.get("ProductName").value_or("");
    if (name.empty()) co_return business("iot.prod.NullProductName", "ProductName is empty.");
    if (name.size() > 120)
        co_return business("iot.prod.InvalidFormattedProductName",
                           "ProductName must be at most 120 characters.");
    const auto node_type = kit::parse_whole<int>(params.get("NodeType").value_or("0"));
    if (!node_type || (*node_type != 0 && *node_type != 1))
        co_return business("iot.prod.InvalidNodeType",
                           "NodeType must be 0 (device) or 1 (gateway).");
    const auto data_format = kit::parse_whole<int>(params.get("DataFormat").value_or("1"));
    if (!data_format || (*data_format != 0 && *data_format != 1))
        co_return business("iot.prod.InvalidDataFormat", "DataFormat must be 0 or 1.");
    std::string key;
    do key = "a1" + random_name(9);
    while (ctx.services.devices.find_product(key) != nullptr);
    catalog::product_record p{key,
                              std::string{name},
                              *node_type,
                              *data_format,
                              std::string{params.get("Description").value_or("")},
                              kit::unix_ms()};
    ctx.services.fleet.create_product(p);
    if (co_await ctx.services.fleet.sync()) co_return gateway::service_unavailable();
    reply r;
    r.body["Data"] = product_json(p);
    r.body["ProductKey"] = p.product_key;
    co_return r;
}

asio::awaitable<action_result> query_product(action_context& ctx, const request_params& params) {
    const auto product = find_product(ctx, params);
    if (!product) co_return product.error();
    const auto& p = **product;
    reply r;
    auto& data = (r.body["Data"] = product_json(p)).as_object();
    data["GmtCreate"] = p.created_ms;
    data["DeviceCount"] = ctx.services.devices.count_of(p.product_key);
    data["ProductStatus"] = "DEVELOPMENT_STATUS";
    co_return r;
}

asio::awaitable<action_result> register_device(action_context& ctx, const request_params& params) {
    const auto product = find_product(ctx, params);
    if (!product) co_return product.error();
    std::string name{params.get("DeviceName").value_or("")};
    if (name.empty()) {
        do name = random_name(20);
        while (ctx.services.devices.find({(*product)->product_key, name}) != nullptr);
    } else if (!config::is_valid_device_name(name)) {
        co_return business(
            "iot.device.InvalidFormattedDeviceName",
            "The deviceName format is incorrect: 4-32 characters of A-Z a-z 0-9 - _ @ . :");
    }
    const catalog::device_key key{(*product)->product_key, name};
    if (ctx.services.devices.find(key) != nullptr)
        co_return business("iot.device.DeviceNameExisted", "The deviceName already exists.");
    catalog::device_record d{key, kit::to_hex(kit::random_bytes(16)), {}};
    d.nickname = std::string{params.get("Nickname").value_or("")};
    d.created_ms = kit::unix_ms();
    const auto kept = ctx.services.fleet.register_device(std::move(d));
    reply r;
    auto& data = r.body["Data"].emplace_object();
    data["IotId"] = kept->iot_id;
    data["ProductKey"] = kept->key.product_key;
    data["DeviceName"] = kept->key.device_name;
    data["DeviceSecret"] = kept->secret;
    data["Nickname"] = kept->nickname;
    if (co_await ctx.services.fleet.sync()) co_return gateway::service_unavailable();
    co_return r;
}

asio::awaitable<action_result> query_device_detail(action_context& ctx,
                                                   const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto& d = **device;
    const auto product = ctx.services.devices.find_product(d.key.product_key);
    reply r;
    auto& data = r.body["Data"].emplace_object();
    data["IotId"] = d.iot_id;
    data["ProductKey"] = d.key.product_key;
    data["ProductName"] = product ? product->name : d.key.product_key;
    data["DeviceName"] = d.key.device_name;
    data["DeviceSecret"] = d.secret;
    data["Nickname"] = d.nickname;
    const std::vector<catalog::device_ref> one{*device};  // named: see rrpc_action
    data["Status"] = (co_await statuses_of(ctx, one))[0];
    data["NodeType"] = product ? product->node_type : 0;
    data["GmtCreate"] = time_text(d.created_ms, false);
    data["UtcCreate"] = time_text(d.created_ms, true);
    data["GmtActive"] = time_text(d.active_ms, false);
    data["UtcActive"] = time_text(d.active_ms, true);
    data["Owner"] = true;
    co_return r;
}

asio::awaitable<action_result> get_device_status(action_context& ctx,
                                                 const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    reply r;
    auto& data = r.body["Data"].emplace_object();
    const std::vector<catalog::device_ref> one{*device};
    data["Status"] = (co_await statuses_of(ctx, one))[0];
    data["Timestamp"] = kit::unix_ms();
    co_return r;
}

asio::awaitable<action_result> batch_get_device_state(action_context& ctx,
                                                      const request_params& params) {
    // DeviceName.1, DeviceName.2, … with ProductKey, or IotId.N alone (as the cloud takes it):
    // the SDKs' flat list.
    const bool by_iot_id = std::ranges::any_of(
        params.all(), [](const auto& p) { return p.first.starts_with("IotId."); });
    catalog::product_ref product;
    if (!by_iot_id || params.get("ProductKey")) {
        const auto found = find_product(ctx, params);
        if (!found) co_return found.error();
        product = *found;
    }
    std::vector<catalog::device_ref> found;
    for (const auto& [name, value] : params.all()) {
        const bool by_name = name.starts_with("DeviceName.");
        if (!by_name && !name.starts_with("IotId.")) continue;
        if (by_name && product == nullptr)
            co_return business("iot.prod.NullProductKey", "The productKey is empty.");
        const auto d = by_name
                           ? ctx.services.devices.find({product->product_key, std::string{value}})
                           : ctx.services.devices.find_by_iot_id(value);
        if (d == nullptr || (product != nullptr && d->key.product_key != product->product_key))
            co_return business(
                "iot.device.NotExistedDevice",
                "The device " + std::string{value.substr(0, 64)} + " does not exist.");
        found.push_back(d);
        if (found.size() > 50)
            co_return business("iot.device.TooManyDevices", "At most 50 devices per call.");
    }
    const auto statuses = co_await statuses_of(ctx, found);
    json::array states;
    for (std::size_t i = 0; i < found.size(); ++i) {
        json::object s;
        s["DeviceName"] = found[i]->key.device_name;
        s["IotId"] = found[i]->iot_id;
        s["DeviceId"] = found[i]->iot_id;
        s["Status"] = statuses[i];
        states.push_back(std::move(s));
    }
    reply r;
    r.body["DeviceStatusList"].emplace_object()["DeviceStatus"] = std::move(states);
    co_return r;
}

asio::awaitable<action_result> query_device(action_context& ctx, const request_params& params) {
    const auto product = find_product(ctx, params);
    if (!product) co_return product.error();
    const auto paging = page_of(params, 50);
    if (!paging) co_return paging.error();
    const auto all = ctx.services.devices.of_product((*product)->product_key);
    std::vector<catalog::device_ref> page;
    for (auto i = paging->first(all.size()); i < all.size() && page.size() < paging->size; ++i)
        page.push_back(all[i]);
    const auto statuses = co_await statuses_of(ctx, page);
    json::array infos;
    for (std::size_t i = 0; i < page.size(); ++i) {
        auto info = device_info(*page[i], statuses[i]);
        info["DeviceStatus"] = info["Status"];  // QueryDevice's name for it
        info.erase("Status");
        infos.push_back(std::move(info));
    }
    reply r;
    r.body["Data"].emplace_object()["DeviceInfo"] = std::move(infos);
    r.body["Page"] = paging->page;
    r.body["PageSize"] = paging->size;
    r.body["Total"] = all.size();
    r.body["PageCount"] = paging->count(all.size());
    co_return r;
}

asio::awaitable<action_result> query_device_by_status(action_context& ctx,
                                                      const request_params& params) {
    // Status: 0 UNACTIVE, 1 ONLINE, 3 OFFLINE, 8 DISABLE; ProductKey narrows it to one product.
    static constexpr std::array<std::pair<int, std::string_view>, 4> statuses{
        {{0, "UNACTIVE"}, {1, "ONLINE"}, {3, "OFFLINE"}, {8, "DISABLE"}}};
    const auto status = kit::parse_whole<int>(params.get("Status").value_or(""));
    const auto wanted =
        std::ranges::find(statuses, status.value_or(-1), &std::pair<int, std::string_view>::first);
    if (wanted == statuses.end())
        co_return business("iot.device.InvalidStatus",
                           "Status must be 0 (inactive), 1 (online), 3 (offline) or 8 (disabled).");
    std::vector<std::string> products;
    if (params.get("ProductKey").value_or("").empty()) {
        products = ctx.services.devices.products();
    } else {
        const auto product = find_product(ctx, params);
        if (!product) co_return product.error();
        products.push_back((*product)->product_key);
    }
    const auto paging = page_of(params, 50);
    if (!paging) co_return paging.error();
    std::vector<catalog::device_ref> all;
    for (const auto& pk : products)
        for (auto& d : ctx.services.devices.of_product(pk)) all.push_back(std::move(d));
    // Online and offline need the links; inactive and disabled do not.
    const bool linked = wanted->first == 1 || wanted->first == 3;
    std::vector<std::string_view> found;
    if (linked) {
        found = co_await statuses_of(ctx, all);
    } else {
        for (const auto& d : all) found.push_back(status_of(*d, rrpc::presence{}));
    }
    // One pass: count every match, render only the page's.
    json::array infos;
    std::size_t total = 0;
    const auto first = paging->skip();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (found[i] != wanted->second) continue;
        if (total++ < first || infos.size() == paging->size) continue;
        auto info = device_info(*all[i], found[i]);
        info.erase("DeviceId");
        infos.push_back(std::move(info));
    }
    reply r;
    r.body["Data"].emplace_object()["SimpleDeviceInfo"] = std::move(infos);
    r.body["Page"] = paging->page;
    r.body["PageSize"] = paging->size;
    r.body["Total"] = total;
    r.body["PageCount"] = paging->count(total);
    co_return r;
}

asio::awaitable<action_result> query_product_list(action_context& ctx,
                                                  const request_params& params) {
    const auto paging = page_of(params, 200);
    if (!paging) co_return paging.error();
    const auto all = ctx.services.devices.products();
    json::array infos;
    for (auto i = paging->first(all.size()); i < all.size() && infos.size() < paging->size; ++i) {
        const auto found = ctx.services.devices.find_product(all[i]);
        // A product known only from its devices' keys is listed under its key.
        const auto p = found ? *found : catalog::product_record{all[i], all[i]};
        auto info = product_json(p);
        info["GmtCreate"] = p.created_ms;
        info["DeviceCount"] = ctx.services.devices.count_of(p.product_key);
        infos.push_back(std::move(info));
    }
    reply r;
    auto& data = r.body["Data"].emplace_object();
    data["CurrentPage"] = paging->page;
    data["PageSize"] = paging->size;
    data["Total"] = all.size();
    data["PageCount"] = paging->count(all.size());
    data["List"].emplace_object()["ProductInfo"] = std::move(infos);
    co_return r;
}

asio::awaitable<action_result> delete_device(action_context& ctx, const request_params& params) {
    const auto device = find_device(ctx, params, 200, "iot.device.NotExistedDevice", true);
    if (!device) co_return device.error();
    const auto key = (*device)->key;  // a copy: the record goes
    ctx.services.properties.forget(key);
    ctx.services.fleet.delete_device(key);
    if (co_await ctx.services.fleet.sync()) co_return gateway::service_unavailable();
    co_return reply{};
}

asio::awaitable<action_result> disable_thing(action_context& ctx, const request_params& params) {
    return set_disabled(ctx, params, true);
}

asio::awaitable<action_result> enable_thing(action_context& ctx, const request_params& params) {
    return set_disabled(ctx, params, false);
}

}  // namespace rrpcd::http
