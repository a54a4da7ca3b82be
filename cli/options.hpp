/// @file
/// CLI11 option groups shared by several commands (the options structs they fill live in
/// pipelines/).
#pragma once

#include "pipelines/concepts.hpp"
#include "pipelines/window_source.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace evoscope::cli {

/// Adds the window-source options (--fasta, -r, -R, --window, --stride, ...) to `app`.
void add_window_source_options(CLI::App& app,
                               pipelines::WindowSourceOptions& options,
                               bool require_fasta);

/// Adds the annotation options (--annotations, --fasta, --format, --lenient, concept spans)
/// shared by `concepts` and `align`.
void add_concept_source_options(CLI::App& app, pipelines::ConceptSourceOptions& source);

}  // namespace evoscope::cli
