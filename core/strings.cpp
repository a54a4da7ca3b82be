#include "core/strings.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>

#include "core/error.hpp"

namespace evoscope {

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    std::size_t begin = 0;
    while (true) {
        const std::size_t pos = text.find(sep, begin);
        if (pos == std::string_view::npos) {
            out.push_back(text.substr(begin));
            return out;
        }
        out.push_back(text.substr(begin, pos - begin));
        begin = pos + 1;
    }
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
            ++i;
        const std::size_t begin = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t')
            ++i;
        if (i > begin)
            out.push_back(text.substr(begin, i - begin));
    }
    return out;
}

std::string_view trim(std::string_view text) {
    const auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
    };
    while (!text.empty() && is_space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_space(text.back()))
        text.remove_suffix(1);
    return text;
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

std::int64_t parse_int64(std::string_view text, std::string_view what) {
    std::int64_t value = 0;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (first != last && *first == '+')
        ++first;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (text.empty() || ec != std::errc() || ptr != last) {
        throw InputError("invalid " + std::string(what) + " '" + std::string(text) + "'");
    }
    return value;
}

std::int64_t parse_int64_commas(std::string_view text, std::string_view what) {
    std::string digits;
    digits.reserve(text.size());
    for (char c : text) {
        if (c != ',')
            digits.push_back(c);
    }
    if (digits.empty() || text.front() == ',' || text.back() == ',') {
        throw InputError("invalid " + std::string(what) + " '" + std::string(text) + "'");
    }
    try {
        return parse_int64(digits, what);
    } catch (const InputError&) {
        throw InputError("invalid " + std::string(what) + " '" + std::string(text) + "'");
    }
}

double parse_double(std::string_view text, std::string_view what) {
    const std::string s(text);
    std::size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(s, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (s.empty() || used != s.size()) {
        throw InputError("invalid " + std::string(what) + " '" + s + "'");
    }
    return value;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::vector<std::string> closest_names(std::string_view name,
                                       const std::vector<std::string>& candidates,
                                       std::size_t max_n) {
    std::vector<std::pair<std::size_t, std::string>> scored;
    scored.reserve(candidates.size());
    for (const auto& c : candidates) {
        scored.emplace_back(edit_distance(name, c), c);
    }
    std::stable_sort(scored.begin(), scored.end(), [](const auto& x, const auto& y) {
        return x.first < y.first;
    });
    std::vector<std::string> out;
    for (std::size_t i = 0; i < scored.size() && i < max_n; ++i) {
        out.push_back(scored[i].second);
    }
    return out;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace evoscope
