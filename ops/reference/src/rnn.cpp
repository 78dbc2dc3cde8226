#include "vkml/reference/rnn.hpp"

#include <algorithm>
#include <cmath>

namespace vkml::reference {

namespace {
double sigm(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double logsigm(double v) { return std::min(v, 0.0) - std::log1p(std::exp(-std::abs(v))); }
}  // namespace

std::vector<float> rnn(RnnCellRef cell, const std::vector<float>& wx, const std::vector<float>& R,
                       const std::vector<float>& bias, std::vector<float>& state, int64_t batch,
                       int64_t len, int64_t heads, int64_t dh) {
    const int64_t gw = cell == RnnCellRef::Gru ? 3 : 4, gr = gw;
    const int64_t ns = cell == RnnCellRef::Lstm ? 2 : cell == RnnCellRef::Gru ? 1 : 4;
    const int64_t width = heads * dh;
    std::vector<float> y(batch * len * width);
    std::vector<double> ry(gr * dh), st(ns * dh), x(gw);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h) {
            for (int64_t q = 0; q < ns; ++q)
                for (int64_t j = 0; j < dh; ++j) st[q * dh + j] = state[((b * ns + q) * heads + h) * dh + j];
            for (int64_t t = 0; t < len; ++t) {
                for (int64_t g = 0; g < gr; ++g)
                    for (int64_t j = 0; j < dh; ++j) {
                        double acc = 0.0;
                        for (int64_t k = 0; k < dh; ++k) acc += R[((h * gr + g) * dh + j) * dh + k] * st[k];
                        ry[g * dh + j] = acc;
                    }
                for (int64_t j = 0; j < dh; ++j) {
                    auto bg = [&](int64_t g) { return static_cast<double>(bias[g * width + h * dh + j]); };
                    for (int64_t g = 0; g < gw; ++g) x[g] = wx[((b * len + t) * gw + g) * width + h * dh + j];
                    double& yj = st[j];
                    if (cell == RnnCellRef::Lstm) {
                        double& c = st[dh + j];
                        const double i = sigm(x[0] + ry[j] + bg(0)), f = sigm(x[1] + ry[dh + j] + bg(1));
                        const double z = std::tanh(x[2] + ry[2 * dh + j] + bg(2)), o = sigm(x[3] + ry[3 * dh + j] + bg(3));
                        c = f * c + i * z;
                        yj = o * std::tanh(c);
                    } else if (cell == RnnCellRef::Gru) {
                        const double r = sigm(x[0] + ry[dh + j] + bg(1)), z = sigm(x[1] + ry[2 * dh + j] + bg(2));
                        const double n = std::tanh(x[2] + bg(3) + r * (ry[j] + bg(0)));
                        yj = z * yj + (1.0 - z) * n;
                    } else {
                        double &c = st[dh + j], &n = st[2 * dh + j], &m = st[3 * dh + j];
                        const double ir = x[0] + ry[j] + bg(0), fr = x[1] + ry[dh + j] + bg(1);
                        const double zr = x[2] + ry[2 * dh + j] + bg(2), orr = x[3] + ry[3 * dh + j] + bg(3);
                        const double lf = logsigm(fr) + m;
                        const double mn = n == 0.0 ? ir : std::max(ir, lf);
                        const double ig = std::exp(ir - mn), fg = std::exp(lf - mn);
                        c = fg * c + ig * std::tanh(zr);
                        n = fg * n + ig;
                        m = mn;
                        yj = sigm(orr) * c / n;
                    }
                }
                // st[0..dh) now holds y_t; the next step's recurrence reads it.
                for (int64_t j = 0; j < dh; ++j) y[(b * len + t) * width + h * dh + j] = static_cast<float>(st[j]);
            }
            for (int64_t q = 0; q < ns; ++q)
                for (int64_t j = 0; j < dh; ++j) state[((b * ns + q) * heads + h) * dh + j] = static_cast<float>(st[q * dh + j]);
        }
    return y;
}

}  // namespace vkml::reference
