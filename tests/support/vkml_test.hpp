// Test support: every device present, NMSE, random data, and a fixture that fails a test on
// any Vulkan validation message.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "vkml/vkml.hpp"

namespace vkml::test {

// Every Vulkan device present, opened once per test binary (VKML_TEST_DEVICE narrows it).
const std::vector<std::shared_ptr<Device>>& devices();

// Normalised mean squared error: sum((ref-got)^2) / sum(ref^2); infinity on a size mismatch or
// any non-finite value in `got`.
double nmse(const std::vector<float>& ref, const std::vector<float>& got);

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// Base fixture: records the validation-message count before each test and fails the test if
// it grew.
class VkmlTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

private:
    uint64_t validation_before_ = 0;
};

}  // namespace vkml::test

// Expects `stmt` to throw vkml::Error of `kind` whose message contains `substr`.
#define EXPECT_VKML_ERROR(stmt, kind_, substr)                                               \
    do {                                                                                     \
        try {                                                                                \
            stmt;                                                                            \
            ADD_FAILURE() << "expected vkml::Error from: " #stmt;                            \
        } catch (const ::vkml::Error& e_) {                                                  \
            EXPECT_EQ(e_.kind(), (kind_)) << e_.what();                                      \
            EXPECT_NE(std::string(e_.what()).find(substr), std::string::npos)                \
                << "message '" << e_.what() << "' lacks '" << (substr) << "'";               \
        }                                                                                    \
    } while (0)

#define EXPECT_NMSE_LE(ref, got, bound)                                                      \
    do {                                                                                     \
        const double nmse_ = ::vkml::test::nmse((ref), (got));                               \
        EXPECT_LE(nmse_, (bound)) << "NMSE " << nmse_ << " over " << (ref).size() << " values"; \
    } while (0)
