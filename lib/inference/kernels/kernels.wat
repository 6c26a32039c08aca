;; clean-gguf compute kernels, hand-written WebAssembly text (the source of truth).
;;
;; tasks/build_wasm.ts assembles two variants from this one file into wasm_bytes.ts:
;; lines between ";;@relaxed" and ";;@end" are kept only in the relaxed-SIMD variant,
;; lines between ";;@portable" and ";;@end" only in the portable-SIMD variant.
;;
;; Every matmul computes output rows [r0, r1) for all batch rows, so that threads can
;; split a product by rows. r0 is a multiple of 4; r1 is a multiple of 4 or `rows`.
;; Rows go in groups of 4 that share each activation load; within a group the batch
;; rows go in pairs that share each weight load (and its decoding). Which group or pair
;; an output element belongs to depends only on its row and batch index, so results do
;; not depend on how rows are split between threads.
;;
;; Pointers are byte offsets (unsigned; the memory may be up to 4 GiB).
;;
;; The ternary kernels are exact integer arithmetic in both variants. The float kernels
;; sum in a different order than the TypeScript reference (4 lanes, then a fixed
;; horizontal sum), and the relaxed variant may fuse multiply-adds ($madd below).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; ---------------------------------------------------------------- helpers

  (func $hsum_f32 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func $hsum_i32 (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; Lane i = the sum of the four lanes of a_i: a 4x4 transpose folded into the adds.
  (func $hsum4_i32 (param $a0 v128) (param $a1 v128) (param $a2 v128) (param $a3 v128)
      (result v128)
    (local $u v128) (local $v v128)
    (local.set $u (i32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1))))
    (local.set $v (i32x4.add
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3))
      (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3))))
    (i32x4.add
      (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $u) (local.get $v))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $u) (local.get $v))))

  ;; Stores the first n (1..4) of four f32 values at y.
  (func $put4 (param $y i32) (param $n i32)
      (param $s0 f32) (param $s1 f32) (param $s2 f32) (param $s3 f32)
    (f32.store (local.get $y) (local.get $s0))
    (if (i32.gt_u (local.get $n) (i32.const 1))
      (then (f32.store offset=4 (local.get $y) (local.get $s1))))
    (if (i32.gt_u (local.get $n) (i32.const 2))
      (then (f32.store offset=8 (local.get $y) (local.get $s2))))
    (if (i32.gt_u (local.get $n) (i32.const 3))
      (then (f32.store offset=12 (local.get $y) (local.get $s3)))))

  ;; a·b + c for the float matmuls. Relaxed: f32x4.relaxed_madd (one FMA on x86 with FMA3,
  ;; ~1.2-1.6x faster f16/bf16 products); whether it fuses is fixed per machine, so results
  ;; still do not depend on the thread count, only differ from the portable variant in the
  ;; last bits. V8 inlines these small functions.
;;@relaxed
  (func $madd (param $a v128) (param $b v128) (param $c v128) (result v128)
    (f32x4.relaxed_madd (local.get $a) (local.get $b) (local.get $c)))
;;@end
;;@portable
  (func $madd (param $a v128) (param $b v128) (param $c v128) (result v128)
    (f32x4.add (f32x4.mul (local.get $a) (local.get $b)) (local.get $c)))
;;@end

  ;; ---------------------------------------------------------------- f32 weights

  ;; Four rows (p0..p3) times one activation row x, cols a multiple of 16. Two accumulators
  ;; per row (columns 8i..8i+3 and 8i+4..8i+7) hide the latency of the multiply-adds.
  (func $f32_4x1 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $x i32) (param $cols i32) (param $y i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $xv v128) (local $o i32) (local $end i32)
    (local.set $end (i32.shl (local.get $cols) (i32.const 2)))
    (loop $L
      (local.set $xv (v128.load (i32.add (local.get $x) (local.get $o))))
      (local.set $a0 (call $madd (local.get $xv) (v128.load (i32.add (local.get $p0) (local.get $o))) (local.get $a0)))
      (local.set $a1 (call $madd (local.get $xv) (v128.load (i32.add (local.get $p1) (local.get $o))) (local.get $a1)))
      (local.set $a2 (call $madd (local.get $xv) (v128.load (i32.add (local.get $p2) (local.get $o))) (local.get $a2)))
      (local.set $a3 (call $madd (local.get $xv) (v128.load (i32.add (local.get $p3) (local.get $o))) (local.get $a3)))
      (local.set $xv (v128.load offset=16 (i32.add (local.get $x) (local.get $o))))
      (local.set $c0 (call $madd (local.get $xv) (v128.load offset=16 (i32.add (local.get $p0) (local.get $o))) (local.get $c0)))
      (local.set $c1 (call $madd (local.get $xv) (v128.load offset=16 (i32.add (local.get $p1) (local.get $o))) (local.get $c1)))
      (local.set $c2 (call $madd (local.get $xv) (v128.load offset=16 (i32.add (local.get $p2) (local.get $o))) (local.get $c2)))
      (local.set $c3 (call $madd (local.get $xv) (v128.load offset=16 (i32.add (local.get $p3) (local.get $o))) (local.get $c3)))
      (local.set $o (i32.add (local.get $o) (i32.const 32)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (call $hsum_f32 (f32x4.add (local.get $a0) (local.get $c0))) (call $hsum_f32 (f32x4.add (local.get $a1) (local.get $c1)))
      (call $hsum_f32 (f32x4.add (local.get $a2) (local.get $c2))) (call $hsum_f32 (f32x4.add (local.get $a3) (local.get $c3)))))

  ;; Four rows times two activation rows (xa, xb): each weight load serves both.
  (func $f32_4x2 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $xa i32) (param $xb i32) (param $cols i32) (param $ya i32) (param $yb i32)
      (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $u v128) (local $v v128) (local $w v128) (local $o i32) (local $end i32)
    (local.set $end (i32.shl (local.get $cols) (i32.const 2)))
    (loop $L
      (local.set $u (v128.load (i32.add (local.get $xa) (local.get $o))))
      (local.set $v (v128.load (i32.add (local.get $xb) (local.get $o))))
      (local.set $w (v128.load (i32.add (local.get $p0) (local.get $o))))
      (local.set $a0 (call $madd (local.get $u) (local.get $w) (local.get $a0)))
      (local.set $b0 (call $madd (local.get $v) (local.get $w) (local.get $b0)))
      (local.set $w (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (call $madd (local.get $u) (local.get $w) (local.get $a1)))
      (local.set $b1 (call $madd (local.get $v) (local.get $w) (local.get $b1)))
      (local.set $w (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (call $madd (local.get $u) (local.get $w) (local.get $a2)))
      (local.set $b2 (call $madd (local.get $v) (local.get $w) (local.get $b2)))
      (local.set $w (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (call $madd (local.get $u) (local.get $w) (local.get $a3)))
      (local.set $b3 (call $madd (local.get $v) (local.get $w) (local.get $b3)))
      (local.set $u (v128.load offset=16 (i32.add (local.get $xa) (local.get $o))))
      (local.set $v (v128.load offset=16 (i32.add (local.get $xb) (local.get $o))))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p0) (local.get $o))))
      (local.set $a0 (call $madd (local.get $u) (local.get $w) (local.get $a0)))
      (local.set $b0 (call $madd (local.get $v) (local.get $w) (local.get $b0)))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (call $madd (local.get $u) (local.get $w) (local.get $a1)))
      (local.set $b1 (call $madd (local.get $v) (local.get $w) (local.get $b1)))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (call $madd (local.get $u) (local.get $w) (local.get $a2)))
      (local.set $b2 (call $madd (local.get $v) (local.get $w) (local.get $b2)))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (call $madd (local.get $u) (local.get $w) (local.get $a3)))
      (local.set $b3 (call $madd (local.get $v) (local.get $w) (local.get $b3)))
      (local.set $o (i32.add (local.get $o) (i32.const 32)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $ya) (local.get $n)
      (call $hsum_f32 (local.get $a0)) (call $hsum_f32 (local.get $a1))
      (call $hsum_f32 (local.get $a2)) (call $hsum_f32 (local.get $a3)))
    (call $put4 (local.get $yb) (local.get $n)
      (call $hsum_f32 (local.get $b0)) (call $hsum_f32 (local.get $b1))
      (call $hsum_f32 (local.get $b2)) (call $hsum_f32 (local.get $b3))))

  ;; ---------------------------------------------------------------- bf16 and f16 weights
  ;;
  ;; Eight 16-bit weights w0..w7 load as one v128. Seen as i32 lanes, `shl 16` gives the
  ;; even weights (w0 w2 w4 w6) in the high halves and `and 0xffff0000` the odd ones, so
  ;; the matching activations are x0 x2 x4 x6 and x1 x3 x5 x7, gathered with two shuffles
  ;; per activation load and shared by the four rows.
  ;;
  ;; bf16 in the high half is already the f32. f16 in the high half, shifted right by 3
  ;; (arithmetic) and masked with 0x8fffe000, is an f32 whose value is w * 2^-112 exactly,
  ;; subnormal halves included (for the odd weights the mask also clears the bits that
  ;; the even weight shifts in, so they need no `and 0xffff0000` first). Instead of multiplying every weight by 2^112, the
  ;; activations are multiplied by 2^64 and the sums by 2^48 (exact powers of two; the
  ;; products stay normal floats unless |w * x| < 2^-78, where the lost bits are below
  ;; 2^-100 absolute). f16 infinities and NaNs are not decoded as such (exponent 31
  ;; reads as a finite value): model weights never hold them.

  (func $bf16_4x1 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $x i32) (param $cols i32) (param $y i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $xe v128) (local $xo v128) (local $w v128) (local $hi v128)
    (local $o i32) (local $end i32)
    (local.set $hi (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000))
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $xe (v128.load (i32.add (local.get $x) (i32.shl (local.get $o) (i32.const 1)))))
      (local.set $xo (v128.load offset=16 (i32.add (local.get $x) (i32.shl (local.get $o) (i32.const 1)))))
      (local.set $w (local.get $xe))
      (local.set $xe (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
        (local.get $w) (local.get $xo)))
      (local.set $xo (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (local.get $w) (local.get $xo)))
      (local.set $w (v128.load (i32.add (local.get $p0) (local.get $o))))
      (local.set $a0 (call $madd (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16))
        (local.get $a0)))
      (local.set $e0 (call $madd (local.get $xo) (v128.and (local.get $w) (local.get $hi))
        (local.get $e0)))
      (local.set $w (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (call $madd (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16))
        (local.get $a1)))
      (local.set $e1 (call $madd (local.get $xo) (v128.and (local.get $w) (local.get $hi))
        (local.get $e1)))
      (local.set $w (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (call $madd (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16))
        (local.get $a2)))
      (local.set $e2 (call $madd (local.get $xo) (v128.and (local.get $w) (local.get $hi))
        (local.get $e2)))
      (local.set $w (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (call $madd (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16))
        (local.get $a3)))
      (local.set $e3 (call $madd (local.get $xo) (v128.and (local.get $w) (local.get $hi))
        (local.get $e3)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (call $hsum_f32 (f32x4.add (local.get $a0) (local.get $e0))) (call $hsum_f32 (f32x4.add (local.get $a1) (local.get $e1)))
      (call $hsum_f32 (f32x4.add (local.get $a2) (local.get $e2))) (call $hsum_f32 (f32x4.add (local.get $a3) (local.get $e3)))))

  (func $bf16_4x2 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $xa i32) (param $xb i32) (param $cols i32) (param $ya i32) (param $yb i32)
      (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $ae v128) (local $ao v128) (local $be v128) (local $bo v128)
    (local $we v128) (local $wo v128) (local $t v128) (local $hi v128)
    (local $o i32) (local $end i32) (local $xo i32)
    (local.set $hi (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000))
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $xo (i32.shl (local.get $o) (i32.const 1)))
      (local.set $t (v128.load (i32.add (local.get $xa) (local.get $xo))))
      (local.set $ao (v128.load offset=16 (i32.add (local.get $xa) (local.get $xo))))
      (local.set $ae (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
        (local.get $t) (local.get $ao)))
      (local.set $ao (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (local.get $t) (local.get $ao)))
      (local.set $t (v128.load (i32.add (local.get $xb) (local.get $xo))))
      (local.set $bo (v128.load offset=16 (i32.add (local.get $xb) (local.get $xo))))
      (local.set $be (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
        (local.get $t) (local.get $bo)))
      (local.set $bo (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (local.get $t) (local.get $bo)))
      (local.set $t (v128.load (i32.add (local.get $p0) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a0 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a0))))
      (local.set $b0 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b0))))
      (local.set $t (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a1 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a1))))
      (local.set $b1 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b1))))
      (local.set $t (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a2 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a2))))
      (local.set $b2 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b2))))
      (local.set $t (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a3 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a3))))
      (local.set $b3 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b3))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $ya) (local.get $n)
      (call $hsum_f32 (local.get $a0)) (call $hsum_f32 (local.get $a1))
      (call $hsum_f32 (local.get $a2)) (call $hsum_f32 (local.get $a3)))
    (call $put4 (local.get $yb) (local.get $n)
      (call $hsum_f32 (local.get $b0)) (call $hsum_f32 (local.get $b1))
      (call $hsum_f32 (local.get $b2)) (call $hsum_f32 (local.get $b3))))

  (func $f16_4x1 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $x i32) (param $cols i32) (param $y i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $xe v128) (local $xo v128) (local $w v128) (local $hi v128) (local $mask v128)
    (local $scale v128) (local $o i32) (local $end i32)
    (local.set $hi (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000))
    (local.set $mask (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))
    (local.set $scale (v128.const f32x4 0x1p64 0x1p64 0x1p64 0x1p64))
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $xe (v128.load (i32.add (local.get $x) (i32.shl (local.get $o) (i32.const 1)))))
      (local.set $xo (v128.load offset=16 (i32.add (local.get $x) (i32.shl (local.get $o) (i32.const 1)))))
      (local.set $w (local.get $xe))
      (local.set $xe (f32x4.mul (local.get $scale) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
        (local.get $w) (local.get $xo))))
      (local.set $xo (f32x4.mul (local.get $scale) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (local.get $w) (local.get $xo))))
      (local.set $w (v128.load (i32.add (local.get $p0) (local.get $o))))
      (local.set $a0 (call $madd (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3)))
        (local.get $a0)))
      (local.set $e0 (call $madd (local.get $xo) (v128.and (local.get $mask) (i32x4.shr_s (local.get $w) (i32.const 3)))
        (local.get $e0)))
      (local.set $w (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (call $madd (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3)))
        (local.get $a1)))
      (local.set $e1 (call $madd (local.get $xo) (v128.and (local.get $mask) (i32x4.shr_s (local.get $w) (i32.const 3)))
        (local.get $e1)))
      (local.set $w (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (call $madd (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3)))
        (local.get $a2)))
      (local.set $e2 (call $madd (local.get $xo) (v128.and (local.get $mask) (i32x4.shr_s (local.get $w) (i32.const 3)))
        (local.get $e2)))
      (local.set $w (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (call $madd (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3)))
        (local.get $a3)))
      (local.set $e3 (call $madd (local.get $xo) (v128.and (local.get $mask) (i32x4.shr_s (local.get $w) (i32.const 3)))
        (local.get $e3)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a0) (local.get $e0))) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a1) (local.get $e1))) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a2) (local.get $e2))) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a3) (local.get $e3))) (f32.const 0x1p48))))

  (func $f16_4x2 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $xa i32) (param $xb i32) (param $cols i32) (param $ya i32) (param $yb i32)
      (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $ae v128) (local $ao v128) (local $be v128) (local $bo v128)
    (local $we v128) (local $wo v128) (local $t v128) (local $hi v128) (local $mask v128)
    (local $scale v128) (local $o i32) (local $end i32) (local $xo i32)
    (local.set $hi (v128.const i32x4 0xffff0000 0xffff0000 0xffff0000 0xffff0000))
    (local.set $mask (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))
    (local.set $scale (v128.const f32x4 0x1p64 0x1p64 0x1p64 0x1p64))
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $xo (i32.shl (local.get $o) (i32.const 1)))
      (local.set $t (v128.load (i32.add (local.get $xa) (local.get $xo))))
      (local.set $ao (v128.load offset=16 (i32.add (local.get $xa) (local.get $xo))))
      (local.set $ae (f32x4.mul (local.get $scale) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
        (local.get $t) (local.get $ao))))
      (local.set $ao (f32x4.mul (local.get $scale) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (local.get $t) (local.get $ao))))
      (local.set $t (v128.load (i32.add (local.get $xb) (local.get $xo))))
      (local.set $bo (v128.load offset=16 (i32.add (local.get $xb) (local.get $xo))))
      (local.set $be (f32x4.mul (local.get $scale) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
        (local.get $t) (local.get $bo))))
      (local.set $bo (f32x4.mul (local.get $scale) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31
        (local.get $t) (local.get $bo))))
      (local.set $t (v128.load (i32.add (local.get $p0) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $a0 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a0))))
      (local.set $b0 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b0))))
      (local.set $t (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $a1 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a1))))
      (local.set $b1 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b1))))
      (local.set $t (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $a2 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a2))))
      (local.set $b2 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b2))))
      (local.set $t (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $a3 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a3))))
      (local.set $b3 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b3))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $ya) (local.get $n)
      (f32.mul (call $hsum_f32 (local.get $a0)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a1)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a2)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a3)) (f32.const 0x1p48)))
    (call $put4 (local.get $yb) (local.get $n)
      (f32.mul (call $hsum_f32 (local.get $b0)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $b1)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $b2)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $b3)) (f32.const 0x1p48))))

