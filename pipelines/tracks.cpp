#include "pipelines/tracks.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "annotate/feature_labels.hpp"
#include "annotate/feature_peaks.hpp"
#include "core/check.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "core/output_file.hpp"
#include "core/run_info.hpp"
#include "genomics/annotation.hpp"
#include "genomics/bed_writer.hpp"
#include "genomics/bigwig_writer.hpp"
#include "genomics/fasta_reader.hpp"
#include "genomics/regions.hpp"
#include "genomics/twobit_writer.hpp"
#include "pipelines/tracks_configs.hpp"
#include "pipelines/tracks_matrix.hpp"
#include "store/feature_store.hpp"

namespace evoscope::pipelines {
namespace {

namespace fs = std::filesystem;

/// A feature to draw and what the align output says about it.
struct Selected {
    std::uint32_t id = 0;
    std::string label = "-";
    std::string concept_name = "-";
    std::array<int, 3> rgb{160, 160, 160};
    float max_value = 0.0F;
};

void check_options(const TracksOptions& o) {
    EVOSCOPE_CHECK_USAGE(!o.features.empty(), "--features STORE is required");
    EVOSCOPE_CHECK_USAGE(!o.fasta.empty(), "--fasta is required (the bigWigs' contigs)");
    EVOSCOPE_CHECK_USAGE(!o.output.empty(), "-o/--output is required");
    EVOSCOPE_CHECK_USAGE(!(o.all && !o.feature_ids.empty()),
                         "--feature-ids and --all exclude each other");
    EVOSCOPE_CHECK_USAGE(o.all || !o.feature_ids.empty() || !o.align.empty(),
                         "choose the features: --feature-ids 12,57,..., --all, or --align DIR "
                         "(the best --top-per-concept features of each concept)");
    EVOSCOPE_CHECK_USAGE(o.top_per_concept >= 1, "--top-per-concept must be at least 1");
    EVOSCOPE_CHECK_USAGE(o.bin_size >= 1, "--bin-size must be at least 1");
    EVOSCOPE_CHECK_USAGE(o.max_open >= 4, "--max-open must be at least 4");
    EVOSCOPE_CHECK_USAGE(o.peak_fraction > 0.0 && o.peak_fraction <= 1.0,
                         "--peak-fraction must be in (0, 1]");
    EVOSCOPE_CHECK_USAGE(o.peak_min_distance >= 1 && o.max_peaks >= 1,
                         "--peak-min-distance and --max-peaks must be at least 1");
    EVOSCOPE_CHECK_USAGE(o.bgzip_above_mib >= 0.0, "--bgzip-above must not be negative");
    EVOSCOPE_CHECK_USAGE(o.matrix_bin_size >= 1 && o.upstream >= 0 && o.downstream >= 0 &&
                             o.upstream + o.downstream > 0 && o.upstream % o.matrix_bin_size == 0 &&
                             o.downstream % o.matrix_bin_size == 0,
                         "--upstream ({}) and --downstream ({}) must be multiples of "
                         "--matrix-bin-size ({}), not both 0 (as deepTools computeMatrix)",
                         o.upstream,
                         o.downstream,
                         o.matrix_bin_size);
    EVOSCOPE_CHECK_USAGE(o.matrix_strand == "sense" || o.matrix_strand == "antisense",
                         "--matrix-strand is sense or antisense, not '{}'",
                         o.matrix_strand);
}

/// The features to draw, in order, with labels and colours; never-active ones go to `inactive`.
std::vector<Selected> select_features(const TracksOptions& o,
                                      const sae::FeatureStore& store,
                                      std::vector<std::uint32_t>& inactive,
                                      std::string& how) {
    std::map<std::uint32_t, annotate::FeatureLabel> labels;
    std::vector<annotate::FeatureLabel> label_rows;
    if (!o.align.empty()) {
        label_rows = annotate::read_feature_labels(o.align);
        for (const auto& l : label_rows) {
            EVOSCOPE_CHECK(static_cast<std::int64_t>(l.id) < store.d_sae(),
                           "{} names f/{} but the feature store has {} features: --align comes "
                           "from another SAE",
                           o.align,
                           l.id,
                           store.d_sae());
            labels[l.id] = l;
        }
    }
    std::vector<std::uint32_t> ids;
    if (!o.feature_ids.empty()) {
        ids = annotate::parse_feature_ids(o.feature_ids);
        for (const auto id : ids) {
            EVOSCOPE_CHECK(static_cast<std::int64_t>(id) < store.d_sae(),
                           "--feature-ids: feature {} is not in the store {} (d_sae = {}, ids 0 "
                           "to {})",
                           id,
                           o.features,
                           store.d_sae(),
                           store.d_sae() - 1);
        }
        how = fmt::format("--feature-ids {}", o.feature_ids);
    } else if (o.all) {
        for (std::int64_t f = 0; f < store.d_sae(); ++f) {
            ids.push_back(static_cast<std::uint32_t>(f));
        }
        how = "--all";
    } else {
        ids = annotate::top_features_per_concept(label_rows, o.top_per_concept);
        EVOSCOPE_CHECK(!ids.empty(),
                       "{}: no feature is labelled (align labels a feature whose best concept "
                       "scores above its threshold); use --feature-ids or --all",
                       o.align);
        how = fmt::format("the best {} per concept in {}", o.top_per_concept, o.align);
    }
    const auto& stats = store.feature_stats();
    std::vector<Selected> out;
    for (const auto id : ids) {
        if (!(stats.max_value[id] > 0.0F)) {
            inactive.push_back(id);
            continue;
        }
        Selected s;
        s.id = id;
        s.max_value = stats.max_value[id];
        if (const auto it = labels.find(id); it != labels.end() && it->second.labelled()) {
            s.label = it->second.label;
            s.concept_name = it->second.concept_name;
        }
        s.rgb = annotate::concept_color(s.concept_name);
        out.push_back(s);
    }
    if (!inactive.empty()) {
        std::string list;
        for (std::size_t i = 0; i < inactive.size() && i < 10; ++i) {
            list += fmt::format("{}f/{}", i > 0 ? ", " : "", inactive[i]);
        }
        EVOSCOPE_LOG_WARN("tracks: {} selected feature{} never active in the store, skipped: {}{}",
                          inactive.size(),
                          inactive.size() == 1 ? " is" : "s are",
                          list,
                          inactive.size() > 10 ? ", ..." : "");
    }
    EVOSCOPE_CHECK(!out.empty(), "none of the selected features is active in {}", o.features);
    return out;
}

/// Store contigs must be FASTA contigs of the same length.
void check_store_contigs(const sae::FeatureStore& store,
                         const std::vector<genomics::ContigInfo>& fasta,
                         const std::string& store_path,
                         const std::string& fasta_path) {
    for (const auto& c : store.contigs()) {
        const auto it = std::find_if(
            fasta.begin(), fasta.end(), [&](const auto& f) { return f.name == c.name; });
        EVOSCOPE_CHECK(it != fasta.end(),
                       "feature store {}: contig '{}' is not in {}",
                       store_path,
                       c.name,
                       fasta_path);
        EVOSCOPE_CHECK(it->length == c.length,
                       "feature store {}: contig '{}' has length {} but {} says {}",
                       store_path,
                       c.name,
                       c.length,
                       fasta_path,
                       it->length);
    }
}

/// Matrix regions: the annotation's features of `type`, in input order.
std::vector<MatrixRegion> read_regions(const TracksOptions& o,
                                       const std::vector<genomics::ContigInfo>& contigs) {
    genomics::ContigAliases aliases;
    if (!o.rename_contigs.empty()) {
        aliases = genomics::ContigAliases::from_file(o.rename_contigs);
    }
    genomics::AnnotationOptions ro;
    ro.format = genomics::parse_annotation_format(o.annotation_format);
    ro.lenient = o.lenient;
    const auto a =
        genomics::read_annotation(o.annotations, genomics::ContigSet(contigs, aliases), ro);
    std::vector<MatrixRegion> out;
    std::map<std::string, std::size_t> types;
    for (const auto& f : a.features) {
        ++types[f.type];
        if (f.type != o.region_type || f.parts.empty()) {
            continue;
        }
        MatrixRegion r;
        r.contig = f.contig;
        r.begin = f.begin();
        r.end = f.end();
        r.name = !f.name.empty() ? f.name : (!f.id.empty() ? f.id : ".");
        r.strand = genomics::strand_char(f.strand);
        out.push_back(std::move(r));
    }
    if (out.empty()) {
        std::string present;
        for (const auto& [type, n] : types) {
            present += fmt::format("{}{} ({})", present.empty() ? "" : ", ", type, n);
        }
        throw InputError(
            fmt::format("{}: no '{}' features for the matrices (types present: {}); "
                        "choose one with --region-type",
                        o.annotations,
                        o.region_type,
                        present.empty() ? "none" : present));
    }
    return out;
}

/// Covered positions of one contig and strand, from the chunk index.
class Coverage {
public:
    void reset(const std::vector<sae::FeatureChunk>& chunks, const std::vector<std::size_t>& idx) {
        begins_.clear();
        ends_.clear();
        for (const auto i : idx) {
            begins_.push_back(chunks[i].begin);
            ends_.push_back(chunks[i].end);
        }
    }

