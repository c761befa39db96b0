#pragma once

#include "kit/use_nothrow.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <stdexcept>

namespace rrpcd::server {

/// Parses what `buffer` holds into `parser` (a request's or a response's). A message usually
/// arrives in one segment: then it is complete here, without a read. Needing more bytes is not
/// an error (the caller reads on). Never throws: Beast's fields keep a name or value in at most
/// 65,535 bytes (16-bit offsets) and throw `length_error` past that (a 64 KB header field or
/// chunked trailer would otherwise end the process from inside a completion handler); that is
/// the header limit's refusal, like any header too large.
template <class Parser>
boost::system::error_code parse_buffered(Parser& parser,
                                         boost::beast::flat_buffer& buffer) noexcept {
    namespace bhttp = boost::beast::http;
    boost::system::error_code ec;
    try {
        while (!parser.is_done() && buffer.size() != 0) {
            const auto n = parser.put(buffer.data(), ec);
            buffer.consume(n);
            if (ec == bhttp::error::need_more) return {};
            if (ec || n == 0) break;
        }
    } catch (const std::length_error&) {
        ec = bhttp::error::header_limit;
    } catch (const std::exception&) {
        ec = bhttp::error::bad_alloc;  // said as malformed: the connection ends, not the process
    }
    return ec;
}

/// Reads and parses until the parser has its header (`whole`: its whole message), the peer
/// leaves, or the stream's deadline passes (beast::error::timeout). Each read is parsed at once
/// by parse_buffered(), never inside a composed operation: a parser exception cannot escape a
/// completion handler. At most one read's worth (64 KB) past what the parser needs is buffered.
template <class Stream, class Parser>
boost::asio::awaitable<boost::system::error_code> read_message(Stream& stream,
                                                               boost::beast::flat_buffer& buffer,
                                                               Parser& parser, bool whole) {
    namespace asio = boost::asio;
    namespace bhttp = boost::beast::http;
    constexpr std::size_t read_min = 512, read_max = 64 * 1024;
    for (;;) {
        if (const auto ec = parse_buffered(parser, buffer)) co_return ec;
        if (whole ? parser.is_done() : parser.is_header_done())
            co_return boost::system::error_code{};
        const auto room =
            std::clamp<std::size_t>(buffer.capacity() - buffer.size(), read_min, read_max);
        const auto [ec, n] =
            co_await stream.async_read_some(buffer.prepare(room), kit::use_nothrow);
        buffer.commit(n);
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            // A response without a length ends with the connection; a request never does.
            if (!parser.is_header_done() || parser.is_done()) {
                co_return parser.got_some() ? bhttp::error::partial_message
                                            : bhttp::error::end_of_stream;
            }
            boost::system::error_code eof_ec;
            try {
                parser.put_eof(eof_ec);
            } catch (const std::exception&) {
                eof_ec = bhttp::error::partial_message;
            }
            co_return eof_ec;
        }
        if (ec) co_return ec;
    }
}

}  // namespace rrpcd::server
