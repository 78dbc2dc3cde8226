// Head-wise recurrent cells (FlashRNN): LSTM, GRU and sLSTM with block-diagonal recurrent
// weights, over a sequence and as a single decode step. Equations: docs/ssm_kernels.md.
//
// The input projection is done beforehand (one matmul over the whole sequence) and passed as
// `wx`; the kernel runs the recurrence. Tensors are f32 and dense:
//   wx    [Bt, L, Gw, H*dh]  input pre-activations (Gw = 4 for LSTM/sLSTM, 3 for GRU)
//   R     [H, Gr, dh, dh]    recurrent (H and dh come from R) weights: Ry[g,h,j] = sum_k R[h,g,j,k] y_prev[h,k]
//   bias  [4, H, dh]
//   state [Bt, S, H, dh]      S = 2 (y, c) LSTM, 1 (y) GRU, 4 (y, c, n, m) sLSTM; initial
//                             state in, final state out (zeros start a sequence)
//   y     [Bt, L, H, dh]
// Gate orders: LSTM and sLSTM (i, f, z, o) for wx, R and bias. GRU: wx (r, z, n), R (n, r, z),
// bias (b_rn, b_r, b_z, b_xn). dh <= 256. wx, y and state larger than one storage-buffer binding
// run in ranges (blocks of sequences or time ranges, docs/ssm_kernels.md); R must fit one.
#pragma once

#include "vkml/stream.hpp"
#include "vkml/tensor.hpp"

namespace vkml::ops {

enum class RnnCell { Lstm, Gru, Slstm };

int rnn_input_gates(RnnCell cell);      // Gw
int rnn_recurrent_gates(RnnCell cell);  // Gr
int rnn_state_count(RnnCell cell);      // S

void rnn(Stream& s, RnnCell cell, const Tensor& wx, const Tensor& R, const Tensor& bias,
         const Tensor& y, const Tensor& state);
// Decode step: wx [Bt, Gw, H*dh], y [Bt, H, dh].
void rnn_step(Stream& s, RnnCell cell, const Tensor& wx, const Tensor& R, const Tensor& bias,
              const Tensor& y, const Tensor& state);

}  // namespace vkml::ops
