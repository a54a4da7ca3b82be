#include "genomics/motif_discovery.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string_view>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/strings.hpp"
#include "genomics/sequence.hpp"

namespace evoscope::genomics {

namespace {

double pearson(const std::array<double, 4>& a, const std::array<double, 4>& b) {
    const double ma = (a[0] + a[1] + a[2] + a[3]) / 4.0;
    const double mb = (b[0] + b[1] + b[2] + b[3]) / 4.0;
    double sab = 0, saa = 0, sbb = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    if (saa <= 1e-12 || sbb <= 1e-12) {
        return 0.0;  // a uniform column correlates with nothing
    }
    return sab / std::sqrt(saa * sbb);
}

}  // namespace

Motif count_matrix(const std::vector<std::string>& seqlets, std::string id) {
    if (seqlets.empty() || seqlets[0].empty()) {
        throw InputError("no seqlets to build a motif from");
    }
    Motif m;
    m.id = std::move(id);
    m.is_counts = true;
    m.matrix.assign(seqlets[0].size(), {0, 0, 0, 0});
    for (const auto& s : seqlets) {
        if (s.size() != m.matrix.size()) {
            throw InputError("seqlets of different lengths");
        }
        for (std::size_t j = 0; j < s.size(); ++j) {
            const int c = base_code(s[j]);
            if (c < 4) {
                m.matrix[j][static_cast<std::size_t>(c)] += 1;
            }
        }
    }
    for (auto& row : m.matrix) {
        if (row[0] + row[1] + row[2] + row[3] == 0) {
            row = {0.25, 0.25, 0.25, 0.25};
        }
    }
    m.nsites = static_cast<double>(seqlets.size());
    return m;
}

OopsResult refine_oops(const std::vector<std::string>& seqlets,
                       const Motif& start,
                       const std::array<double, 4>& background,
                       const OopsOptions& options) {
    const std::size_t w = options.width;
    if (w == 0 || start.width() != w) {
        throw InputError(
            fmt::format("OOPS: start motif width {} differs from the width {}", start.width(), w));
    }
    for (const auto& s : seqlets) {
        if (s.size() < w) {
            throw InputError(
                fmt::format("OOPS: a seqlet of {} bp is shorter than the width {}", s.size(), w));
        }
    }
    OopsResult result;
    auto probs = start.probabilities();
    // Coded seqlets and their reverse complements (others code 4: likelihood ratio 1).
    std::vector<std::vector<int>> fwd(seqlets.size());
    for (std::size_t s = 0; s < seqlets.size(); ++s) {
        for (char c : seqlets[s]) {
            const int code = base_code(c);
            fwd[s].push_back(code);
        }
    }
    const int n_strands = options.both_strands ? 2 : 1;
    result.offsets.assign(seqlets.size(), 0);
    result.reverse.assign(seqlets.size(), false);
    std::vector<double> weights;
    for (int iter = 0; iter < options.iterations; ++iter) {
        // log2 likelihood ratio per (column, base); base 4 scores 0.
        std::vector<std::array<double, 5>> llr(w);
        for (std::size_t j = 0; j < w; ++j) {
            for (std::size_t b = 0; b < 4; ++b) {
                llr[j][b] = std::log(std::max(probs[j][b], 1e-9) / background[b]);
            }
            llr[j][4] = 0.0;
        }
        std::vector<std::array<double, 4>> counts(w, {0, 0, 0, 0});
        double total_llr = 0.0;
        for (std::size_t s = 0; s < seqlets.size(); ++s) {
            const auto& x = fwd[s];
            const std::size_t n_off = x.size() - w + 1;
            weights.assign(n_off * static_cast<std::size_t>(n_strands), 0.0);
            double best = -1e300;
            for (std::size_t o = 0; o < n_off; ++o) {
                for (int st = 0; st < n_strands; ++st) {
                    double l = 0.0;
                    for (std::size_t j = 0; j < w; ++j) {
                        // Reverse strand: motif column j reads the complement of x[o + w-1-j].
                        int c = st == 0 ? x[o + j] : x[o + w - 1 - j];
                        if (st == 1 && c < 4) {
                            c = 3 - c;
                        }
                        l += llr[j][static_cast<std::size_t>(c)];
                    }
                    weights[o * static_cast<std::size_t>(n_strands) +
                            static_cast<std::size_t>(st)] = l;
                    best = std::max(best, l);
                }
            }
            double z = 0.0;
            std::size_t argmax = 0;
            for (std::size_t k = 0; k < weights.size(); ++k) {
                if (weights[k] == best) {
                    argmax = k;
                }
                weights[k] = std::exp(weights[k] - best);
                z += weights[k];
            }
            total_llr += best + std::log(z / static_cast<double>(weights.size()));
            result.offsets[s] = argmax / static_cast<std::size_t>(n_strands);
            result.reverse[s] = argmax % static_cast<std::size_t>(n_strands) == 1;
            for (std::size_t k = 0; k < weights.size(); ++k) {
                const double p = weights[k] / z;
                if (p < 1e-6) {
                    continue;
                }
                const std::size_t o = k / static_cast<std::size_t>(n_strands);
                const bool rev = k % static_cast<std::size_t>(n_strands) == 1;
                for (std::size_t j = 0; j < w; ++j) {
                    int c = rev ? x[o + w - 1 - j] : x[o + j];
                    if (c == 4) {
                        continue;
                    }
                    if (rev) {
                        c = 3 - c;
                    }
                    counts[j][static_cast<std::size_t>(c)] += p;
                }
            }
        }
        // M-step with a pseudocount spread by the background.
        double moved = 0.0;
        for (std::size_t j = 0; j < w; ++j) {
            const double n = counts[j][0] + counts[j][1] + counts[j][2] + counts[j][3];
            for (std::size_t b = 0; b < 4; ++b) {
                const double p = (counts[j][b] + options.pseudocount * background[b]) /
                                 (n + options.pseudocount);
                moved = std::max(moved, std::abs(p - probs[j][b]));
                probs[j][b] = p;
            }
        }
        result.iterations = iter + 1;
        result.log_likelihood_ratio = total_llr;
        if (moved < 1e-4) {
            break;
        }
    }
    result.motif.id = start.id;
    result.motif.alt = start.alt;
    result.motif.is_counts = false;
    result.motif.matrix = probs;
    result.motif.nsites = static_cast<double>(seqlets.size());
    return result;
}

std::vector<double> information_content(const Motif& motif) {
    std::vector<double> ic;
    for (const auto& row : motif.probabilities()) {
        double h = 0.0;
        for (double p : row) {
            if (p > 0) {
                h -= p * std::log2(p);
            }
        }
        ic.push_back(2.0 - h);
    }
    return ic;
}

Motif trim_motif(const Motif& motif, double min_bits) {
    const auto ic = information_content(motif);
    std::size_t first = 0;
    std::size_t last = ic.size();
    while (first < last && ic[first] < min_bits) {
        ++first;
    }
    while (last > first && ic[last - 1] < min_bits) {
        --last;
    }
    if (first == last) {
        first = static_cast<std::size_t>(std::max_element(ic.begin(), ic.end()) - ic.begin());
        last = first + 1;
    }
    Motif out = motif;
    out.matrix.assign(motif.matrix.begin() + static_cast<std::ptrdiff_t>(first),
                      motif.matrix.begin() + static_cast<std::ptrdiff_t>(last));
    return out;
}

Motif reverse_complement(const Motif& motif) {
    Motif out = motif;
    out.matrix.clear();
    for (auto it = motif.matrix.rbegin(); it != motif.matrix.rend(); ++it) {
        out.matrix.push_back({(*it)[3], (*it)[2], (*it)[1], (*it)[0]});
    }
    return out;
}

std::vector<TomtomMatch> tomtom(const Motif& query,
                                const std::vector<Motif>& targets,
                                const TomtomOptions& options) {
    if (targets.empty()) {
        return {};
    }
    const auto q = query.probabilities();
    const std::size_t wq = q.size();
    const double res = options.resolution;
    auto to_int = [res](double v) {
        return static_cast<int>(std::lround(v / res));
    };
    const int max_unit = to_int(1.0);  // PCC in [-1, 1] -> [-max_unit, max_unit]
    const std::size_t n_bins = static_cast<std::size_t>(2 * max_unit + 1);

    // Every target column in both orientations, and per query column its null histogram.
    std::vector<std::vector<std::array<double, 4>>> fwd_cols(targets.size());
    std::vector<std::vector<std::array<double, 4>>> rev_cols(targets.size());
    std::vector<std::vector<double>> null(wq, std::vector<double>(n_bins, 0.0));
    double n_cols = 0;
    for (std::size_t t = 0; t < targets.size(); ++t) {
        fwd_cols[t] = targets[t].probabilities();
        rev_cols[t] = reverse_complement(targets[t]).probabilities();
        for (const auto* cols : {&fwd_cols[t], &rev_cols[t]}) {
            for (const auto& col : *cols) {
                for (std::size_t i = 0; i < wq; ++i) {
                    null[i][static_cast<std::size_t>(to_int(pearson(q[i], col)) + max_unit)] += 1;
                }
                n_cols += 1;
            }
        }
    }
    for (auto& h : null) {
        for (auto& v : h) {
            v /= n_cols;
        }
    }
    // tails[a][len-1][s - min] = P(sum over query columns a..a+len-1 >= s); min = -len*max_unit.
    std::vector<std::vector<std::vector<double>>> tails(wq);
    for (std::size_t a = 0; a < wq; ++a) {
        std::vector<double> dist{1.0};
        for (std::size_t b = a; b < wq; ++b) {
            std::vector<double> next(dist.size() + n_bins - 1, 0.0);
            for (std::size_t i = 0; i < dist.size(); ++i) {
                if (dist[i] == 0) {
                    continue;
                }
                for (std::size_t k = 0; k < n_bins; ++k) {
                    next[i + k] += dist[i] * null[b][k];
                }
            }
            dist = std::move(next);
            std::vector<double> tail(dist.size() + 1, 0.0);
            for (std::size_t i = dist.size(); i-- > 0;) {
                tail[i] = std::min(1.0, tail[i + 1] + dist[i]);
            }
            tails[a].push_back(std::move(tail));
        }
    }

    std::vector<TomtomMatch> matches;
    for (std::size_t t = 0; t < targets.size(); ++t) {
        const std::size_t wt = fwd_cols[t].size();
        const std::size_t min_overlap = std::min({options.min_overlap, wq, wt});
        TomtomMatch best;
        best.target = t;
        best.pvalue = 2.0;
        int n_alignments = 0;
        for (int orient = 0; orient < 2; ++orient) {
            const auto& tc = orient == 0 ? fwd_cols[t] : rev_cols[t];
            // offset: query column 0 faces target column `offset`.
            for (int offset = -static_cast<int>(wq) + 1; offset < static_cast<int>(wt); ++offset) {
                const int qa = std::max(0, -offset);
                const int qb = std::min(static_cast<int>(wq), static_cast<int>(wt) - offset);
                const int overlap = qb - qa;
                if (overlap < static_cast<int>(min_overlap)) {
                    continue;
                }
                ++n_alignments;
                int sum = 0;
                double score = 0.0;
                for (int i = qa; i < qb; ++i) {
                    const double r = pearson(q[static_cast<std::size_t>(i)],
                                             tc[static_cast<std::size_t>(i + offset)]);
                    sum += to_int(r);
                    score += r;
                }
                const auto& tail =
                    tails[static_cast<std::size_t>(qa)][static_cast<std::size_t>(overlap - 1)];
                const int shifted = sum + overlap * max_unit;
                const double p = tail[static_cast<std::size_t>(
                    std::clamp(shifted, 0, static_cast<int>(tail.size()) - 1))];
                if (p < best.pvalue || (p == best.pvalue && score > best.score)) {
                    best.pvalue = p;
                    best.score = score;
                    best.offset = offset;
                    best.overlap = overlap;
                    best.reverse = orient == 1;
                }
            }
        }
        const double p_min = std::min(best.pvalue, 1.0);
        // Tomtom's correction for the alignments tried: 1 - (1 - p)^n, computed stably.
        best.pvalue = n_alignments > 0
                          ? -std::expm1(static_cast<double>(n_alignments) * std::log1p(-p_min))
                          : 1.0;
        if (p_min >= 1.0) {
            best.pvalue = 1.0;
        }
        best.evalue = best.pvalue * static_cast<double>(targets.size());
        matches.push_back(best);
    }
    std::stable_sort(
        matches.begin(), matches.end(), [](const TomtomMatch& a, const TomtomMatch& b) {
            return a.pvalue != b.pvalue ? a.pvalue < b.pvalue : a.score > b.score;
        });
    double running = 1.0;
    const double m = static_cast<double>(matches.size());
    for (std::size_t r = matches.size(); r-- > 0;) {
        running = std::min(running, matches[r].pvalue * m / static_cast<double>(r + 1));
        matches[r].qvalue = running;
    }
    return matches;
}

std::string tomtom_tsv_header() {
    return "Query_ID\tTarget_ID\tOptimal_offset\tp-value\tE-value\tq-value\tOverlap\t"
           "Query_consensus\tTarget_consensus\tOrientation\n";
}

std::string tomtom_tsv_line(const Motif& query,
                            const std::vector<Motif>& targets,
                            const TomtomMatch& match) {
    const auto& target = targets.at(match.target);
    const Motif oriented = match.reverse ? reverse_complement(target) : target;
    return fmt::format("{}\t{}\t{}\t{:.3g}\t{:.3g}\t{:.3g}\t{}\t{}\t{}\t{}\n",
                       query.id,
                       target.id,
                       match.offset,
                       match.pvalue,
                       match.evalue,
                       match.qvalue,
                       match.overlap,
                       consensus(query.probabilities()),
                       consensus(oriented.probabilities()),
                       match.reverse ? '-' : '+');
}

std::string logo_svg(const Motif& motif) {
    constexpr double kColumn = 40.0;  // px per position
    constexpr double kBitPx = 60.0;   // px per bit
    constexpr double kLeft = 40.0;
    constexpr double kTop = 20.0;
    constexpr double kCapHeight = 0.72;  // cap height / font size of a bold sans-serif font
    const auto probs = motif.probabilities();
    const auto ic = information_content(motif);
    const double width = kLeft + kColumn * static_cast<double>(probs.size()) + 10;
    const double height = kTop + 2 * kBitPx + 40;
    const double base_y = kTop + 2 * kBitPx;
    std::string svg = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
        "viewBox=\"0 0 {0:.0f} {1:.0f}\">\n"
        "<title>{2} {3}</title>\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        width,
        height,
        xml_escape(motif.id),
        xml_escape(motif.alt));
    // Axis: 0, 1, 2 bits.
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n",
                       kLeft - 4,
                       kTop,
                       base_y);
    for (int b = 0; b <= 2; ++b) {
        const double y = base_y - b * kBitPx;
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"12\" text-anchor=\"end\" "
            "font-family=\"sans-serif\">{}</text>\n",
            kLeft - 8,
            y + 4,
            b);
    }
    svg += fmt::format(
        "<text x=\"12\" y=\"{:.1f}\" font-size=\"12\" font-family=\"sans-serif\" "
        "transform=\"rotate(-90 12 {:.1f})\" text-anchor=\"middle\">bits</text>\n",
        kTop + kBitPx,
        kTop + kBitPx);
    static constexpr std::array<const char*, 4> kColours = {
        "#109648", "#255C99", "#F7B32B", "#D62839"};
    static constexpr std::array<char, 4> kLetters = {'A', 'C', 'G', 'T'};
    constexpr double kFont = 100.0;
    for (std::size_t j = 0; j < probs.size(); ++j) {
        std::array<std::size_t, 4> order = {0, 1, 2, 3};
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return probs[j][a] < probs[j][b];
        });  // smallest at the bottom, largest on top
        double y = base_y;
        const double x = kLeft + kColumn * static_cast<double>(j);
        for (std::size_t b : order) {
            const double h = probs[j][b] * std::max(ic[j], 0.0) * kBitPx;
            if (h < 0.5) {
                continue;
            }
            const double sy = h / (kFont * kCapHeight);
            const double sx = kColumn / (kFont * 0.68);  // bold capital advance ~0.68 em
            svg += fmt::format(
                "<text transform=\"translate({:.2f},{:.2f}) scale({:.4f},{:.4f})\" "
                "font-family=\"Helvetica,Arial,sans-serif\" font-weight=\"bold\" "
                "font-size=\"{:.0f}\" fill=\"{}\">{}</text>\n",
                x,
                y,
                sx,
                sy,
                kFont,
                kColours[b],
                kLetters[b]);
            y -= h;
        }
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\" "
            "font-family=\"sans-serif\">{}</text>\n",
            x + kColumn / 2,
            base_y + 16,
            j + 1);
    }
    svg += "</svg>\n";
    return svg;
}

}  // namespace evoscope::genomics
