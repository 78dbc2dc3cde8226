// Activation functions shared by elementwise and fused kernels.
#ifndef VKML_ACTIVATIONS_GLSL
#define VKML_ACTIVATIONS_GLSL

float silu(float x) { return x / (1.0 + exp(-x)); }

// GELU, tanh approximation (as in GPT-2 and ggml's gelu). 0.5 * (1 + tanh(u)) equals
// sigmoid(2u), which has no cancellation near zero and no overflow for large |u|.
float gelu(float x) {
    const float k = 0.7978845608028654;  // sqrt(2/pi)
    float u = k * (x + 0.044715 * x * x * x);
    return x / (1.0 + exp(-2.0 * u));
}

// SELU with the constants of Klambauer et al. (2017).
float selu(float x) {
    const float alpha = 1.6732632423543772;
    const float scale = 1.0507009873554805;
    return scale * (x > 0.0 ? x : alpha * (exp(x) - 1.0));
}

#endif
