/// @file
/// RAII owners for htslib handles, for use inside genomics/*.cpp only (this header pulls in
/// htslib; public headers forward-declare and keep these behind a pimpl). Every deleter accepts
/// nullptr. `HtsLogSilencer` keeps htslib's own stderr messages away from the user while a call
/// whose failure we turn into an evoscope exception is running.
#pragma once

#include <cstdlib>
#include <memory>

#include <htslib/bgzf.h>
#include <htslib/faidx.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>
#include <htslib/kstring.h>
#include <htslib/synced_bcf_reader.h>
#include <htslib/tbx.h>
#include <htslib/vcf.h>

namespace evoscope::genomics::detail {

struct FaidxDeleter {
    void operator()(faidx_t* p) const noexcept {
        if (p != nullptr)
            fai_destroy(p);
    }
};

using FaidxPtr = std::unique_ptr<faidx_t, FaidxDeleter>;

/// Closes a BGZF handle; a close error is ignored here (call bgzf_close yourself to check it).
struct BgzfDeleter {
    void operator()(BGZF* p) const noexcept {
        if (p != nullptr)
            static_cast<void>(bgzf_close(p));
    }
};

using BgzfPtr = std::unique_ptr<BGZF, BgzfDeleter>;

struct HtsFileDeleter {
    void operator()(htsFile* p) const noexcept {
        if (p != nullptr)
            static_cast<void>(hts_close(p));
    }
};

using HtsFilePtr = std::unique_ptr<htsFile, HtsFileDeleter>;

struct BcfHdrDeleter {
    void operator()(bcf_hdr_t* p) const noexcept {
        if (p != nullptr)
            bcf_hdr_destroy(p);
    }
};

using BcfHdrPtr = std::unique_ptr<bcf_hdr_t, BcfHdrDeleter>;

struct BcfRecordDeleter {
    void operator()(bcf1_t* p) const noexcept {
        if (p != nullptr)
            bcf_destroy(p);
    }
};

using BcfRecordPtr = std::unique_ptr<bcf1_t, BcfRecordDeleter>;

struct HtsIdxDeleter {
    void operator()(hts_idx_t* p) const noexcept {
        if (p != nullptr)
            hts_idx_destroy(p);
    }
};

using HtsIdxPtr = std::unique_ptr<hts_idx_t, HtsIdxDeleter>;

struct TbxDeleter {
    void operator()(tbx_t* p) const noexcept {
        if (p != nullptr)
            tbx_destroy(p);
    }
};

using TbxPtr = std::unique_ptr<tbx_t, TbxDeleter>;

struct HtsItrDeleter {
    void operator()(hts_itr_t* p) const noexcept {
        if (p != nullptr)
            hts_itr_destroy(p);
    }
};

using HtsItrPtr = std::unique_ptr<hts_itr_t, HtsItrDeleter>;

struct BcfSrsDeleter {
    void operator()(bcf_srs_t* p) const noexcept {
        if (p != nullptr)
            bcf_sr_destroy(p);
    }
};

using BcfSrsPtr = std::unique_ptr<bcf_srs_t, BcfSrsDeleter>;

/// For the malloc'd buffers htslib hands back (faidx_fetch_seq64, ...).
struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
};

using CharBufPtr = std::unique_ptr<char, FreeDeleter>;

/// A kstring_t that frees its buffer.
struct KString {
    kstring_t ks = KS_INITIALIZE;
    KString() = default;

    ~KString() { ks_free(&ks); }

    KString(const KString&) = delete;
    KString& operator=(const KString&) = delete;
};

/// Sets htslib's global log level to `level` for the lifetime of the object and restores the
/// previous level afterwards. htslib keeps the level in one process-wide variable, so the
/// silencer is meant for short, rare calls (index building and loading), not hot loops.
class HtsLogSilencer {
public:
    explicit HtsLogSilencer(htsLogLevel level = HTS_LOG_OFF) : previous_(hts_get_log_level()) {
        hts_set_log_level(level);
    }

    ~HtsLogSilencer() { hts_set_log_level(previous_); }

    HtsLogSilencer(const HtsLogSilencer&) = delete;
    HtsLogSilencer& operator=(const HtsLogSilencer&) = delete;

private:
    htsLogLevel previous_;
};

}  // namespace evoscope::genomics::detail
