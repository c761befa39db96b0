#include "catalog/thing_model.hpp"

#include "kit/parse_whole.hpp"

#include <boost/json.hpp>
#include <boost/json/stream_parser.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace rrpcd::catalog {

namespace json = boost::json;

namespace {

using error = std::string;

/// A TSL number spec: exported TSL writes them as strings ("0.5"), hand-written ones as numbers.
std::optional<double> number_spec(const json::object& specs, std::string_view key,
                                  const std::string& path, error& err) {
    const auto* v = specs.if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_number()) return v->to_number<double>();
    if (const auto* s = v->if_string())
        if (const auto d = kit::parse_whole<double>(*s)) return d;
    err = path + "." + std::string{key} + ": expected a number";
    return std::nullopt;
}

/// A TSL count spec (text length, array size): a whole number from 0 to 1,000,000, far above
/// the platform's limits (10,240 characters, 512 elements), so that no cast can overflow.
std::optional<std::size_t> count_spec(const json::object& specs, std::string_view key,
                                      const std::string& path, error& err) {
    const auto n = number_spec(specs, key, path, err);
    if (!n) return std::nullopt;
    if (!(*n >= 0 && *n <= 1'000'000) || *n != static_cast<double>(static_cast<std::size_t>(*n))) {
        err = path + "." + std::string{key} + ": expected a whole number from 0 to 1000000";
        return std::nullopt;
    }
    return static_cast<std::size_t>(*n);
}

bool parse_params(const json::value* list, const std::string& path, std::vector<param_def>& out,
                  std::vector<std::string>& names, error& err);

bool parse_type(const json::value& v, const std::string& path, data_type& out, error& err) {
    const auto* o = v.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) return err = path + ".type: missing", false;
    const auto name = std::string_view{type->as_string()};
    static const std::map<std::string_view, data_type::type_kind> kinds = {
        {"int", data_type::type_kind::int_},       {"float", data_type::type_kind::float_},
        {"double", data_type::type_kind::double_}, {"text", data_type::type_kind::text},
        {"bool", data_type::type_kind::bool_},     {"enum", data_type::type_kind::enum_},
        {"date", data_type::type_kind::date},      {"struct", data_type::type_kind::struct_},
        {"array", data_type::type_kind::array},
    };
    const auto k = kinds.find(name);
    if (k == kinds.end())
        return err = path + ".type: unknown type \"" + std::string{name} + "\"", false;
    out.kind = k->second;
    const auto* specs_v = o->if_contains("specs");
    const std::string sp = path + ".specs";
    switch (out.kind) {
        case data_type::type_kind::int_:
        case data_type::type_kind::float_:
        case data_type::type_kind::double_: {
            if (specs_v == nullptr) return true;
            const auto* specs = specs_v->if_object();
            if (specs == nullptr) return err = sp + ": expected an object", false;
            out.min = number_spec(*specs, "min", sp, err);
            out.max = number_spec(*specs, "max", sp, err);
            out.step = number_spec(*specs, "step", sp, err);
            if (out.min && out.max && *out.min > *out.max) err = sp + ".min: greater than max";
            return err.empty();
        }
        case data_type::type_kind::text: {
            const auto* specs = specs_v ? specs_v->if_object() : nullptr;
            if (specs == nullptr) return true;
            out.length = count_spec(*specs, "length", sp, err);
            return err.empty();
        }
        case data_type::type_kind::bool_:
        case data_type::type_kind::enum_: {
            const auto* specs = specs_v ? specs_v->if_object() : nullptr;
            if (specs == nullptr || specs->empty())
                return err = sp + ": expected the values, like {\"0\":\"off\"}", false;
            for (const auto& [key, label] : *specs) {
                const auto value = kit::parse_whole<std::int64_t>(key);
                if (!value)
                    return err = sp + "." + std::string{key} + ": expected an integer value", false;
                out.values.insert(*value);
            }
            return true;
        }
        case data_type::type_kind::date: return true;
        case data_type::type_kind::struct_: {
            std::vector<std::string> names;  // a struct's members are declared, never named
            if (!parse_params(specs_v, sp, out.members, names, err)) return false;
            if (!names.empty()) return err = sp + ": members must be objects", false;
            return true;
        }
        case data_type::type_kind::array: {
            const auto* specs = specs_v ? specs_v->if_object() : nullptr;
            if (specs == nullptr) return err = sp + ": expected {size, item}", false;
            out.size = count_spec(*specs, "size", sp, err);
            const auto* item = specs->if_contains("item");
            if (item == nullptr) return err = sp + ".item: missing", false;
            out.item = std::make_shared<data_type>();
            return err.empty() && parse_type(*item, sp + ".item", *out.item, err);
        }
    }
    return true;
}

