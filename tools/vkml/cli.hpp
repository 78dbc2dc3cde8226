// The `vkml` command line: a registry of subcommands, each in its own cmd_*.cpp file.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vkml::cli {

// Parsed arguments: `--name value`, `--name=value`, `--flag`, and positionals.
class Args {
public:
    Args(std::vector<std::string> argv, std::vector<std::string> flags_without_value);
    bool has(const std::string& name) const;
    std::optional<std::string> get(const std::string& name) const;
    std::string get_or(const std::string& name, const std::string& fallback) const;
    long long get_int(const std::string& name, long long fallback) const;  // throws on junk
    double get_float(const std::string& name, double fallback) const;
    const std::vector<std::string>& positionals() const { return positionals_; }
    // Throws vkml::Error naming any option not in `known`.
    void expect_only(const std::vector<std::string>& known) const;

private:
    std::map<std::string, std::string> options_;
    std::vector<std::string> positionals_;
};

struct Command {
    std::string name;
    std::string summary;  // one line for `vkml --help`
    std::string usage;    // full text for `vkml NAME --help`
    std::function<int(const Args&)> run;
};

// Called from static initializers in cmd_*.cpp.
bool register_command(Command c);
const std::map<std::string, Command>& commands();

// Options every command accepts.
inline const char* kCommonOptions =
    "  --device SEL   device index or part of its name (default: $VKML_DEVICE, else the best GPU)\n"
    "  --validation   enable Vulkan validation layers (same as VKML_VALIDATION=1)\n"
    "  -h, --help     show this help\n";

}  // namespace vkml::cli
