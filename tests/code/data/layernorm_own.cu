// An independent layer-norm kernel (the same operation family as rmsnorm.cu, written another way).
#include <cuda_fp16.h>

__global__ void layernorm_two_pass(half * out, const half * in, const half * gamma, const half * beta,
                                   int width, float epsilon) {
    extern __shared__ float scratch[];
    int r = blockIdx.x;
    float acc = 0.f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) acc += __half2float(in[r * width + i]);
    scratch[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
        __syncthreads();
    }
    float mu = scratch[0] / width;
    __syncthreads();
    float var = 0.f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float d = __half2float(in[r * width + i]) - mu;
        var += d * d;
    }
    scratch[threadIdx.x] = var;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if (threadIdx.x < s) scratch[threadIdx.x] += scratch[threadIdx.x + s];
        __syncthreads();
    }
    float inv_std = rsqrtf(scratch[0] / width + epsilon);
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float y = (__half2float(in[r * width + i]) - mu) * inv_std;
        out[r * width + i] = __float2half(y * __half2float(gamma[i]) + __half2float(beta[i]));
    }
}
