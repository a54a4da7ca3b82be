/// @file
/// libBigWig set-up and handle ownership, for use inside genomics/*.cpp only (this header pulls
/// in <bigWig.h>; public headers keep libBigWig types behind a pimpl).
#pragma once

#include <memory>

#include <bigWig.h>

namespace evoscope::genomics::detail {

/// bwInit() once per process (thread-safe: a function-local static). Returns its result
/// (0 on success).
inline int bigwig_library_init() {
    static const int result = bwInit(1 << 17);
    return result;
}

struct BigWigCloser {
    void operator()(bigWigFile_t* p) const noexcept {
        if (p != nullptr) {
            bwClose(p);
        }
    }
};

using BigWigPtr = std::unique_ptr<bigWigFile_t, BigWigCloser>;

}  // namespace evoscope::genomics::detail
