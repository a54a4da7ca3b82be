#include "cli/cli.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/run_info.hpp"
#include "genomics/hts_info.hpp"

namespace evoscope::cli {
namespace {

/// Options every command accepts (added by the driver, applied before the command runs).
struct CommonOptions {
    int verbose = 0;        ///< -v count
    bool quiet = false;     ///< -q: warnings and errors only
    std::string verbosity;  ///< --verbosity LEVEL (overrides -v/-q)
    int threads = 0;        ///< --threads (0 = all cores)
    std::string log_file;
};

/// The one-line description of each command group, in the order --help lists them.
struct GroupSpec {
    std::string_view name;
    std::string_view summary;
};

constexpr GroupSpec kGroups[] = {
    {"variants", "Variants: reference/alternate window pairs"},
    {"motifs", "Motifs: scan a genome (exact p-values), discover a feature's motif"},
    {"model",
     "The model: info, init, train, convert, score, embed (all but info run in evoscope-torch)"},
    {"sae", "Sparse autoencoders: train, eval, encode, convert (run in evoscope-torch)"},
};

std::string quote_arg(const std::string& arg) {
    if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) {
        return arg;
    }
    std::string out = "'";
    for (char c : arg) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out.push_back(c);
        }
    }
    return out + "'";
}

std::string full_name(const CommandSpec& spec) {
    return spec.group.empty() ? std::string(spec.name)
                              : fmt::format("{} {}", spec.group, spec.name);
}

/// The `[X::context]` of a command: "windows", "model-train", "sae-encode".
std::string context_name(const CommandSpec& spec) {
    return spec.group.empty() ? std::string(spec.name)
                              : fmt::format("{}-{}", spec.group, spec.name);
}

/// The command named by the first words of `args`, if any.
const CommandSpec* named_command(const std::vector<std::string>& args) {
    for (const auto& spec : command_table()) {
        if (spec.group.empty()) {
            if (args.size() > 1 && args[1] == spec.name) {
                return &spec;
            }
        } else if (args.size() > 2 && args[1] == spec.group && args[2] == spec.name) {
            return &spec;
        }
    }
    return nullptr;
}

/// The log context for messages about `args` before a command is known (parse errors).
std::string context_in_args(const std::vector<std::string>& args) {
    if (const auto* spec = named_command(args)) {
        return context_name(*spec);
    }
    if (args.size() > 1) {
        for (const auto& spec : command_table()) {
            if (args[1] == spec.group || args[1] == spec.name) {
                return args[1];
            }
        }
    }
    return "evoscope";
}

/// `evoscope --help`: every command, grouped by stage, from the table.
std::string command_listing() {
    std::string text = "Commands (evoscope COMMAND --help for its options):\n";
    std::size_t width = 0;
    for (const auto& spec : command_table()) {
        width = std::max(width, full_name(spec).size());
    }
    const auto add_section = [&](std::string_view title, std::string_view group) {
        text += fmt::format("\n{}:\n", title);
        for (const auto& spec : command_table()) {
            if (spec.group == group) {
                text += fmt::format("  {:<{}}  {}\n", full_name(spec), width, spec.summary);
            }
        }
    };
    add_section("Genome (no model)", "");
    for (const auto& group : kGroups) {
        add_section(group.summary, group.name);
    }
    return text;
}

std::string version_text(const MainHooks& hooks) {
    return fmt::format("evoscope {}\nUsing htslib {}\n{}Using libBigWig {}\n",
                       version_string(),
                       genomics::htslib_version(),
                       hooks.extra_versions,
                       genomics::libbigwig_version());
}

constexpr const char* kFooter =
    "Coordinates: region strings on the command line are 1-based inclusive (samtools style);\n"
    "BED, bedGraph and bigWig outputs are 0-based half-open.\n"
    "Exit status: 0 success, 1 error in the input, 2 usage error, 3 internal error.";

void add_common_options(CLI::App& app, CommonOptions& options) {
    auto* group = "Common options";
    app.add_flag("-v,--verbose", options.verbose, "More messages on stderr (-v debug, -vv trace)")
        ->group(group);
    app.add_flag("-q,--quiet", options.quiet, "Only warnings and errors on stderr")->group(group);
    app.add_option("--verbosity",
                   options.verbosity,
                   "Log level: off, error, warn, info, debug, trace (or 0-5); default info, or "
                   "$EVOSCOPE_LOG_LEVEL")
        ->group(group);
    app.add_option("-t,--threads", options.threads, "Worker threads; 0 = all cores")
        ->check(CLI::NonNegativeNumber)
        ->group(group);
    app.add_option("--log-file", options.log_file, "Also append log lines to this file")
        ->group(group);
}

