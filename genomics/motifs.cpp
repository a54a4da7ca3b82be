#include "genomics/motifs.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/strings.hpp"

namespace evoscope::genomics {

namespace {

constexpr std::array<char, 4> kLetters = {'A', 'C', 'G', 'T'};

/// Lines of a text with their 1-based numbers; trailing '\r' removed.
class LineCursor {
public:
    LineCursor(std::string_view text, std::string_view source) : text_(text), source_(source) {}

    /// Next line (false at the end).
    bool next(std::string_view& line) {
        if (pos_ >= text_.size()) {
            return false;
        }
        const auto nl = text_.find('\n', pos_);
        const auto end = nl == std::string_view::npos ? text_.size() : nl;
        line = text_.substr(pos_, end - pos_);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        pos_ = end + 1;
        ++line_no_;
        return true;
    }

    /// Next line that is not blank (false at the end).
    bool next_nonblank(std::string_view& line) {
        while (next(line)) {
            if (!trim(line).empty()) {
                return true;
            }
        }
        return false;
    }

    /// Steps back over the line just read (one level only).
    void unread(std::string_view line) {
        pos_ = static_cast<std::size_t>(line.data() - text_.data());
        --line_no_;
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError(fmt::format("{}:{}: {}", source_, line_no_, what));
    }

    int line_no() const { return line_no_; }

private:
    std::string_view text_;
    std::string_view source_;
    std::size_t pos_ = 0;
    int line_no_ = 0;
};

bool parse_number(std::string_view token, double& value) {
    if (!token.empty() && token.front() == '+') {
        token.remove_prefix(1);
    }
    const auto* end = token.data() + token.size();
    auto [ptr, ec] = std::from_chars(token.data(), end, value);
    return ec == std::errc() && ptr == end && std::isfinite(value);
}

double number_or_fail(const LineCursor& cur, std::string_view token, std::string_view what) {
    double value = 0.0;
    if (!parse_number(token, value)) {
        cur.fail(fmt::format("invalid {} '{}'", what, token));
    }
    return value;
}

/// One JASPAR row: optional letter label, optional brackets, numbers. Returns the numbers.
std::vector<double> parse_jaspar_row(const LineCursor& cur,
                                     std::string_view line,
                                     int row,
                                     bool& labelled) {
    std::string cleaned(trim(line));
    labelled = false;
    if (!cleaned.empty() && std::isalpha(static_cast<unsigned char>(cleaned.front())) != 0) {
        const char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(cleaned[0])));
        if (letter != kLetters[static_cast<std::size_t>(row)]) {
            cur.fail(fmt::format("expected the row of {} but found '{}'",
                                 kLetters[static_cast<std::size_t>(row)],
                                 cleaned.front()));
        }
        labelled = true;
        cleaned.erase(0, 1);
    }
    const auto open = cleaned.find('[');
    const auto close = cleaned.find(']');
    if ((open == std::string::npos) != (close == std::string::npos) ||
        (open != std::string::npos && close < open)) {
        cur.fail("unbalanced '[' ']' in a matrix row");
    }
    if (open != std::string::npos) {
        if (!trim(std::string_view(cleaned).substr(0, open)).empty() ||
            !trim(std::string_view(cleaned).substr(close + 1)).empty()) {
            cur.fail("unexpected text outside '[ ]' in a matrix row");
        }
        cleaned = cleaned.substr(open + 1, close - open - 1);
    }
    std::vector<double> values;
    for (auto token : split_whitespace(cleaned)) {
        const double v = number_or_fail(cur, token, "count");
        if (v < 0) {
            cur.fail(fmt::format("negative count '{}'", token));
        }
        values.push_back(v);
    }
    if (values.empty()) {
        cur.fail("a matrix row has no numbers");
    }
    return values;
}

MotifFile parse_jaspar(LineCursor& cur) {
    MotifFile file;
    file.format = MotifFormat::Pfm;
    std::string_view line;
    bool first = true;
    while (cur.next_nonblank(line)) {
        const auto header = trim(line);
        if (header.front() != '>') {
            cur.fail("expected a '>ID name' header line");
        }
        Motif motif;
        motif.is_counts = true;
        const auto fields = split_whitespace(header.substr(1));
        if (fields.empty()) {
            cur.fail("a '>' header without a motif id");
        }
        motif.id = std::string(fields[0]);
        for (std::size_t i = 1; i < fields.size(); ++i) {
            motif.alt += (i > 1 ? " " : "") + std::string(fields[i]);
        }
        std::array<std::vector<double>, 4> rows;
        for (int r = 0; r < 4; ++r) {
            if (!cur.next_nonblank(line) || trim(line).front() == '>') {
                cur.fail(fmt::format(
                    "motif {} has {} rows; a JASPAR matrix has 4 (A, C, G, T)", motif.id, r));
            }
            bool labelled = false;
            rows[static_cast<std::size_t>(r)] = parse_jaspar_row(cur, line, r, labelled);
            if (first && r == 0) {
                file.format = labelled ? MotifFormat::Jaspar : MotifFormat::Pfm;
            }
            if (r > 0 && rows[static_cast<std::size_t>(r)].size() != rows[0].size()) {
                cur.fail(fmt::format("row {} of motif {} has {} columns, row A has {}",
                                     kLetters[static_cast<std::size_t>(r)],
                                     motif.id,
                                     rows[static_cast<std::size_t>(r)].size(),
                                     rows[0].size()));
            }
        }
        first = false;
        motif.matrix.resize(rows[0].size());
        double max_sum = 0.0;
        for (std::size_t j = 0; j < rows[0].size(); ++j) {
            double sum = 0.0;
            for (std::size_t b = 0; b < 4; ++b) {
                motif.matrix[j][b] = rows[b][j];
                sum += rows[b][j];
            }
            if (sum <= 0.0) {
                cur.fail(fmt::format("column {} of motif {} has no counts", j + 1, motif.id));
            }
            max_sum = std::max(max_sum, sum);
        }
        motif.nsites = max_sum;
        file.motifs.push_back(std::move(motif));
    }
    return file;
}

