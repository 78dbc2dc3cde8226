#include "matmul_quant.hpp"

#include <string>

#include "vkml/error.hpp"

namespace vkml::ops::detail {

void matmul_quantized(Stream&, const Tensor& w, const Tensor&, const Tensor&) {
    throw Error(ErrorKind::Unsupported,
                "matmul: quantized weights (" + w.describe() + ") are not implemented yet");
}

}  // namespace vkml::ops::detail
