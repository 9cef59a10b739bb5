// Copyright 2024 Kernelkit Authors
// SPDX-License-Identifier: Apache-2.0
#include <cuda_runtime.h>

struct norm_params {
    int ncols;
    float eps;
    bool has_weight;
};

template <int block_size>
static __global__ void rms_norm_f32(const float * x, const float * weight, float * dst, const norm_params p) {
    const int row = blockIdx.x * blockDim.y + threadIdx.y;
    const int tid = threadIdx.x;
    float sum_sq = 0.0f;
    for (int col = tid; col < p.ncols; col += block_size) {
        const float xi = x[row * p.ncols + col];
        sum_sq += xi * xi;
    }
    for (int mask = 16; mask > 0; mask >>= 1) {
        sum_sq += __shfl_xor_sync(0xffffffff, sum_sq, mask, 32);
    }
    const float mean = sum_sq / p.ncols;
    const float scale = rsqrtf(mean + p.eps);
    for (int col = tid; col < p.ncols; col += block_size) {
        const float w = p.has_weight ? weight[col] : 1.0f;
        dst[row * p.ncols + col] = scale * x[row * p.ncols + col] * w;
    }
}

void rms_norm_cuda(const float * x, const float * weight, float * dst, const int ncols, const int nrows,
                   const float eps, cudaStream_t stream) {
    norm_params p = {ncols, eps, weight != nullptr};
    const dim3 block_dims(32, 1, 1);
    rms_norm_f32<32><<<nrows, block_dims, 0, stream>>>(x, weight, dst, p);
}
