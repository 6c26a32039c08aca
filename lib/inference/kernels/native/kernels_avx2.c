/*
 * clean-gguf's opt-in native kernels (x86-64, AVX2 and FMA): the three products that bound
 * the engine's speed, as twins of the WebAssembly exports of the same name in kernels.wat.
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
 *   matmul_f16      the F16 output layer (and any F16 matrix): float sums in the exact
 *                   order of the WebAssembly f16 tiles, lane for lane (below).
 *
 * In the two integer products the sums are exact whatever their order, and the one float
 * step is written as in the WebAssembly kernel (divide in f64, multiply in f64, round once
 * to f32; no contraction: build with -ffp-contract=off), so their loop order is free. The
 * F16 product's order is not: it follows the WebAssembly tiles (see its section).
 *
 * Built by `deno task build:native FILE` (lib/inference/kernels/native.ts has the command):
 *   cc -O2 -ffp-contract=off -shared -fPIC -o libclean_gguf_native.so kernels_avx2.c
 * Only the kernels are compiled for AVX2 and FMA (target attributes), so that `cg_cpu_ok`
 * runs on any x86-64 and the loader can refuse a CPU without them instead of crashing.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

/* Bumped whenever a signature or a layout changes; the loader checks it. */
#define CG_ABI 2

uint32_t cg_abi(void) { return CG_ABI; }

int32_t cg_cpu_ok(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}

#define AVX2 __attribute__((target("avx2,fma")))
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

/* ------------------------------------------------------------------------------------------
 * F16 weights. The WebAssembly tiles (kernels.wat, $f16_4x1, $f16_4x2 and their decoded
 * twins) compute, per weight row and activation row, with 4-lane f32 vectors over each
 * 8 columns (lane i: columns 2i and 2i + 1 of the 8):
 *   w_even, w_odd  the f16 bits moved into f32 bits (sign | (h & 0x7fff) << 13: the value
 *                  times 2^-112, exactly), x_even, x_odd the activations times 2^64;
 *   a pair of activation rows (each row of the pair alike):
 *                  acc = fma(x_even, w_even, fma(x_odd, w_odd, acc)),  result hsum(acc);
 *   a last odd activation row:
 *                  a = fma(x_even, w_even, a), e = fma(x_odd, w_odd, e), result hsum(a + e);
 *   hsum(v) = (v0 + v1) + (v2 + v3), times 2^48.
 * (f32x4.relaxed_madd is one fused multiply-add on x86 CPUs with FMA, which the loader
 * requires; the WebAssembly variant without relaxed SIMD multiplies and adds, and then
 * these functions are not used.) Here each 256-bit vector holds two weight rows' 4-lane
 * vectors side by side, against the same activation lanes: the same operations lane for
 * lane, so the same bits, two rows per instruction and no decode of the activations per
 * row. Rows past `rows` are computed from the last row and not stored, as in WebAssembly.
 */

/* The activations of `batch` rows as the tiles use them: per 8 columns, the even ones then
 * the odd ones, times 2^64 (what f16_prepare_x writes). */
AVX2 static void f16_prepare(const float *x, float *xp, int32_t cols, int32_t batch) {
  const __m128 scale = _mm_set1_ps(0x1p64f);
  for (int64_t i = 0; i < (int64_t)cols * batch; i += 8) {
    const __m128 u = _mm_loadu_ps(x + i), v = _mm_loadu_ps(x + i + 4);
    _mm_storeu_ps(xp + i, _mm_mul_ps(scale, _mm_shuffle_ps(u, v, _MM_SHUFFLE(2, 0, 2, 0))));
    _mm_storeu_ps(xp + i + 4, _mm_mul_ps(scale, _mm_shuffle_ps(u, v, _MM_SHUFFLE(3, 1, 3, 1))));
  }
}

/* The even and odd weights of 8 columns of two rows (p and q), f16 bits to f32 bits. */
AVX2 static inline void f16_decode2(const uint16_t *p, const uint16_t *q, __m256i *even,
                                    __m256i *odd) {
  const __m256i mask = _mm256_set1_epi32((int32_t)0x8fffe000);
  const __m256i t = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
      _mm_loadu_si128((const __m128i *)q), 1);
  *even = _mm256_and_si256(mask, _mm256_srai_epi32(_mm256_slli_epi32(t, 16), 3));
  *odd = _mm256_and_si256(mask, _mm256_srai_epi32(t, 3));
}