;; ---------------------------------------------------------------- f16 weights, batches
  ;;
  ;; For a batch of several rows the f16 tiles above would decode every weight once per
  ;; pair of batch rows. Here each group of 4 weight rows is decoded once into this
  ;; thread's scratch (per 8 columns: row k's even weights at 32k, odd weights at 32k+16,
  ;; exactly the v128 values the tiles compute from the bits), then the tiles below run
  ;; over every batch pair reading them, with the activations shuffled and scaled once for the
  ;; whole product (f16_prepare_x). Same products, same order: the results are bit-identical
  ;; to matmul_f16's.

  ;; The activations as the f16 tiles use them, once per product instead of once per row
  ;; group and batch pair: per 8 columns of each of the $batch rows of x, the even ones then
  ;; the odd ones, times 2^64 (the same shuffles and product as in the tiles), at $xp.
  (func (export "f16_prepare_x") (param $x i32) (param $xp i32) (param $cols i32) (param $batch i32)
    (local $end i32) (local $u v128) (local $v v128) (local $scale v128)
    (local.set $scale (v128.const f32x4 0x1p64 0x1p64 0x1p64 0x1p64))
    (local.set $end (i32.add (local.get $x)
      (i32.shl (i32.mul (local.get $cols) (local.get $batch)) (i32.const 2))))
    (block $done (loop $L
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $u (v128.load (local.get $x)))
      (local.set $v (v128.load offset=16 (local.get $x)))
      (v128.store (local.get $xp) (f32x4.mul (local.get $scale)
        (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $u) (local.get $v))))
      (v128.store offset=16 (local.get $xp) (f32x4.mul (local.get $scale)
        (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $u) (local.get $v))))
      (local.set $x (i32.add (local.get $x) (i32.const 32)))
      (local.set $xp (i32.add (local.get $xp) (i32.const 32)))
      (br $L))))

  (func $f16_decode4 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $cols i32) (param $s i32)
    (local $mask v128) (local $t v128) (local $o i32) (local $end i32)
    (local.set $mask (v128.const i32x4 0x8fffe000 0x8fffe000 0x8fffe000 0x8fffe000))
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $t (v128.load (i32.add (local.get $p0) (local.get $o))))
      (v128.store offset=0 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (v128.store offset=16 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $t (v128.load (i32.add (local.get $p1) (local.get $o))))
      (v128.store offset=32 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (v128.store offset=48 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $t (v128.load (i32.add (local.get $p2) (local.get $o))))
      (v128.store offset=64 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (v128.store offset=80 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $t (v128.load (i32.add (local.get $p3) (local.get $o))))
      (v128.store offset=96 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (v128.store offset=112 (local.get $s)
        (v128.and (local.get $mask) (i32x4.shr_s (local.get $t) (i32.const 3))))
      (local.set $s (i32.add (local.get $s) (i32.const 128)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end)))))

  ;; $f16_4x2 with the weights read from the decoded scratch $s and x prepared (f16_prepare_x).
  (func $f16s_4x2 (param $s i32) (param $xa i32) (param $xb i32) (param $cols i32)
      (param $ya i32) (param $yb i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $ae v128) (local $ao v128) (local $be v128) (local $bo v128)
    (local $we v128) (local $wo v128) (local $o i32) (local $end i32) (local $xo i32)
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $xo (i32.shl (local.get $o) (i32.const 1)))
      (local.set $ae (v128.load (i32.add (local.get $xa) (local.get $xo))))
      (local.set $ao (v128.load offset=16 (i32.add (local.get $xa) (local.get $xo))))
      (local.set $be (v128.load (i32.add (local.get $xb) (local.get $xo))))
      (local.set $bo (v128.load offset=16 (i32.add (local.get $xb) (local.get $xo))))
      (local.set $we (v128.load offset=0 (local.get $s)))
      (local.set $wo (v128.load offset=16 (local.get $s)))
      (local.set $a0 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a0))))
      (local.set $b0 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b0))))
      (local.set $we (v128.load offset=32 (local.get $s)))
      (local.set $wo (v128.load offset=48 (local.get $s)))
      (local.set $a1 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a1))))
      (local.set $b1 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b1))))
      (local.set $we (v128.load offset=64 (local.get $s)))
      (local.set $wo (v128.load offset=80 (local.get $s)))
      (local.set $a2 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a2))))
      (local.set $b2 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b2))))
      (local.set $we (v128.load offset=96 (local.get $s)))
      (local.set $wo (v128.load offset=112 (local.get $s)))
      (local.set $a3 (call $madd (local.get $ae) (local.get $we)
        (call $madd (local.get $ao) (local.get $wo) (local.get $a3))))
      (local.set $b3 (call $madd (local.get $be) (local.get $we)
        (call $madd (local.get $bo) (local.get $wo) (local.get $b3))))
      (local.set $s (i32.add (local.get $s) (i32.const 128)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $ya) (local.get $n)
      (f32.mul (call $hsum_f32 (local.get $a0)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a1)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a2)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a3)) (f32.const 0x1p48)))
    (call $put4 (local.get $yb) (local.get $n)
      (f32.mul (call $hsum_f32 (local.get $b0)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $b1)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $b2)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $b3)) (f32.const 0x1p48))))

  ;; $f16_4x1 with the weights read from the decoded scratch $s and x prepared (f16_prepare_x).
  (func $f16s_4x1 (param $s i32) (param $x i32) (param $cols i32) (param $y i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $xe v128) (local $xo v128) (local $o i32) (local $end i32)
    (local.set $end (i32.shl (local.get $cols) (i32.const 1)))
    (loop $L
      (local.set $xe (v128.load (i32.add (local.get $x) (i32.shl (local.get $o) (i32.const 1)))))
      (local.set $xo (v128.load offset=16 (i32.add (local.get $x) (i32.shl (local.get $o) (i32.const 1)))))
      (local.set $a0 (call $madd (local.get $xe) (v128.load offset=0 (local.get $s)) (local.get $a0)))
      (local.set $e0 (call $madd (local.get $xo) (v128.load offset=16 (local.get $s)) (local.get $e0)))
      (local.set $a1 (call $madd (local.get $xe) (v128.load offset=32 (local.get $s)) (local.get $a1)))
      (local.set $e1 (call $madd (local.get $xo) (v128.load offset=48 (local.get $s)) (local.get $e1)))
      (local.set $a2 (call $madd (local.get $xe) (v128.load offset=64 (local.get $s)) (local.get $a2)))
      (local.set $e2 (call $madd (local.get $xo) (v128.load offset=80 (local.get $s)) (local.get $e2)))
      (local.set $a3 (call $madd (local.get $xe) (v128.load offset=96 (local.get $s)) (local.get $a3)))
      (local.set $e3 (call $madd (local.get $xo) (v128.load offset=112 (local.get $s)) (local.get $e3)))
      (local.set $s (i32.add (local.get $s) (i32.const 128)))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a0) (local.get $e0))) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a1) (local.get $e1))) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a2) (local.get $e2))) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (f32x4.add (local.get $a3) (local.get $e3))) (f32.const 0x1p48))))

  ;; matmul_f16 for rows [r0, r1) with each row group decoded once into $s (16·cols bytes);
  ;; $x holds the activations prepared by f16_prepare_x.
  (func (export "matmul_f16_decoded") (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32) (param $batch i32) (param $r0 i32) (param $r1 i32) (param $s i32)
    (local $rb i32) (local $xb i32) (local $yb i32) (local $r i32) (local $n i32) (local $b i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $yr i32)
    (local.set $rb (i32.shl (local.get $cols) (i32.const 1)))
    (local.set $xb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $yb (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r (local.get $r0))
    (block $done (loop $G
      (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $n (i32.sub (local.get $r1) (local.get $r)))
      ;; Rows past the end repeat the last row (computed, never stored), as in $matmul_float.
      (local.set $p0 (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $rb))))
      (local.set $p1 (select (i32.add (local.get $p0) (local.get $rb)) (local.get $p0)
        (i32.gt_u (local.get $n) (i32.const 1))))
      (local.set $p2 (select (i32.add (local.get $p1) (local.get $rb)) (local.get $p1)
        (i32.gt_u (local.get $n) (i32.const 2))))
      (local.set $p3 (select (i32.add (local.get $p2) (local.get $rb)) (local.get $p2)
        (i32.gt_u (local.get $n) (i32.const 3))))
      (call $f16_decode4 (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
        (local.get $cols) (local.get $s))
      (local.set $yr (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))))
      (local.set $b (i32.const 0))
      (block $pairs_done (loop $B
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $b) (i32.const 2)) (local.get $batch)))
        (call $f16s_4x2 (local.get $s)
          (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xb)))
          (i32.add (local.get $x) (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $xb)))
          (local.get $cols)
          (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
          (i32.add (local.get $yr) (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $yb)))
          (local.get $n))
        (local.set $b (i32.add (local.get $b) (i32.const 2)))
        (br $B)))
      (if (i32.lt_u (local.get $b) (local.get $batch))
        (then
          (call $f16s_4x1 (local.get $s)
            (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xb)))
            (local.get $cols)
            (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
            (local.get $n))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $G))))

    (type $tile4x2 (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (type $tile4x1 (func (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (table $tiles 6 6 funcref)
  (elem (table $tiles) (i32.const 0) func $f32_4x2 $f32_4x1 $bf16_4x2 $bf16_4x1 $f16_4x2 $f16_4x1)

  ;; The row-group and batch-pair loop shared by the float matmuls. $kind picks the
  ;; tiles (0 f32, 1 bf16, 2 f16); $shift is log2 of the weight element size.
  (func $matmul_float (param $kind i32) (param $shift i32)
      (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32) (param $batch i32) (param $r0 i32) (param $r1 i32)
    (local $rb i32) (local $xb i32) (local $yb i32) (local $r i32) (local $n i32) (local $b i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32) (local $yr i32)
    (local.set $rb (i32.shl (local.get $cols) (local.get $shift)))
    (local.set $xb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $yb (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r (local.get $r0))
    (block $done (loop $G
      (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $n (i32.sub (local.get $r1) (local.get $r)))
      ;; Rows past the end repeat the last row (computed, never stored).
      (local.set $p0 (i32.add (local.get $w) (i32.mul (local.get $r) (local.get $rb))))
      (local.set $p1 (select (i32.add (local.get $p0) (local.get $rb)) (local.get $p0)
        (i32.gt_u (local.get $n) (i32.const 1))))
      (local.set $p2 (select (i32.add (local.get $p1) (local.get $rb)) (local.get $p1)
        (i32.gt_u (local.get $n) (i32.const 2))))
      (local.set $p3 (select (i32.add (local.get $p2) (local.get $rb)) (local.get $p2)
        (i32.gt_u (local.get $n) (i32.const 3))))
      (local.set $yr (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))))
      (local.set $b (i32.const 0))
      (block $pairs_done (loop $B
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $b) (i32.const 2)) (local.get $batch)))
        (call_indirect $tiles (type $tile4x2)
          (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
          (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xb)))
          (i32.add (local.get $x) (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $xb)))
          (local.get $cols)
          (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
          (i32.add (local.get $yr) (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $yb)))
          (local.get $n)
          (i32.shl (local.get $kind) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 2)))
        (br $B)))
      (if (i32.lt_u (local.get $b) (local.get $batch))
        (then
          (call_indirect $tiles (type $tile4x1)
            (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
            (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $xb)))
            (local.get $cols)
            (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
            (local.get $n)
            (i32.add (i32.shl (local.get $kind) (i32.const 1)) (i32.const 1)))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $G))))

  (func (export "matmul_f32") (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32) (param $batch i32) (param $r0 i32) (param $r1 i32)
    (call $matmul_float (i32.const 0) (i32.const 2) (local.get $w) (local.get $x) (local.get $y)
      (local.get $rows) (local.get $cols) (local.get $batch) (local.get $r0) (local.get $r1)))

  (func (export "matmul_bf16") (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32) (param $batch i32) (param $r0 i32) (param $r1 i32)
    (call $matmul_float (i32.const 1) (i32.const 1) (local.get $w) (local.get $x) (local.get $y)
      (local.get $rows) (local.get $cols) (local.get $batch) (local.get $r0) (local.get $r1)))

  (func (export "matmul_f16") (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32) (param $batch i32) (param $r0 i32) (param $r1 i32)
    (call $matmul_float (i32.const 2) (i32.const 1) (local.get $w) (local.get $x) (local.get $y)
      (local.get $rows) (local.get $cols) (local.get $batch) (local.get $r0) (local.get $r1)))

  ;; ---------------------------------------------------------------- ternary weights
  ;;
  ;; Packed layout (this backend's own): rows in groups of 4 (the last group padded
  ;; with zero trits), columns in blocks of 64. Group g, block j, row i of the group
  ;; occupies the 16 bytes at g*cols + j*64 + i*16; bit pair k (bits 2k+1..2k) of byte m
  ;; holds the code (trit + 1: 0, 1 or 2) of column 64j + 16k + m. So the 16 code bytes
  ;; of bit pair k line up with the 16 activations q[64j + 16k ..], one v128 load each,
  ;; shared by the group's 4 rows.
  ;;
  ;; The kernels compute Σ code·q and subtract Σ q (written by quantize_rows_i8), which
  ;; is Σ trit·q: exact integer arithmetic. The scale-back is the reference's
  ;; f32((f64(s) / f64(t)) * wScale), so the results are bit-identical to it.
