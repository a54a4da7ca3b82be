/// @file
/// Versions of the genomics libraries linked into this binary, for `evoscope --version`.
#pragma once

#include <string>

namespace evoscope::genomics {

/// htslib's version string, e.g. "1.16+ds".
std::string htslib_version();
/// libBigWig's version string, e.g. "0.4.7".
std::string libbigwig_version();
/// Routes htslib's own log threshold: 0 off, 1 error, 2 warning, 3 info, 4 debug, 5 trace.
void set_htslib_log_level(int level);

}  // namespace evoscope::genomics
