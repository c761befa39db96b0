#include "rrpc/alink_upstream.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

using namespace rrpcd::rrpc;
using rrpcd::catalog::device_key;
using rrpcd::catalog::thing_model;
namespace json = boost::json;

namespace {

const device_key dev{"a1PK", "dev1"};

thing_model model() {
    thing_model m;
    const auto added = rrpcd::catalog::add_tsl(R"({
        "properties": [
            {"identifier": "Temp", "dataType": {"type": "double", "specs": {"min": "-40", "max": "120"}}},
            {"identifier": "Power", "dataType": {"type": "bool", "specs": {"0": "off", "1": "on"}}}],
        "events": [
            {"identifier": "post", "method": "thing.event.property.post", "outputData": []},
            {"identifier": "Alarm", "outputData": [{"identifier": "level", "dataType": {"type": "int", "specs": {"min": "0", "max": "3"}}}]}],
        "services": []})",
                                               m);
    REQUIRE(added);
    return m;
}

json::object reply_of(const alink_answer& a) {
    return json::parse(a.reply).as_object();
}

}  // namespace

TEST_CASE("a property post is answered on its _reply with the platform's body and its own id",
          "[rrpc]") {
    const auto m = model();
    const auto a = answer_alink(dev, "/sys/a1PK/dev1/thing/event/property/post",
                                R"({"id":"42","version":"1.0","params":{"Temp":21.5,"Power":1},)"
                                R"("method":"thing.event.property.post"})",
                                &m, 0);
    REQUIRE(a);
    CHECK(a->kind == alink_kind::property_post);
    CHECK(a->code == 200);
    CHECK(a->reply_topic == "/sys/a1PK/dev1/thing/event/property/post_reply");
    // The params it checked, for the latest values (not parsed a second time).
    CHECK(a->params.size() == 2);
    CHECK(a->params.at("Temp").as_double() == 21.5);
    // Exactly the platform's body: keys in its order, the id as the device sent it.
    CHECK(
        a->reply ==
        R"({"code":200,"data":{},"id":"42","message":"success","method":"thing.event.property.post","version":"1.0"})");
    // The `{value, time}` form, and a numeric id (answered as a string: the C SDK wants one).
    const auto timed =
        answer_alink(dev, "/sys/a1PK/dev1/thing/event/property/post",
                     R"({"id":7,"params":{"Temp":{"value":30.0,"time":1524448722000}}})", &m, 0);
    CHECK(timed->code == 200);
    CHECK(reply_of(*timed).at("id") == "7");
    // Without a thing model (verification-free) anything is taken.
    const auto free = answer_alink(dev, "/sys/a1PK/dev1/thing/event/property/post",
                                   R"({"id":"1","params":{"Anything":"x"}})", nullptr, 0);
    CHECK(free->code == 200);
}

TEST_CASE("what fails the thing model is answered with the platform's code, naming the property",
          "[rrpc]") {
    const auto m = model();
    const auto post = [&](std::string params) {
        return *answer_alink(dev, "/sys/a1PK/dev1/thing/event/property/post",
                             R"({"id":"9","params":)" + params + "}", &m, 0);
    };
    const auto unknown = post(R"({"Temp":20.0,"Humidity":50})");
    CHECK(unknown.code == 6206);
    REQUIRE(unknown.failed.size() == 1);
    CHECK(unknown.failed[0].identifier == "Humidity");
    CHECK(reply_of(unknown).at("id") == "9");
    CHECK(reply_of(unknown).at("code") == 6206);
    const auto out_of_range = post(R"({"Temp":150.0})");
    CHECK(out_of_range.code == 6315);
    CHECK(std::string{reply_of(out_of_range).at("message").as_string()}.find(
              "Temp: must be at most 120") != std::string::npos);
    CHECK(post(R"({"Power":2})").code == 6315);
    CHECK(post(R"({"Temp":20})").code == 6315);  // a double needs its decimal point
    CHECK(post(R"([1,2])").code == 6301);
    std::string many = "{";
    for (int i = 0; i < 201; ++i)
        many += (i ? "," : "") + std::string{"\"p"} + std::to_string(i) + "\":1";
    CHECK(post(many + "}").code == 6106);
}