static inline float hsum4(const float *v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* Stores the two rows' results (the low and high 4 lanes of acc) for one activation row. */
AVX2 static inline void f16_store2(__m256 acc, float *y0, float *y1, int32_t n0, int32_t n1) {
  float v[8];
  _mm256_storeu_ps(v, acc);
  if (n0) *y0 = hsum4(v) * 0x1p48f;
  if (n1) *y1 = hsum4(v + 4) * 0x1p48f;
}

/* Tokens [b, b + nt) (nt even: pairs) of the group of 4 rows at p, pair order: per row pair
 * and token one 256-bit accumulator, acc = fma(x_even, w_even, fma(x_odd, w_odd, acc)).
 * Always inlined with a constant nt, so that the accumulators stay in registers. */
AVX2 static inline __attribute__((always_inline)) void f16_pairs(
    const uint16_t *const p[4], const float *xp, float *y, int32_t rows, int32_t cols,
    int32_t b, int32_t r, int32_t n, const int nt) {
  __m256 acc[2][4];
  for (int t = 0; t < nt; t++) acc[0][t] = acc[1][t] = _mm256_setzero_ps();
  for (int32_t c = 0; c < cols; c += 8) {
    __m256i e01, o01, e23, o23;
    f16_decode2(p[0] + c, p[1] + c, &e01, &o01);
    f16_decode2(p[2] + c, p[3] + c, &e23, &o23);
    for (int t = 0; t < nt; t++) {
      const float *xt = xp + (int64_t)(b + t) * cols + c;
      const __m256 xe = _mm256_broadcast_ps((const __m128 *)xt);
      const __m256 xo = _mm256_broadcast_ps((const __m128 *)(xt + 4));
      acc[0][t] = _mm256_fmadd_ps(xe, _mm256_castsi256_ps(e01),
                                  _mm256_fmadd_ps(xo, _mm256_castsi256_ps(o01), acc[0][t]));
      acc[1][t] = _mm256_fmadd_ps(xe, _mm256_castsi256_ps(e23),
                                  _mm256_fmadd_ps(xo, _mm256_castsi256_ps(o23), acc[1][t]));
    }
  }
  for (int t = 0; t < nt; t++) {
    float *yt = y + (int64_t)(b + t) * rows + r;
    f16_store2(acc[0][t], yt, yt + 1, 1, n > 1);
    f16_store2(acc[1][t], yt + 2, yt + 3, n > 2, n > 3);
  }
}

/* The last odd token b: the one-row tile's order, even and odd lanes summed apart. */
AVX2 static void f16_single(const uint16_t *const p[4], const float *xp, float *y,
                            int32_t rows, int32_t cols, int32_t b, int32_t r, int32_t n) {
  __m256 a01 = _mm256_setzero_ps(), s01 = a01, a23 = a01, s23 = a01;
  const float *xt = xp + (int64_t)b * cols;
  for (int32_t c = 0; c < cols; c += 8) {
    __m256i e01, o01, e23, o23;
    f16_decode2(p[0] + c, p[1] + c, &e01, &o01);
    f16_decode2(p[2] + c, p[3] + c, &e23, &o23);
    const __m256 xe = _mm256_broadcast_ps((const __m128 *)(xt + c));
    const __m256 xo = _mm256_broadcast_ps((const __m128 *)(xt + c + 4));
    a01 = _mm256_fmadd_ps(xe, _mm256_castsi256_ps(e01), a01);
    s01 = _mm256_fmadd_ps(xo, _mm256_castsi256_ps(o01), s01);
    a23 = _mm256_fmadd_ps(xe, _mm256_castsi256_ps(e23), a23);
    s23 = _mm256_fmadd_ps(xo, _mm256_castsi256_ps(o23), s23);
  }
  float *yt = y + (int64_t)b * rows + r;
  f16_store2(_mm256_add_ps(a01, s01), yt, yt + 1, 1, n > 1);
  f16_store2(_mm256_add_ps(a23, s23), yt + 2, yt + 3, n > 2, n > 3);
}

AVX2 static void f16_pairs_4(const uint16_t *const p[4], const float *xp, float *y,
                             int32_t rows, int32_t cols, int32_t b, int32_t r, int32_t n) {
  f16_pairs(p, xp, y, rows, cols, b, r, n, 4);
}

AVX2 static void f16_pairs_2(const uint16_t *const p[4], const float *xp, float *y,
                             int32_t rows, int32_t cols, int32_t b, int32_t r, int32_t n) {
  f16_pairs(p, xp, y, rows, cols, b, r, n, 2);
}

/* Rows [r0, r1) of y = W x for prepared activations xp (f16_prepare's layout): per group of
 * 4 rows, tokens two pairs at a time, then one pair, then an odd last token. */
AVX2 static void f16_rows(const uint16_t *w, const float *xp, float *y, int32_t rows,
                          int32_t cols, int32_t batch, int32_t r0, int32_t r1) {
  for (int32_t r = r0; r < r1; r += 4) {
    /* Rows past the end repeat the last row (computed, never stored). */
    const int32_t n = r1 - r < 4 ? r1 - r : 4;
    const uint16_t *p[4];
    for (int i = 0; i < 4; i++) p[i] = w + (int64_t)(r + (i < n ? i : n - 1)) * cols;
    int32_t b = 0;
    for (; b + 4 <= batch; b += 4) f16_pairs_4(p, xp, y, rows, cols, b, r, n);
    if (b + 2 <= batch) f16_pairs_2(p, xp, y, rows, cols, b, r, n), b += 2;
    if (b < batch) f16_single(p, xp, y, rows, cols, b, r, n);
  }
}

/* y[b, r] = Σ_c W[r, c] · x[b, c] for rows [r0, r1), W f16 bits, x f32 (matmul_f16). */
AVX2 int32_t cg_matmul_f16(uint8_t *m, uint32_t w, uint32_t x, uint32_t y, int32_t rows,
                           int32_t cols, int32_t batch, int32_t r0, int32_t r1) {
  float *xp = aligned_alloc(32, (size_t)cols * batch * sizeof(float) + 32);
  if (!xp) return 1;
  f16_prepare((const float *)(m + x), xp, cols, batch);
  f16_rows((const uint16_t *)(m + w), xp, (float *)(m + y), rows, cols, batch, r0, r1);
  free(xp);
  return 0;
}

/* The same with x already prepared (matmul_f16_decoded's activations, f16_prepare_x). */
AVX2 void cg_matmul_f16_prepared(uint8_t *m, uint32_t w, uint32_t xp, uint32_t y, int32_t rows,
                                 int32_t cols, int32_t batch, int32_t r0, int32_t r1) {
  f16_rows((const uint16_t *)(m + w), (const float *)(m + xp), (float *)(m + y), rows, cols,
           batch, r0, r1);
}
