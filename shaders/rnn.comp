#version 450
// Head-wise recurrent cells after FlashRNN (Poeppel et al. 2024): the recurrent matrix is block
// diagonal over heads, so one workgroup runs one head for a few sequences over the whole
// sequence, with the head's recurrent weights in shared memory when they fit (spec constant 2
// is their length, 1 = read them from global memory, where they stay cache-resident).
// Invocation (j, s): hidden unit j of the head, sequence s of the group.
//   pre_g = wx[b,t,g,h,j] + sum_k R[h,g,j,k] y_{t-1}[h,k] + bias[g,h,j]
// LSTM  (gates i,f,z,o):  c = sig(f) c + sig(i) tanh(z);  y = sig(o) tanh(c)
// GRU   (wx gates r,z,n; R gates n,r,z; bias b_rn,b_r,b_z,b_xn):
//        r = sig(wx_r + Ry_r + b_r); z = sig(wx_z + Ry_z + b_z);
//        y = z y_prev + (1-z) tanh(wx_n + b_xn + r (Ry_n + b_rn))
// sLSTM (gates i,f,z,o; states y,c,n,m; xLSTM, Beck et al. 2024):
//        lf = logsigmoid(f) + m; m' = (n == 0) ? i : max(i, lf);
//        i' = exp(i - m'); f' = exp(lf - m'); c = f' c + i' tanh(z); n = f' n + i'; y = sig(o) c / n
//!variant rnn_lstm_f32 -DCELL_LSTM=1
//!variant rnn_gru_f32 -DCELL_GRU=1
//!variant rnn_slstm_f32 -DCELL_SLSTM=1
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint R_SHARED_LEN = 1;

#if defined(CELL_GRU)
const uint GW = 3, GR = 3, NS = 1;
#elif defined(CELL_SLSTM)
const uint GW = 4, GR = 4, NS = 4;
#else
const uint GW = 4, GR = 4, NS = 2;
#endif
const uint GB = 4;

layout(std430, binding = 0) readonly buffer Wx { float wx[]; };  // [Bt, L, GW, H, dh]
layout(std430, binding = 1) readonly buffer R { float Rw[]; };   // [H, GR, dh, dh]
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };  // [GB, H, dh]
layout(std430, binding = 3) buffer St { float state[]; };        // [Bt, NS, H, dh]
layout(std430, binding = 4) writeonly buffer Y { float y[]; };   // [Bt, L, H, dh]

layout(push_constant) uniform Params {
    uint batch;
    uint len;
    uint heads;
    uint t_begin;  // this dispatch runs steps [t_begin, t_end) of the sequence (a device with a
    uint t_end;    // loop-iteration limit, llvmpipe, runs long sequences in several dispatches)
    // Ranges (ops/src/ssm_common.hpp): element shifts of the bound windows.
    uint wx_shift;
    uint st_shift;
    uint y_shift;
} p;

const uint DH = gl_WorkGroupSize.x;
shared float Rs[R_SHARED_LEN];  // transposed per gate: [g][k][j], so lanes j read consecutively
shared float ybuf[2][gl_WorkGroupSize.y][gl_WorkGroupSize.x];

float sigm(float v) { return 1.0 / (1.0 + exp(-v)); }
// Clamped: some implementations' tanh overflows to NaN for large |v|.
float tanh_c(float v) { return tanh(clamp(v, -15.0, 15.0)); }
float logsigm(float v) { return min(v, 0.0) - log(1.0 + exp(-abs(v))); }

void main() {
    const uint j = gl_LocalInvocationID.x, sl = gl_LocalInvocationID.y;
    const uint h = gl_WorkGroupID.x;
    const uint b = gl_WorkGroupID.y * gl_WorkGroupSize.y + sl;
    const bool live = b < p.batch;
    const uint width = p.heads * DH;  // floats per token per gate
    const bool r_shared = R_SHARED_LEN == GR * DH * DH;
    if (r_shared) {
        const uint lin = sl * DH + j, stride = DH * gl_WorkGroupSize.y;
        for (uint e = lin; e < GR * DH * DH; e += stride) {
            const uint k = e % DH, jj = (e / DH) % DH, g = e / (DH * DH);
            Rs[(g * DH + k) * DH + jj] = Rw[h * GR * DH * DH + e];
        }
    }
    float st[NS];
    for (uint q = 0; q < NS; ++q) st[q] = live ? state[p.st_shift + ((b * NS + q) * p.heads + h) * DH + j] : 0.0;
    float bg[GB];
    for (uint g = 0; g < GB; ++g) bg[g] = bias[g * width + h * DH + j];
    ybuf[0][sl][j] = st[0];
    barrier();
    for (uint t = p.t_begin; t < p.t_end; ++t) {
        const uint cur = (t - p.t_begin) & 1u;
        float ry[GR];
        for (uint g = 0; g < GR; ++g) ry[g] = 0.0;
        for (uint k = 0; k < DH; ++k) {
            const float yk = ybuf[cur][sl][k];
            for (uint g = 0; g < GR; ++g)
                ry[g] += (r_shared ? Rs[(g * DH + k) * DH + j] : Rw[((h * GR + g) * DH + j) * DH + k]) * yk;
        }
        float x[GW];
        const uint base = p.wx_shift + (b * p.len + t) * GW * width + h * DH + j;
        for (uint g = 0; g < GW; ++g) x[g] = live ? wx[base + g * width] : 0.0;
#if defined(CELL_LSTM)
        const float ig = sigm(x[0] + ry[0] + bg[0]), fg = sigm(x[1] + ry[1] + bg[1]);
        const float zg = tanh_c(x[2] + ry[2] + bg[2]), og = sigm(x[3] + ry[3] + bg[3]);
        st[1] = fg * st[1] + ig * zg;
        st[0] = og * tanh_c(st[1]);
#elif defined(CELL_GRU)
        const float r = sigm(x[0] + ry[1] + bg[1]), z = sigm(x[1] + ry[2] + bg[2]);
        const float nn = tanh_c(x[2] + bg[3] + r * (ry[0] + bg[0]));
        st[0] = z * st[0] + (1.0 - z) * nn;
#else
        const float ir = x[0] + ry[0] + bg[0], fr = x[1] + ry[1] + bg[1];
        const float zr = x[2] + ry[2] + bg[2], orr = x[3] + ry[3] + bg[3];
        const float lf = logsigm(fr) + st[3];
        const float m = st[2] == 0.0 ? ir : max(ir, lf);
        const float ig = exp(ir - m), fg = exp(lf - m);
        st[1] = fg * st[1] + ig * tanh_c(zr);
        st[2] = fg * st[2] + ig;
        st[3] = m;
        st[0] = sigm(orr) * st[1] / st[2];
#endif
        if (live) y[p.y_shift + (b * p.len + t) * width + h * DH + j] = st[0];
        ybuf[cur ^ 1u][sl][j] = st[0];
        barrier();
    }
    if (live)
        for (uint q = 0; q < NS; ++q) state[p.st_shift + ((b * NS + q) * p.heads + h) * DH + j] = st[q];
}