;;@relaxed
  ;;
  ;; i16x8.relaxed_dot_i8x16_i7x16_s(q, c) adds pairs of q·c into i16 lanes (one
  ;; pmaddubsw on x86; every c below is 0..8, a valid i7 operand, so the result is
  ;; deterministic). This measured ~1.7x faster than i32x4.relaxed_dot_i8x16_i7x16_add_s
  ;; per 16 codes (which is pmaddubsw + pmaddwd + paddd on CPUs without AVX-VNNI).
  ;;
  ;; Decode with one shift: with y = x >> 4 (i16 lanes; what the high byte shifts into the
  ;; low byte lands in bits 4..7, which the masks clear), the four bit pairs of a weight
  ;; v128 x are x & 3 (code of bit pair 0), x & 12 (4·code of pair 1), y & 3 (pair 2) and
  ;; y & 12 (4·code of pair 3). So per row and block: d0 + d2 + (d1 + d3) >> 2, where d1 + d3
  ;; is 4·Σ code·q exactly and the arithmetic shift divides it exactly. One shift and four
  ;; ands instead of three shifts and four ands, and one accumulator per row (no spills).
  ;;
  ;; Bounds (q in -128..127, codes 0..2): |d1 + d3| ≤ 2·2·8·128 = 4096 per lane; each lane of
  ;; an accumulator changes per 64-column block by at most 2·(2·2·128) = 2048 downwards and
  ;; 2032 upwards, so i16 accumulators hold 16 blocks (1024 columns: -32768..32512) before
  ;; they are widened into i32 accumulators. tests/inference/kernels_ternary_test.ts runs
  ;; every q at 127 and at -128 with every code 2 over whole and partial 1024-column chunks.

  (func $tern_4x1 (param $p i32) (param $q i32) (param $cols i32) (result v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $m1 v128) (local $m4 v128) (local $x v128) (local $y v128)
    (local $end i32) (local $stop i32)
    (local.set $m1 (v128.const i8x16 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3))
    (local.set $m4 (v128.const i8x16 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12))
    (local.set $end (i32.add (local.get $q) (local.get $cols)))
    (loop $chunk
      (local.set $h0 (v128.const i64x2 0 0))
      (local.set $h1 (v128.const i64x2 0 0))
      (local.set $h2 (v128.const i64x2 0 0))
      (local.set $h3 (v128.const i64x2 0 0))
      (local.set $stop (select (local.get $end) (i32.add (local.get $q) (i32.const 1024))
        (i32.lt_u (i32.sub (local.get $end) (local.get $q)) (i32.const 1024))))
      (loop $block
        (local.set $x (v128.load offset=0 (local.get $p)))
        (local.set $y (i16x8.shr_u (local.get $x) (i32.const 4)))
        (local.set $h0 (i16x8.add (i16x8.add (local.get $h0)
          (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $q)) (v128.and (local.get $x) (local.get $m1)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=32 (local.get $q)) (v128.and (local.get $y) (local.get $m1)))))
          (i16x8.shr_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $q)) (v128.and (local.get $x) (local.get $m4)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=48 (local.get $q)) (v128.and (local.get $y) (local.get $m4))))
            (i32.const 2))))
        (local.set $x (v128.load offset=16 (local.get $p)))
        (local.set $y (i16x8.shr_u (local.get $x) (i32.const 4)))
        (local.set $h1 (i16x8.add (i16x8.add (local.get $h1)
          (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $q)) (v128.and (local.get $x) (local.get $m1)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=32 (local.get $q)) (v128.and (local.get $y) (local.get $m1)))))
          (i16x8.shr_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $q)) (v128.and (local.get $x) (local.get $m4)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=48 (local.get $q)) (v128.and (local.get $y) (local.get $m4))))
            (i32.const 2))))
        (local.set $x (v128.load offset=32 (local.get $p)))
        (local.set $y (i16x8.shr_u (local.get $x) (i32.const 4)))
        (local.set $h2 (i16x8.add (i16x8.add (local.get $h2)
          (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $q)) (v128.and (local.get $x) (local.get $m1)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=32 (local.get $q)) (v128.and (local.get $y) (local.get $m1)))))
          (i16x8.shr_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $q)) (v128.and (local.get $x) (local.get $m4)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=48 (local.get $q)) (v128.and (local.get $y) (local.get $m4))))
            (i32.const 2))))
        (local.set $x (v128.load offset=48 (local.get $p)))
        (local.set $y (i16x8.shr_u (local.get $x) (i32.const 4)))
        (local.set $h3 (i16x8.add (i16x8.add (local.get $h3)
          (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=0 (local.get $q)) (v128.and (local.get $x) (local.get $m1)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=32 (local.get $q)) (v128.and (local.get $y) (local.get $m1)))))
          (i16x8.shr_s (i16x8.add
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=16 (local.get $q)) (v128.and (local.get $x) (local.get $m4)))
            (i16x8.relaxed_dot_i8x16_i7x16_s (v128.load offset=48 (local.get $q)) (v128.and (local.get $y) (local.get $m4))))
            (i32.const 2))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (local.set $q (i32.add (local.get $q) (i32.const 64)))
        (br_if $block (i32.lt_u (local.get $q) (local.get $stop))))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.extadd_pairwise_i16x8_s (local.get $h0))))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.extadd_pairwise_i16x8_s (local.get $h1))))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.extadd_pairwise_i16x8_s (local.get $h2))))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.extadd_pairwise_i16x8_s (local.get $h3))))
      (br_if $chunk (i32.lt_u (local.get $q) (local.get $end))))
    (call $hsum4_i32 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))

  ;; Two activation rows per weight decode. Per block, 16 dots into 8 i16 accumulators.
  ;; (The one-shift decode above measured ~6% slower here: 8 accumulators, 8 activation
  ;; vectors and the decoded codes do not fit V8's 15 xmm registers.)
  (func $tern_4x2 (param $p i32) (param $qa i32) (param $qb i32) (param $cols i32)
      (param $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $u v128) (local $v v128) (local $c v128) (local $m v128)
    (local $end i32) (local $stop i32)
    (local.set $m (v128.const i8x16 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3))
    (local.set $end (i32.add (local.get $qa) (local.get $cols)))
    (loop $chunk
      (local.set $g0 (v128.const i64x2 0 0))
      (local.set $g1 (v128.const i64x2 0 0))
      (local.set $g2 (v128.const i64x2 0 0))
      (local.set $g3 (v128.const i64x2 0 0))
      (local.set $h0 (v128.const i64x2 0 0))
      (local.set $h1 (v128.const i64x2 0 0))
      (local.set $h2 (v128.const i64x2 0 0))
      (local.set $h3 (v128.const i64x2 0 0))
      (local.set $stop (select (local.get $end) (i32.add (local.get $qa) (i32.const 1024))
        (i32.lt_u (i32.sub (local.get $end) (local.get $qa)) (i32.const 1024))))
      (loop $block
        ;; bit pair 0
        (local.set $u (v128.load offset=0 (local.get $qa)))
        (local.set $v (v128.load offset=0 (local.get $qb)))
        (local.set $c (v128.and (v128.load offset=0 (local.get $p)) (local.get $m)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (v128.load offset=16 (local.get $p)) (local.get $m)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (v128.load offset=32 (local.get $p)) (local.get $m)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (v128.load offset=48 (local.get $p)) (local.get $m)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        ;; bit pair 1
        (local.set $u (v128.load offset=16 (local.get $qa)))
        (local.set $v (v128.load offset=16 (local.get $qb)))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=0 (local.get $p)) (i32.const 2)) (local.get $m)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=16 (local.get $p)) (i32.const 2)) (local.get $m)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=32 (local.get $p)) (i32.const 2)) (local.get $m)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=48 (local.get $p)) (i32.const 2)) (local.get $m)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        ;; bit pair 2
        (local.set $u (v128.load offset=32 (local.get $qa)))
        (local.set $v (v128.load offset=32 (local.get $qb)))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=0 (local.get $p)) (i32.const 4)) (local.get $m)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=16 (local.get $p)) (i32.const 4)) (local.get $m)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=32 (local.get $p)) (i32.const 4)) (local.get $m)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=48 (local.get $p)) (i32.const 4)) (local.get $m)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        ;; bit pair 3
        (local.set $u (v128.load offset=48 (local.get $qa)))
        (local.set $v (v128.load offset=48 (local.get $qb)))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=0 (local.get $p)) (i32.const 6)) (local.get $m)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=16 (local.get $p)) (i32.const 6)) (local.get $m)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=32 (local.get $p)) (i32.const 6)) (local.get $m)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.and (i16x8.shr_u (v128.load offset=48 (local.get $p)) (i32.const 6)) (local.get $m)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (local.set $qa (i32.add (local.get $qa) (i32.const 64)))
        (local.set $qb (i32.add (local.get $qb) (i32.const 64)))
        (br_if $block (i32.lt_u (local.get $qa) (local.get $stop))))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.extadd_pairwise_i16x8_s (local.get $g0))))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.extadd_pairwise_i16x8_s (local.get $g1))))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.extadd_pairwise_i16x8_s (local.get $g2))))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.extadd_pairwise_i16x8_s (local.get $g3))))
      (local.set $b0 (i32x4.add (local.get $b0) (i32x4.extadd_pairwise_i16x8_s (local.get $h0))))
      (local.set $b1 (i32x4.add (local.get $b1) (i32x4.extadd_pairwise_i16x8_s (local.get $h1))))
      (local.set $b2 (i32x4.add (local.get $b2) (i32x4.extadd_pairwise_i16x8_s (local.get $h2))))
      (local.set $b3 (i32x4.add (local.get $b3) (i32x4.extadd_pairwise_i16x8_s (local.get $h3))))
      (br_if $chunk (i32.lt_u (local.get $qa) (local.get $end))))
    (v128.store offset=0 (local.get $out)
      (call $hsum4_i32 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
    (v128.store offset=16 (local.get $out)
      (call $hsum4_i32 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))))

  ;; ---- Prompt path: each row group decoded once per batch (matmul_ternary, $dec ≠ 0).
  ;;
  ;; $tern_4x2 decodes every weight byte again for each pair of batch rows. With a decode
  ;; scratch (TERNARY_DECODE_MIN_BATCH = 24 batch rows on, control.ts), matmul_ternary
  ;; decodes the group once into it (4·cols bytes: one code 0..2 per weight, 27.6 KB at
  ;; cols 6912) and runs $tern_4x2d per pair: per 16 columns 2 activation loads, 4 code
  ;; loads shared by both rows, 8 dots and 8 adds, no and/shift. Same i16 lanes, same
  ;; 1024-column chunks, the same exact integer sums: the same bits as $tern_4x2.
  ;;
  ;; Measured (7 Dec, bench/ternary_ab_bench.ts, 1 thread, 2B shapes): +6..11% at batch 64,
  ;; +2..6% at 32, even at ~20, -4% at 16 and -20% at 4 (the decode pass costs about two
  ;; thirds of a pair). Less than the operation count promises because this Deno runs
  ;; wasm without V8's trap handler: every load is explicitly bounds-checked (lea, cmp,
  ;; jae in the machine code), and $tern_4x2d loads 24 v128 per 64 columns where $tern_4x2
  ;; loads 12 (V8 merges its four loads of each weight v128), so the saved ands and shifts
  ;; are mostly paid back in checks. Decoding inside the first pair ($tern_4x2 storing its
  ;; codes) measured the same at batch 24 and 64, so the simpler separate pass stays.
  ;;
  ;; Decoded layout: the codes of columns 16u..16u+15 of row i at s + 64u + 16i, i.e. per
  ;; 64-column block j the bit pairs k = 0..3 of the packed block, one v128 per row.
  (func $tern_decode4 (param $p i32) (param $cols i32) (param $s i32)
    (local $m v128) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $end i32)
    (local.set $m (v128.const i8x16 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3))
    (local.set $end (i32.add (local.get $p) (local.get $cols)))
    (loop $L
      (local.set $x0 (v128.load offset=0 (local.get $p)))
      (local.set $x1 (v128.load offset=16 (local.get $p)))
      (local.set $x2 (v128.load offset=32 (local.get $p)))
      (local.set $x3 (v128.load offset=48 (local.get $p)))
      ;; i16 shifts: bits shifted in from a lane's high byte land above the 2 masked bits.
      (v128.store offset=0 (local.get $s) (v128.and (local.get $x0) (local.get $m)))
      (v128.store offset=16 (local.get $s) (v128.and (local.get $x1) (local.get $m)))
      (v128.store offset=32 (local.get $s) (v128.and (local.get $x2) (local.get $m)))
      (v128.store offset=48 (local.get $s) (v128.and (local.get $x3) (local.get $m)))
      (v128.store offset=64 (local.get $s) (v128.and (i16x8.shr_u (local.get $x0) (i32.const 2)) (local.get $m)))
      (v128.store offset=80 (local.get $s) (v128.and (i16x8.shr_u (local.get $x1) (i32.const 2)) (local.get $m)))
      (v128.store offset=96 (local.get $s) (v128.and (i16x8.shr_u (local.get $x2) (i32.const 2)) (local.get $m)))
      (v128.store offset=112 (local.get $s) (v128.and (i16x8.shr_u (local.get $x3) (i32.const 2)) (local.get $m)))
      (v128.store offset=128 (local.get $s) (v128.and (i16x8.shr_u (local.get $x0) (i32.const 4)) (local.get $m)))
      (v128.store offset=144 (local.get $s) (v128.and (i16x8.shr_u (local.get $x1) (i32.const 4)) (local.get $m)))
      (v128.store offset=160 (local.get $s) (v128.and (i16x8.shr_u (local.get $x2) (i32.const 4)) (local.get $m)))
      (v128.store offset=176 (local.get $s) (v128.and (i16x8.shr_u (local.get $x3) (i32.const 4)) (local.get $m)))
      (v128.store offset=192 (local.get $s) (v128.and (i16x8.shr_u (local.get $x0) (i32.const 6)) (local.get $m)))
      (v128.store offset=208 (local.get $s) (v128.and (i16x8.shr_u (local.get $x1) (i32.const 6)) (local.get $m)))
      (v128.store offset=224 (local.get $s) (v128.and (i16x8.shr_u (local.get $x2) (i32.const 6)) (local.get $m)))
      (v128.store offset=240 (local.get $s) (v128.and (i16x8.shr_u (local.get $x3) (i32.const 6)) (local.get $m)))
      (local.set $s (i32.add (local.get $s) (i32.const 256)))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br_if $L (i32.lt_u (local.get $p) (local.get $end)))))

  ;; Two activation rows (qa, qb) times the decoded group at $s: the sums of $tern_4x2.
  (func $tern_4x2d (param $s i32) (param $qa i32) (param $qb i32) (param $cols i32)
      (param $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $u v128) (local $v v128) (local $c v128)
    (local $end i32) (local $stop i32)
    (local.set $end (i32.add (local.get $qa) (local.get $cols)))
    (loop $chunk
      (local.set $g0 (v128.const i64x2 0 0))
      (local.set $g1 (v128.const i64x2 0 0))
      (local.set $g2 (v128.const i64x2 0 0))
      (local.set $g3 (v128.const i64x2 0 0))
      (local.set $h0 (v128.const i64x2 0 0))
      (local.set $h1 (v128.const i64x2 0 0))
      (local.set $h2 (v128.const i64x2 0 0))
      (local.set $h3 (v128.const i64x2 0 0))
      (local.set $stop (select (local.get $end) (i32.add (local.get $qa) (i32.const 1024))
        (i32.lt_u (i32.sub (local.get $end) (local.get $qa)) (i32.const 1024))))
      ;; 64 columns per iteration (cols is a multiple of 64), 16 per step.
      (loop $block
        (local.set $u (v128.load offset=0 (local.get $qa)))
        (local.set $v (v128.load offset=0 (local.get $qb)))
        (local.set $c (v128.load offset=0 (local.get $s)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=16 (local.get $s)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=32 (local.get $s)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=48 (local.get $s)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $u (v128.load offset=16 (local.get $qa)))
        (local.set $v (v128.load offset=16 (local.get $qb)))
        (local.set $c (v128.load offset=64 (local.get $s)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=80 (local.get $s)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=96 (local.get $s)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=112 (local.get $s)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $u (v128.load offset=32 (local.get $qa)))
        (local.set $v (v128.load offset=32 (local.get $qb)))
        (local.set $c (v128.load offset=128 (local.get $s)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=144 (local.get $s)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=160 (local.get $s)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=176 (local.get $s)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $u (v128.load offset=48 (local.get $qa)))
        (local.set $v (v128.load offset=48 (local.get $qb)))
        (local.set $c (v128.load offset=192 (local.get $s)))
        (local.set $g0 (i16x8.add (local.get $g0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h0 (i16x8.add (local.get $h0) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=208 (local.get $s)))
        (local.set $g1 (i16x8.add (local.get $g1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h1 (i16x8.add (local.get $h1) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=224 (local.get $s)))
        (local.set $g2 (i16x8.add (local.get $g2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h2 (i16x8.add (local.get $h2) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $c (v128.load offset=240 (local.get $s)))
        (local.set $g3 (i16x8.add (local.get $g3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $u) (local.get $c))))
        (local.set $h3 (i16x8.add (local.get $h3) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $v) (local.get $c))))
        (local.set $s (i32.add (local.get $s) (i32.const 256)))
        (local.set $qa (i32.add (local.get $qa) (i32.const 64)))
        (local.set $qb (i32.add (local.get $qb) (i32.const 64)))
        (br_if $block (i32.lt_u (local.get $qa) (local.get $stop))))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.extadd_pairwise_i16x8_s (local.get $g0))))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.extadd_pairwise_i16x8_s (local.get $g1))))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.extadd_pairwise_i16x8_s (local.get $g2))))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.extadd_pairwise_i16x8_s (local.get $g3))))
      (local.set $b0 (i32x4.add (local.get $b0) (i32x4.extadd_pairwise_i16x8_s (local.get $h0))))
      (local.set $b1 (i32x4.add (local.get $b1) (i32x4.extadd_pairwise_i16x8_s (local.get $h1))))
      (local.set $b2 (i32x4.add (local.get $b2) (i32x4.extadd_pairwise_i16x8_s (local.get $h2))))
      (local.set $b3 (i32x4.add (local.get $b3) (i32x4.extadd_pairwise_i16x8_s (local.get $h3))))
      (br_if $chunk (i32.lt_u (local.get $qa) (local.get $end))))
    (v128.store offset=0 (local.get $out)
      (call $hsum4_i32 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
    (v128.store offset=16 (local.get $out)
      (call $hsum4_i32 (local.get $b0) (local.get $b1) (local.get $b2) (local.get $b3))))
;;@end
;;@portable
  ;;
  ;; Without the relaxed dot, codes and activations are widened to i16 and multiplied
  ;; with i32x4.dot_i16x8_s. Seen as i16 lanes, a byte pair (m, m+1) of a weight v128
  ;; gives code k of byte m as (lane >> 2k) & 3 and of byte m+1 as (lane >> 2k+8) & 3,
  ;; matching the even and odd bytes of the activation v128, which sign-extend into
  ;; i16 lanes with (shl 8, shr_s 8) and shr_s 8.

  (func $tern_4x1 (param $p i32) (param $q i32) (param $cols i32) (result v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $qe v128) (local $qo v128) (local $m v128) (local $x v128) (local $end i32)
    (local.set $m (v128.const i16x8 3 3 3 3 3 3 3 3))
    (local.set $end (i32.add (local.get $q) (local.get $cols)))
    (loop $block
      ;; bit pair 0
      (local.set $x (v128.load offset=0 (local.get $q)))
      (local.set $qe (i16x8.shr_s (i16x8.shl (local.get $x) (i32.const 8)) (i32.const 8)))
      (local.set $qo (i16x8.shr_s (local.get $x) (i32.const 8)))
      (local.set $x (v128.load offset=0 (local.get $p)))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (local.get $x) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 8)) (local.get $m))))))
      (local.set $x (v128.load offset=16 (local.get $p)))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (local.get $x) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 8)) (local.get $m))))))
      (local.set $x (v128.load offset=32 (local.get $p)))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (local.get $x) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 8)) (local.get $m))))))
      (local.set $x (v128.load offset=48 (local.get $p)))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (local.get $x) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 8)) (local.get $m))))))
      ;; bit pair 1
      (local.set $x (v128.load offset=16 (local.get $q)))
      (local.set $qe (i16x8.shr_s (i16x8.shl (local.get $x) (i32.const 8)) (i32.const 8)))
      (local.set $qo (i16x8.shr_s (local.get $x) (i32.const 8)))
      (local.set $x (v128.load offset=0 (local.get $p)))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 2)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 10)) (local.get $m))))))
      (local.set $x (v128.load offset=16 (local.get $p)))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 2)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 10)) (local.get $m))))))
      (local.set $x (v128.load offset=32 (local.get $p)))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 2)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 10)) (local.get $m))))))
      (local.set $x (v128.load offset=48 (local.get $p)))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 2)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 10)) (local.get $m))))))
      ;; bit pair 2
      (local.set $x (v128.load offset=32 (local.get $q)))
      (local.set $qe (i16x8.shr_s (i16x8.shl (local.get $x) (i32.const 8)) (i32.const 8)))
      (local.set $qo (i16x8.shr_s (local.get $x) (i32.const 8)))
      (local.set $x (v128.load offset=0 (local.get $p)))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 12)) (local.get $m))))))
      (local.set $x (v128.load offset=16 (local.get $p)))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 12)) (local.get $m))))))
      (local.set $x (v128.load offset=32 (local.get $p)))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 12)) (local.get $m))))))
      (local.set $x (v128.load offset=48 (local.get $p)))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 4)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (v128.and (i16x8.shr_u (local.get $x) (i32.const 12)) (local.get $m))))))
      ;; bit pair 3
      (local.set $x (v128.load offset=48 (local.get $q)))
      (local.set $qe (i16x8.shr_s (i16x8.shl (local.get $x) (i32.const 8)) (i32.const 8)))
      (local.set $qo (i16x8.shr_s (local.get $x) (i32.const 8)))
      (local.set $x (v128.load offset=0 (local.get $p)))
      (local.set $a0 (i32x4.add (local.get $a0) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 6)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (i16x8.shr_u (local.get $x) (i32.const 14))))))
      (local.set $x (v128.load offset=16 (local.get $p)))
      (local.set $a1 (i32x4.add (local.get $a1) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 6)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (i16x8.shr_u (local.get $x) (i32.const 14))))))
      (local.set $x (v128.load offset=32 (local.get $p)))
      (local.set $a2 (i32x4.add (local.get $a2) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 6)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (i16x8.shr_u (local.get $x) (i32.const 14))))))
      (local.set $x (v128.load offset=48 (local.get $p)))
      (local.set $a3 (i32x4.add (local.get $a3) (i32x4.add
        (i32x4.dot_i16x8_s (local.get $qe) (v128.and (i16x8.shr_u (local.get $x) (i32.const 6)) (local.get $m)))
        (i32x4.dot_i16x8_s (local.get $qo) (i16x8.shr_u (local.get $x) (i32.const 14))))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (local.set $q (i32.add (local.get $q) (i32.const 64)))
      (br_if $block (i32.lt_u (local.get $q) (local.get $end))))
    (call $hsum4_i32 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))

  ;; The widening costs more than the weight decode here, so pairs are two single rows.
  (func $tern_4x2 (param $p i32) (param $qa i32) (param $qb i32) (param $cols i32)
      (param $out i32)
    (v128.store offset=0 (local.get $out)
      (call $tern_4x1 (local.get $p) (local.get $qa) (local.get $cols)))
    (v128.store offset=16 (local.get $out)
      (call $tern_4x1 (local.get $p) (local.get $qb) (local.get $cols))))
