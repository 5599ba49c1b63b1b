// Activations shared by the elementwise shader and the matmul epilogues.
#ifndef ACTIVATION_GLSL
#define ACTIVATION_GLSL
// tanh through exp so large |u| saturates to ±1 on every driver.
float tanh_safe(float u) {
  u = clamp(u, -15.0, 15.0);
  float e = exp(2.0 * u);
  return (e - 1.0) / (e + 1.0);
}
// gelu_pytorch_tanh: 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))).
float gelu_tanh(float v) {
  const float k = 0.7978845608028654;  // sqrt(2/pi)
  return 0.5 * v * (1.0 + tanh_safe(k * (v + 0.044715 * v * v * v)));
}
#endif
