// Host quantizers following ggml's reference code block for block (see docs/quantization.md).
#include "vkml/ops/quant_cpu.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "vkml/error.hpp"

namespace vkml::ops {

namespace {

constexpr float kGroupMaxEps = 1e-15f;

void put_half(uint8_t* p, float v) {
    const uint16_t h = float_to_half(v);
    p[0] = static_cast<uint8_t>(h & 0xFF);
    p[1] = static_cast<uint8_t>(h >> 8);
}
float get_half(const uint8_t* p) { return half_to_float(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

// Round half to even, as ggml's nearest_int (the float magic-number trick) does.
int nearest_int(float v) { return static_cast<int>(std::nearbyint(v)); }

void quantize_q8_0(const float* x, uint8_t* b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(b, d);
    for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
}

void quantize_q4_0(const float* x, uint8_t* b) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j)
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(b, d);
    for (int j = 0; j < 16; ++j) {
        const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
        const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
        b[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
}

// ggml make_qx_quants with rmse_type 1 (weights x^2): the scale of n values at levels
// [-nmax, nmax-1], levels + nmax written to L.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, 0);
        return 0;
    }
    auto level = [&](float iscale, int i) { return std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))); };
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = level(iscale, i);
        L[i] = static_cast<int8_t>(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = level(iscale, i);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + level(iscale, i));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Q6_K super-block: ql[128] low nibbles, qh[64] high 2-bit pairs, scales[16], f16 d.
void quantize_q6_k(const float* x, uint8_t* b) {
    int8_t L[256];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
        scales[ib] = scale;
        if (std::fabs(scale) > max_abs_scale) {
            max_abs_scale = std::fabs(scale);
            max_scale = scale;
        }
    }
    std::memset(b, 0, 210);
    if (max_abs_scale < kGroupMaxEps) return;
    uint8_t* ql = b;
    uint8_t* qh = b + 128;
    int8_t* sc = reinterpret_cast<int8_t*>(b + 192);
    const float iscale = -128.0f / max_scale;
    put_half(b + 208, 1.0f / iscale);
    for (int ib = 0; ib < 16; ++ib) sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    const float dd = get_half(b + 208);
    for (int j = 0; j < 16; ++j) {
        const float d = dd * sc[j];
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) {
            const int l = std::max(-32, std::min(31, nearest_int(x[16 * j + i] / d)));
            L[16 * j + i] = static_cast<int8_t>(l + 32);
        }
    }
    for (int h = 0; h < 2; ++h) {
        const int8_t* Lh = L + 128 * h;
        for (int l = 0; l < 32; ++l) {
            ql[64 * h + l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
            ql[64 * h + l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
            qh[32 * h + l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
                                                  ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
        }
    }
}

void dequantize_block(DType t, const uint8_t* b, float* y) {
    if (t == DType::q8_0) {
        const float d = get_half(b);
        for (int j = 0; j < 32; ++j) y[j] = d * static_cast<int8_t>(b[2 + j]);
    } else if (t == DType::q4_0) {
        const float d = get_half(b);
        for (int j = 0; j < 16; ++j) {
            y[j] = d * ((b[2 + j] & 0xF) - 8);
            y[j + 16] = d * ((b[2 + j] >> 4) - 8);
        }
    } else {
        const float d = get_half(b + 208);
        const uint8_t* ql = b;
        const uint8_t* qh = b + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
        for (int h = 0; h < 2; ++h) {
            for (int l = 0; l < 32; ++l) {
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                const int is = l / 16;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

const DTypeInfo& checked_info(const char* op, DType t, int64_t count) {
    if (!is_quantized(t))
        throw Error(ErrorKind::InvalidArgument, std::string(op) + ": " + std::string(dtype_name(t)) +
                                                    " is not a block-quantized type");
    const DTypeInfo& info = dtype_info(t);
    if (count < 0 || count % info.block_elems != 0)
        throw Error(ErrorKind::InvalidArgument, std::string(op) + ": " + std::to_string(count) +
                                                    " elements is not a multiple of the " +
                                                    std::string(info.name) + " block of " +
                                                    std::to_string(info.block_elems));
    return info;
}

}  // namespace

void quantize_cpu(DType t, const float* x, int64_t count, uint8_t* out) {
    const DTypeInfo& info = checked_info("quantize_cpu", t, count);
    for (int64_t b = 0; b < count / info.block_elems; ++b) {
        const float* xb = x + b * info.block_elems;
        uint8_t* ob = out + b * info.block_bytes;
        if (t == DType::q8_0) quantize_q8_0(xb, ob);
        else if (t == DType::q4_0) quantize_q4_0(xb, ob);
        else quantize_q6_k(xb, ob);
    }
}

std::vector<uint8_t> quantize_cpu(DType t, const std::vector<float>& x) {
    const int64_t count = static_cast<int64_t>(x.size());
    checked_info("quantize_cpu", t, count);
    std::vector<uint8_t> out(dtype_bytes(t, static_cast<uint64_t>(count)));
    quantize_cpu(t, x.data(), count, out.data());
    return out;
}

void dequantize_cpu(DType t, const uint8_t* q, int64_t count, float* out) {
    const DTypeInfo& info = checked_info("dequantize_cpu", t, count);
    for (int64_t b = 0; b < count / info.block_elems; ++b)
        dequantize_block(t, q + b * info.block_bytes, out + b * info.block_elems);
}

std::vector<float> dequantize_cpu(DType t, const std::vector<uint8_t>& q, int64_t count) {
    checked_info("dequantize_cpu", t, count);
    if (q.size() < dtype_bytes(t, static_cast<uint64_t>(count)))
        throw Error(ErrorKind::InvalidArgument, "dequantize_cpu: " + std::to_string(q.size()) +
                                                    " bytes are too few for " + std::to_string(count) +
                                                    " " + std::string(dtype_name(t)) + " elements");
    std::vector<float> out(static_cast<size_t>(count));
    dequantize_cpu(t, q.data(), count, out.data());
    return out;
}

}  // namespace vkml::ops
