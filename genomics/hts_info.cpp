#include "genomics/hts_info.hpp"

#include <bigWig.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>

// libBigWig defines its version as a bare pp-number (0.4.7): stringify it.
#define EVOSCOPE_STRINGIFY_IMPL(x) #x
#define EVOSCOPE_STRINGIFY(x) EVOSCOPE_STRINGIFY_IMPL(x)

namespace evoscope::genomics {

std::string htslib_version() {
    return hts_version();
}

std::string libbigwig_version() {
    return EVOSCOPE_STRINGIFY(LIBBIGWIG_VERSION);
}

void set_htslib_log_level(int level) {
    switch (level) {
        case 0:
            hts_set_log_level(HTS_LOG_OFF);
            break;
        case 1:
            hts_set_log_level(HTS_LOG_ERROR);
            break;
        case 2:
            hts_set_log_level(HTS_LOG_WARNING);
            break;
        case 3:
            hts_set_log_level(HTS_LOG_WARNING);
            break;  // htslib's INFO is chatty
        case 4:
            hts_set_log_level(HTS_LOG_DEBUG);
            break;
        default:
            hts_set_log_level(HTS_LOG_TRACE);
            break;
    }
}

}  // namespace evoscope::genomics