/// `names`: where the identifier strings of a console export's `get` service go
/// (`"inputData": ["PowerSwitch", …]` names properties, it declares no parameter).
bool parse_params(const json::value* list, const std::string& path, std::vector<param_def>& out,
                  std::vector<std::string>& names, error& err) {
    if (list == nullptr) return true;
    const auto* arr = list->if_array();
    if (arr == nullptr) return err = path + ": expected an array", false;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto p = path + "[" + std::to_string(i) + "]";
        if (const auto* name = (*arr)[i].if_string()) {
            if (name->empty()) return err = p + ": an empty identifier", false;
            names.emplace_back(*name);
            continue;
        }
        const auto* o = (*arr)[i].if_object();
        const auto* id = o ? o->if_contains("identifier") : nullptr;
        if (id == nullptr || !id->is_string() || id->as_string().empty())
            return err = p + ".identifier: missing", false;
        const auto* type = o->if_contains("dataType");
        if (type == nullptr) return err = p + ".dataType: missing", false;
        param_def def{std::string{id->as_string()}, {}};
        if (!parse_type(*type, p + ".dataType", def.type, err)) return false;
        out.push_back(std::move(def));
    }
    return true;
}

// ---- validation ------------------------------------------------------------------------------

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string number_text(double d) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);  // shortest form: 0.5, 200
    return ec == std::errc{} ? std::string(buf, end) : std::string{"?"};
}

std::optional<std::string> check_range(const data_type& t, double v, const std::string& field) {
    if (t.min && v < *t.min) return field + ": must be at least " + number_text(*t.min);
    if (t.max && v > *t.max) return field + ": must be at most " + number_text(*t.max);
    return std::nullopt;
}

std::optional<std::string> check_value(const data_type& t, const json::value& v,
                                       const std::string& field);

std::optional<std::string> check_members(const std::vector<param_def>& params,
                                         const json::object& o, const std::string& field,
                                         std::string_view unknown = "a parameter of this service") {
    for (const auto& [key, value] : o) {
        const std::string_view name = key;  // clang 14 cannot capture a structured binding
        const auto def = std::find_if(params.begin(), params.end(),
                                      [&](const auto& p) { return p.identifier == name; });
        if (def == params.end())
            return field + "." + std::string{key} + ": not " + std::string{unknown};
        if (auto e = check_value(def->type, value, field + "." + std::string{key})) return e;
    }
    return std::nullopt;
}

