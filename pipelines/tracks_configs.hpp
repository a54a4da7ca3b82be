/// @file
/// Genome-browser configurations for the files `evoscope tracks` writes: an IGV desktop session
/// (igv_session.xml), an igv.js track list (igv_tracks.json, the `tracks` array of
/// igv.createBrowser), and a UCSC track hub (hub.txt, genomes.txt, trackDb.txt) with one
/// `container multiWig` per concept overlaying its features' plus- and minus-strand bigWigs.
/// Paths of the track files are relative to the output folder (where these files live); the
/// FASTA and the annotation are absolute.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "genomics/fasta_reader.hpp"

namespace evoscope::pipelines {

/// One drawn feature and its files (relative paths; empty when not written).
struct TrackFeature {
    std::uint32_t id = 0;
    std::string label = "-";         ///< align's label, "-" when unlabelled
    std::string concept_name = "-";  ///< the label's concept (groups the hub), "-" unlabelled
    std::array<int, 3> rgb{160, 160, 160};
    std::string bigwig_plus;
    std::string bigwig_minus;
    std::string peaks;        ///< BED9 (.bed or .bed.gz)
    std::string peaks_index;  ///< .tbi of a .bed.gz
    std::int64_t n_peaks = 0;
};

struct BrowserConfigInput {
    std::vector<TrackFeature> features;
    std::vector<genomics::ContigInfo> contigs;  ///< the FASTA's, in its order
    std::string fasta;                          ///< absolute path
    std::string annotations;                    ///< absolute path, or empty
    std::string twobit;                         ///< relative path of the genome's .2bit, or empty
    std::string genome_name;                    ///< assembly hub genome name
    std::string ucsc_genome;                    ///< a UCSC assembly (hg38...): plain hub on it
    std::string hub_email;
    std::string description;  ///< one line: what the features are (store, SAE site)
};

/// "f/12 gene" or "f/12" for an unlabelled feature.
std::string feature_display_name(const TrackFeature& f);

/// IGV desktop session: genome = the FASTA, locus = the first contig, resources = the bigWigs
/// (coloured by concept, minus strand lighter), the peak BEDs and the annotation.
std::string igv_session_xml(const BrowserConfigInput& in);

/// igv.js: a JSON array of track objects (wig/bigwig with autoscaleGroup per feature, annotation
/// tracks for the peaks with indexURL when bgzipped).
std::string igv_tracks_json(const BrowserConfigInput& in);

struct HubFiles {
    std::string hub_txt;
    std::string genomes_txt;
    std::string trackdb_txt;
};

/// UCSC track hub. With `twobit` set: an assembly hub (genomes.txt has twoBitPath, organism,
/// defaultPos, ...); with `ucsc_genome`: a hub on that UCSC assembly; with neither, genomes.txt
/// names `genome_name` and a comment says to replace it with the UCSC assembly name.
HubFiles ucsc_hub(const BrowserConfigInput& in);

/// The lighter shade used for minus-strand tracks (half way to white).
std::array<int, 3> lighter(const std::array<int, 3>& rgb);

}  // namespace evoscope::pipelines
