#include "pipelines/tracks_configs.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/strings.hpp"

namespace evoscope::pipelines {
namespace {

std::string rgb_text(const std::array<int, 3>& c) {
    return fmt::format("{},{},{}", c[0], c[1], c[2]);
}

/// UCSC track names: letters, digits and '_', starting with a letter.
std::string track_name(const std::string& text) {
    std::string out;
    for (const char c : text) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        out += ok ? c : '_';
    }
    return out;
}

std::string clip(const std::string& text, std::size_t n) {
    return text.size() <= n ? text : text.substr(0, n);
}

std::string locus_of(const BrowserConfigInput& in) {
    if (in.contigs.empty()) {
        return "All";
    }
    const auto& c = in.contigs.front();
    return fmt::format("{}:1-{}", c.name, std::min<std::int64_t>(c.length, 100000));
}

/// Features grouped by concept, concepts in order of first appearance.
std::vector<std::pair<std::string, std::vector<const TrackFeature*>>> by_concept(
    const std::vector<TrackFeature>& features) {
    std::vector<std::pair<std::string, std::vector<const TrackFeature*>>> out;
    for (const auto& f : features) {
        auto it = std::find_if(
            out.begin(), out.end(), [&](const auto& g) { return g.first == f.concept_name; });
        if (it == out.end()) {
            out.push_back({f.concept_name, {}});
            it = out.end() - 1;
        }
        it->second.push_back(&f);
    }
    return out;
}

}  // namespace

std::array<int, 3> lighter(const std::array<int, 3>& rgb) {
    return {(rgb[0] + 255) / 2, (rgb[1] + 255) / 2, (rgb[2] + 255) / 2};
}

std::string feature_display_name(const TrackFeature& f) {
    return f.label == "-" ? fmt::format("f/{}", f.id) : fmt::format("f/{} {}", f.id, f.label);
}

std::string igv_session_xml(const BrowserConfigInput& in) {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
    out += fmt::format(
        "<Session genome=\"{}\" hasGeneTrack=\"false\" hasSequenceTrack=\"true\" "
        "locus=\"{}\" version=\"8\">\n",
        xml_escape(in.fasta),
        xml_escape(locus_of(in)));
    out += "    <Resources>\n";
    auto resource = [&](const std::string& path,
                        const std::string& name,
                        const std::string& color,
                        const std::string& index) {
        out += fmt::format(
            "        <Resource name=\"{}\" path=\"{}\"", xml_escape(name), xml_escape(path));
        if (!color.empty()) {
            out += fmt::format(" color=\"{}\"", color);
        }
        if (!index.empty()) {
            out += fmt::format(" index=\"{}\"", xml_escape(index));
        }
        out += "/>\n";
    };
    if (!in.annotations.empty()) {
        resource(in.annotations, "annotation", "", "");
    }
    for (const auto& f : in.features) {
        const std::string name = feature_display_name(f);
        if (!f.bigwig_plus.empty()) {
            resource(f.bigwig_plus, name + " +", rgb_text(f.rgb), "");
        }
        if (!f.bigwig_minus.empty()) {
            resource(f.bigwig_minus, name + " -", rgb_text(lighter(f.rgb)), "");
        }
        if (!f.peaks.empty()) {
            resource(f.peaks, name + " peaks", rgb_text(f.rgb), f.peaks_index);
        }
    }
    out += "    </Resources>\n</Session>\n";
    return out;
}