;;@end

  ;; Four row sums s (i32x4) of activation row b scaled back to floats into y[0..n): the
  ;; reference's f32((f64(s - Σq) / f64(t)) * wScale), two lanes per f64 operation (the
  ;; same IEEE operations, so the same bits).
  (func $tern_store (param $s v128) (param $qsum i32) (param $t f32) (param $ws f64)
      (param $y i32) (param $n i32)
    (local $d v128) (local $w v128) (local $r v128)
    (local.set $s (i32x4.sub (local.get $s) (i32x4.splat (local.get $qsum))))
    (local.set $d (f64x2.splat (f64.promote_f32 (local.get $t))))
    (local.set $w (f64x2.splat (local.get $ws)))
    (local.set $r (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (f64x2.mul (local.get $w)
        (f64x2.div (f64x2.convert_low_i32x4_s (local.get $s)) (local.get $d))))
      (f32x4.demote_f64x2_zero (f64x2.mul (local.get $w)
        (f64x2.div (f64x2.convert_low_i32x4_s
          (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $s) (local.get $s)))
          (local.get $d))))))
    (if (i32.ge_u (local.get $n) (i32.const 4))
      (then (v128.store (local.get $y) (local.get $r)))
      (else (call $put4 (local.get $y) (local.get $n)
        (f32x4.extract_lane 0 (local.get $r)) (f32x4.extract_lane 1 (local.get $r))
        (f32x4.extract_lane 2 (local.get $r)) (f32x4.extract_lane 3 (local.get $r))))))

  ;; The scale-back of the pair sums at $scratch (batch rows b and b + 1) into y.
  (func $tern_store2 (param $scratch i32) (param $sum i32) (param $t i32) (param $ws f64)
      (param $y i32) (param $yb i32) (param $n i32)
    (call $tern_store (v128.load (local.get $scratch)) (i32.load (local.get $sum))
      (f32.load (local.get $t)) (local.get $ws) (local.get $y) (local.get $n))
    (call $tern_store (v128.load offset=16 (local.get $scratch)) (i32.load offset=4 (local.get $sum))
      (f32.load offset=4 (local.get $t)) (local.get $ws) (i32.add (local.get $y) (local.get $yb))
      (local.get $n)))

  ;; y[b, r] = wScale · (Σ_c trit[r, c] · q[b, c]) / t[b] for rows [r0, r1).
  ;; $scratch: 32 bytes of this thread's own memory for the pair results. $dec: this
  ;; thread's decode scratch of at least 4·cols bytes, or 0: no group is decoded (the
  ;; portable variant ignores it).
  (func (export "matmul_ternary") (param $w i32) (param $ws f64) (param $q i32) (param $t i32)
      (param $sum i32) (param $y i32) (param $rows i32) (param $cols i32) (param $batch i32)
      (param $r0 i32) (param $r1 i32) (param $scratch i32) (param $dec i32)
    (local $r i32) (local $n i32) (local $b i32) (local $p i32) (local $yr i32) (local $yb i32)
    (local $qa i32)
    (local.set $yb (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r (local.get $r0))
    (block $done (loop $G
      (br_if $done (i32.ge_u (local.get $r) (local.get $r1)))
      (local.set $n (i32.sub (local.get $r1) (local.get $r)))
      (local.set $p (i32.add (local.get $w) (i32.mul (i32.shr_u (local.get $r) (i32.const 2)) (local.get $cols))))
      (local.set $yr (i32.add (local.get $y) (i32.shl (local.get $r) (i32.const 2))))
      (local.set $b (i32.const 0))
;;@relaxed
      ;; With a decode scratch (from TERNARY_DECODE_MIN_BATCH batch rows on, control.ts), the
      ;; group is decoded once and its pairs read the codes ($tern_4x2d); the loop below then
      ;; finds no pair left, only an odd last row.
      (if (local.get $dec)
        (then
          (call $tern_decode4 (local.get $p) (local.get $cols) (local.get $dec))
          (block $decoded_done (loop $D
            (br_if $decoded_done (i32.gt_u (i32.add (local.get $b) (i32.const 2)) (local.get $batch)))
            (local.set $qa (i32.add (local.get $q) (i32.mul (local.get $b) (local.get $cols))))
            (call $tern_4x2d (local.get $dec) (local.get $qa) (i32.add (local.get $qa) (local.get $cols))
              (local.get $cols) (local.get $scratch))
            (call $tern_store2 (local.get $scratch)
              (i32.add (local.get $sum) (i32.shl (local.get $b) (i32.const 2)))
              (i32.add (local.get $t) (i32.shl (local.get $b) (i32.const 2)))
              (local.get $ws) (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
              (local.get $yb) (local.get $n))
            (local.set $b (i32.add (local.get $b) (i32.const 2)))
            (br $D)))))
;;@end
      (block $pairs_done (loop $B
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $b) (i32.const 2)) (local.get $batch)))
        (local.set $qa (i32.add (local.get $q) (i32.mul (local.get $b) (local.get $cols))))
        (call $tern_4x2 (local.get $p) (local.get $qa) (i32.add (local.get $qa) (local.get $cols))
          (local.get $cols) (local.get $scratch))
        (call $tern_store2 (local.get $scratch)
          (i32.add (local.get $sum) (i32.shl (local.get $b) (i32.const 2)))
          (i32.add (local.get $t) (i32.shl (local.get $b) (i32.const 2)))
          (local.get $ws) (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
          (local.get $yb) (local.get $n))
        (local.set $b (i32.add (local.get $b) (i32.const 2)))
        (br $B)))
      (if (i32.lt_u (local.get $b) (local.get $batch))
        (then
          (call $tern_store
            (call $tern_4x1 (local.get $p)
              (i32.add (local.get $q) (i32.mul (local.get $b) (local.get $cols))) (local.get $cols))
            (i32.load (i32.add (local.get $sum) (i32.shl (local.get $b) (i32.const 2))))
            (f32.load (i32.add (local.get $t) (i32.shl (local.get $b) (i32.const 2))))
            (local.get $ws)
            (i32.add (local.get $yr) (i32.mul (local.get $b) (local.get $yb)))
            (local.get $n))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $G))))

  ;; ---------------------------------------------------------------- I2_S codes to the packed layout
  ;;
  ;; Rows [rowOffset, rowOffset + rows) of I2_S codes at $src (cols/4 bytes per row, cols a
  ;; multiple of 128) into the layout above at $dst. Both hold code = trit + 1 in 2 bits;
  ;; an I2_S block of 128 columns is 32 bytes, byte m holding columns m, 32+m, 64+m, 96+m at
  ;; shifts 6, 4, 2, 0 and byte 16+m the same 16 columns further. With a = bytes 0..15 and
  ;; b = bytes 16..31, the block's two 64-column blocks are bit-pair moves within each byte.
  ;; Returns non-zero when a code 3 (invalid) was seen.
  ;;
  ;; It also counts the codes as it goes, so that the loader needs no second pass over the
  ;; bytes for model-validate's statistics: at $counts it stores the number of zero codes
  ;; (code 1) and of +1 codes (code 2); the caller derives −1 as the rest. A nibble holds two
  ;; codes; the table $tally gives per nibble (zeros) + 16·(+1s), so that one byte's two
  ;; nibbles of a and of b add up to at most 8 + 16·8 per lane without carrying between the
  ;; two fields. Each pass widens the two fields into i32 lanes (no overflow for any size).
  (func (export "i2s_pack_rows") (param $src i32) (param $rows i32) (param $cols i32)
      (param $dst i32) (param $rowOffset i32) (param $counts i32) (result i32)
    (local $a v128) (local $b v128) (local $bad v128) (local $row i32) (local $end i32)
    (local $o i32) (local $oend i32) (local $tally v128) (local $lo v128) (local $v v128)
    (local $zeros v128) (local $plus v128)
    ;; nibble n = (code_hi << 2) | code_lo: zeros (code 1) + 16 · (+1s, code 2); code 3 adds 0
    ;; (it is reported through $bad).
    (local.set $tally (v128.const i8x16 0 1 16 0 1 2 17 1 16 17 32 16 0 1 16 0))
    (local.set $lo (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $row (local.get $rowOffset))
    (local.set $end (i32.add (local.get $rowOffset) (local.get $rows)))
    (block $done (loop $R
      (br_if $done (i32.ge_u (local.get $row) (local.get $end)))
      (local.set $o (i32.add (local.get $dst)
        (i32.add (i32.mul (i32.shr_u (local.get $row) (i32.const 2)) (local.get $cols))
          (i32.shl (i32.and (local.get $row) (i32.const 3)) (i32.const 4)))))
      (local.set $oend (i32.add (local.get $o) (local.get $cols)))
      (loop $K
        (local.set $a (v128.load (local.get $src)))
        (local.set $b (v128.load offset=16 (local.get $src)))
        (local.set $bad (v128.or (local.get $bad) (v128.or
          (v128.and (local.get $a) (i8x16.shr_u (local.get $a) (i32.const 1)))
          (v128.and (local.get $b) (i8x16.shr_u (local.get $b) (i32.const 1))))))
        (local.set $v (i8x16.add
          (i8x16.add (i8x16.swizzle (local.get $tally) (v128.and (local.get $a) (local.get $lo)))
            (i8x16.swizzle (local.get $tally) (i8x16.shr_u (local.get $a) (i32.const 4))))
          (i8x16.add (i8x16.swizzle (local.get $tally) (v128.and (local.get $b) (local.get $lo)))
            (i8x16.swizzle (local.get $tally) (i8x16.shr_u (local.get $b) (i32.const 4))))))
        (local.set $zeros (i32x4.add (local.get $zeros) (i32x4.extadd_pairwise_i16x8_u
          (i16x8.extadd_pairwise_i8x16_u (v128.and (local.get $v) (local.get $lo))))))
        (local.set $plus (i32x4.add (local.get $plus) (i32x4.extadd_pairwise_i16x8_u
          (i16x8.extadd_pairwise_i8x16_u (i8x16.shr_u (local.get $v) (i32.const 4))))))
        (v128.store (local.get $o) (v128.or
          (v128.or (i8x16.shr_u (local.get $a) (i32.const 6))
            (v128.and (i8x16.shr_u (local.get $b) (i32.const 4)) (v128.const i8x16 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12)))
          (v128.or (v128.and (local.get $a) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
            (v128.and (i8x16.shl (local.get $b) (i32.const 2)) (v128.const i8x16 192 192 192 192 192 192 192 192 192 192 192 192 192 192 192 192)))))
        (v128.store offset=64 (local.get $o) (v128.or
          (v128.or (v128.and (i8x16.shr_u (local.get $a) (i32.const 2)) (v128.const i8x16 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3))
            (v128.and (local.get $b) (v128.const i8x16 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12 12)))
          (v128.or (v128.and (i8x16.shl (local.get $a) (i32.const 4)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
            (i8x16.shl (local.get $b) (i32.const 6)))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $o (i32.add (local.get $o) (i32.const 128)))
        (br_if $K (i32.lt_u (local.get $o) (local.get $oend))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $R)))
    (i32.store offset=0 (local.get $counts) (call $hsum_i32 (local.get $zeros)))
    (i32.store offset=4 (local.get $counts) (call $hsum_i32 (local.get $plus)))
    (v128.any_true (v128.and (local.get $bad)
      (v128.const i8x16 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55 0x55))))

  ;; ---------------------------------------------------------------- 16-bit ternary values to the packed layout
  ;;
  ;; A clean F16/BF16 export holds every projection as exactly −s, ±0 or +s. Per i16 lane
  ;; v, with the masks z = (v << 1 == 0) (±0), p = (v == +s) and not z, n = (v == −s): the
  ;; code is p·2 − z (masks are −1), i.e. ±0 → 1, +s → 2, −s → 0, and z | p | n must hold in
  ;; every lane, or the caller takes the general path (which names the value). $S is the
  ;; pattern of +s and $N of −s; with $S = 0 (no non-zero value seen yet) only zeros are valid.
  ;; Written out once for 16 values (one bit pair of a 64-column block) and looped over the
  ;; four bit pairs: V8 did not inline a helper called per 8 values, and the calls cost as
  ;; much as the arithmetic.
  ;;
  ;; Rows [rowOffset, rowOffset + rows) of 16-bit values at $src (cols a multiple of 64) into
  ;; the packed layout at $dst, $s the pattern of +s. Like i2s_pack_rows, it stores the number
  ;; of zeros and of +s values at $counts (the same nibble table, on the packed bytes, whose
  ;; codes it counts in any order) and returns non-zero when a value is not −s, ±0 or +s.
  (func (export "half_pack_rows") (param $src i32) (param $rows i32) (param $cols i32)
      (param $dst i32) (param $rowOffset i32) (param $s i32) (param $counts i32) (result i32)
    (local $S v128) (local $N v128) (local $two v128) (local $valid v128)
    (local $a v128) (local $b v128) (local $za v128) (local $zb v128) (local $out v128)
    (local $v v128) (local $tally v128) (local $lo v128) (local $zeros v128) (local $plus v128)
    (local $row i32) (local $end i32) (local $o i32) (local $oend i32) (local $k i32)
    (local.set $S (i16x8.splat (local.get $s)))
    (local.set $N (i16x8.splat (i32.or (local.get $s) (i32.const 0x8000))))
    (local.set $two (v128.const i16x8 2 2 2 2 2 2 2 2))
    (local.set $valid (v128.const i64x2 -1 -1))
    (local.set $tally (v128.const i8x16 0 1 16 0 1 2 17 1 16 17 32 16 0 1 16 0))
    (local.set $lo (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
    (local.set $row (local.get $rowOffset))
    (local.set $end (i32.add (local.get $rowOffset) (local.get $rows)))
    (block $done (loop $R
      (br_if $done (i32.ge_u (local.get $row) (local.get $end)))
      (local.set $o (i32.add (local.get $dst)
        (i32.add (i32.mul (i32.shr_u (local.get $row) (i32.const 2)) (local.get $cols))
          (i32.shl (i32.and (local.get $row) (i32.const 3)) (i32.const 4)))))
      (local.set $oend (i32.add (local.get $o) (local.get $cols)))
      (loop $K
        (local.set $out (v128.const i64x2 0 0))
        (local.set $k (i32.const 0))
        (loop $pair
          (local.set $a (v128.load offset=0 (local.get $src)))
          (local.set $b (v128.load offset=16 (local.get $src)))
          (local.set $za (i16x8.eq (i16x8.shl (local.get $a) (i32.const 1)) (v128.const i64x2 0 0)))
          (local.set $zb (i16x8.eq (i16x8.shl (local.get $b) (i32.const 1)) (v128.const i64x2 0 0)))
          (local.set $valid (v128.and (local.get $valid) (v128.and
            (v128.or (v128.or (local.get $za) (i16x8.eq (local.get $a) (local.get $S)))
              (i16x8.eq (local.get $a) (local.get $N)))
            (v128.or (v128.or (local.get $zb) (i16x8.eq (local.get $b) (local.get $S)))
              (i16x8.eq (local.get $b) (local.get $N))))))
          ;; Codes are at most 2, so the shift within i16 lanes never carries into the next byte.
          (local.set $out (v128.or (local.get $out) (i16x8.shl
            (i8x16.narrow_i16x8_u
              (i16x8.sub (v128.and (v128.andnot (i16x8.eq (local.get $a) (local.get $S)) (local.get $za))
                (local.get $two)) (local.get $za))
              (i16x8.sub (v128.and (v128.andnot (i16x8.eq (local.get $b) (local.get $S)) (local.get $zb))
                (local.get $two)) (local.get $zb)))
            (local.get $k))))
          (local.set $src (i32.add (local.get $src) (i32.const 32)))
          (local.set $k (i32.add (local.get $k) (i32.const 2)))
          (br_if $pair (i32.lt_u (local.get $k) (i32.const 8))))
        (v128.store (local.get $o) (local.get $out))
        (local.set $v (i8x16.add
          (i8x16.swizzle (local.get $tally) (v128.and (local.get $out) (local.get $lo)))
          (i8x16.swizzle (local.get $tally) (i8x16.shr_u (local.get $out) (i32.const 4)))))
        (local.set $zeros (i32x4.add (local.get $zeros) (i32x4.extadd_pairwise_i16x8_u
          (i16x8.extadd_pairwise_i8x16_u (v128.and (local.get $v) (local.get $lo))))))
        (local.set $plus (i32x4.add (local.get $plus) (i32x4.extadd_pairwise_i16x8_u
          (i16x8.extadd_pairwise_i8x16_u (i8x16.shr_u (local.get $v) (i32.const 4))))))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (br_if $K (i32.lt_u (local.get $o) (local.get $oend))))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $R)))
    (i32.store offset=0 (local.get $counts) (call $hsum_i32 (local.get $zeros)))
    (i32.store offset=4 (local.get $counts) (call $hsum_i32 (local.get $plus)))
    (i32.eqz (i16x8.all_true (local.get $valid))))

  ;; ---------------------------------------------------------------- activation quantization

  ;; Per row: t = f32(127 / max(max|x|, 1e-5)) computed in f64 like the reference,
  ;; q = saturate_i8(nearest(x * t)) (f32x4.nearest rounds half to even; the
  ;; saturating narrows are the clamp to [-128, 127]), Σq. cols a multiple of 16.
  (func (export "quantize_rows_i8") (param $x i32) (param $q i32) (param $t i32) (param $sum i32)
      (param $cols i32) (param $batch i32)
    (local $b i32) (local $o i32) (local $end i32) (local $mx v128) (local $tv v128)
    (local $s v128) (local $v v128) (local $tt f32) (local $xp i32)
    (block $done (loop $B
      (br_if $done (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $end (i32.shl (local.get $cols) (i32.const 2)))
      (local.set $mx (v128.const i64x2 0 0))
      (local.set $o (i32.const 0))
      (loop $M
        (local.set $mx (f32x4.max (local.get $mx)
          (f32x4.abs (v128.load (i32.add (local.get $x) (local.get $o))))))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br_if $M (i32.lt_u (local.get $o) (local.get $end))))
      (local.set $tt (f32.demote_f64 (f64.div (f64.const 127) (f64.max
        (f64.promote_f32 (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
          (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
        (f64.const 1e-5)))))
      (local.set $tv (f32x4.splat (local.get $tt)))
      (local.set $s (v128.const i64x2 0 0))
      (local.set $o (i32.const 0))
      (local.set $xp (local.get $x))
      (loop $Q
        (local.set $v (i8x16.narrow_i16x8_s
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $tv) (v128.load offset=0 (local.get $xp)))))
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $tv) (v128.load offset=16 (local.get $xp))))))
          (i16x8.narrow_i32x4_s
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $tv) (v128.load offset=32 (local.get $xp)))))
            (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $tv) (v128.load offset=48 (local.get $xp))))))))
        (v128.store (i32.add (local.get $q) (local.get $o)) (local.get $v))
        (local.set $s (i32x4.add (local.get $s)
          (i32x4.extadd_pairwise_i16x8_s (i16x8.extadd_pairwise_i8x16_s (local.get $v)))))
        (local.set $xp (i32.add (local.get $xp) (i32.const 64)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br_if $Q (i32.lt_u (local.get $o) (local.get $cols))))
      (f32.store (local.get $t) (local.get $tt))
      (i32.store (local.get $sum) (call $hsum_i32 (local.get $s)))
      (local.set $x (i32.add (local.get $x) (local.get $end)))
      (local.set $q (i32.add (local.get $q) (local.get $cols)))
      (local.set $t (i32.add (local.get $t) (i32.const 4)))
      (local.set $sum (i32.add (local.get $sum) (i32.const 4)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $B))))

