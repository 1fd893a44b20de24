// The Python module: netspace.models.fused loads it as one extension.
#include <torch/extension.h>

#include <optional>
#include <vector>

std::vector<torch::Tensor> bn_forward(torch::Tensor x, torch::Tensor w, torch::Tensor b, double eps, int64_t act,
                                      std::optional<torch::Tensor> residual);
std::vector<torch::Tensor> bn_backward(torch::Tensor g, torch::Tensor x, torch::Tensor w, torch::Tensor b,
                                       torch::Tensor mean, torch::Tensor invstd, int64_t act,
                                       std::optional<torch::Tensor> y);
torch::Tensor bn_eval(torch::Tensor x, torch::Tensor scale, torch::Tensor shift, int64_t act,
                      std::optional<torch::Tensor> residual);
torch::Tensor dw_input_grad(torch::Tensor gy, torch::Tensor x, torch::Tensor w, int64_t k, int64_t stride,
                            int64_t padding);
torch::Tensor dw_weight_grad(torch::Tensor gy, torch::Tensor x, int64_t k, int64_t stride, int64_t padding);
torch::Tensor grouped_forward(torch::Tensor x, torch::Tensor w, int64_t stride, int64_t padding);
torch::Tensor grouped_input_grad(torch::Tensor gy, torch::Tensor x, torch::Tensor w, int64_t stride,
                                 int64_t padding);
torch::Tensor grouped_weight_grad(torch::Tensor gy, torch::Tensor x, int64_t k, int64_t stride, int64_t padding,
                                  int64_t groups);

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("bn_forward", &bn_forward, "BN (+residual) (+ReLU) forward: y, mean, invstd, unbiased var");
  m.def("bn_backward", &bn_backward, "BN (+residual) (+ReLU) backward: dx, dweight, dbias, dresidual");
  m.def("bn_eval", &bn_eval, "eval-mode BN (+residual) (+ReLU) from per-channel scale and shift, no backward");
  m.def("dw_input_grad", &dw_input_grad, "depthwise conv input gradient, channels_last");
  m.def("dw_weight_grad", &dw_weight_grad, "depthwise conv weight gradient as (k*k, C)");
  m.def("grouped_forward", &grouped_forward, "grouped conv (C_in == C_out) forward, channels_last");
  m.def("grouped_input_grad", &grouped_input_grad, "grouped conv input gradient, channels_last");
  m.def("grouped_weight_grad", &grouped_weight_grad, "grouped conv weight gradient as (C, C / groups, k, k)");
}
