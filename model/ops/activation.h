#pragma once
// Elementwise activations and the residual add, one invocation per output element.
#include <string>

#include "model/ops/common.h"

namespace smolvk::ops {

// y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (gelu_pytorch_tanh). Both f32, or both f16
// (computed in f32; an even element count, 4-byte aligned views), same shape; y may be x.
void gelu_tanh(Graph& g, const Tensor& x, const Tensor& y, const std::string& name = "gelu_tanh");

// gate_up f32 [..., 2I] (gate = columns [0, I), up = [I, 2I)) → y [..., I] = silu(gate)·up, f32
// or f16 (computed in f32 and rounded once; I even, a 4-byte aligned view).
void swiglu(Graph& g, const Tensor& gate_up, const Tensor& y, const std::string& name = "swiglu");

// y = a + b, all f32 of one shape; y may be a (or b).
void add(Graph& g, const Tensor& a, const Tensor& b, const Tensor& y, const std::string& name = "add");

}  // namespace smolvk::ops