    /// Covered positions in [a, b).
    std::int64_t covered(std::int64_t a, std::int64_t b) const {
        // The chunks are disjoint and ascending: start at the first that ends after a.
        auto it = std::upper_bound(ends_.begin(), ends_.end(), a);
        std::int64_t n = 0;
        for (auto k = static_cast<std::size_t>(it - ends_.begin()); k < begins_.size(); ++k) {
            if (begins_[k] >= b) {
                break;
            }
            n += std::min(b, ends_[k]) - std::max(a, begins_[k]);
        }
        return n;
    }

private:
    std::vector<std::int64_t> begins_;
    std::vector<std::int64_t> ends_;
};

/// One strand of one feature: the bigWig and, with --bedgraph, the same entries as text.
struct Sink {
    std::unique_ptr<genomics::BigWigWriter> bigwig;
    std::unique_ptr<OutputFile> bedgraph;
    std::int64_t n_bedgraph = 0;
    // Running bin (bin_size > 1).
    std::int64_t bin = -1;
    double sum = 0.0;

    void add(std::size_t contig_index,
             const std::string& contig,
             std::int64_t begin,
             std::int64_t end,
             float value) {
        bigwig->add(contig_index, begin, end, value);
        if (bedgraph) {
            bedgraph->write(genomics::format_bedgraph(contig, begin, end, value));
            ++n_bedgraph;
        }
    }
};

std::string strand_word(int s) {
    return s == 0 ? "plus" : "minus";
}

/// Compresses and indexes a text track when asked or when it is large. Returns the path written
/// (relative) and the index path (relative, or empty).
std::pair<std::string, std::string> maybe_bgzip(const TracksOptions& o,
                                                const fs::path& root,
                                                const std::string& rel) {
    const auto size = fs::file_size(root / rel);
    const bool big = static_cast<double>(size) > o.bgzip_above_mib * 1024.0 * 1024.0;
    if (!o.bgzip && !big) {
        return {rel, ""};
    }
    genomics::bgzip_and_index(root / rel);
    return {rel + ".gz", rel + ".gz.tbi"};
}

std::string peak_name(const Selected& s) {
    return s.label == "-" ? fmt::format("f/{}", s.id) : fmt::format("f/{}|{}", s.id, s.label);
}

/// Removes the temporary output folder unless disarmed.
struct FolderGuard {
    fs::path path;
    bool keep = false;

