/*
 * clean-gguf's opt-in native kernels (x86-64, AVX2): the two products that bound the
 * engine's speed, as twins of the WebAssembly exports of the same name in kernels.wat.
 * Same memory (the kernels' shared WebAssembly memory, `m` its first byte, every other
 * pointer an offset into it), same packed layouts, same arithmetic: the results are
 * bit-identical (tests/inference/native_kernels_test.ts compares them).
 *
 *   matmul_ternary  y[b, r] = f32(wScale · (f64(Σ code·q − Σ q) / f64(t[b])))
 *                   packed trits: rows in groups of 4, columns in blocks of 64; group g,
 *                   block j, row i at g·cols + 64j + 16i; bit pair k of byte n holds
 *                   code = trit + 1 of column 64j + 16k + n.
 *   score_rows_i8   exact int32 dots of the int8 head's copy (4 rows interleaved per
 *                   16 columns) with an int8 activation within ±127.
 *
 * Integer sums are exact whatever their order, and the one float step is written as in
 * the WebAssembly kernel (divide in f64, multiply in f64, round once to f32; no
 * contraction: build with -ffp-contract=off), so the order of the loops below is free.
 *
 * Built by `deno task native-build OUT` (lib/inference/kernels/native.ts has the command):
 *   cc -O2 -ffp-contract=off -shared -fPIC -o libclean_gguf_native.so kernels_avx2.c
 * Only the kernels are compiled for AVX2 (target attributes), so that `cg_cpu_ok` runs on
 * any x86-64 and the loader can refuse a CPU without AVX2 instead of crashing.
 */
#include <immintrin.h>
#include <stdint.h>

/* Bumped whenever a signature or a layout changes; the loader checks it. */
#define CG_ABI 1

uint32_t cg_abi(void) { return CG_ABI; }

int32_t cg_cpu_ok(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? 1 : 0;
}

#define AVX2 __attribute__((target("avx2")))
/* One token reads each weight once, from DRAM: a prefetch this far ahead keeps more lines in
 * flight than the hardware prefetcher alone (30 2B layers, one thread: 1.2-1.3x the
 * WebAssembly kernel without it, 1.5-1.7x with it). Prefetches never fault. */
#define AHEAD 2048

AVX2 static inline __m256i bcast16(const int8_t *p) {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
}

AVX2 static inline int32_t hsum128(__m128i v) {
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
  v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
  return _mm_cvtsi128_si32(v);
}

/* Σ code·q of two rows' 16-byte slices of one block (the two 128-bit lanes) against one
 * token's 64 activations. c1 and c3 hold 4·code: (d1 + d3) >> 2 is exact. Per i16 lane a
 * block adds at most 2·(2·2·128) in magnitude, so 16 blocks (1024 columns) fit in i16. */
AVX2 static inline __m256i block_dot(__m256i c0, __m256i c1, __m256i c2, __m256i c3,
                                     const int8_t *q) {
  __m256i d02 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, bcast16(q)),
                                 _mm256_maddubs_epi16(c2, bcast16(q + 32)));
  __m256i d13 = _mm256_add_epi16(_mm256_maddubs_epi16(c1, bcast16(q + 16)),
                                 _mm256_maddubs_epi16(c3, bcast16(q + 48)));
  return _mm256_add_epi16(d02, _mm256_srai_epi16(d13, 2));
}

/* Σ code·q of the 4 rows of the group at g against nt tokens (q, q + cols, ...) into
 * s[4t + i]; always inlined into the wrappers below, which fix nt so that the compiler
 * keeps the accumulators in registers. */
