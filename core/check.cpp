#include "core/check.hpp"

namespace evoscope::detail {

void throw_internal(
    const char* expr, const char* func, const char* file, int line, const std::string& message) {
    std::string text =
        fmt::format("internal check failed: {} in {} ({}:{})", expr, func, file, line);
    if (!message.empty()) {
        text += ": " + message;
    }
    throw InternalError(text);
}

}  // namespace evoscope::detail
