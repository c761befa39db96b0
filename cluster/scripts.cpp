#include "cluster/scripts.hpp"

#include "kit/crypto.hpp"

#include <map>
#include <mutex>
#include <unordered_map>

namespace rrpcd::cluster::scripts {

namespace {

struct registry {
    std::mutex mutex;
    std::unordered_map<const char*, std::string> sha_by_text;  ///< by the script's address
    std::map<std::string, std::string_view, std::less<>> text_by_sha;
};

registry& scripts() {
    static registry r;
    return r;
}

/// The script's SHA-1 in hex, computed once per script (the scripts are constants: their
/// address names them).
std::string sha_of(std::string_view script) {
    auto& r = scripts();
    const std::lock_guard lock{r.mutex};
    const auto it = r.sha_by_text.find(script.data());
    if (it != r.sha_by_text.end()) return it->second;
    auto sha = kit::to_hex(kit::sha1(script));
    r.text_by_sha.emplace(sha, script);
    return r.sha_by_text.emplace(script.data(), std::move(sha)).first->second;
}

}  // namespace

std::vector<std::string> script_call(std::string_view script, std::vector<std::string> keys,
                                     std::vector<std::string> args) {
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.emplace_back("EVALSHA");
    argv.push_back(sha_of(script));
    argv.push_back(std::to_string(keys.size()));
    for (auto& k : keys) argv.push_back(std::move(k));
    for (auto& a : args) argv.push_back(std::move(a));
    return argv;
}

std::string_view script_named(std::string_view sha) {
    auto& r = scripts();
    const std::lock_guard lock{r.mutex};
    const auto it = r.text_by_sha.find(sha);
    return it == r.text_by_sha.end() ? std::string_view{} : it->second;
}

}  // namespace rrpcd::cluster::scripts
