#include "vkml_test.hpp"

#include <cmath>
#include <cstdlib>

namespace vkml::test {

const std::vector<std::shared_ptr<Device>>& devices() {
    static const std::vector<std::shared_ptr<Device>> all = [] {
        std::vector<std::shared_ptr<Device>> out;
        const char* only = std::getenv("VKML_TEST_DEVICE");
        if (only && *only) {
            out.push_back(Device::open(only));
            return out;
        }
        for (uint32_t i = 0; i < list_devices().size(); ++i) out.push_back(Device::open_index(i));
        return out;
    }();
    return all;
}

double nmse(const std::vector<float>& ref, const std::vector<float>& got) {
    if (ref.size() != got.size()) return INFINITY;
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(got[i])) return INFINITY;
        const double d = static_cast<double>(ref[i]) - got[i];
        num += d * d;
        den += static_cast<double>(ref[i]) * ref[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

void VkmlTest::SetUp() {
    ASSERT_FALSE(devices().empty()) << "no Vulkan device: install mesa-vulkan-drivers";
    validation_before_ = Device::validation_message_count();
}

void VkmlTest::TearDown() {
    const uint64_t after = Device::validation_message_count();
    EXPECT_EQ(after, validation_before_)
        << "Vulkan validation reported " << (after - validation_before_)
        << " message(s); last: " << Device::last_validation_message();
}

}  // namespace vkml::test
