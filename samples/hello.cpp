// The smallest program that embeds vkml: open a device, upload, run one op, read back.
#include <cstdio>
#include <vector>

#include "vkml/ops/elementwise.hpp"
#include "vkml/vkml.hpp"

int main() try {
    auto device = vkml::Device::open();  // $VKML_DEVICE, or the best device present
    std::printf("device: %s\n", device->caps().name.c_str());

    std::vector<float> values = {-2.0f, -1.0f, 0.0f, 1.0f, 2.0f};
    vkml::Tensor x = vkml::Tensor::from_floats(*device, vkml::DType::f32, {5}, values);
    vkml::Tensor y = vkml::Tensor::empty(*device, vkml::DType::f32, {5});

    vkml::Stream stream(*device);
    vkml::ops::silu(stream, x, y);  // recorded, not yet run
    stream.finish();                // submit and wait

    for (float v : y.to_floats()) std::printf("%.4f ", v);
    std::printf("\n");
    return 0;
} catch (const vkml::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
}
