#pragma once

// boost::system::result has an operator<< that does not compile for values without one, and Catch
// picks it up when printing an assertion; print results as "value" or the error instead.
#include <boost/system/result.hpp>
#include <catch2/catch.hpp>

namespace Catch {
template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
    static std::string convert(const boost::system::result<T, E>& r) {
        return r ? "result(value)" : "result(error)";
    }
};
}  // namespace Catch