/// "key= value" pairs of a `letter-probability matrix:` line (also "key=value").
std::vector<std::pair<std::string, std::string>> key_values(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto tokens = split_whitespace(text);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto eq = tokens[i].find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        std::string key(tokens[i].substr(0, eq));
        std::string value(tokens[i].substr(eq + 1));
        if (value.empty() && i + 1 < tokens.size()) {
            value = std::string(tokens[++i]);
        }
        out.emplace_back(std::move(key), std::move(value));
    }
    return out;
}

MotifFile parse_meme(LineCursor& cur) {
    MotifFile file;
    file.format = MotifFormat::Meme;
    std::string_view line;
    cur.next_nonblank(line);  // the version line, checked by the caller
    while (cur.next(line)) {
        const auto t = trim(line);
        if (t.empty()) {
            continue;
        }
        if (starts_with(t, "ALPHABET")) {
            const auto eq = t.find('=');
            const auto alphabet = eq == std::string_view::npos ? t : trim(t.substr(eq + 1));
            if (alphabet != "ACGT") {
                cur.fail(
                    fmt::format("only the DNA alphabet ACGT is supported, not '{}'", alphabet));
            }
        } else if (starts_with(t, "strands:")) {
            continue;
        } else if (starts_with(t, "Background letter frequencies")) {
            std::array<double, 4> bg{};
            std::array<bool, 4> seen{};
            while (!(seen[0] && seen[1] && seen[2] && seen[3])) {
                if (!cur.next_nonblank(line)) {
                    cur.fail("incomplete background letter frequencies");
                }
                const auto tokens = split_whitespace(line);
                if (tokens.size() % 2 != 0 || tokens.empty()) {
                    cur.fail("background frequencies must be letter/frequency pairs");
                }
                for (std::size_t i = 0; i + 1 < tokens.size(); i += 2) {
                    const auto it = std::find(kLetters.begin(), kLetters.end(), tokens[i][0]);
                    if (tokens[i].size() != 1 || it == kLetters.end()) {
                        cur.fail(fmt::format("unknown background letter '{}'", tokens[i]));
                    }
                    const auto b = static_cast<std::size_t>(it - kLetters.begin());
                    bg[b] = number_or_fail(cur, tokens[i + 1], "background frequency");
                    seen[b] = true;
                }
            }
            file.background = bg;
        } else if (starts_with(t, "MOTIF")) {
            const auto fields = split_whitespace(t);
            if (fields.size() < 2 || fields[0] != "MOTIF") {
                cur.fail("a MOTIF line needs an id");
            }
            Motif motif;
            motif.id = std::string(fields[1]);
            for (std::size_t i = 2; i < fields.size(); ++i) {  // the rest of the line
                motif.alt += (i > 2 ? " " : "") + std::string(fields[i]);
            }
            // Lines up to the matrix header (MEME output puts other lines there).
            bool found = false;
            while (cur.next(line)) {
                const auto u = trim(line);
                if (starts_with(u, "letter-probability matrix")) {
                    found = true;
                    break;
                }
                if (starts_with(u, "MOTIF")) {
                    break;
                }
            }
            if (!found) {
                cur.fail(
                    fmt::format("motif {} has no 'letter-probability matrix:' line", motif.id));
            }
            const auto colon = line.find(':');
            std::int64_t w = -1;
            for (const auto& [key, value] : key_values(line.substr(colon + 1))) {
                if (key == "alength") {
                    if (value != "4") {
                        cur.fail(fmt::format("alength= {} (only 4, DNA, is supported)", value));
                    }
                } else if (key == "w") {
                    const double v = number_or_fail(cur, value, "w=");
                    // A bound before the conversion: w= 1e41 does not fit an integer (found by
                    // fuzz_motifs); no motif is anywhere near 100,000 columns.
                    if (!(v >= 1 && v <= kMaxMotifWidth) || v != std::floor(v)) {
                        cur.fail(fmt::format("invalid w= '{}' (1 to {})", value, kMaxMotifWidth));
                    }
                    w = static_cast<std::int64_t>(v);
                } else if (key == "nsites") {
                    motif.nsites = number_or_fail(cur, value, "nsites=");
                    if (motif.nsites <= 0) {
                        cur.fail(fmt::format("invalid nsites= '{}'", value));
                    }
                }
            }
            // Rows: W when w= is given, otherwise every following numeric row.
            while (w < 0 || static_cast<std::int64_t>(motif.matrix.size()) < w) {
                if (!cur.next(line)) {
                    break;
                }
                const auto tokens = split_whitespace(line);
                if (tokens.empty()) {
                    if (w < 0 && !motif.matrix.empty()) {
                        break;
                    }
                    continue;
                }
                double probe = 0.0;
                if (!parse_number(tokens[0], probe)) {
                    if (w >= 0) {
                        cur.fail(fmt::format("motif {}: expected {} matrix rows, found {}",
                                             motif.id,
                                             w,
                                             motif.matrix.size()));
                    }
                    cur.unread(line);
                    break;
                }
                if (tokens.size() != 4) {
                    cur.fail(fmt::format("a matrix row needs 4 numbers, found {}", tokens.size()));
                }
                std::array<double, 4> row{};
                double sum = 0.0;
                for (std::size_t b = 0; b < 4; ++b) {
                    row[b] = number_or_fail(cur, tokens[b], "probability");
                    if (row[b] < 0) {
                        cur.fail(fmt::format("negative probability '{}'", tokens[b]));
                    }
                    sum += row[b];
                }
                if (std::abs(sum - 1.0) > 0.1) {
                    cur.fail(fmt::format("matrix row sums to {:.4g}, not 1", sum));
                }
                motif.matrix.push_back(row);
            }
            if (motif.matrix.empty() ||
                (w >= 0 && static_cast<std::int64_t>(motif.matrix.size()) != w)) {
                cur.fail(fmt::format("motif {}: expected {} matrix rows, found {}",
                                     motif.id,
                                     w,
                                     motif.matrix.size()));
            }
            file.motifs.push_back(std::move(motif));
        }
        // Anything else (URL lines, comments, MEME's other sections) is ignored.
    }
    return file;
}

}  // namespace