;; ---------------------------------------------------------------- attention (one head)
  ;;
  ;; The two products of lib/inference/attention.ts's causalAttention for one query head,
  ;; with the same f64 operations in the same order, so the same bits; the softmax between
  ;; them stays in TypeScript (Math.exp). A product of two f32 values is exact in f64, so
  ;; q·k does not depend on rounding of the products; p·v rounds each product as
  ;; JavaScript does (f64x2.mul, then f64x2.add: no fused multiply-add).

  ;; s[j] = q·k_j · scale for j in [0, n): k_j at $k + j·$stride, $dim f32 values (a multiple
  ;; of 4), four f64 partial sums over d mod 4 (lanes d0 d1 of $a, d2 d3 of $b) summed
  ;; ((d0 + d1) + d2) + d3, as causalAttention does. Four positions per pass share each
  ;; load of q and keep four independent chains of additions in flight.
  (func (export "attention_scores") (param $q i32) (param $k i32) (param $stride i32)
      (param $dim i32) (param $n i32) (param $scale f64) (param $s i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $x v128) (local $xl v128) (local $xh v128) (local $y v128)
    (local $k0 i32) (local $k1 i32) (local $k2 i32) (local $k3 i32)
    (local $d i32) (local $bytes i32) (local $j i32)
    (local.set $bytes (i32.shl (local.get $dim) (i32.const 2)))
    (block $done (loop $J
      (br_if $done (i32.ge_u (local.get $j) (local.get $n)))
      ;; Past the last position, the pass recomputes the last one (stored, then rewritten).
      (local.set $k0 (local.get $k))
      (local.set $k1 (select (i32.add (local.get $k0) (local.get $stride)) (local.get $k0)
        (i32.lt_u (i32.add (local.get $j) (i32.const 1)) (local.get $n))))
      (local.set $k2 (select (i32.add (local.get $k1) (local.get $stride)) (local.get $k1)
        (i32.lt_u (i32.add (local.get $j) (i32.const 2)) (local.get $n))))
      (local.set $k3 (select (i32.add (local.get $k2) (local.get $stride)) (local.get $k2)
        (i32.lt_u (i32.add (local.get $j) (i32.const 3)) (local.get $n))))
      (local.set $a0 (v128.const i64x2 0 0)) (local.set $b0 (v128.const i64x2 0 0))
      (local.set $a1 (v128.const i64x2 0 0)) (local.set $b1 (v128.const i64x2 0 0))
      (local.set $a2 (v128.const i64x2 0 0)) (local.set $b2 (v128.const i64x2 0 0))
      (local.set $a3 (v128.const i64x2 0 0)) (local.set $b3 (v128.const i64x2 0 0))
      (local.set $d (i32.const 0))
      (loop $D
        (local.set $x (v128.load (i32.add (local.get $q) (local.get $d))))
        (local.set $xl (f64x2.promote_low_f32x4 (local.get $x)))
        (local.set $xh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
          (local.get $x) (local.get $x))))
        (local.set $y (v128.load (i32.add (local.get $k0) (local.get $d))))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $xl)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $xh)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $y (v128.load (i32.add (local.get $k1) (local.get $d))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $xl)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $xh)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $y (v128.load (i32.add (local.get $k2) (local.get $d))))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $xl)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (local.get $xh)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $y (v128.load (i32.add (local.get $k3) (local.get $d))))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $xl)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b3 (f64x2.add (local.get $b3) (f64x2.mul (local.get $xh)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br_if $D (i32.lt_u (local.get $d) (local.get $bytes))))
      ;; Lanes past n write into s[n..n+3), which the caller's scratch has room for.
      (f64.store offset=0 (local.get $s) (f64.mul (local.get $scale) (f64.add (f64.add (f64.add
        (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))
        (f64x2.extract_lane 0 (local.get $b0))) (f64x2.extract_lane 1 (local.get $b0)))))
      (f64.store offset=8 (local.get $s) (f64.mul (local.get $scale) (f64.add (f64.add (f64.add
        (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))
        (f64x2.extract_lane 0 (local.get $b1))) (f64x2.extract_lane 1 (local.get $b1)))))
      (f64.store offset=16 (local.get $s) (f64.mul (local.get $scale) (f64.add (f64.add (f64.add
        (f64x2.extract_lane 0 (local.get $a2)) (f64x2.extract_lane 1 (local.get $a2)))
        (f64x2.extract_lane 0 (local.get $b2))) (f64x2.extract_lane 1 (local.get $b2)))))
      (f64.store offset=24 (local.get $s) (f64.mul (local.get $scale) (f64.add (f64.add (f64.add
        (f64x2.extract_lane 0 (local.get $a3)) (f64x2.extract_lane 1 (local.get $a3)))
        (f64x2.extract_lane 0 (local.get $b3))) (f64x2.extract_lane 1 (local.get $b3)))))
      (local.set $k (i32.add (local.get $k3) (local.get $stride)))
      (local.set $s (i32.add (local.get $s) (i32.const 32)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $J))))

  ;; out[d] = f32(Σ_j p_j · v_j[d]) for d in [0, $dim) ($dim a multiple of 16): p the n f64
  ;; weights at $p, v_j at $v + j·$stride; each sum in j order from 0, as causalAttention's
  ;; acc[d] = acc[d] + w · v. Sixteen dimensions (eight f64x2 sums) per pass over j.
  (func (export "attention_values") (param $p i32) (param $v i32) (param $stride i32)
      (param $dim i32) (param $n i32) (param $out i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $w v128) (local $y v128) (local $pj i32) (local $end i32) (local $vp i32)
    (local $d i32)
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 3))))
    (block $done (loop $D
      (br_if $done (i32.ge_u (local.get $d) (local.get $dim)))
      (local.set $a0 (v128.const i64x2 0 0)) (local.set $b0 (v128.const i64x2 0 0))
      (local.set $a1 (v128.const i64x2 0 0)) (local.set $b1 (v128.const i64x2 0 0))
      (local.set $a2 (v128.const i64x2 0 0)) (local.set $b2 (v128.const i64x2 0 0))
      (local.set $a3 (v128.const i64x2 0 0)) (local.set $b3 (v128.const i64x2 0 0))
      (local.set $pj (local.get $p))
      (local.set $vp (local.get $v))
      (block $none (loop $J
        (br_if $none (i32.ge_u (local.get $pj) (local.get $end)))
        (local.set $w (f64x2.splat (f64.load (local.get $pj))))
        (local.set $y (v128.load offset=0 (local.get $vp)))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b0 (f64x2.add (local.get $b0) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $y (v128.load offset=16 (local.get $vp)))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b1 (f64x2.add (local.get $b1) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $y (v128.load offset=32 (local.get $vp)))
        (local.set $a2 (f64x2.add (local.get $a2) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b2 (f64x2.add (local.get $b2) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $y (v128.load offset=48 (local.get $vp)))
        (local.set $a3 (f64x2.add (local.get $a3) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (local.get $y)))))
        (local.set $b3 (f64x2.add (local.get $b3) (f64x2.mul (local.get $w)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15
            (local.get $y) (local.get $y))))))
        (local.set $vp (i32.add (local.get $vp) (local.get $stride)))
        (local.set $pj (i32.add (local.get $pj) (i32.const 8)))
        (br $J)))
      (v128.store offset=0 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
        (f32x4.demote_f64x2_zero (local.get $a0)) (f32x4.demote_f64x2_zero (local.get $b0))))
      (v128.store offset=16 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
        (f32x4.demote_f64x2_zero (local.get $a1)) (f32x4.demote_f64x2_zero (local.get $b1))))
      (v128.store offset=32 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
        (f32x4.demote_f64x2_zero (local.get $a2)) (f32x4.demote_f64x2_zero (local.get $b2))))
      (v128.store offset=48 (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
        (f32x4.demote_f64x2_zero (local.get $a3)) (f32x4.demote_f64x2_zero (local.get $b3))))
      (local.set $out (i32.add (local.get $out) (i32.const 64)))
      (local.set $v (i32.add (local.get $v) (i32.const 64)))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (br $D))))

  ;; ---------------------------------------------------------------- int8 output head