std::string igv_tracks_json(const BrowserConfigInput& in) {
    nlohmann::ordered_json tracks = nlohmann::ordered_json::array();
    for (const auto& f : in.features) {
        const std::string name = feature_display_name(f);
        const std::string group = fmt::format("f{}", f.id);
        auto wig =
            [&](const std::string& url, const std::string& suffix, const std::array<int, 3>& c) {
                nlohmann::ordered_json t;
                t["name"] = name + suffix;
                t["type"] = "wig";
                t["format"] = "bigwig";
                t["url"] = url;
                t["color"] = fmt::format("rgb({},{},{})", c[0], c[1], c[2]);
                t["autoscaleGroup"] = group;
                tracks.push_back(t);
            };
        if (!f.bigwig_plus.empty()) {
            wig(f.bigwig_plus, " +", f.rgb);
        }
        if (!f.bigwig_minus.empty()) {
            wig(f.bigwig_minus, " -", lighter(f.rgb));
        }
        if (!f.peaks.empty()) {
            nlohmann::ordered_json t;
            t["name"] = name + " peaks";
            t["type"] = "annotation";
            t["format"] = "bed";
            t["url"] = f.peaks;
            if (!f.peaks_index.empty()) {
                t["indexURL"] = f.peaks_index;
            } else {
                t["indexed"] = false;
            }
            t["displayMode"] = "EXPANDED";
            tracks.push_back(t);
        }
    }
    return tracks.dump(2) + "\n";
}

HubFiles ucsc_hub(const BrowserConfigInput& in) {
    HubFiles h;
    h.hub_txt = fmt::format(
        "hub evoscope_tracks\n"
        "shortLabel evoscope features\n"
        "longLabel {}\n"
        "genomesFile genomes.txt\n"
        "email {}\n",
        clip(in.description, 80),
        in.hub_email);
    if (!in.ucsc_genome.empty()) {
        h.genomes_txt = fmt::format("genome {}\ntrackDb trackDb.txt\n", in.ucsc_genome);
    } else if (!in.twobit.empty()) {
        const std::string pos = in.contigs.empty() ? std::string() : locus_of(in);
        h.genomes_txt = fmt::format(
            "genome {0}\n"
            "trackDb trackDb.txt\n"
            "twoBitPath {1}\n"
            "organism {0}\n"
            "scientificName {0}\n"
            "description {0} (evoscope tracks)\n"
            "defaultPos {2}\n"
            "orderKey 1\n",
            in.genome_name,
            in.twobit,
            pos);
    } else {
        h.genomes_txt = fmt::format(
            "# Replace the genome name below with the UCSC assembly these contigs belong to\n"
            "# (hg38, mm39, ...), or rerun `evoscope tracks` without --no-2bit for an assembly "
            "hub.\n"
            "genome {}\n"
            "trackDb trackDb.txt\n",
            in.genome_name);
    }
    std::string& t = h.trackdb_txt;
    int priority = 1;
    for (const auto& [concept_name, group] : by_concept(in.features)) {
        const std::string shown = concept_name == "-" ? "unlabelled" : concept_name;
        const std::string container = "evoscope_" + track_name(shown);
        t += fmt::format(
            "track {}\n"
            "container multiWig\n"
            "shortLabel {}\n"
            "longLabel {}\n"
            "type bigWig\n"
            "aggregate transparentOverlay\n"
            "showSubtrackColorOnUi on\n"
            "autoScale on\n"
            "windowingFunction maximum\n"
            "maxHeightPixels 100:48:16\n"
            "visibility full\n"
            "priority {}\n\n",
            container,
            clip(shown, 17),
            clip(fmt::format("SAE features labelled {} (+ strand dark, - strand light)", shown),
                 80),
            priority++);
        for (const TrackFeature* f : group) {
            const std::string name = feature_display_name(*f);
            auto sub = [&](const std::string& url,
                           const char* strand,
                           const std::array<int, 3>& c) {
                t += fmt::format(
                    "    track f{}_{}\n"
                    "    parent {}\n"
                    "    type bigWig\n"
                    "    bigDataUrl {}\n"
                    "    shortLabel {}\n"
                    "    longLabel {}\n"
                    "    color {}\n\n",
                    f->id,
                    strand[0] == '+' ? "plus" : "minus",
                    container,
                    url,
                    clip(fmt::format("f/{} {}", f->id, strand), 17),
                    clip(fmt::format("{}, {} strand", name, strand[0] == '+' ? "plus" : "minus"),
                         80),
                    rgb_text(c));
            };
            if (!f->bigwig_plus.empty()) {
                sub(f->bigwig_plus, "+", f->rgb);
            }
            if (!f->bigwig_minus.empty()) {
                sub(f->bigwig_minus, "-", lighter(f->rgb));
            }
        }
    }
    return h;
}

}  // namespace evoscope::pipelines