std::string_view motif_format_name(MotifFormat format) {
    switch (format) {
        case MotifFormat::Jaspar:
            return "jaspar";
        case MotifFormat::Pfm:
            return "pfm";
        case MotifFormat::Meme:
            return "meme";
    }
    return "?";
}

std::vector<std::array<double, 4>> Motif::probabilities() const {
    std::vector<std::array<double, 4>> out(matrix.size());
    for (std::size_t j = 0; j < matrix.size(); ++j) {
        double sum = 0.0;
        for (double v : matrix[j]) {
            sum += v;
        }
        for (std::size_t b = 0; b < 4; ++b) {
            out[j][b] = sum > 0 ? matrix[j][b] / sum : 0.25;
        }
    }
    return out;
}

std::string consensus(const std::vector<std::array<double, 4>>& probabilities) {
    std::string out;
    for (const auto& row : probabilities) {
        const auto best =
            static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
        const char c = kLetters[best];
        out +=
            row[best] >= 0.5 ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

MotifFile parse_motifs(std::string_view text, std::string_view source) {
    LineCursor cur(text, source);
    std::string_view line;
    if (!cur.next_nonblank(line)) {
        throw FormatError(fmt::format("{}: no motif in an empty file", source));
    }
    const auto first = trim(line);
    MotifFile file;
    if (starts_with(first, "MEME version")) {
        LineCursor meme(text, source);
        file = parse_meme(meme);
    } else if (first.front() == '>') {
        LineCursor jaspar(text, source);
        file = parse_jaspar(jaspar);
    } else {
        cur.fail(
            "not a motif file: expected 'MEME version' (MEME) or a '>ID name' header "
            "(JASPAR)");
    }
    if (file.motifs.empty()) {
        throw FormatError(fmt::format("{}: no motif found", source));
    }
    return file;
}

MotifFile read_motifs(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw IoError(fmt::format("cannot read motif file {}", path.string()));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return parse_motifs(buffer.str(), path.string());
}

std::string format_meme(const std::vector<Motif>& motifs, const std::array<double, 4>& background) {
    std::string out = "MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n";
    out += fmt::format("Background letter frequencies\nA {:.4f} C {:.4f} G {:.4f} T {:.4f}\n\n",
                       background[0],
                       background[1],
                       background[2],
                       background[3]);
    for (const auto& motif : motifs) {
        out += "MOTIF " + motif.id + (motif.alt.empty() ? "" : " " + motif.alt) + "\n";
        out += fmt::format("letter-probability matrix: alength= 4 w= {} nsites= {:g} E= 0\n",
                           motif.width(),
                           motif.nsites);
        for (const auto& row : motif.probabilities()) {
            out += fmt::format("{:.6f} {:.6f} {:.6f} {:.6f}\n", row[0], row[1], row[2], row[3]);
        }
        out += "\n";
    }
    return out;
}

}  // namespace evoscope::genomics
