#include "pipelines/cli.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/run_info.hpp"
#include "genomics/hts_info.hpp"
#include "pipelines/cmd_markov.hpp"
#include "pipelines/cmd_model.hpp"
#include "pipelines/cmd_run.hpp"
#include "pipelines/cmd_sae.hpp"
#include "pipelines/cmd_variants_windows.hpp"
#include "pipelines/cmd_windows.hpp"

namespace evoscope::pipelines {
namespace {

std::string& command_line_storage() {
    static std::string text;
    return text;
}

std::vector<std::string>& argv_storage() {
    static std::vector<std::string> args;
    return args;
}

const TorchRunners*& torch_storage() {
    static const TorchRunners* runners = nullptr;
    return runners;
}

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

std::string version_text() {
    return std::string("evoscope ") + version_string() + "\nUsing htslib " +
           genomics::htslib_version() + "\nUsing libtorch " + EVOSCOPE_TORCH_VERSION +
           " (" EVOSCOPE_TORCH_FLAVOUR ", in evoscope-torch)\nUsing libBigWig " +
           genomics::libbigwig_version() + "\n";
}

/// The subcommand named on the command line, for the `[E::name]` prefix of parse errors:
/// the command whose app name (and parent's name, for nested ones) appear in argv.
std::string subcommand_in_argv(int argc, char** argv, const std::vector<Command>& commands) {
    std::string best = "evoscope";
    std::size_t best_depth = 0;
    for (const auto& c : commands) {
        std::vector<std::string> path;
        for (const CLI::App* a = c.app; a != nullptr && a->get_parent() != nullptr; a = a->get_parent()) {
            path.insert(path.begin(), a->get_name());
        }
        std::size_t matched = 0;
        for (int i = 1; i < argc && matched < path.size(); ++i) {
            if (path[matched] == argv[i]) ++matched;
        }
        if (matched > best_depth) {
            best_depth = matched;
            best = matched == path.size() ? c.name : path.front();
        }
    }
    return best;
}

constexpr const char* kFooter =
    "Coordinates: region strings on the command line are 1-based inclusive (samtools style);\n"
    "BED, bedGraph and bigWig outputs are 0-based half-open.\n"
    "Exit status: 0 success, 1 error in the input, 2 usage error, 3 internal error.";

}  // namespace

const std::string& command_line() {
    return command_line_storage();
}

void add_common_options(CLI::App& app, CommonOptions& options) {
    app.add_flag("-v,--verbose", options.verbose, "More messages on stderr (repeat for more)");
    app.add_flag("-q,--quiet", options.quiet, "Only warnings and errors on stderr");
    app.add_option("--verbosity", options.verbosity,
                   "Log level: off, error, warn, info, debug, trace (or 0-5)");
    app.add_option("-t,--threads", options.threads, "Worker threads; 0 = all cores [0]")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--log-file", options.log_file, "Also append log lines to this file");
}

void apply_common_options(const CommonOptions& options) {
    log::Level level = log::Level::Info;
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
    if (torch_storage() != nullptr && torch_storage()->set_threads != nullptr) {
        torch_storage()->set_threads(options.threads);
    }
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

std::vector<Command> register_all(CLI::App& root, const TorchRunners* torch) {
    std::vector<Command> commands;
    commands.push_back(register_windows(root));
    commands.push_back(register_variants_windows(root));
    commands.push_back(register_run(root));
    commands.push_back(register_markov(root));
    for (auto& c : register_model_commands(root, torch)) {
        commands.push_back(std::move(c));
    }
    for (auto& c : register_sae_commands(root, torch)) {
        commands.push_back(std::move(c));
    }
    return commands;
}

void exec_torch_companion() {
    std::filesystem::path companion;
    if (const char* env = std::getenv("EVOSCOPE_TORCH_BIN"); env != nullptr && *env != '\0') {
        companion = env;
    } else {
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        companion = (ec ? std::filesystem::path(argv_storage().at(0)).parent_path() : self.parent_path()) /
                    "evoscope-torch";
    }
    std::vector<char*> args;
    std::string argv0 = companion.string();
    args.push_back(argv0.data());
    for (std::size_t i = 1; i < argv_storage().size(); ++i) {
        args.push_back(argv_storage()[i].data());
    }
    args.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    ::execv(argv0.c_str(), args.data());
    throw IoError("cannot run '" + argv0 + "' (" + std::strerror(errno) +
                  "): the model commands run in evoscope-torch, installed beside evoscope; "
                  "set EVOSCOPE_TORCH_BIN to its path");
}

int main_entry(int argc, char** argv, const TorchRunners* torch) {
    torch_storage() = torch;
    argv_storage().assign(argv, argv + argc);
    for (int i = 0; i < argc; ++i) {
        command_line_storage() += (i == 0 ? "evoscope" : " " + quote_arg(argv[i]));
    }
    CLI::App app{"evoscope: interpretability for DNA foundation models (Evo 2 / StripedHyena 2).\n"
                 "Streams genomic windows, runs the model, trains sparse autoencoders and aligns\n"
                 "their features with genome annotations.",
                 "evoscope"};
    app.footer(kFooter);
    app.require_subcommand(0, 1);
    bool show_version = false;
    bool show_version_only = false;
    app.add_flag("-V,--version", show_version, "Print versions of evoscope, htslib and libtorch");
    app.add_flag("--version-only", show_version_only, "Print the evoscope version alone");

    const std::vector<Command> commands = register_all(app, torch);

    if (argc <= 1) {
        std::cerr << app.help() << "\n";
        return kExitError;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return kExitOk;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return kExitOk;
    } catch (const CLI::ParseError& e) {
        std::cerr << "[E::" << subcommand_in_argv(argc, argv, commands) << "] " << e.what()
                  << "\n[E::" << subcommand_in_argv(argc, argv, commands)
                  << "] run with --help for the options\n";
        return kExitUsage;
    }
    if (show_version) {
        std::cout << version_text();
        return kExitOk;
    }
    if (show_version_only) {
        std::cout << version_string() << "+htslib-" << genomics::htslib_version() << "\n";
        return kExitOk;
    }
    for (const auto& command : commands) {
        if (!command.app->parsed()) {
            continue;
        }
        log::set_context(command.name);
        const RunClock clock;
        try {
            const int code = command.run();
            EVOSCOPE_LOG_INFO("{}", clock.summary(command_line()));
            return code;
        } catch (const UsageError& e) {
            log::write(log::Level::Error, e.what());
            return kExitUsage;
        } catch (const InternalError& e) {
            log::write(log::Level::Error, std::string(e.what()) +
                                              " (this is a bug: please report it with the command line)");
            return kExitBug;
        } catch (const Error& e) {
            log::write(log::Level::Error, e.what());
            return kExitError;
        } catch (const std::exception& e) {
            log::write(log::Level::Error, std::string("unexpected error: ") + e.what() +
                                              " (this is a bug: please report it with the command line)");
            return kExitBug;
        }
    }
    std::cerr << app.help() << "\n";
    return kExitError;
}

}  // namespace evoscope::pipelines
