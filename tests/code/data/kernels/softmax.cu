// Copyright 2024 Kernelkit Authors
// SPDX-License-Identifier: Apache-2.0
// Row-wise softmax written for the fromscratch tests.
#include <cuda_runtime.h>
#include <float.h>

#define WARP_SIZE 32

static __device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, offset, WARP_SIZE));
    }
    return v;
}

static __device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, offset, WARP_SIZE);
    }
    return v;
}

template <int block_size>
static __global__ void softmax_rows_f32(const float * x, float * dst, const int ncols, const float scale) {
    const int row = blockIdx.x;
    const int tid = threadIdx.x;
    const float * xr = x + (size_t) row * ncols;
    float * dr = dst + (size_t) row * ncols;

    float peak = -FLT_MAX;
    for (int col = tid; col < ncols; col += block_size) {
        peak = fmaxf(peak, xr[col] * scale);
    }
    peak = warp_max(peak);

    float total = 0.0f;
    for (int col = tid; col < ncols; col += block_size) {
        const float e = expf(xr[col] * scale - peak);
        dr[col] = e;
        total += e;
    }
    total = warp_sum(total);
    const float inv = 1.0f / total;
    for (int col = tid; col < ncols; col += block_size) {
        dr[col] *= inv;
    }
}

void softmax_rows_cuda(const float * x, float * dst, const int ncols, const int nrows, const float scale,
                       cudaStream_t stream) {
    const dim3 block_dims(WARP_SIZE, 1, 1);
    const dim3 block_nums(nrows, 1, 1);
    softmax_rows_f32<WARP_SIZE><<<block_nums, block_dims, 0, stream>>>(x, dst, ncols, scale);
}