void apply_common_options(const CommonOptions& options, const MainHooks& hooks) {
    log::Level level = log::environment_level().value_or(log::Level::Info);
    if (options.quiet) {
        level = log::Level::Warn;
    }
    if (options.verbose > 0) {
        level = log::level_from_verbosity(options.verbose + 1);
    }
    if (!options.verbosity.empty()) {
        level = log::parse_level(options.verbosity);
    }
    log::set_level(level);
    genomics::set_htslib_log_level(static_cast<int>(level) >= static_cast<int>(log::Level::Debug)
                                       ? static_cast<int>(level)
                                       : 1);
    if (!options.log_file.empty()) {
        log::set_log_file(options.log_file);
    }
    if (hooks.set_threads != nullptr) {
        hooks.set_threads(options.threads);
    }
}

/// Replaces this process with `evoscope-torch` (beside this executable, or $EVOSCOPE_TORCH_BIN)
/// run with `args`. Returns only by throwing IoError.
[[noreturn]] void exec_torch_companion(std::vector<std::string> args) {
    std::filesystem::path companion;
    if (const char* env = std::getenv("EVOSCOPE_TORCH_BIN"); env != nullptr && *env != '\0') {
        companion = env;
    } else {
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        companion = (ec ? std::filesystem::path(args.at(0)).parent_path() : self.parent_path()) /
                    "evoscope-torch";
    }
    std::string argv0 = companion.string();
    std::vector<char*> pointers;
    pointers.push_back(argv0.data());
    for (std::size_t i = 1; i < args.size(); ++i) {
        pointers.push_back(args[i].data());
    }
    pointers.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    ::execv(argv0.c_str(), pointers.data());
    throw IoError("cannot run '" + argv0 + "' (" + std::strerror(errno) +
                  "): the model commands run in evoscope-torch, installed beside evoscope; "
                  "set EVOSCOPE_TORCH_BIN to its path");
}

/// Runs `fn` and maps what it throws to an exit code with one `[E::context]` line.
int run_with_exit_code(const std::function<void()>& fn, const MainHooks& hooks) {
    try {
        try {
            fn();
            return kExitOk;
        } catch (const Error&) {
            throw;
        } catch (const std::filesystem::filesystem_error& e) {
            // The environment refused a file operation (a parent that is a file, no permission):
            // an input error, not a bug.
            const std::string path =
                e.path1().empty() ? std::string() : " '" + e.path1().string() + "'";
            throw IoError(
                fmt::format("cannot {}{}: {}", "create or access", path, e.code().message()));
        } catch (const std::exception& e) {
            if (hooks.translate_exception != nullptr) {
                hooks.translate_exception(e);
            }
            throw;
        }
    } catch (const UsageError& e) {
        log::write(log::Level::Error, e.what());
        return kExitUsage;
    } catch (const InternalError& e) {
        log::write(
            log::Level::Error,
            std::string(e.what()) + " (this is a bug: please report it with the command line)");
        return kExitBug;
    } catch (const Error& e) {
        log::write(log::Level::Error, e.what());
        return kExitError;
    } catch (const std::exception& e) {
        log::write(log::Level::Error,
                   std::string("unexpected error: ") + e.what() +
                       " (this is a bug: please report it with the command line)");
        return kExitBug;
    }
}

}  // namespace

const std::vector<CommandAlias>& command_aliases() {
    static const std::vector<CommandAlias> aliases = {
        {"variants-windows", "variants", "windows"},
        {"convert", "model", "convert"},
        {"score", "model", "score"},
        {"embed", "model", "embed"},
        {"train-sae", "sae", "train"},
        {"eval-sae", "sae", "eval"},
        {"encode", "sae", "encode"},
        {"convert-sae", "sae", "convert"},
    };
    return aliases;
}

const CommandAlias* rewrite_alias(std::vector<std::string>& args) {
    if (args.size() < 2) {
        return nullptr;
    }
    for (const auto& alias : command_aliases()) {
        if (args[1] == alias.old_name) {
            args[1] = alias.name;
            args.insert(args.begin() + 1, std::string(alias.group));
            return &alias;
        }
    }
    return nullptr;
}

