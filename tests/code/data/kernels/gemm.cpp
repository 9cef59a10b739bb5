// Copyright (c) 2023 Matkit Developers
// Licensed under the MIT License.
#include <cstddef>
#include <vector>

namespace matkit {

class Tile {
public:
    Tile(int rows, int cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0f) {}
    float & at(int r, int c) { return data_[r * cols_ + c]; }
    int rows() const { return rows_; }
    int cols() const { return cols_; }
private:
    int rows_;
    int cols_;
    std::vector<float> data_;
};

void gemm_blocked(const float * a, const float * b, float * c, int m, int n, int k, int bs) {
    for (int i0 = 0; i0 < m; i0 += bs) {
        for (int j0 = 0; j0 < n; j0 += bs) {
            for (int p0 = 0; p0 < k; p0 += bs) {
                for (int i = i0; i < i0 + bs && i < m; ++i) {
                    for (int p = p0; p < p0 + bs && p < k; ++p) {
                        const float av = a[i * k + p];
                        for (int j = j0; j < j0 + bs && j < n; ++j) {
                            c[i * n + j] += av * b[p * n + j];
                        }
                    }
                }
            }
        }
    }
}

}  // namespace matkit