AVX2 static inline __attribute__((always_inline)) void group_sums(const uint8_t *g,
                                                                  const int8_t *q,
                                                                  int32_t cols, int32_t *s,
                                                                  const int nt) {
  const __m256i m3 = _mm256_set1_epi8(3), m12 = _mm256_set1_epi8(12);
  const __m256i one = _mm256_set1_epi16(1);
  __m256i a01[8], a23[8];
  for (int t = 0; t < nt; t++) a01[t] = a23[t] = _mm256_setzero_si256();
  for (int32_t c0 = 0; c0 < cols; c0 += 1024) {
    const int32_t end = c0 + 1024 < cols ? c0 + 1024 : cols;
    __m256i h01[8], h23[8];
    for (int t = 0; t < nt; t++) h01[t] = h23[t] = _mm256_setzero_si256();
    for (int32_t c = c0; c < end; c += 64) {
      if (nt == 1) _mm_prefetch((const char *)(g + c + AHEAD), _MM_HINT_T0);
      const __m256i x01 = _mm256_loadu_si256((const __m256i *)(g + c));
      const __m256i x23 = _mm256_loadu_si256((const __m256i *)(g + c + 32));
      const __m256i y01 = _mm256_srli_epi16(x01, 4), y23 = _mm256_srli_epi16(x23, 4);
      const __m256i e0 = _mm256_and_si256(x01, m3), e1 = _mm256_and_si256(x01, m12);
      const __m256i e2 = _mm256_and_si256(y01, m3), e3 = _mm256_and_si256(y01, m12);
      const __m256i f0 = _mm256_and_si256(x23, m3), f1 = _mm256_and_si256(x23, m12);
      const __m256i f2 = _mm256_and_si256(y23, m3), f3 = _mm256_and_si256(y23, m12);
      for (int t = 0; t < nt; t++) {
        const int8_t *qt = q + (int64_t)t * cols + c;
        h01[t] = _mm256_add_epi16(h01[t], block_dot(e0, e1, e2, e3, qt));
        h23[t] = _mm256_add_epi16(h23[t], block_dot(f0, f1, f2, f3, qt));
      }
    }
    for (int t = 0; t < nt; t++) {
      a01[t] = _mm256_add_epi32(a01[t], _mm256_madd_epi16(h01[t], one));
      a23[t] = _mm256_add_epi32(a23[t], _mm256_madd_epi16(h23[t], one));
    }
  }
  for (int t = 0; t < nt; t++) {
    s[4 * t + 0] = hsum128(_mm256_castsi256_si128(a01[t]));
    s[4 * t + 1] = hsum128(_mm256_extracti128_si256(a01[t], 1));
    s[4 * t + 2] = hsum128(_mm256_castsi256_si128(a23[t]));
    s[4 * t + 3] = hsum128(_mm256_extracti128_si256(a23[t], 1));
  }
}

#define TOKENS(NT)                                                                          \
  AVX2 static void group_sums_##NT(const uint8_t *g, const int8_t *q, int32_t cols,         \
                                   int32_t *s) {                                            \
    group_sums(g, q, cols, s, NT);                                                          \
  }
TOKENS(1)
TOKENS(2)
TOKENS(4)
TOKENS(8)

/* The scale-back of one token's 4 sums into the n (≤ 4) rows that exist. */
static void store_rows(const int32_t *s, int32_t qsum, float t, double ws, float *y,
                       int32_t n) {
  for (int32_t i = 0; i < n; i++) y[i] = (float)(ws * ((double)(s[i] - qsum) / (double)t));
}

/* y[b, r] = wScale · (Σ_c trit[r, c] · q[b, c]) / t[b] for rows [r0, r1) (r0 a multiple
 * of 4), every b < batch; y is [batch, rows]. */
AVX2 void cg_matmul_ternary(uint8_t *m, uint32_t w, double ws, uint32_t q, uint32_t t,
                            uint32_t sum, uint32_t y, int32_t rows, int32_t cols,
                            int32_t batch, int32_t r0, int32_t r1) {
  const int8_t *qs = (const int8_t *)(m + q);
  const float *ts = (const float *)(m + t);
  const int32_t *sums = (const int32_t *)(m + sum);
  float *ys = (float *)(m + y);
  int32_t s[32];
  for (int32_t r = r0; r < r1; r += 4) {
    const uint8_t *g = m + w + (uint64_t)(r >> 2) * (uint32_t)cols;
    const int32_t n = r1 - r < 4 ? r1 - r : 4;
    int32_t b = 0;
    for (; b + 8 <= batch; b += 8) {
      group_sums_8(g, qs + (int64_t)b * cols, cols, s);
      for (int i = 0; i < 8; i++) {
        store_rows(s + 4 * i, sums[b + i], ts[b + i], ws, ys + (int64_t)(b + i) * rows + r, n);
      }
    }
    if (b + 4 <= batch) {
      group_sums_4(g, qs + (int64_t)b * cols, cols, s);
      for (int i = 0; i < 4; i++) {
        store_rows(s + 4 * i, sums[b + i], ts[b + i], ws, ys + (int64_t)(b + i) * rows + r, n);
      }
      b += 4;
    }
    if (b + 2 <= batch) {
      group_sums_2(g, qs + (int64_t)b * cols, cols, s);
      for (int i = 0; i < 2; i++) {
        store_rows(s + 4 * i, sums[b + i], ts[b + i], ws, ys + (int64_t)(b + i) * rows + r, n);
      }
      b += 2;
    }
    if (b < batch) {
      group_sums_1(g, qs + (int64_t)b * cols, cols, s);
      store_rows(s, sums[b], ts[b], ws, ys + (int64_t)b * rows + r, n);
    }
  }
}

