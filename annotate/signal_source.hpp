/// @file
/// Per-position signals that concept alignment compares with concepts, behind one interface: the
/// SAE feature store (sparse, d_sae features), dense per-base tracks (one feature per track, read
/// from bigWig/bedGraph by genomics/tracks.hpp) and raw model dimensions from an activation store
/// (2 x d_model features: +x and -x). A source is read in blocks that hold both strands of one
/// contig range, so that one element's positions on both strands are seen together.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "genomics/fasta_reader.hpp"
#include "store/feature_store.hpp"

namespace evoscope::annotate {

/// Positions [begin, end) of one contig (index into SignalSource::contigs()).
struct SignalBlock {
    std::int32_t contig = 0;
    std::int64_t begin = 0;
    std::int64_t end = 0;
};

/// Rows of one block: rows[0] the forward strand, rows[1] the reverse strand (CSR, covered flags
/// as in sae::FeatureRows; values <= 0 are never active).
struct BlockRows {
    std::array<sae::FeatureRows, 2> rows;
};

class SignalSource {
public:
    virtual ~SignalSource() = default;
    virtual std::int64_t n_features() const = 0;
    /// "f/12", "track:NAME", "neuron/5+"; used in tables.
    virtual std::string feature_name(std::int64_t feature) const = 0;
    virtual const std::vector<genomics::ContigInfo>& contigs() const = 0;
    /// Largest positive value of each feature over everything the source holds (0: never > 0).
    virtual const std::vector<float>& feature_max() const = 0;
    /// Blocks in scan order, disjoint; positions outside every block are not covered.
    virtual const std::vector<SignalBlock>& blocks() const = 0;
    /// Reads block `index`. Safe to call from several threads at once.
    virtual void read(std::size_t index, BlockRows& out) const = 0;
    /// What it is, for logs and summary.json ("feature store DIR", ...).
    virtual std::string describe() const = 0;
};

/// The SAE feature store: blocks are the store's chunk grid (pairs of + and - chunks; a range
/// held on one strand only has the other strand uncovered).
std::unique_ptr<SignalSource> open_feature_store_source(const std::filesystem::path& dir);

/// One dense track: values per contig (index as in `contigs`) and strand. A contig with values
/// is covered on its whole length (NaN reads as 0: bedGraph leaves zeros out).
/// An unstranded track has the same values on both strands.
struct DenseTrack {
    std::string name;
    /// values[strand][contig]: empty vector = the contig is not covered on that strand.
    std::array<std::vector<std::vector<float>>, 2> values;
};

/// Tracks as features (one per track), over `contigs`, in blocks of `block_bp` positions.
std::unique_ptr<SignalSource> make_track_source(std::vector<genomics::ContigInfo> contigs,
                                                std::vector<DenseTrack> tracks,
                                                std::int64_t block_bp = 4096);

/// Raw model dimensions of an activation store as 2 x d_model features: feature 2j is +x_j and
/// 2j + 1 is -x_j (both signs, so a dimension that is negative on a concept can align). Rows are
/// mapped to the genome by the store's row blocks. Reads the store twice (maxima, then blocks).
std::unique_ptr<SignalSource> open_neuron_source(const std::filesystem::path& dir,
                                                 std::int64_t block_bp = 4096);

}  // namespace evoscope::annotate
