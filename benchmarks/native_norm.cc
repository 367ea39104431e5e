// Training-mode batch norm over the last axis (NHWC, float32) with an optional leaky ReLU, both
// ways, as one TensorFlow op each: the native kernel `native_norm.py` measures against oneDNN's.
//
// y = act((x - mean) * inv_std * gamma + beta), act(z) = max(z, alpha z): alpha 1 is the identity,
// 0 a ReLU, 0.2 the discriminator's leaky ReLU. Two passes each way over row blocks on the
// op's worker threads; sums of each block in float, of the blocks in double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::InferenceContext;

REGISTER_OP("NativeNormAct")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Output("y: float")
    .Output("mean: float")
    .Output("variance: float")
    .Output("inv_std: float")
    .Attr("epsilon: float = 0.00001")
    .Attr("alpha: float = 1.0")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(0));
      for (int i = 1; i < 4; ++i) c->set_output(i, c->Vector(c->Dim(c->input(0), -1)));
      return absl::OkStatus();
    });

REGISTER_OP("NativeNormActGrad")
    .Input("dy: float")
    .Input("x: float")
    .Input("gamma: float")
    .Input("beta: float")
    .Input("mean: float")
    .Input("inv_std: float")
    .Output("dx: float")
    .Output("dgamma: float")
    .Output("dbeta: float")
    .Attr("alpha: float = 1.0")
    .SetShapeFn([](InferenceContext* c) {
      c->set_output(0, c->input(1));
      c->set_output(1, c->input(2));
      c->set_output(2, c->input(2));
      return absl::OkStatus();
    });

// About this many elements per block of rows.
constexpr int64_t kBlockElements = 1 << 15;

struct Blocks {
  int64_t count, rows_per_block;
  Blocks(int64_t rows, int64_t channels) {
    int64_t per = std::max<int64_t>(1, kBlockElements / std::max<int64_t>(channels, 1));
    count = std::max<int64_t>(1, (rows + per - 1) / per);
    rows_per_block = (rows + count - 1) / count;
  }
};

// Runs fn(block, first_row, end_row) for every block on the op's worker threads.
template <typename Fn>
void ForBlocks(OpKernelContext* ctx, const Blocks& blocks, int64_t rows, Fn fn) {
  using Pool = tensorflow::thread::ThreadPool;
  ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
      blocks.count,
      Pool::SchedulingParams(Pool::SchedulingStrategy::kFixedBlockSize, std::nullopt, 1),
      [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
          int64_t first = b * blocks.rows_per_block;
          int64_t last = std::min(rows, first + blocks.rows_per_block);
          if (first < last) fn(b, first, last);
        }
      });
}

// Row kernels: restrict pointers and no branches, so that the compiler vectorises them.
void MomentsRow(const float* __restrict x, const float* __restrict shift, int64_t channels,
                float* __restrict sum, float* __restrict sum_sq) {
  for (int64_t c = 0; c < channels; ++c) {
    float d = x[c] - shift[c];
    sum[c] += d;
    sum_sq[c] += d * d;
  }
}

void NormActRow(const float* __restrict x, const float* __restrict scale,
                const float* __restrict offset, float alpha, int64_t channels,
                float* __restrict y) {
  for (int64_t c = 0; c < channels; ++c) {
    float z = x[c] * scale[c] + offset[c];
    y[c] = std::max(z, z * alpha);
  }
}

void GradSumsRow(const float* __restrict x, const float* __restrict dy,
                 const float* __restrict scale, const float* __restrict offset,
                 const float* __restrict mean, float alpha, int64_t channels,
                 float* __restrict sum, float* __restrict sum_xc) {
  for (int64_t c = 0; c < channels; ++c) {
    float z = x[c] * scale[c] + offset[c];
    float dz = dy[c] * (z > 0.f ? 1.f : alpha);
    sum[c] += dz;
    sum_xc[c] += dz * (x[c] - mean[c]);
  }
}

void GradRow(const float* __restrict x, const float* __restrict dy,
             const float* __restrict scale, const float* __restrict offset, float alpha,
             const float* __restrict ka, const float* __restrict kb, const float* __restrict kc,
             int64_t channels, float* __restrict dx) {
  for (int64_t c = 0; c < channels; ++c) {
    float z = x[c] * scale[c] + offset[c];
    float dz = dy[c] * (z > 0.f ? 1.f : alpha);
    dx[c] = ka[c] * dz + kb[c] * x[c] + kc[c];
  }
}

// Per-channel sums of two quantities over all rows: row_fn(row, first_sums, second_sums).
template <typename RowFn>
void ChannelSums(OpKernelContext* ctx, int64_t rows, int64_t channels, RowFn row_fn,
                 std::vector<double>* first, std::vector<double>* second) {
  Blocks blocks(rows, channels);
  std::vector<double> partial(2 * blocks.count * channels);
  ForBlocks(ctx, blocks, rows, [&](int64_t b, int64_t begin, int64_t end) {
    std::vector<float> s(channels, 0.f), t(channels, 0.f);
    for (int64_t r = begin; r < end; ++r) row_fn(r, s.data(), t.data());
    std::copy(s.begin(), s.end(), partial.begin() + 2 * b * channels);
    std::copy(t.begin(), t.end(), partial.begin() + (2 * b + 1) * channels);
  });
  first->assign(channels, 0.0);
  second->assign(channels, 0.0);
  for (int64_t b = 0; b < blocks.count; ++b) {
    for (int64_t c = 0; c < channels; ++c) {
      (*first)[c] += partial[2 * b * channels + c];
      (*second)[c] += partial[(2 * b + 1) * channels + c];
    }
  }
}