/* y[r] = Σ_c w[r, c] · x[c] (exact int32) for `rows` rows of the int8 head's copy at w
 * (per group of 4 rows, each 16-column block holds the 4 rows' 16 codes in turn). Signed
 * by signed bytes through maddubs(|w|, sign(x, w)): |w|, |x| ≤ 127, so a pair of products
 * is at most 32,258 in magnitude (no saturation). */
AVX2 void cg_score_rows_i8(uint8_t *m, uint32_t w, uint32_t x, uint32_t y, int32_t rows,
                           int32_t cols) {
  const uint8_t *ws = m + w;
  const int8_t *xs = (const int8_t *)(m + x);
  int32_t *ys = (int32_t *)(m + y);
  const __m256i one = _mm256_set1_epi16(1);
  for (int32_t r = 0; r < rows; r += 4) {
    __m256i a01 = _mm256_setzero_si256(), a23 = a01, b01 = a01, b23 = a01;
    const uint8_t *g = ws + (uint64_t)(r >> 2) * 4 * (uint32_t)cols;
    int32_t c = 0;
    for (; c + 32 <= cols; c += 32) {
      const __m256i xa = bcast16(xs + c), xb = bcast16(xs + c + 16);
      const __m256i w01 = _mm256_loadu_si256((const __m256i *)(g + 4 * c));
      const __m256i w23 = _mm256_loadu_si256((const __m256i *)(g + 4 * c + 32));
      const __m256i v01 = _mm256_loadu_si256((const __m256i *)(g + 4 * c + 64));
      const __m256i v23 = _mm256_loadu_si256((const __m256i *)(g + 4 * c + 96));
      a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      _mm256_abs_epi8(w01), _mm256_sign_epi8(xa, w01)), one));
      a23 = _mm256_add_epi32(a23, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      _mm256_abs_epi8(w23), _mm256_sign_epi8(xa, w23)), one));
      b01 = _mm256_add_epi32(b01, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      _mm256_abs_epi8(v01), _mm256_sign_epi8(xb, v01)), one));
      b23 = _mm256_add_epi32(b23, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      _mm256_abs_epi8(v23), _mm256_sign_epi8(xb, v23)), one));
    }
    for (; c < cols; c += 16) {
      const __m256i xa = bcast16(xs + c);
      const __m256i w01 = _mm256_loadu_si256((const __m256i *)(g + 4 * c));
      const __m256i w23 = _mm256_loadu_si256((const __m256i *)(g + 4 * c + 32));
      a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      _mm256_abs_epi8(w01), _mm256_sign_epi8(xa, w01)), one));
      a23 = _mm256_add_epi32(a23, _mm256_madd_epi16(_mm256_maddubs_epi16(
                                      _mm256_abs_epi8(w23), _mm256_sign_epi8(xa, w23)), one));
    }
    a01 = _mm256_add_epi32(a01, b01);
    a23 = _mm256_add_epi32(a23, b23);
    const int32_t s[4] = {
        hsum128(_mm256_castsi256_si128(a01)), hsum128(_mm256_extracti128_si256(a01, 1)),
        hsum128(_mm256_castsi256_si128(a23)), hsum128(_mm256_extracti128_si256(a23, 1))};
    const int32_t n = rows - r < 4 ? rows - r : 4;
    for (int32_t i = 0; i < n; i++) ys[r + i] = s[i];
  }
}
