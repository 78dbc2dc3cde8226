#include "cli.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "vkml/error.hpp"

namespace vkml::cli {

namespace {
bool looks_like_option(const std::string& a) {
    return (a.rfind("--", 0) == 0 && a.size() > 2) ||
           (a.size() > 1 && a[0] == '-' && std::isalpha(static_cast<unsigned char>(a[1])));
}
}  // namespace

Args::Args(std::vector<std::string> argv, std::vector<std::string> flags) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a == "-h") {
            options_["help"] = "";
        } else if (looks_like_option(a)) {
            // --name, --name=value, and short -x options (-m MODEL, -n 32)
            const size_t skip = a[1] == '-' ? 2 : 1;
            const size_t eq = a.find('=');
            const std::string name = a.substr(skip, eq == std::string::npos ? std::string::npos : eq - skip);
            if (eq != std::string::npos) {
                options_[name] = a.substr(eq + 1);
            } else if (std::find(flags.begin(), flags.end(), name) != flags.end() || name == "help" ||
                       name == "validation" || i + 1 >= argv.size() || looks_like_option(argv[i + 1])) {
                options_[name] = "";  // a flag: no value follows
            } else {
                options_[name] = argv[++i];
            }
        } else {
            positionals_.push_back(a);
        }
    }
}

bool Args::has(const std::string& name) const { return options_.count(name) != 0; }

std::optional<std::string> Args::get(const std::string& name) const {
    auto it = options_.find(name);
    if (it == options_.end()) return std::nullopt;
    return it->second;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
    return get(name).value_or(fallback);
}

long long Args::get_int(const std::string& name, long long fallback) const {
    auto v = get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const long long x = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0')
        throw Error(ErrorKind::InvalidArgument, "--" + name + " expects an integer, got '" + *v + "'");
    return x;
}

double Args::get_float(const std::string& name, double fallback) const {
    auto v = get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0')
        throw Error(ErrorKind::InvalidArgument, "--" + name + " expects a number, got '" + *v + "'");
    return x;
}

void Args::expect_only(const std::vector<std::string>& known) const {
    for (const auto& [name, value] : options_) {
        if (name == "help" || name == "device" || name == "validation") continue;
        if (std::find(known.begin(), known.end(), name) == known.end())
            throw Error(ErrorKind::InvalidArgument, "unknown option --" + name + " (see --help)");
    }
}

static std::map<std::string, Command>& registry() {
    static std::map<std::string, Command> r;
    return r;
}

bool register_command(Command c) {
    registry()[c.name] = std::move(c);
    return true;
}

const std::map<std::string, Command>& commands() { return registry(); }

}  // namespace vkml::cli