void exclusive_with_resume(CLI::App& app, CLI::Option* resume, std::vector<CLI::Option*> others) {
    app.parse_complete_callback([resume, others = std::move(others)] {
        if (resume->count() == 0) {
            return;
        }
        for (const auto* o : others) {
            if (o->count() > 0) {
                throw CLI::ExcludesError(resume->get_name(), o->get_name());
            }
        }
    });
}

int main_entry(int argc, char** argv, const MainHooks& hooks) {
    std::vector<std::string> args(argv, argv + argc);
    std::string typed = "evoscope";
    for (int i = 1; i < argc; ++i) {
        typed += " " + quote_arg(argv[i]);
    }
    set_command_line(typed);

    if (const auto* alias = rewrite_alias(args)) {
        log::set_context("evoscope");
        log::write(log::Level::Warn,
                   fmt::format("'evoscope {}' is deprecated: use 'evoscope {} {}'",
                               alias->old_name,
                               alias->group,
                               alias->name));
    }
    // A libtorch command in the torch-free binary: hand the whole command line over, --help
    // included.
    if (const auto* spec = named_command(args); spec != nullptr && spec->setup == nullptr) {
        log::set_context(context_name(*spec));
        return run_with_exit_code([&] { exec_torch_companion(args); }, hooks);
    }

    CLI::App app{
        "evoscope: interpretability for DNA foundation models (Evo 2 / StripedHyena 2).\n"
        "Streams genomic windows, runs the model, trains sparse autoencoders and aligns\n"
        "their features with genome annotations.",
        "evoscope"};
    // Help shows each option's default from the options struct it is bound to: never typed twice.
    app.option_defaults()->always_capture_default();
    app.footer(command_listing() + "\n" + kFooter);
    app.require_subcommand(0, 1);
    bool show_version = false;
    bool show_version_only = false;
    app.add_flag("-V,--version", show_version, "Print versions of evoscope and its libraries");
    app.add_flag("--version-only", show_version_only, "Print the evoscope version alone");

    std::map<std::string_view, CLI::App*> groups;
    for (const auto& group : kGroups) {
        auto* sub = app.add_subcommand(std::string(group.name), std::string(group.summary));
        sub->require_subcommand(1);
        sub->footer(kFooter);
        sub->group("");  // listed by command_listing() instead
        groups[group.name] = sub;
    }

    struct Registered {
        const CommandSpec* spec;
        CLI::App* app;
        RunFn run;
        std::shared_ptr<CommonOptions> common;
    };

    std::vector<Registered> registered;
    for (const auto& spec : command_table()) {
        CLI::App* parent = &app;
        if (!spec.group.empty()) {
            const auto it = groups.find(spec.group);
            if (it == groups.end()) {
                std::cerr << "[E::evoscope] command table: unknown group '" << spec.group
                          << "' (a bug)\n";
                return kExitBug;
            }
            parent = it->second;
        }
        auto* sub = parent->add_subcommand(std::string(spec.name), std::string(spec.summary));
        if (parent == &app) {
            sub->group("");  // listed by command_listing() instead
        }
        Registered r{&spec, sub, nullptr, std::make_shared<CommonOptions>()};
        if (spec.setup != nullptr) {
            r.run = spec.setup(*sub);
            add_common_options(*sub, *r.common);
        }
        registered.push_back(std::move(r));
    }

    if (argc <= 1) {
        std::cerr << app.help() << "\n";
        return kExitError;
    }
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11 takes them reversed
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return kExitOk;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return kExitOk;
    } catch (const CLI::ParseError& e) {
        const std::string context = context_in_args(args);
        std::cerr << "[E::" << context << "] " << e.what() << "\n[E::" << context
                  << "] run with --help for the options\n";
        return kExitUsage;
    }
    if (show_version) {
        std::cout << version_text(hooks);
        return kExitOk;
    }
    if (show_version_only) {
        std::cout << version_string() << "+htslib-" << genomics::htslib_version() << "\n";
        return kExitOk;
    }
    for (const auto& r : registered) {
        if (!r.app->parsed() || !r.run) {
            continue;
        }
        log::set_context(context_name(*r.spec));
        const RunClock clock;
        const int code = run_with_exit_code(
            [&] {
                apply_common_options(*r.common, hooks);
                r.run();
            },
            hooks);
        if (code == kExitOk) {
            EVOSCOPE_LOG_INFO("{}", clock.summary(command_line()));
        }
        return code;
    }
    std::cerr << app.help() << "\n";
    return kExitError;
}

}  // namespace evoscope::cli