TEST_CASE("an event post is checked against the event's outputData", "[rrpc]") {
    const auto m = model();
    const auto event = [&](std::string topic_id, std::string value) {
        return *answer_alink(dev, "/sys/a1PK/dev1/thing/event/" + topic_id + "/post",
                             R"({"id":"3","method":"thing.event.)" + topic_id +
                                 R"(.post","params":{"value":)" + value + R"(,"time":1}})",
                             &m, 0);
    };
    const auto ok = event("Alarm", R"({"level":2})");
    CHECK(ok.kind == alink_kind::event_post);
    CHECK(ok.code == 200);
    CHECK(ok.reply_topic == "/sys/a1PK/dev1/thing/event/Alarm/post_reply");
    CHECK(reply_of(ok).at("method") == "thing.event.Alarm.post");
    CHECK(event("Alarm", R"({"level":9})").code == 6315);
    CHECK(event("Nope", R"({})").code == 6300);
}

TEST_CASE("bad Alink gets 460 and is never fatal, other topics are not Alink requests", "[rrpc]") {
    const auto m = model();
    const auto topic = "/sys/a1PK/dev1/thing/event/property/post";
    const auto not_json = answer_alink(dev, topic, "not json {", &m, 0);
    CHECK(not_json->kind == alink_kind::malformed);
    CHECK(not_json->code == 460);
    CHECK(reply_of(*not_json).at("id") == "");
    CHECK(answer_alink(dev, topic, R"({"params":{}})", &m, 0)->code == 460);  // no id
    const auto wrong_method = answer_alink(
        dev, topic, R"({"id":"5","params":{},"method":"thing.deviceinfo.update"})", &m, 0);
    CHECK(wrong_method->code == 460);
    CHECK(reply_of(*wrong_method).at("id") == "5");
    CHECK(answer_alink(dev, topic, std::string(1, '\0'), &m, 0)->code == 460);
    // Not requests the platform answers: custom topics, replies, RRPC answers, others' topics.
    CHECK_FALSE(answer_alink(dev, "/a1PK/dev1/user/update", "{}", &m, 0));
    CHECK_FALSE(answer_alink(dev, "/sys/a1PK/dev1/thing/service/Set_reply", "{}", &m, 0));
    CHECK_FALSE(answer_alink(dev, "/sys/a1PK/dev1/rrpc/response/1", "{}", &m, 0));
    CHECK_FALSE(answer_alink(dev, "/sys/a1PK/dev1/thing/event/a/b/post", "{}", &m, 0));
}

TEST_CASE("device info, configuration, the thing model, OTA, NTP and gateway requests", "[rrpc]") {
    const auto m = model();
    const auto ask = [&](std::string rest, std::string body) {
        return *answer_alink(dev, "/sys/a1PK/dev1/" + rest, body, &m, 0);
    };
    CHECK(
        ask("thing/deviceinfo/update",
            R"({"id":"1","params":[{"attrKey":"SYS_SDK_LANGUAGE","attrValue":"C"}],"method":"thing.deviceinfo.update"})")
            .code == 200);
    CHECK(ask("thing/deviceinfo/delete", R"({"id":"1","params":[]})").reply_topic ==
          "/sys/a1PK/dev1/thing/deviceinfo/delete_reply");
    CHECK(ask("thing/config/get", R"({"id":2,"params":{"configScope":"product"}})").code == 200);
    // The model as loaded, in data.
    const auto tsl = ask("thing/dsltemplate/get", R"({"id":"3","params":{}})");
    CHECK(reply_of(tsl).at("data").as_object().contains("properties"));
    // Python's OTA query has no method: answered (no firmware: data is empty).
    CHECK(ask("thing/ota/firmware/get", R"({"id":4,"params":{"module":"default"}})").code == 200);
    const auto topo = ask("thing/topo/add", R"({"id":"5","params":[]})");
    CHECK(topo.kind == alink_kind::gateway);
    CHECK(topo.code == 400);
    const auto login = *answer_alink(dev, "/ext/session/a1PK/dev1/combine/batch_login",
                                     R"({"id":"6","params":{}})", &m, 0);
    CHECK(login.reply_topic == "/ext/session/a1PK/dev1/combine/batch_login_reply");
    CHECK(login.code == 400);
    const auto ntp = *answer_alink(dev, "/ext/ntp/a1PK/dev1/request",
                                   R"({"deviceSendTime":"1571724098000"})", &m, 1571724098110);
    CHECK(ntp.kind == alink_kind::ntp);
    CHECK(ntp.reply_topic == "/ext/ntp/a1PK/dev1/response");
    CHECK(
        ntp.reply ==
        R"({"deviceSendTime":"1571724098000","serverRecvTime":"1571724098110","serverSendTime":"1571724098110"})");
}
