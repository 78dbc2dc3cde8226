// vkml: the command line. `vkml --help` lists the commands; `vkml CMD --help` explains one.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli.hpp"
#include "vkml/device.hpp"
#include "vkml/error.hpp"

namespace {

void print_help() {
    std::printf(
        "vkml: portable GPU compute on Vulkan\n\n"
        "usage: vkml COMMAND [options]\n\ncommands:\n");
    for (const auto& [name, cmd] : vkml::cli::commands())
        std::printf("  %-12s %s\n", name.c_str(), cmd.summary.c_str());
    std::printf("\ncommon options:\n%s", vkml::cli::kCommonOptions);
    std::printf(
        "\nenvironment:\n"
        "  VKML_DEVICE            default device (index or part of its name)\n"
        "  VKML_VALIDATION=1      Vulkan validation layers with synchronization checks; a command\n"
        "                         that raised validation messages exits with status 3\n"
        "  VKML_MAX_BUFFER_RANGE  lower maxStorageBufferRange (bytes), to exercise range splitting\n"
        "  VKML_CACHE_DIR         pipeline cache folder (default $XDG_CACHE_HOME/vkml)\n");
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        print_help();
        return args.empty() ? 2 : 0;
    }
    const auto& cmds = vkml::cli::commands();
    auto it = cmds.find(args[0]);
    if (it == cmds.end()) {
        std::fprintf(stderr, "vkml: unknown command '%s' (see vkml --help)\n", args[0].c_str());
        return 2;
    }
    try {
        vkml::cli::Args parsed(std::vector<std::string>(args.begin() + 1, args.end()), {});
        if (parsed.has("help")) {
            std::printf("%s\n\noptions common to every command:\n%s", it->second.usage.c_str(),
                        vkml::cli::kCommonOptions);
            return 0;
        }
        if (parsed.has("validation")) setenv("VKML_VALIDATION", "1", 1);
        const int rc = it->second.run(parsed);
        // With validation on, any message the layers raised fails the command (the suite runs
        // the demo this way).
        if (const uint64_t n = vkml::Device::validation_message_count(); n > 0) {
            std::fprintf(stderr, "vkml: %llu validation message(s); the last: %s\n",
                         static_cast<unsigned long long>(n), vkml::Device::last_validation_message().c_str());
            return rc != 0 ? rc : 3;
        }
        return rc;
    } catch (const vkml::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