class NormActOp : public OpKernel {
 public:
  explicit NormActOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("alpha", &alpha_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x_t = ctx->input(0);
    const int64_t channels = x_t.dim_size(x_t.dims() - 1);
    const int64_t rows = x_t.NumElements() / channels;
    const float* x = x_t.flat<float>().data();
    const float* gamma = ctx->input(1).flat<float>().data();
    const float* beta = ctx->input(2).flat<float>().data();
    Tensor *y_t, *mean_t, *var_t, *inv_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x_t.shape(), &y_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({channels}), &mean_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({channels}), &var_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({channels}), &inv_t));
    float* mean = mean_t->flat<float>().data();
    float* var = var_t->flat<float>().data();
    float* inv = inv_t->flat<float>().data();

    // Moments of x - x[0], shifted by the first row against cancellation.
    std::vector<float> shift(x, x + channels);
    std::vector<double> sum, sum_sq;
    ChannelSums(ctx, rows, channels, [&](int64_t r, float* s, float* q) {
      MomentsRow(x + r * channels, shift.data(), channels, s, q);
    }, &sum, &sum_sq);
    std::vector<float> scale(channels), offset(channels);
    for (int64_t c = 0; c < channels; ++c) {
      double m = sum[c] / rows;
      double v = std::max(0.0, sum_sq[c] / rows - m * m);
      mean[c] = static_cast<float>(m + shift[c]);
      var[c] = static_cast<float>(v);
      inv[c] = static_cast<float>(1.0 / std::sqrt(v + epsilon_));
      scale[c] = gamma[c] * inv[c];
      offset[c] = beta[c] - mean[c] * scale[c];
    }
    float* y = y_t->flat<float>().data();
    ForBlocks(ctx, Blocks(rows, channels), rows, [&](int64_t, int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        NormActRow(x + r * channels, scale.data(), offset.data(), alpha_, channels,
                   y + r * channels);
      }
    });
  }

 private:
  float epsilon_, alpha_;
};

class NormActGradOp : public OpKernel {
 public:
  explicit NormActGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("alpha", &alpha_));
  }

  void Compute(OpKernelContext* ctx) override {
    const float* dy = ctx->input(0).flat<float>().data();
    const Tensor& x_t = ctx->input(1);
    const int64_t channels = x_t.dim_size(x_t.dims() - 1);
    const int64_t rows = x_t.NumElements() / channels;
    const float* x = x_t.flat<float>().data();
    const float* gamma = ctx->input(2).flat<float>().data();
    const float* beta = ctx->input(3).flat<float>().data();
    const float* mean = ctx->input(4).flat<float>().data();
    const float* inv = ctx->input(5).flat<float>().data();
    Tensor *dx_t, *dgamma_t, *dbeta_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x_t.shape(), &dx_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({channels}), &dgamma_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({channels}), &dbeta_t));

    std::vector<float> scale(channels), offset(channels);
    for (int64_t c = 0; c < channels; ++c) {
      scale[c] = gamma[c] * inv[c];
      offset[c] = beta[c] - mean[c] * scale[c];
    }
    // dz = dy act'(z); then dx = gamma inv_std (dz - mean(dz) - xhat mean(dz xhat)).
    std::vector<double> sum, sum_xc;
    ChannelSums(ctx, rows, channels, [&](int64_t r, float* s, float* p) {
      GradSumsRow(x + r * channels, dy + r * channels, scale.data(), offset.data(), mean,
                  alpha_, channels, s, p);
    }, &sum, &sum_xc);
    float* dgamma = dgamma_t->flat<float>().data();
    float* dbeta = dbeta_t->flat<float>().data();
    std::vector<float> ka(channels), kb(channels), kc(channels);
    for (int64_t c = 0; c < channels; ++c) {
      dbeta[c] = static_cast<float>(sum[c]);
      dgamma[c] = static_cast<float>(sum_xc[c] * inv[c]);
      double b = -static_cast<double>(scale[c]) * inv[c] * inv[c] * sum_xc[c] / rows;
      ka[c] = scale[c];
      kb[c] = static_cast<float>(b);
      kc[c] = static_cast<float>(-scale[c] * sum[c] / rows - b * mean[c]);
    }
    float* dx = dx_t->flat<float>().data();
    ForBlocks(ctx, Blocks(rows, channels), rows, [&](int64_t, int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        GradRow(x + r * channels, dy + r * channels, scale.data(), offset.data(), alpha_,
                ka.data(), kb.data(), kc.data(), channels, dx + r * channels);
      }
    });
  }

 private:
  float alpha_;
};

REGISTER_KERNEL_BUILDER(Name("NativeNormAct").Device(tensorflow::DEVICE_CPU), NormActOp);
REGISTER_KERNEL_BUILDER(Name("NativeNormActGrad").Device(tensorflow::DEVICE_CPU), NormActGradOp);

}  // namespace