std::optional<std::string> check_value(const data_type& t, const json::value& v,
                                       const std::string& field) {
    using k = data_type::type_kind;
    switch (t.kind) {
        case k::int_: {
            if (!v.is_int64() && !v.is_uint64()) return field + ": expected an integer";
            const auto i = v.to_number<double>();
            if (auto e = check_range(t, i, field)) return e;
            if (t.step && *t.step > 0 && t.min) {
                const auto steps = (i - *t.min) / *t.step;
                if (std::abs(steps - std::round(steps)) > 1e-9)
                    return field + ": must be a multiple of " + number_text(*t.step) + " from " +
                           number_text(*t.min);
            }
            return std::nullopt;
        }
        case k::float_:
        case k::double_:
            // The platform wants float and double values with a decimal point (10.0, not 10).
            if (!v.is_double())
                return field + ": expected a number with a decimal point, like 10.0";
            return check_range(t, v.as_double(), field);
        case k::text:
            if (!v.is_string()) return field + ": expected a string";
            if (t.length && utf8_length(v.as_string()) > *t.length)
                return field + ": longer than " + std::to_string(*t.length) + " characters";
            return std::nullopt;
        case k::bool_:
        case k::enum_:
            if (!v.is_int64() || !t.values.contains(v.as_int64())) {
                std::string allowed;
                for (const auto x : t.values)
                    allowed += (allowed.empty() ? "" : ", ") + std::to_string(x);
                return field + ": expected one of " + allowed;
            }
            return std::nullopt;
        case k::date: {
            const auto* s = v.if_string();
            if (s == nullptr || s->empty() ||
                s->find_first_not_of("0123456789") != json::string::npos)
                return field + ": expected a UTC time in milliseconds, as a string of digits";
            return std::nullopt;
        }
        case k::struct_:
            if (!v.is_object()) return field + ": expected an object";
            return check_members(t.members, v.as_object(), field);
        case k::array: {
            if (!v.is_array()) return field + ": expected an array";
            const auto& a = v.as_array();
            if (t.size && a.size() > *t.size)
                return field + ": more than " + std::to_string(*t.size) + " elements";
            for (std::size_t i = 0; i < a.size(); ++i)
                if (auto e = check_value(*t.item, a[i], field + "[" + std::to_string(i) + "]"))
                    return e;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

}  // namespace

const service_def* thing_model::find(std::string_view identifier) const noexcept {
    const auto it = services.find(identifier);
    return it == services.end() ? nullptr : &it->second;
}

namespace {

/// The JSON value of `text`, or where (line and column, from 1) and why it stops being JSON.
boost::system::result<json::value, std::string> parse_located(std::string_view text) {
    json::stream_parser parser;
    boost::system::error_code ec;
    const auto read = parser.write_some(text.data(), text.size(), ec);
    if (!ec) parser.finish(ec);
    if (!ec) return {boost::system::in_place_value, parser.release()};
    const auto at = text.substr(0, ec && read < text.size() ? read : text.size());
    const auto line = 1 + std::count(at.begin(), at.end(), '\n');
    const auto last_newline = at.rfind('\n');
    const auto column =
        at.size() - (last_newline == std::string_view::npos ? 0 : last_newline + 1) + 1;
    return {boost::system::in_place_error, "not JSON at line " + std::to_string(line) +
                                               ", column " + std::to_string(column) + ": " +
                                               ec.message()};
}

}  // namespace

boost::system::result<void, std::string> add_tsl(std::string_view text, thing_model& model) {
    auto parsed = parse_located(text);
    if (!parsed) return parsed.error();
    const auto doc = std::move(*parsed);
    const auto* root = doc.if_object();
    if (root == nullptr) return std::string{"expected a JSON object"};
    std::string prefix;
    if (const auto* block = root->if_contains("functionBlockId"); block && block->is_string())
        prefix = std::string{block->as_string()} + ":";
    const auto* services = root->if_contains("services");
    const auto* arr = services ? services->if_array() : nullptr;
    if (services != nullptr && arr == nullptr) return std::string{"services: expected an array"};
    error err;
    for (std::size_t i = 0; arr != nullptr && i < arr->size(); ++i) {
        const auto path = "services[" + std::to_string(i) + "]";
        const auto* o = (*arr)[i].if_object();
        const auto* id = o ? o->if_contains("identifier") : nullptr;
        if (id == nullptr || !id->is_string() || id->as_string().empty())
            return path + ".identifier: missing";
        service_def s;
        s.identifier = prefix + std::string{id->as_string()};
        const auto* call_type = o->if_contains("callType");
        const auto ct = call_type && call_type->is_string()
                            ? std::string_view{call_type->as_string()}
                            : "async";
        if (ct != "sync" && ct != "async")
            return path + ".callType: expected \"sync\" or \"async\"";
        s.sync = ct == "sync";
        if (!parse_params(o->if_contains("inputData"), path + ".inputData", s.input, s.input_names,
                          err))
            return err;
        if (!model.services.emplace(s.identifier, std::move(s)).second)
            return path + ".identifier: \"" + std::string{id->as_string()} + "\" defined twice";
    }
    // Properties and events, for the checks of what devices post.
    const auto* properties = root->if_contains("properties");
    const auto* props = properties ? properties->if_array() : nullptr;
    if (properties != nullptr && props == nullptr)
        return std::string{"properties: expected an array"};
    for (std::size_t i = 0; props != nullptr && i < props->size(); ++i) {
        const auto path = "properties[" + std::to_string(i) + "]";
        const auto* o = (*props)[i].if_object();
        const auto* id = o ? o->if_contains("identifier") : nullptr;
        if (id == nullptr || !id->is_string() || id->as_string().empty())
            return path + ".identifier: missing";
        std::optional<data_type> type;
        property_label label;
        if (const auto* t = o->if_contains("dataType")) {
            if (!parse_type(*t, path + ".dataType", type.emplace(), err)) return err;
            label.type = t->at("type").as_string();  // parse_type checked it
            const auto* specs = t->as_object().if_contains("specs");
            const auto* unit =
                specs && specs->is_object() ? specs->as_object().if_contains("unit") : nullptr;
            if (unit != nullptr && unit->is_string()) label.unit = unit->as_string();
        }
        if (const auto* name = o->if_contains("name"); name != nullptr && name->is_string())
            label.name = name->as_string();
        const auto identifier = prefix + std::string{id->as_string()};
        if (!model.properties.emplace(identifier, std::move(type)).second)
            return path + ".identifier: \"" + std::string{id->as_string()} + "\" defined twice";
        model.property_labels.emplace(identifier, std::move(label));
    }
    const auto* events = root->if_contains("events");
    const auto* evs = events ? events->if_array() : nullptr;
    if (events != nullptr && evs == nullptr) return std::string{"events: expected an array"};
    for (std::size_t i = 0; evs != nullptr && i < evs->size(); ++i) {
        const auto path = "events[" + std::to_string(i) + "]";
        const auto* o = (*evs)[i].if_object();
        const auto* id = o ? o->if_contains("identifier") : nullptr;
        if (id == nullptr || !id->is_string() || id->as_string().empty())
            return path + ".identifier: missing";
        event_def e{prefix + std::string{id->as_string()}, {}};
        std::vector<std::string> names;
        if (!parse_params(o->if_contains("outputData"), path + ".outputData", e.output, names, err))
            return err;
        model.events.insert_or_assign(e.identifier, std::move(e));  // `post` is listed twice
    }
    model.documents.push_back(
        {prefix.empty() ? std::string{} : prefix.substr(0, prefix.size() - 1), std::string{text}});
    return {};
}

const tsl_document* find_document(const thing_model& model, std::string_view block) noexcept {
    const auto it = std::ranges::find(model.documents, block, &tsl_document::block);
    return it == model.documents.end() ? nullptr : &*it;
}

namespace {

/// Keeps `keys` of each object of `list` (strings, as a `get` service's inputData, are kept).
json::array keep_only(const json::value* list, std::initializer_list<std::string_view> keys) {
    json::array out;
    const auto* items = list ? list->if_array() : nullptr;
    if (items == nullptr) return out;
    for (const auto& item : *items) {
        const auto* o = item.if_object();
        if (o == nullptr) {
            out.push_back(item);
            continue;
        }
        json::object kept;
        for (const auto key : keys)
            if (const auto* v = o->if_contains(key)) kept[key] = *v;
        out.push_back(std::move(kept));
    }
    return out;
}

json::array simple_features(const json::object& doc, std::string_view list) {
    json::array out;
    const auto* features = doc.if_contains(list);
    const auto* items = features ? features->if_array() : nullptr;
    if (items == nullptr) return out;
    for (const auto& item : *items) {
        const auto* o = item.if_object();
        if (o == nullptr) continue;
        json::object kept;
        if (const auto* id = o->if_contains("identifier")) kept["identifier"] = *id;
        if (const auto* t = o->if_contains("dataType")) kept["dataType"] = *t;
        for (const auto key : {"inputData", "outputData"})
            if (o->contains(key))
                kept[key] = keep_only(o->if_contains(key), {"identifier", "dataType"});
        out.push_back(std::move(kept));
    }
    return out;
}

json::value list_of(const json::object& doc, std::string_view key) {
    const auto* v = doc.if_contains(key);
    return v && v->is_array() ? *v : json::array{};
}

}  // namespace

std::string simple_tsl(std::string_view text) {
    const auto doc = json::parse(text).as_object();  // add_tsl took it: an object
    json::object out;
    for (const auto key : {"schema", "profile", "functionBlockId", "functionBlockName"})
        if (const auto* v = doc.if_contains(key)) out[key] = *v;
    for (const auto list : {"properties", "events", "services"})
        out[list] = simple_features(doc, list);
    return json::serialize(out);
}

std::string thing_model_json(const thing_model* model, std::string_view product_key,
                             std::string_view block) {
    const auto* document = model ? find_document(*model, block) : nullptr;
    const auto doc = document ? json::parse(document->text).as_object() : json::object{};
    json::object out;  // keys in alphabetical order
    if (block.empty()) out["_ppk"] = json::object{};
    out["events"] = list_of(doc, "events");
    if (block.empty()) {
        json::array blocks;
        for (const auto& d : model ? model->documents : std::vector<tsl_document>{}) {
            if (d.block.empty()) continue;
            const auto other = json::parse(d.text).as_object();
            json::object b;
            b["functionBlockId"] = d.block;
            const auto* name = other.if_contains("functionBlockName");
            b["functionBlockName"] = name && name->is_string() ? *name : json::value(d.block);
            b["productKey"] = product_key;
            blocks.push_back(std::move(b));
        }
        out["functionBlocks"] = std::move(blocks);
    } else {
        out["functionBlockId"] = block;
    }
    out["productKey"] = product_key;
    out["properties"] = list_of(doc, "properties");
    out["services"] = list_of(doc, "services");
    return json::serialize(out);
}

std::optional<std::string> validate_args(const service_def& service,
                                         const boost::json::object& args) {
    return check_members(service.input, args, "Args");
}

std::vector<check_failure> check_properties(const thing_model& model,
                                            const boost::json::object& params) {
    constexpr int no_such = 6206;        // the platform's "product property not exist"
    constexpr int not_satisfied = 6315;  // "data not satisfy dsl"
    std::vector<check_failure> out;
    for (const auto& [key, posted] : params) {
        const std::string id{key};
        const auto def = model.properties.find(id);
        if (def == model.properties.end()) {
            out.push_back({id, no_such, id + ": not a property of this product's thing model"});
            continue;
        }
        // `{"value": v, "time": ms}` carries the value with its time (not for a struct whose
        // members are value and time).
        if (!def->second) continue;  // declared without a type: any value
        const auto* value = &posted;
        if (const auto* o = posted.if_object(); o != nullptr && o->contains("value") &&
                                                def->second->kind != data_type::type_kind::struct_)
            value = o->if_contains("value");
        if (auto problem = check_value(*def->second, *value, id))
            out.push_back({id, not_satisfied, std::move(*problem)});
    }
    return out;
}

std::optional<check_failure> check_event(const thing_model& model, std::string_view identifier,
                                         const boost::json::value& value) {
    const auto def = model.events.find(identifier);
    if (def == model.events.end())
        return check_failure{
            std::string{identifier}, 6300,
            std::string{identifier} + ": not an event of this product's thing model"};
    const auto* o = value.if_object();
    if (o == nullptr)
        return check_failure{std::string{identifier}, 6301,
                             std::string{identifier} + ": params.value must be an object"};
    if (auto problem = check_members(def->second.output, *o, std::string{identifier},
                                     "an output of this event"))
        return check_failure{std::string{identifier}, 6315, std::move(*problem)};
    return std::nullopt;
}

}  // namespace rrpcd::catalog