;; The int8 copy is stored four rows at a time, interleaved: rows 4g..4g+3 form group g
  ;; (4·cols bytes at 4g·cols), and within a group each 16-column block holds the four rows'
  ;; 16 bytes in turn (64 bytes), so that row r, column c is at
  ;;   (r >> 2)·4·cols + (c >> 4)·64 + (r & 3)·16 + (c & 15)
  ;; (int8HeadOffset in int8_head.ts). The screening then reads one stream, each activation
  ;; load serving four rows; rows past the last are zero bytes, never stored.
  ;;
  ;; y[r] = Σ_c w[r, c] · x[c] as exact i32 for r in [0, rows): w the interleaved copy from a
  ;; group's start, x the activation as int8 (values within ±127), cols a multiple of 16. The
  ;; screening pass of the exact 8-bit output head (lib/inference/int8_head.ts). |sum| ≤
  ;; 127 · 127 · cols fits i32 for cols < 133,000.
;;@relaxed
  ;;
  ;; The relaxed dot multiplies i8 by 7-bit values, so the activation is split into its
  ;; positive and negative parts x⁺ = max(x, 0) and x⁻ = max(−x, 0), both within 0..127:
  ;; w·x = w·x⁺ − w·x⁻. Per i16 lane each dot is w₁x₁ + w₂x₂ over two columns, at most
  ;; 2 · 127 · 127 = 32,258 in magnitude (no saturation: exact and deterministic on every
  ;; machine), and since each column is in only one of x⁺ and x⁻ their difference is
  ;; w₁x₁ + w₂x₂ itself, again within ±32,258.
  (func $score_dot16 (param $w v128) (param $pos v128) (param $neg v128) (result v128)
    (i32x4.extadd_pairwise_i16x8_s (i16x8.sub
      (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $w) (local.get $pos))
      (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $w) (local.get $neg)))))
  (func $score_pos (param $x v128) (result v128)
    (i8x16.max_s (local.get $x) (v128.const i64x2 0 0)))
  (func $score_neg (param $x v128) (result v128)
    (i8x16.max_s (i8x16.neg (local.get $x)) (v128.const i64x2 0 0)))
