/// @file
/// Checking macros. `EVOSCOPE_CHECK*` report user errors (message formatted with {fmt} only
/// on failure); `EVOSCOPE_ASSERT*` report bugs as InternalError with expression and location,
/// also in release builds; `EVOSCOPE_DEBUG_ASSERT` vanishes under NDEBUG for hot loops.
#pragma once

#include <fmt/format.h>

#include "core/error.hpp"

namespace evoscope::detail {

[[noreturn]] void throw_internal(
    const char* expr, const char* func, const char* file, int line, const std::string& message);

}  // namespace evoscope::detail

#define EVOSCOPE_CHECK_AS(type, cond, ...)                    \
    do {                                                      \
        if (!(cond)) [[unlikely]] {                           \
            throw ::evoscope::type(fmt::format(__VA_ARGS__)); \
        }                                                     \
    } while (0)

#define EVOSCOPE_CHECK(cond, ...) EVOSCOPE_CHECK_AS(InputError, cond, __VA_ARGS__)
#define EVOSCOPE_CHECK_USAGE(cond, ...) EVOSCOPE_CHECK_AS(UsageError, cond, __VA_ARGS__)
#define EVOSCOPE_CHECK_FORMAT(cond, ...) EVOSCOPE_CHECK_AS(FormatError, cond, __VA_ARGS__)
#define EVOSCOPE_CHECK_IO(cond, ...) EVOSCOPE_CHECK_AS(IoError, cond, __VA_ARGS__)
#define EVOSCOPE_CHECK_MODEL(cond, ...) EVOSCOPE_CHECK_AS(ModelError, cond, __VA_ARGS__)

#define EVOSCOPE_ASSERT_MSG(cond, ...)                                          \
    do {                                                                        \
        if (!(cond)) [[unlikely]] {                                             \
            ::evoscope::detail::throw_internal(                                 \
                #cond, __func__, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
        }                                                                       \
    } while (0)

#define EVOSCOPE_ASSERT(cond) EVOSCOPE_ASSERT_MSG(cond, "")

#ifdef NDEBUG
#define EVOSCOPE_DEBUG_ASSERT(cond) ((void)0)
#else
#define EVOSCOPE_DEBUG_ASSERT(cond) EVOSCOPE_ASSERT(cond)
#endif
