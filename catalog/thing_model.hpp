#pragma once

#include <boost/json/fwd.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rrpcd::catalog {

struct param_def;

/// A TSL data type: `dataType{type, specs}`.
struct data_type {
    enum class type_kind : std::uint8_t {
        int_,
        float_,
        double_,
        text,
        bool_,
        enum_,
        date,
        struct_,
        array
    };
    type_kind kind = type_kind::int_;
    std::optional<double> min, max, step;  ///< numbers (exported as strings in TSL)
    std::optional<std::size_t> length;     ///< text: at most this many characters
    std::set<std::int64_t> values;         ///< bool and enum: the allowed values
    std::vector<param_def> members;        ///< struct
    std::shared_ptr<data_type> item;       ///< array element
    std::optional<std::size_t> size;       ///< array: at most this many elements
};

/// A TSL parameter: `{identifier, name, dataType}`.
struct param_def {
    std::string identifier;
    data_type type;
};

/// A TSL service.
struct service_def {
    std::string
        identifier;     ///< with its module prefix (`module:identifier`) outside the default module
    bool sync = false;  ///< callType "sync": through RRPC; "async": on the thing/service topic
    std::vector<param_def> input;
    /// Identifiers a console export lists instead of parameters (its `get` service names the
    /// properties it reads); they declare nothing to check.
    std::vector<std::string> input_names;
};

/// One TSL document as it was loaded: the default module (`block` empty) or a custom one.
struct tsl_document {
    std::string block;  ///< its functionBlockId
    std::string text;
};

/// A TSL event: what its post carries (`outputData`).
struct event_def {
    std::string identifier;  ///< with its module prefix outside the default module
    std::vector<param_def> output;
};

/// What QueryDevicePropertyStatus says of a property beside its value.
struct property_label {
    std::string name;  ///< its `name` in the TSL
    std::string unit;  ///< `dataType.specs.unit`, or ""
    std::string type;  ///< `dataType.type` ("int", "text"…), or ""
};

/// A product's thing model: its services, properties and events by identifier, and the
/// documents they came from.
struct thing_model {
    std::map<std::string, service_def, std::less<>> services;
    /// Properties by identifier, with their type (none: a property declared without one,
    /// whose values are not checked).
    std::map<std::string, std::optional<data_type>, std::less<>> properties;
    std::map<std::string, property_label, std::less<>> property_labels;
    std::map<std::string, event_def, std::less<>> events;
    std::vector<tsl_document> documents;

    const service_def* find(std::string_view identifier) const noexcept;
};

/// Thing models by ProductKey.
using thing_models = std::map<std::string, thing_model, std::less<>>;

/// Parses one Alibaba TSL document and adds its services to `model` (a document with
/// `functionBlockId` is a non-default module: its identifiers become `module:identifier`).
/// The error names the offending element, like `services[2].inputData[0].dataType.specs.max`.
boost::system::result<void, std::string> add_tsl(std::string_view json, thing_model& model);

/// The document of module `block` ("" the default one), or nullptr.
const tsl_document* find_document(const thing_model& model, std::string_view block) noexcept;

/// GetThingModelTsl `Simple=true`: the TSL with only the identifiers and data types of its
/// properties, events, services and their parameters. `text` is a document add_tsl took.
std::string simple_tsl(std::string_view text);

/// QueryThingModel's `ThingModelJson` for module `block` ("" the default one): the document's
/// properties, services and events with the product's key, keys in alphabetical order as the
/// platform stores them; the default module also lists the custom ones (`functionBlocks`).
/// A product without a document has an empty model.
std::string thing_model_json(const thing_model* model, std::string_view product_key,
                             std::string_view block);

/// Checks `args` (the InvokeThingService `Args` object) against the service's inputData.
/// Returns the first problem, naming the field (`Args.NewWeight: at most 200`), or nullopt.
std::optional<std::string> validate_args(const service_def& service,
                                         const boost::json::object& args);

/// What a device posted that its product's thing model refuses: the identifier, the platform's
/// code (6206: no such property or event in the model, 6315: a value that does not satisfy it)
/// and why, naming the field.
struct check_failure {
    std::string identifier;
    int code = 0;
    std::string message;
};

/// Checks each property of a property post's `params` (`{"Temp": 23.5}`, or the
/// `{"Temp": {"value": 23.5, "time": 1524448722000}}` form) against the model's properties:
/// one failure per property that fails, in the order posted.
std::vector<check_failure> check_properties(const thing_model& model,
                                            const boost::json::object& params);

/// Checks an event post's `params.value` (its outputData) against the event `identifier`.
std::optional<check_failure> check_event(const thing_model& model, std::string_view identifier,
                                         const boost::json::value& value);

}  // namespace rrpcd::catalog