;;@end
;;@portable
  ;;
  ;; Portable: weights and activations widened to i16 and multiplied with i32x4.dot_i16x8_s;
  ;; $pos and $neg carry the low and the high eight activations.
  (func $score_dot16 (param $w v128) (param $pos v128) (param $neg v128) (result v128)
    (i32x4.add
      (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $w)) (local.get $pos))
      (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $w)) (local.get $neg))))
  (func $score_pos (param $x v128) (result v128)
    (i16x8.extend_low_i8x16_s (local.get $x)))
  (func $score_neg (param $x v128) (result v128)
    (i16x8.extend_high_i8x16_s (local.get $x)))
;;@end
  (func (export "score_rows_i8") (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32)
    (local $r i32) (local $c i32) (local $a0 v128) (local $a1 v128) (local $a2 v128)
    (local $a3 v128) (local $v v128) (local $pos v128) (local $neg v128) (local $s v128)
    (block $done (loop $G
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $a0 (v128.const i64x2 0 0))
      (local.set $a1 (v128.const i64x2 0 0))
      (local.set $a2 (v128.const i64x2 0 0))
      (local.set $a3 (v128.const i64x2 0 0))
      (local.set $c (i32.const 0))
      (loop $C
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $c))))
        (local.set $pos (call $score_pos (local.get $v)))
        (local.set $neg (call $score_neg (local.get $v)))
        (local.set $a0 (i32x4.add (local.get $a0)
          (call $score_dot16 (v128.load offset=0 (local.get $w)) (local.get $pos) (local.get $neg))))
        (local.set $a1 (i32x4.add (local.get $a1)
          (call $score_dot16 (v128.load offset=16 (local.get $w)) (local.get $pos) (local.get $neg))))
        (local.set $a2 (i32x4.add (local.get $a2)
          (call $score_dot16 (v128.load offset=32 (local.get $w)) (local.get $pos) (local.get $neg))))
        (local.set $a3 (i32x4.add (local.get $a3)
          (call $score_dot16 (v128.load offset=48 (local.get $w)) (local.get $pos) (local.get $neg))))
        (local.set $w (i32.add (local.get $w) (i32.const 64)))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br_if $C (i32.lt_u (local.get $c) (local.get $cols))))
      (local.set $s (call $hsum4_i32 (local.get $a0) (local.get $a1) (local.get $a2) (local.get $a3)))
      (if (i32.ge_u (i32.sub (local.get $rows) (local.get $r)) (i32.const 4))
        (then (v128.store (local.get $y) (local.get $s)))
        (else
          (i32.store (local.get $y) (i32x4.extract_lane 0 (local.get $s)))
          (if (i32.gt_u (i32.sub (local.get $rows) (local.get $r)) (i32.const 1))
            (then (i32.store offset=4 (local.get $y) (i32x4.extract_lane 1 (local.get $s)))))
          (if (i32.gt_u (i32.sub (local.get $rows) (local.get $r)) (i32.const 2))
            (then (i32.store offset=8 (local.get $y) (i32x4.extract_lane 2 (local.get $s)))))))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $G))))

  ;; The int8 copy of rows [row0, row0 + rows) of the head, their F16 bits (`cols`, a multiple
  ;; of 16) at $w, into the interleaved copy that starts at $q (layout above), exactly as
  ;; int8_head.ts's reference builds it: per row s = max|w| / 127 (f64), q = Math.round(w / s)
  ;; (floor, plus one when the remainder is ≥ ½: JavaScript's ties-up rounding, not
  ;; f64.nearest), 0 when s = 0; and, summed in column order in f64 like the reference,
  ;; ‖s·q‖² ‖w − s·q‖² ‖w‖², written at $stats + 24·row (the head's norms) as s, ‖s·q‖ and
  ;; ‖w − s·q‖ + gamma·‖w‖. An f16 h becomes the f64 with bits (h & 0x8000) << 48 |
  ;; (h & 0x7fff) << 42 times 2^1008: exact, subnormal halves included. A row holding an
  ;; f16 infinity or NaN gets s = +inf (its copy is meaningless: the caller refuses it).
  ;; Split by rows over the threads (Op.int8Head, control.ts): rows are independent.
  (func (export "int8_head_rows") (param $w i32) (param $q i32) (param $stats i32)
      (param $row0 i32) (param $rows i32) (param $cols i32) (param $gamma f64)
    (local $r i32) (local $qr i32) (local $c i32) (local $m v128) (local $mx i32)
    (local $s f64) (local $sv v128) (local $pos v128) (local $p v128) (local $v v128)
    (local $x v128) (local $f v128) (local $sq v128) (local $e v128) (local $acc v128)
    (local $ww f64) (local $v2 v128) (local $qn v128)
    (local.set $r (local.get $row0))
    (local.set $rows (i32.add (local.get $row0) (local.get $rows)))
    (local.set $stats (i32.add (local.get $stats) (i32.mul (local.get $row0) (i32.const 24))))
    (block $done (loop $R
      (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
      ;; row r's first 16 bytes in the interleaved copy
      (local.set $qr (i32.add (local.get $q) (i32.add
        (i32.mul (i32.and (local.get $r) (i32.const -4)) (local.get $cols))
        (i32.shl (i32.and (local.get $r) (i32.const 3)) (i32.const 4)))))
      ;; max |h| as 15-bit patterns (their order is that of the magnitudes)
      (local.set $m (v128.const i64x2 0 0))
      (local.set $c (i32.const 0))
      (loop $M
        (local.set $m (i16x8.max_u (local.get $m) (v128.and (v128.const i16x8 0x7fff 0x7fff 0x7fff
          0x7fff 0x7fff 0x7fff 0x7fff 0x7fff) (v128.load (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 1)))))))
        (local.set $c (i32.add (local.get $c) (i32.const 8)))
        (br_if $M (i32.lt_u (local.get $c) (local.get $cols))))
      (local.set $m (i16x8.max_u (local.get $m) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $m) (local.get $m))))
      (local.set $m (i16x8.max_u (local.get $m) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $m) (local.get $m))))
      (local.set $m (i16x8.max_u (local.get $m) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $m) (local.get $m))))
      (local.set $mx (i16x8.extract_lane_u 0 (local.get $m)))
      (local.set $s (f64.div (f64.mul (f64.reinterpret_i64 (i64.shl (i64.extend_i32_u (local.get $mx)) (i64.const 42)))
        (f64.const 0x1p1008)) (f64.const 127)))
      (local.set $sv (f64x2.splat (local.get $s)))
      (local.set $pos (f64x2.gt (local.get $sv) (v128.const f64x2 0 0)))
      (local.set $acc (v128.const f64x2 0 0))
      (local.set $ww (f64.const 0))
      (local.set $c (i32.const 0))
      (loop $C
        (local.set $p (i64x2.extend_low_i32x4_u (i32x4.extend_low_i16x8_u
          (v128.load32_zero (i32.add (local.get $w) (i32.shl (local.get $c) (i32.const 1)))))))
        (local.set $v (f64x2.mul (v128.const f64x2 0x1p1008 0x1p1008) (v128.or
          (i64x2.shl (v128.and (local.get $p) (v128.const i64x2 0x8000 0x8000)) (i32.const 48))
          (i64x2.shl (v128.and (local.get $p) (v128.const i64x2 0x7fff 0x7fff)) (i32.const 42)))))
        (local.set $x (f64x2.div (local.get $v) (local.get $sv)))
        (local.set $f (f64x2.floor (local.get $x)))
        (local.set $f (v128.bitselect (f64x2.add (local.get $f) (v128.const f64x2 1 1)) (local.get $f)
          (f64x2.ge (f64x2.sub (local.get $x) (local.get $f)) (v128.const f64x2 0.5 0.5))))
        (local.set $f (v128.and (local.get $f) (local.get $pos)))
        (local.set $qn (i32x4.trunc_sat_f64x2_s_zero (local.get $f)))
        (v128.store16_lane 0 (i32.add (local.get $qr) (i32.add
            (i32.shl (i32.shr_u (local.get $c) (i32.const 4)) (i32.const 6))
            (i32.and (local.get $c) (i32.const 15))))
          (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s (local.get $qn) (local.get $qn)) (local.get $qn)))
        (local.set $sq (f64x2.mul (local.get $sv) (local.get $f)))
        (local.set $e (f64x2.sub (local.get $v) (local.get $sq)))
        (local.set $sq (f64x2.mul (local.get $sq) (local.get $sq)))
        (local.set $e (f64x2.mul (local.get $e) (local.get $e)))
        ;; lane 0 accumulates ‖s·q‖², lane 1 ‖w − s·q‖², column c before column c + 1
        (local.set $acc (f64x2.add (local.get $acc) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (local.get $sq) (local.get $e))))
        (local.set $acc (f64x2.add (local.get $acc) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31
          (local.get $sq) (local.get $e))))
        (local.set $v2 (f64x2.mul (local.get $v) (local.get $v)))
        (local.set $ww (f64.add (f64.add (local.get $ww) (f64x2.extract_lane 0 (local.get $v2)))
          (f64x2.extract_lane 1 (local.get $v2))))
        (local.set $c (i32.add (local.get $c) (i32.const 2)))
        (br_if $C (i32.lt_u (local.get $c) (local.get $cols))))
      (f64.store offset=0 (local.get $stats) (select (f64.const inf) (local.get $s)
        (i32.ge_u (local.get $mx) (i32.const 0x7c00))))
      (f64.store offset=8 (local.get $stats) (f64.sqrt (f64x2.extract_lane 0 (local.get $acc))))
      (f64.store offset=16 (local.get $stats) (f64.add (f64.sqrt (f64x2.extract_lane 1 (local.get $acc)))
        (f64.mul (local.get $gamma) (f64.sqrt (local.get $ww)))))
      (local.set $w (i32.add (local.get $w) (i32.shl (local.get $cols) (i32.const 1))))
      (local.set $stats (i32.add (local.get $stats) (i32.const 24)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $R))))

