/*
 * A native AVX2 twin of the WebAssembly ternary product (lib/inference/kernels/kernels.wat,
 * matmul_ternary), for bench/native_ternary_bench.ts only: it measures what native kernels
 * would give (issue 11's "what would close it"). Not part of the product, never built by a task.
 *
 * Same packed layout as the kernels: rows in groups of 4, columns in blocks of 64; group g,
 * block j, row i at g*cols + j*64 + i*16; bit pair k of byte m holds the code (trit + 1) of
 * column 64j + 16k + m. Same arithmetic: per row and token s = Σ code·q − Σ q (exact integers),
 * y = f32(wScale · (f64(s) / f64(t))), so the results are bit-identical to the kernels'.
 *
 *   clang -O2 -mavx2 -shared -fPIC -o libternary_avx2.so ternary_avx2.c
 */
#include <immintrin.h>
#include <stdint.h>

static inline __m256i bcast16(const int8_t *p) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
}

static inline int32_t hsum128(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
  return _mm_cvtsi128_si32(v);
}

/* Σ code·q of one 32-byte pair of rows (two rows' 16 bytes of a block) against one token's
 * 64 activations: d0 + d2 + (d1 + d3) >> 2, as the kernels do it (i16 lanes). */
static inline __m256i block_dot(__m256i c0, __m256i c1, __m256i c2, __m256i c3, const int8_t *q) {
  __m256i d02 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, bcast16(q)),
                                 _mm256_maddubs_epi16(c2, bcast16(q + 32)));
  __m256i d13 = _mm256_add_epi16(_mm256_maddubs_epi16(c1, bcast16(q + 16)),
                                 _mm256_maddubs_epi16(c3, bcast16(q + 48)));
  return _mm256_add_epi16(d02, _mm256_srai_epi16(d13, 2));
}

/* Sums of the 4 rows of a group (w) against token a and, when qb, token b. */
static void group_sums(const uint8_t *w, const int8_t *qa, const int8_t *qb, int cols,
                       int32_t *sa, int32_t *sb) {
  const __m256i m1 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(12), one = _mm256_set1_epi16(1);
  __m256i a01 = _mm256_setzero_si256(), a23 = a01, b01 = a01, b23 = a01;
  for (int c0 = 0; c0 < cols; c0 += 1024) {
    const int end = c0 + 1024 < cols ? c0 + 1024 : cols;
    __m256i ha01 = _mm256_setzero_si256(), ha23 = ha01, hb01 = ha01, hb23 = ha01;
    for (int c = c0; c < end; c += 64) {
      const uint8_t *p = w + c; /* block c/64 of the group starts at c (64 bytes a block) */
      __m256i x01 = _mm256_loadu_si256((const __m256i *)p);
      __m256i x23 = _mm256_loadu_si256((const __m256i *)(p + 32));
      __m256i y01 = _mm256_srli_epi16(x01, 4), y23 = _mm256_srli_epi16(x23, 4);
      __m256i e0 = _mm256_and_si256(x01, m1), e1 = _mm256_and_si256(x01, m4);
      __m256i e2 = _mm256_and_si256(y01, m1), e3 = _mm256_and_si256(y01, m4);
      __m256i f0 = _mm256_and_si256(x23, m1), f1 = _mm256_and_si256(x23, m4);
      __m256i f2 = _mm256_and_si256(y23, m1), f3 = _mm256_and_si256(y23, m4);
      ha01 = _mm256_add_epi16(ha01, block_dot(e0, e1, e2, e3, qa + c));
      ha23 = _mm256_add_epi16(ha23, block_dot(f0, f1, f2, f3, qa + c));
      if (qb) {
        hb01 = _mm256_add_epi16(hb01, block_dot(e0, e1, e2, e3, qb + c));
        hb23 = _mm256_add_epi16(hb23, block_dot(f0, f1, f2, f3, qb + c));
      }
    }
    a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(ha01, one));
    a23 = _mm256_add_epi32(a23, _mm256_madd_epi16(ha23, one));
    b01 = _mm256_add_epi32(b01, _mm256_madd_epi16(hb01, one));
    b23 = _mm256_add_epi32(b23, _mm256_madd_epi16(hb23, one));
  }
  sa[0] = hsum128(_mm256_castsi256_si128(a01));
  sa[1] = hsum128(_mm256_extracti128_si256(a01, 1));
  sa[2] = hsum128(_mm256_castsi256_si128(a23));
  sa[3] = hsum128(_mm256_extracti128_si256(a23, 1));
  sb[0] = hsum128(_mm256_castsi256_si128(b01));
  sb[1] = hsum128(_mm256_extracti128_si256(b01, 1));
  sb[2] = hsum128(_mm256_castsi256_si128(b23));
  sb[3] = hsum128(_mm256_extracti128_si256(b23, 1));
}

static void store(const int32_t *s, int32_t qsum, float t, double ws, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = (float)(ws * ((double)(s[i] - qsum) / (double)t));
}

/* y[b, r] = wScale · (Σ_c trit[r, c] · q[b, c]) / t[b] for every row and batch row. */
void ternary_matmul(const uint8_t *w, double ws, const int8_t *q, const float *t,
                    const int32_t *qsum, float *y, int rows, int cols, int batch) {
  int32_t sa[4], sb[4];
  for (int r = 0; r < rows; r += 4) {
    const uint8_t *g = w + (r >> 2) * cols;
    const int n = rows - r < 4 ? rows - r : 4;
    int b = 0;
    for (; b + 2 <= batch; b += 2) {
      group_sums(g, q + b * cols, q + (b + 1) * cols, cols, sa, sb);
      store(sa, qsum[b], t[b], ws, y + b * rows + r, n);
      store(sb, qsum[b + 1], t[b + 1], ws, y + (b + 1) * rows + r, n);
    }
    if (b < batch) {
      group_sums(g, q + b * cols, 0, cols, sa, sb);
      store(sa, qsum[b], t[b], ws, y + b * rows + r, n);
    }
  }
}
