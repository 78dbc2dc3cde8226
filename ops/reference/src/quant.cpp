// Per-element reference of q8_0, q4_0 and q6_k (see docs/quantization.md for the layouts).
#include "vkml/reference/quant.hpp"

#include <cmath>
#include <cstring>

namespace vkml::reference {

namespace {

float half_at(const uint8_t* p) { return half_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

void set_half(uint8_t* p, float v) {
    const uint16_t h = float_to_half(v);
    std::memcpy(p, &h, 2);  // little-endian hosts only, like GGUF
}

}  // namespace

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
    const DTypeInfo& info = dtype_info(t);
    const size_t nb = x.size() / info.block_elems;
    std::vector<uint8_t> out(nb * info.block_bytes, 0);
    for (size_t b = 0; b < nb; ++b) {
        const float* xb = &x[b * info.block_elems];
        uint8_t* ob = &out[b * info.block_bytes];
        if (t == DType::q8_0) {
            float amax = 0;
            for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
            const float d = amax / 127.0f;
            const float id = d == 0.0f ? 0.0f : 1.0f / d;
            set_half(ob, d);
            for (int j = 0; j < 32; ++j) {
                const int8_t q = static_cast<int8_t>(std::roundf(xb[j] * id));
                std::memcpy(ob + 2 + j, &q, 1);
            }
        } else if (t == DType::q4_0) {
            int jmax = 0;  // first index of the largest magnitude
            for (int j = 1; j < 32; ++j)
                if (std::fabs(xb[j]) > std::fabs(xb[jmax])) jmax = j;
            const float d = xb[jmax] / -8.0f;
            const float id = d == 0.0f ? 0.0f : 1.0f / d;
            set_half(ob, d);
            for (int j = 0; j < 32; ++j) {
                int q = static_cast<int8_t>(xb[j] * id + 8.5f);
                if (q > 15) q = 15;
                // element j < 16: low nibble of byte j; element j >= 16: high nibble of byte j-16
                ob[2 + j % 16] |= static_cast<uint8_t>(j < 16 ? q : q << 4);
            }
        } else {
            // Sub-scale s_g = absmax_g / 31 quantized against d = max_g s_g / 127.
            float smax = 0;
            for (int g = 0; g < 16; ++g)
                for (int i = 0; i < 16; ++i) smax = std::fmax(smax, std::fabs(xb[16 * g + i]) / 31.0f);
            const float d = smax / 127.0f;
            set_half(ob + 208, d);
            const float dh = half_at(ob + 208);
            for (int g = 0; g < 16; ++g) {
                float amax = 0;
                for (int i = 0; i < 16; ++i) amax = std::fmax(amax, std::fabs(xb[16 * g + i]));
                const int sc = dh == 0.0f ? 0 : static_cast<int>(std::lround(amax / 31.0f / dh));
                const int8_t sc8 = static_cast<int8_t>(sc > 127 ? 127 : sc);
                std::memcpy(ob + 192 + g, &sc8, 1);
                for (int i = 0; i < 16; ++i) {
                    const int e = 16 * g + i;
                    const float step = dh * sc8;
                    long q = step == 0.0f ? 0 : std::lround(xb[e] / step);
                    q = q < -32 ? -32 : (q > 31 ? 31 : q);
                    const int u = static_cast<int>(q + 32);
                    const int h = e / 128, j = e % 128, quarter = j / 32, l = j % 32;
                    ob[64 * h + l + 32 * (quarter & 1)] |= static_cast<uint8_t>((u & 0xF) << (4 * (quarter >> 1)));
                    ob[128 + 32 * h + l] |= static_cast<uint8_t>((u >> 4) << (2 * quarter));
                }
            }
        }
    }
    return out;
}

float dequantize_element(DType t, const uint8_t* blocks, int64_t i) {
    const DTypeInfo& info = dtype_info(t);
    const uint8_t* b = blocks + (i / info.block_elems) * info.block_bytes;
    const int e = static_cast<int>(i % info.block_elems);
    if (t == DType::q8_0) return half_at(b) * static_cast<float>(static_cast<int8_t>(b[2 + e]));
    if (t == DType::q4_0) {
        const int nib = e < 16 ? (b[2 + e] & 0xF) : (b[2 + e - 16] >> 4);
        return half_at(b) * static_cast<float>(nib - 8);
    }
    // q6_k: element e = 128 h + 32 quarter + l.
    const int h = e / 128, j = e % 128, quarter = j / 32, l = j % 32;
    const int lo = (b[64 * h + l + 32 * (quarter & 1)] >> (4 * (quarter >> 1))) & 0xF;
    const int hi = (b[128 + 32 * h + l] >> (2 * quarter)) & 3;
    const int8_t sc = static_cast<int8_t>(b[192 + e / 16]);
    return half_at(b + 208) * static_cast<float>(sc) * static_cast<float>((lo | (hi << 4)) - 32);
}

std::vector<float> dequantize(DType t, const std::vector<uint8_t>& q, int64_t count) {
    std::vector<float> out(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = dequantize_element(t, q.data(), i);
    return out;
}

std::vector<float> matmul_quantized(DType t, const std::vector<uint8_t>& w, const std::vector<float>& x,
                                    int64_t m, int64_t n, int64_t k) {
    const std::vector<float> wf = dequantize(t, w, m * k);
    std::vector<float> y(static_cast<size_t>(n * m));
    for (int64_t c = 0; c < n; ++c)
        for (int64_t r = 0; r < m; ++r) {
            double acc = 0;
            for (int64_t i = 0; i < k; ++i)
                acc += static_cast<double>(x[static_cast<size_t>(c * k + i)]) * wf[static_cast<size_t>(r * k + i)];
            y[static_cast<size_t>(c * m + r)] = static_cast<float>(acc);
        }
    return y;
}

}  // namespace vkml::reference