;; ---------------------------------------------------------------- relu² gate

  ;; gate = relu(gate)² · up over n floats, each product in f64 and rounded once to f32,
  ;; like the reference: relu maps NaN and −0 to +0, (g·g) is exact in f64.
  (func (export "relu2_mul") (param $gate i32) (param $up i32) (param $n i32)
    (local $i i32) (local $n4 i32) (local $g v128) (local $u v128) (local $lo v128)
    (local $hi v128) (local $d f64)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $vdone (loop $V
      (br_if $vdone (i32.ge_u (local.get $i) (local.get $n4)))
      (local.set $g (v128.load (i32.add (local.get $gate) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $u (v128.load (i32.add (local.get $up) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $lo (f64x2.promote_low_f32x4 (local.get $g)))
      (local.set $hi (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $g) (local.get $g))))
      (local.set $lo (v128.and (local.get $lo) (f64x2.gt (local.get $lo) (v128.const i64x2 0 0))))
      (local.set $hi (v128.and (local.get $hi) (f64x2.gt (local.get $hi) (v128.const i64x2 0 0))))
      (v128.store (i32.add (local.get $gate) (i32.shl (local.get $i) (i32.const 2)))
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.mul (local.get $lo) (local.get $lo))
            (f64x2.promote_low_f32x4 (local.get $u))))
          (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.mul (local.get $hi) (local.get $hi))
            (f64x2.promote_low_f32x4
              (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $u) (local.get $u)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $V)))
    (block $tdone (loop $T
      (br_if $tdone (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $d (f64.promote_f32 (f32.load (i32.add (local.get $gate) (i32.shl (local.get $i) (i32.const 2))))))
      (local.set $d (select (local.get $d) (f64.const 0) (f64.gt (local.get $d) (f64.const 0))))
      (f32.store (i32.add (local.get $gate) (i32.shl (local.get $i) (i32.const 2)))
        (f32.demote_f64 (f64.mul (f64.mul (local.get $d) (local.get $d))
          (f64.promote_f32 (f32.load (i32.add (local.get $up) (i32.shl (local.get $i) (i32.const 2))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $T))))

    ;; ---------------------------------------------------------------- rmsnorm

  ;; out = g ⊙ x / sqrt(mean(x²) + eps) per row of n, in f64 like the reference (only
  ;; the order of the sum of squares differs). Any n; out may equal x.
  (func (export "rmsnorm") (param $x i32) (param $g i32) (param $out i32) (param $n i32)
      (param $batch i32) (param $eps f64)
    (local $b i32) (local $i i32) (local $n4 i32) (local $acc v128) (local $v v128)
    (local $ss f64) (local $inv f64) (local $invv v128) (local $gv v128) (local $d f64)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $done (loop $B
      (br_if $done (i32.ge_u (local.get $b) (local.get $batch)))
      (local.set $acc (v128.const i64x2 0 0))
      (local.set $i (i32.const 0))
      (block $vdone (loop $V
        (br_if $vdone (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $acc (f64x2.add (local.get $acc) (f64x2.add
          (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (f64x2.promote_low_f32x4 (local.get $v)))
          (f64x2.mul
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $V)))
      (local.set $ss (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))
      (block $sdone (loop $S
        (br_if $sdone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $d (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $ss (f64.add (local.get $ss) (f64.mul (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $S)))
      (local.set $inv (f64.div (f64.const 1) (f64.sqrt (f64.add
        (f64.div (local.get $ss) (f64.convert_i32_u (local.get $n))) (local.get $eps)))))
      (local.set $invv (f64x2.splat (local.get $inv)))
      (local.set $i (i32.const 0))
      (block $wdone (loop $W
        (br_if $wdone (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $gv (v128.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.mul (local.get $invv) (f64x2.mul
              (f64x2.promote_low_f32x4 (local.get $gv)) (f64x2.promote_low_f32x4 (local.get $v)))))
            (f32x4.demote_f64x2_zero (f64x2.mul (local.get $invv) (f64x2.mul
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $gv) (local.get $gv)))
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $W)))
      (block $tdone (loop $T
        (br_if $tdone (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (f32.demote_f64 (f64.mul (f64.mul
            (f64.promote_f32 (f32.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))))
            (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
            (local.get $inv))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $T)))
      (local.set $x (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $out (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $B)))))
