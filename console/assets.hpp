#pragma once

#include <span>
#include <string_view>

namespace rrpcd::console {

/// One file of `console/web/`, embedded at build time (console/CMakeLists.txt).
struct asset {
    std::string_view path;  ///< relative to web/: `index.html`, `pages/devices.js`
    std::string_view body;
};

/// Every embedded file, sorted by path.
std::span<const asset> assets() noexcept;
/// The file at `path`, or nullptr.
const asset* find_asset(std::string_view path) noexcept;
/// Its Content-Type, from its extension.
std::string_view content_type_of(std::string_view path) noexcept;

}  // namespace rrpcd::console
