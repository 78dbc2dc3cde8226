// `vkml devices`: every Vulkan device and what vkml reads of its compute capabilities.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.hpp"
#include "vkml/device.hpp"

namespace vkml::cli {
namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string bytes(uint64_t b) {
    char buf[64];
    if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
    else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
    else std::snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(b >> 10));
    return buf;
}

std::string hex(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%04x", v);
    return buf;
}

int run(const Args& args) {
    args.expect_only({});
    const auto& devs = list_devices();
    if (devs.empty()) {
        std::printf("no Vulkan devices found (Debian: apt-get install mesa-vulkan-drivers)\n");
        return 1;
    }
    const uint32_t chosen = select_device(args.get_or("device", ""));
    std::vector<std::pair<std::string, std::vector<std::string>>> rows;
    auto row = [&](const std::string& key, auto get) {
        std::vector<std::string> cells;
        for (const Capabilities& c : devs) cells.push_back(get(c));
        rows.emplace_back(key, std::move(cells));
    };
    row("name", [](const Capabilities& c) { return c.name; });
    row("type", [](const Capabilities& c) { return std::string(to_string(c.type)); });
    row("vulkan", [](const Capabilities& c) { return c.api_version_string(); });
    row("vendor:device", [](const Capabilities& c) { return hex(c.vendor_id) + ":" + hex(c.device_id); });
    row("driver", [](const Capabilities& c) { return c.driver_name + " " + c.driver_info; });
    row("subgroup size", [](const Capabilities& c) {
        std::string s = std::to_string(c.subgroup_size);
        if (c.min_subgroup_size != c.max_subgroup_size)
            s += " (" + std::to_string(c.min_subgroup_size) + "-" + std::to_string(c.max_subgroup_size) + ")";
        return s;
    });
    row("subgroup ops", [](const Capabilities& c) {
        std::string s;
        if (c.subgroup_basic) s += "basic ";
        if (c.subgroup_arithmetic) s += "arith ";
        if (c.subgroup_shuffle) s += "shuffle ";
        if (c.subgroup_ballot) s += "ballot";
        return s.empty() ? std::string("none") : s;
    });
    row("fp16 storage/math", [](const Capabilities& c) { return yes_no(c.fp16_storage) + " / " + yes_no(c.fp16_arithmetic); });
    row("int8 storage/math", [](const Capabilities& c) { return yes_no(c.int8_storage) + " / " + yes_no(c.int8_arithmetic); });
    row("integer dot product", [](const Capabilities& c) {
        return c.integer_dot_product ? (c.integer_dot_product_accelerated ? "accelerated" : "yes (not accelerated)") : "no";
    });
    row("cooperative matrix", [](const Capabilities& c) { return yes_no(c.cooperative_matrix); });
    row("shared memory", [](const Capabilities& c) { return bytes(c.max_shared_memory); });
    row("max workgroup", [](const Capabilities& c) {
        return std::to_string(c.max_workgroup_invocations) + " (" + std::to_string(c.max_workgroup_size[0]) + "x" +
               std::to_string(c.max_workgroup_size[1]) + "x" + std::to_string(c.max_workgroup_size[2]) + ")";
    });
    row("max workgroup count", [](const Capabilities& c) {
        return std::to_string(c.max_workgroup_count[0]) + "x" + std::to_string(c.max_workgroup_count[1]) + "x" +
               std::to_string(c.max_workgroup_count[2]);
    });
    row("storage buffer range", [](const Capabilities& c) {
        std::string s = bytes(c.max_storage_buffer_range);
        if (c.max_storage_buffer_range != c.device_storage_buffer_range)
            s += " (lowered from " + bytes(c.device_storage_buffer_range) + ")";
        return s;
    });
    row("max allocation", [](const Capabilities& c) { return bytes(c.max_allocation_size); });
    row("memory heaps", [](const Capabilities& c) {
        std::string s;
        for (const MemoryHeap& h : c.heaps) s += (s.empty() ? "" : ", ") + bytes(h.size) + (h.device_local ? " local" : "");
        return s;
    });
    row("unified memory", [](const Capabilities& c) { return yes_no(c.unified_memory); });
    row("timestamp period", [](const Capabilities& c) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3g ns", c.timestamp_period_ns);
        return c.timestamp_period_ns > 0 ? std::string(buf) : std::string("none");
    });

    size_t key_w = 0;
    std::vector<size_t> col_w(devs.size(), 0);
    for (const auto& [k, cells] : rows) {
        key_w = std::max(key_w, k.size());
        for (size_t i = 0; i < cells.size(); ++i) col_w[i] = std::max(col_w[i], cells[i].size());
    }
    std::printf("%-*s", static_cast<int>(key_w), "");
    for (size_t i = 0; i < devs.size(); ++i) {
        const std::string head = "[" + std::to_string(i) + "]" + (i == chosen ? " (default)" : "");
        std::printf("  %-*s", static_cast<int>(col_w[i]), head.c_str());
    }
    std::printf("\n");
    for (const auto& [k, cells] : rows) {
        std::printf("%-*s", static_cast<int>(key_w), k.c_str());
        for (size_t i = 0; i < cells.size(); ++i) std::printf("  %-*s", static_cast<int>(col_w[i]), cells[i].c_str());
        std::printf("\n");
    }
    return 0;
}

const bool registered = register_command({
    "devices",
    "list every Vulkan device and its compute capabilities",
    "usage: vkml devices [--device SEL]\n\n"
    "Prints one column per Vulkan device (CPU devices such as lavapipe included) with the\n"
    "capabilities vkml reads; the device vkml would use is marked (default).",
    run,
});

}  // namespace
}  // namespace vkml::cli