    ~FolderGuard() {
        if (!keep) {
            std::error_code ec;
            fs::remove_all(path, ec);
        }
    }
};

}  // namespace

TracksResult run_tracks(const TracksOptions& o) {
    check_options(o);
    const auto t0 = std::chrono::steady_clock::now();
    const fs::path out_dir = o.output;
    EVOSCOPE_CHECK(
        o.force || !fs::exists(out_dir), "{} exists (use --force to replace it)", out_dir.string());

    // Everything that can fail on the inputs is read before the output folder exists.
    const sae::FeatureStore store(o.features);
    TracksResult result;
    std::string how;
    const std::vector<Selected> selected = select_features(o, store, result.inactive, how);
    const genomics::FastaReader fasta(o.fasta);
    check_store_contigs(store, fasta.contigs(), o.features, o.fasta);
    std::vector<MatrixRegion> regions;
    if (!o.annotations.empty()) {
        regions = read_regions(o, fasta.contigs());
    }
    // bigWig chromosome lists: every FASTA contig, in C-locale order (docs/tracks.md).
    const auto bw_contigs = genomics::sort_contigs_c_locale(fasta.contigs());
    for (const auto& s : selected) {
        result.features.push_back(s.id);
    }
    EVOSCOPE_LOG_INFO("tracks: {} feature{} ({}); store {} ({} features, {} positions)",
                      selected.size(),
                      selected.size() == 1 ? "" : "s",
                      how,
                      o.features,
                      store.d_sae(),
                      store.n_positions());

    const fs::path tmp = temp_path_for(out_dir);
    create_output_dir(tmp);
    FolderGuard guard{tmp};
    create_output_dir(tmp / "bigwig");
    create_output_dir(tmp / "peaks");
    if (o.bedgraph) {
        create_output_dir(tmp / "bedgraph");
    }

    // Chunks of each contig and strand, in the store's (ascending) order.
    std::map<std::string, std::array<std::vector<std::size_t>, 2>> chunk_index;
    for (std::size_t i = 0; i < store.chunks().size(); ++i) {
        const auto& ch = store.chunks()[i];
        chunk_index[ch.contig][ch.strand == '-' ? 1 : 0].push_back(i);
    }

    std::vector<TrackFeature> drawn(selected.size());
    const std::size_t files_per_feature = o.bedgraph ? 4 : 2;
    const std::size_t batch_size =
        std::max<std::size_t>(1, static_cast<std::size_t>(o.max_open) / files_per_feature);
    result.n_passes = static_cast<int>((selected.size() + batch_size - 1) / batch_size);
    annotate::FeaturePeakOptions peak_options;
    peak_options.min_fraction = o.peak_fraction;
    peak_options.min_distance = o.peak_min_distance;
    peak_options.max_peaks = o.max_peaks;

    for (std::size_t first = 0; first < selected.size(); first += batch_size) {
        const std::size_t last = std::min(selected.size(), first + batch_size);
        const std::size_t n = last - first;
        if (result.n_passes > 1) {
            EVOSCOPE_LOG_INFO("tracks: pass {}/{} over the store: features {} to {}",
                              first / batch_size + 1,
                              result.n_passes,
                              selected[first].id,
                              selected[last - 1].id);
        }
        std::vector<std::int32_t> slot(static_cast<std::size_t>(store.d_sae()), -1);
        std::vector<std::uint32_t> batch_ids;
        std::vector<std::array<Sink, 2>> sinks(n);
        for (std::size_t k = 0; k < n; ++k) {
            const Selected& s = selected[first + k];
            slot[s.id] = static_cast<std::int32_t>(k);
            batch_ids.push_back(s.id);
            for (int st = 0; st < 2; ++st) {
                const std::string stem = fmt::format("f{}.{}", s.id, strand_word(st));
                sinks[k][static_cast<std::size_t>(st)].bigwig =
                    std::make_unique<genomics::BigWigWriter>(tmp / "bigwig" / (stem + ".bw"),
                                                             bw_contigs);
                if (o.bedgraph) {
                    sinks[k][static_cast<std::size_t>(st)].bedgraph = std::make_unique<OutputFile>(
                        (tmp / "bedgraph" / (stem + ".bedGraph")).string());
                }
            }
        }
        annotate::FeaturePeakCollector peaks(store, batch_ids, peak_options);

        for (std::size_t ci = 0; ci < bw_contigs.size(); ++ci) {
            const auto& contig = bw_contigs[ci];
            const auto found = chunk_index.find(contig.name);
            if (found == chunk_index.end()) {
                continue;
            }
            for (std::size_t st = 0; st < 2; ++st) {
                const auto& idx = found->second[st];
                if (idx.empty()) {
                    continue;
                }
                Coverage coverage;
                coverage.reset(store.chunks(), idx);
                auto flush_bin = [&](Sink& sink) {
                    if (sink.bin < 0) {
                        return;
                    }
                    const std::int64_t b0 = sink.bin * o.bin_size;
                    const std::int64_t b1 = std::min(contig.length, b0 + o.bin_size);
                    const std::int64_t n_cov = coverage.covered(b0, b1);
                    const auto mean = static_cast<float>(sink.sum / static_cast<double>(n_cov));
                    if (mean != 0.0F) {
                        sink.add(ci, contig.name, b0, b1, mean);
                    }
                    sink.bin = -1;
                    sink.sum = 0.0;
                };
                for (const auto chunk_i : idx) {
                    const auto& chunk = store.chunks()[chunk_i];
                    const sae::FeatureRows rows = store.read_chunk(chunk_i);
                    peaks.add(chunk, rows);
                    for (std::int64_t i = 0; i < rows.n_positions(); ++i) {
                        const std::int64_t pos = rows.begin + i;
                        for (auto k = rows.row_ptr[static_cast<std::size_t>(i)];
                             k < rows.row_ptr[static_cast<std::size_t>(i + 1)];
                             ++k) {
                            const std::int32_t sl = slot[rows.ids[static_cast<std::size_t>(k)]];
                            if (sl < 0) {
                                continue;
                            }
                            const float v = rows.values[static_cast<std::size_t>(k)];
                            Sink& sink = sinks[static_cast<std::size_t>(sl)][st];
                            if (o.bin_size == 1) {
                                if (v != 0.0F) {
                                    sink.add(ci, contig.name, pos, pos + 1, v);
                                }
                                continue;
                            }
                            const std::int64_t bin = pos / o.bin_size;
                            if (bin != sink.bin) {
                                flush_bin(sink);
                                sink.bin = bin;
                            }
                            sink.sum += v;
                        }
                    }
                }
                for (auto& pair : sinks) {
                    flush_bin(pair[st]);
                }
            }
        }

        // Close this batch's files, then write its peaks.
        auto feature_peaks = peaks.finish();
        for (std::size_t k = 0; k < n; ++k) {
            const Selected& s = selected[first + k];
            TrackFeature& t = drawn[first + k];
            t.id = s.id;
            t.label = s.label;
            t.concept_name = s.concept_name;
            t.rgb = s.rgb;
            const std::string fname = fmt::format("f/{}", s.id);
            for (int st = 0; st < 2; ++st) {
                Sink& sink = sinks[k][static_cast<std::size_t>(st)];
                const std::string rel = fmt::format("bigwig/f{}.{}.bw", s.id, strand_word(st));
                const bool written = sink.bigwig->close();
                const std::int64_t n_entries = sink.bigwig->n_entries();
                result.n_bigwig_entries += n_entries;
                const char strand = st == 0 ? '+' : '-';
                if (written) {
                    (st == 0 ? t.bigwig_plus : t.bigwig_minus) = rel;
                    result.files.push_back(
                        {fname, s.label, s.concept_name, "bigwig", strand, rel, n_entries});
                }
                if (sink.bedgraph) {
                    const std::string bg =
                        fmt::format("bedgraph/f{}.{}.bedGraph", s.id, strand_word(st));
                    if (sink.n_bedgraph > 0) {
                        sink.bedgraph->commit();
                        const auto [path, index] = maybe_bgzip(o, tmp, bg);
                        result.files.push_back({fname,
                                                s.label,
                                                s.concept_name,
                                                "bedgraph",
                                                strand,
                                                path,
                                                sink.n_bedgraph});
                        if (!index.empty()) {
                            result.files.push_back(
                                {fname, s.label, s.concept_name, "tabix_index", strand, index, -1});
                        }
                    }
                    sink.bedgraph.reset();
                }
            }
            EVOSCOPE_LOG_DEBUG("tracks: {}: + {} entries, - {} entries, {} peaks",
                               feature_display_name(t),
                               t.bigwig_plus.empty() ? 0 : sinks[k][0].bigwig->n_entries(),
                               t.bigwig_minus.empty() ? 0 : sinks[k][1].bigwig->n_entries(),
                               feature_peaks[k].size());
            sinks[k][0].bigwig.reset();
            sinks[k][1].bigwig.reset();

            // BED9 of the peaks, sorted as `sort -k1,1 -k2,2n` (C locale) for tabix and bedtools.
            std::vector<genomics::Bed9Record> records;
            for (const auto& p : feature_peaks[k]) {
                genomics::Bed9Record r;
                r.contig = p.contig;
                r.begin = p.run_begin;
                r.end = p.run_end;
                r.name = peak_name(s);
                const double scaled = 1000.0 * static_cast<double>(p.value) / s.max_value;
                r.score = static_cast<int>(std::clamp(std::lround(scaled), 0L, 1000L));
                r.strand = p.strand;
                r.thick_begin = p.position;
                r.thick_end = p.position + 1;
                r.rgb = s.rgb;
                records.push_back(std::move(r));
            }
            std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
                const int c = std::strcmp(a.contig.c_str(), b.contig.c_str());
                if (c != 0) {
                    return c < 0;
                }
                return std::tie(a.begin, a.end, a.thick_begin, a.strand) <
                       std::tie(b.begin, b.end, b.thick_begin, b.strand);
            });
            std::string text;
            for (const auto& r : records) {
                text += genomics::format_bed9(r);
            }
            const std::string bed = fmt::format("peaks/f{}.peaks.bed", s.id);
            write_file_atomic(tmp / bed, text);
            const auto [path, index] = maybe_bgzip(o, tmp, bed);
            t.peaks = path;
            t.peaks_index = index;
            t.n_peaks = static_cast<std::int64_t>(records.size());
            result.n_peaks += t.n_peaks;
            result.files.push_back({fname, s.label, s.concept_name, "peaks", '.', path, t.n_peaks});
            if (!index.empty()) {
                result.files.push_back(
                    {fname, s.label, s.concept_name, "tabix_index", '.', index, -1});
            }
        }
    }

    // deepTools matrices around the regions' starts and ends.
    if (!regions.empty()) {
        create_output_dir(tmp / "matrix");
        std::vector<MatrixSample> samples;
        for (const auto& t : drawn) {
            samples.push_back({t.id, feature_display_name(t)});
        }
        for (const bool at_end : {false, true}) {
            MatrixParams p;
            p.upstream = o.upstream;
            p.downstream = o.downstream;
            p.bin_size = o.matrix_bin_size;
            p.reference_end = at_end;
            p.antisense = o.matrix_strand == "antisense";
            p.group_label = o.region_type + "s";
            const std::string rel =
                fmt::format("matrix/{}_{}.matrix.gz", o.region_type, at_end ? "end" : "start");
            result.n_matrix_rows =
                write_reference_point_matrix(store, regions, samples, p, tmp / rel);
            result.files.push_back({"-", "-", "-", "matrix", '.', rel, result.n_matrix_rows});
        }
        EVOSCOPE_LOG_INFO(
            "tracks: deepTools matrices around {} {} starts and ends ({} samples x {} bins, "
            "{} strand)",
            regions.size(),
            o.region_type,
            samples.size(),
            (o.upstream + o.downstream) / o.matrix_bin_size,
            o.matrix_strand);
    }

    // Browser configurations.
    BrowserConfigInput cfg;
    cfg.features = drawn;
    cfg.contigs = fasta.contigs();
    cfg.fasta = fs::absolute(o.fasta).lexically_normal().string();
    if (!o.annotations.empty()) {
        cfg.annotations = fs::absolute(o.annotations).lexically_normal().string();
    }
    cfg.genome_name = !o.genome_name.empty() ? o.genome_name : fs::path(o.fasta).stem().string();
    cfg.ucsc_genome = o.ucsc_genome;
    cfg.hub_email = o.hub_email;
    cfg.description = fmt::format("evoscope SAE features ({}, {} features, site {})",
                                  fs::path(o.features).lexically_normal().filename().string(),
                                  store.d_sae(),
                                  store.header().site.empty() ? "?" : store.header().site);
    if (o.ucsc_genome.empty() && !o.no_twobit) {
        genomics::write_twobit(fasta, tmp / "genome.2bit");
        cfg.twobit = "genome.2bit";
        result.files.push_back({"-", "-", "-", "twobit", '.', "genome.2bit", -1});
    }
    write_file_atomic(tmp / "igv_session.xml", igv_session_xml(cfg));
    write_file_atomic(tmp / "igv_tracks.json", igv_tracks_json(cfg));
    const HubFiles hub = ucsc_hub(cfg);
    write_file_atomic(tmp / "hub.txt", hub.hub_txt);
    write_file_atomic(tmp / "genomes.txt", hub.genomes_txt);
    write_file_atomic(tmp / "trackDb.txt", hub.trackdb_txt);
    for (const char* f :
         {"igv_session.xml", "igv_tracks.json", "hub.txt", "genomes.txt", "trackDb.txt"}) {
        result.files.push_back({"-", "-", "-", fs::path(f).stem().string(), '.', f, -1});
    }
    result.files.push_back({"-", "-", "-", "manifest", '.', "manifest.tsv", -1});
    result.files.push_back({"-", "-", "-", "manifest", '.', "manifest.json", -1});

    // Manifest: every file, as TSV and JSON (with the run's facts).
    std::string tsv = "feature\tlabel\tconcept\tkind\tstrand\tpath\tn_records\n";
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const auto& f : result.files) {
        tsv += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                           f.feature,
                           f.label,
                           f.concept_name,
                           f.kind,
                           f.strand,
                           f.path,
                           f.n_records >= 0 ? std::to_string(f.n_records) : "NA");
        nlohmann::ordered_json j;
        j["feature"] = f.feature;
        j["label"] = f.label;
        j["concept"] = f.concept_name;
        j["kind"] = f.kind;
        j["strand"] = std::string(1, f.strand);
        j["path"] = f.path;
        j["n_records"] = f.n_records >= 0 ? nlohmann::ordered_json(f.n_records) : nullptr;
        files.push_back(j);
    }
    nlohmann::ordered_json features = nlohmann::ordered_json::array();
    for (const auto& t : drawn) {
        nlohmann::ordered_json j;
        j["id"] = t.id;
        j["name"] = feature_display_name(t);
        j["label"] = t.label;
        j["concept"] = t.concept_name;
        j["color"] = fmt::format("{},{},{}", t.rgb[0], t.rgb[1], t.rgb[2]);
        j["bigwig_plus"] = t.bigwig_plus.empty() ? nullptr : nlohmann::ordered_json(t.bigwig_plus);
        j["bigwig_minus"] =
            t.bigwig_minus.empty() ? nullptr : nlohmann::ordered_json(t.bigwig_minus);
        j["peaks"] = t.peaks;
        j["n_peaks"] = t.n_peaks;
        features.push_back(j);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::ordered_json m;
    m["format"] = "evoscope-tracks";
    m["version"] = 1;
    m["evoscope"] = version_string();
    m["command"] = command_line();
    m["feature_store"] = fs::absolute(o.features).lexically_normal().string();
    m["fasta"] = cfg.fasta;
    m["align"] = o.align.empty() ? nullptr : nlohmann::ordered_json(o.align);
    m["annotations"] = cfg.annotations.empty() ? nullptr : nlohmann::ordered_json(cfg.annotations);
    m["selection"] = how;
    m["bin_size"] = o.bin_size;
    m["contig_order"] = "C locale (strcmp), as LC_ALL=C sort";
    m["strands"] =
        "one bigWig per strand: fN.plus.bw holds the activations of the + strand rows, "
        "fN.minus.bw those of the - strand rows; both use genomic coordinates";
    m["absent"] = "positions the store does not cover and positions where the feature is 0";
    m["peaks"] = {{"min_fraction", o.peak_fraction},
                  {"min_distance", o.peak_min_distance},
                  {"max_peaks", o.max_peaks}};
    m["features"] = features;
    m["inactive"] = result.inactive;
    m["files"] = files;
    m["seconds"] = seconds;
    write_file_atomic(tmp / "manifest.tsv", tsv);
    write_file_atomic(tmp / "manifest.json", m.dump(2) + "\n");

    commit_temp_dir(tmp, out_dir);
    guard.keep = true;

    std::int64_t n_bigwigs = 0;
    for (const auto& f : result.files) {
        n_bigwigs += f.kind == "bigwig" ? 1 : 0;
    }
    EVOSCOPE_LOG_INFO(
        "tracks: {} features: {} bigWigs ({} entries, bin {} bp), {} peak BEDs ({} peaks){}{}; "
        "IGV session, igv.js tracks, UCSC hub{}; {:.1f} s -> {}",
        drawn.size(),
        n_bigwigs,
        result.n_bigwig_entries,
        o.bin_size,
        drawn.size(),
        result.n_peaks,
        o.bedgraph ? ", bedGraphs" : "",
        regions.empty() ? ""
                        : fmt::format(", 2 deepTools matrices ({} rows)", result.n_matrix_rows),
        cfg.twobit.empty() ? "" : " with genome.2bit",
        seconds,
        out_dir.string());
    return result;
}

}  // namespace evoscope::pipelines
