// The record model's small methods (the readers are in their own files).
#include "genomics/annotation.hpp"

namespace evoscope::genomics {

const std::string* AnnotationFeature::attribute(std::string_view key) const {
    for (const auto& [k, v] : attributes) {
        if (k == key)
            return &v;
    }
    return nullptr;
}

void Annotation::finalize() {
    id_index.clear();
    child_index.clear();
    for (std::size_t i = 0; i < features.size(); ++i) {
        if (!features[i].id.empty())
            id_index.emplace(features[i].id, i);
        for (const auto& p : features[i].parents)
            child_index[p].push_back(i);
    }
}

std::optional<std::size_t> Annotation::find(std::string_view id) const {
    const auto it = id_index.find(id);
    if (it == id_index.end())
        return std::nullopt;
    return it->second;
}

std::vector<std::size_t> Annotation::children(std::size_t index) const {
    const auto& id = features.at(index).id;
    if (id.empty())
        return {};
    const auto it = child_index.find(id);
    return it == child_index.end() ? std::vector<std::size_t>{} : it->second;
}

std::size_t Annotation::count(std::string_view type) const {
    std::size_t n = 0;
    for (const auto& f : features)
        if (f.type == type)
            ++n;
    return n;
}

}  // namespace evoscope::genomics
