#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace rrpcd::kit {

/// The completion token for operations whose errors are expected (eof, operation_aborted,
/// timeouts): `auto [ec, n] = co_await op(..., use_nothrow);`. Boost 1.81 has no default token.
constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace rrpcd::kit
