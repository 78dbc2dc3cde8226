// `vkml quantize`: an f32/f16 GGUF -> a GGUF with Q8_0, Q6_K or Q4_0 matrices (llama.cpp reads it).
#include <cstdio>
#include <cstring>

#include "model_cli.hpp"
#include "vkml/error.hpp"
#include "vkml/models/gguf.hpp"
#include "vkml/models/weights.hpp"
#include "vkml/ops/quant_cpu.hpp"

namespace vkml::cli {
namespace {

// llama.cpp's llama_ftype values for "mostly" one type.
uint32_t file_type(DType t) {
    switch (t) {
        case DType::q4_0: return 2;
        case DType::q8_0: return 7;
        case DType::q6_k: return 18;
        default: return 0;
    }
}

int run(const Args& args) {
    args.expect_only({"m", "model", "o", "type"});
    const std::string in = model_path(args);
    const auto out = args.get("o");
    if (!out) throw Error(ErrorKind::InvalidArgument, "-o OUT.gguf is required");
    const std::string type = args.get_or("type", "");
    DType target;
    if (type == "q8_0") target = DType::q8_0;
    else if (type == "q6_k") target = DType::q6_k;
    else if (type == "q4_0") target = DType::q4_0;
    else throw Error(ErrorKind::InvalidArgument, "--type must be q8_0, q6_k or q4_0, got '" + type + "'");
    const uint32_t block = dtype_info(target).block_elems;

    models::GgufFile file(in);
    models::GgufWriter writer;
    for (const auto& [key, value] : file.metadata()) writer.set(key, value);
    writer.set_u32("general.file_type", file_type(target));
    int quantized = 0, kept = 0;
    uint64_t bytes_in = 0, bytes_out = 0;
    for (const models::GgufTensorInfo& t : file.tensors()) {
        const uint8_t* data = file.tensor_data(t);
        bytes_in += t.bytes;
        // Matrices (rank >= 2) whose rows are whole blocks; norms, biases and odd widths stay.
        const bool matrix = t.shape.size() >= 2 && t.dtype && (*t.dtype == DType::f32 || *t.dtype == DType::f16);
        if (matrix && t.shape.back() % block == 0) {
            const std::vector<float> values =
                models::weight_to_floats(models::WeightInfo{*t.dtype, t.shape, data, t.bytes});
            const std::vector<uint8_t> q = ops::quantize_cpu(target, values);
            writer.add_tensor(t.name, target, t.shape, q.data(), q.size());
            bytes_out += q.size();
            ++quantized;
        } else {
            writer.add_tensor_raw(t.name, t.ggml_type, t.shape, data, t.bytes);
            bytes_out += t.bytes;
            ++kept;
        }
    }
    writer.write(*out);
    std::printf("%s -> %s: %d tensors quantized to %s, %d kept; tensor data %.2f MB -> %.2f MB\n", in.c_str(),
                out->c_str(), quantized, type.c_str(), kept, static_cast<double>(bytes_in) / 1e6,
                static_cast<double>(bytes_out) / 1e6);
    return 0;
}

const bool registered = register_command({
    "quantize",
    "write a Q8_0 / Q6_K / Q4_0 GGUF from an f32 or f16 GGUF",
    "usage: vkml quantize -m MODEL.gguf -o OUT.gguf --type q8_0|q6_k|q4_0\n\n"
    "Quantizes every matrix whose rows are whole blocks (32 weights for q8_0/q4_0, 256 for q6_k)\n"
    "with the GGUF reference quantizers; other tensors are copied. Metadata is copied and\n"
    "general.file_type set, so llama.cpp and vkml read the result.",
    run,
});

}  // namespace
}  // namespace vkml::cli
