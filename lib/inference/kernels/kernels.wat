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

  ;; ---------------------------------------------------------------- f32 weights

  ;; Four rows (p0..p3) times one activation row x, cols a multiple of 16.
  (func $f32_4x1 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $x i32) (param $cols i32) (param $y i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $xv v128) (local $o i32) (local $end i32)
    (local.set $end (i32.shl (local.get $cols) (i32.const 2)))
    (loop $L
      (local.set $xv (v128.load (i32.add (local.get $x) (local.get $o))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv)
        (v128.load (i32.add (local.get $p0) (local.get $o))))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv)
        (v128.load (i32.add (local.get $p1) (local.get $o))))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv)
        (v128.load (i32.add (local.get $p2) (local.get $o))))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv)
        (v128.load (i32.add (local.get $p3) (local.get $o))))))
      (local.set $xv (v128.load offset=16 (i32.add (local.get $x) (local.get $o))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv)
        (v128.load offset=16 (i32.add (local.get $p0) (local.get $o))))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv)
        (v128.load offset=16 (i32.add (local.get $p1) (local.get $o))))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv)
        (v128.load offset=16 (i32.add (local.get $p2) (local.get $o))))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv)
        (v128.load offset=16 (i32.add (local.get $p3) (local.get $o))))))
      (local.set $o (i32.add (local.get $o) (i32.const 32)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (call $hsum_f32 (local.get $a0)) (call $hsum_f32 (local.get $a1))
      (call $hsum_f32 (local.get $a2)) (call $hsum_f32 (local.get $a3))))

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
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $w (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $w (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $w (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $u (v128.load offset=16 (i32.add (local.get $xa) (local.get $o))))
      (local.set $v (v128.load offset=16 (i32.add (local.get $xb) (local.get $o))))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p0) (local.get $o))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $w (v128.load offset=16 (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $u) (local.get $w))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $v) (local.get $w))))
      (local.set $o (i32.add (local.get $o) (i32.const 32)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $ya) (local.get $n)
      (call $hsum_f32 (local.get $a0)) (call $hsum_f32 (local.get $a1))
      (call $hsum_f32 (local.get $a2)) (call $hsum_f32 (local.get $a3)))
    (call $put4 (local.get $yb) (local.get $n)
      (call $hsum_f32 (local.get $b0)) (call $hsum_f32 (local.get $b1))
      (call $hsum_f32 (local.get $b2)) (call $hsum_f32 (local.get $b3))))

  (func (export "matmul_f32") (param $w i32) (param $x i32) (param $y i32) (param $rows i32)
      (param $cols i32) (param $batch i32) (param $r0 i32) (param $r1 i32)
    (local $rb i32) (local $xb i32) (local $yb i32) (local $r i32) (local $n i32) (local $b i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local.set $rb (i32.shl (local.get $cols) (i32.const 2)))
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
      (local.set $b (i32.const 0))
      (block $pairs_done (loop $B
        (br_if $pairs_done (i32.gt_u (i32.add (local.get $b) (i32.const 2)) (local.get $batch)))
        (call $f32_4x2 (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
          (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $rb)))
          (i32.add (local.get $x) (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $rb)))
          (local.get $cols)
          (i32.add (i32.add (local.get $y) (i32.mul (local.get $b) (local.get $yb)))
            (i32.shl (local.get $r) (i32.const 2)))
          (i32.add (i32.add (local.get $y) (i32.mul (i32.add (local.get $b) (i32.const 1)) (local.get $yb)))
            (i32.shl (local.get $r) (i32.const 2)))
          (local.get $n))
        (local.set $b (i32.add (local.get $b) (i32.const 2)))
        (br $B)))
      (if (i32.lt_u (local.get $b) (local.get $batch))
        (then
          (call $f32_4x1 (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3)
            (i32.add (local.get $x) (i32.mul (local.get $b) (local.get $rb)))
            (local.get $cols)
            (i32.add (i32.add (local.get $y) (i32.mul (local.get $b) (local.get $yb)))
              (i32.shl (local.get $r) (i32.const 2)))
            (local.get $n))))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $G))))

  ;; ---------------------------------------------------------------- bf16 and f16 weights
  ;;
  ;; Eight 16-bit weights w0..w7 load as one v128. Seen as i32 lanes, `shl 16` gives the
  ;; even weights (w0 w2 w4 w6) in the high halves and `and 0xffff0000` the odd ones, so
  ;; the matching activations are x0 x2 x4 x6 and x1 x3 x5 x7, gathered with two shuffles
  ;; per activation load and shared by the four rows.
  ;;
  ;; bf16 in the high half is already the f32. f16 in the high half, shifted right by 3
  ;; (arithmetic) and masked with 0x8fffe000, is an f32 whose value is w * 2^-112 exactly,
  ;; subnormal halves included. Instead of multiplying every weight by 2^112, the
  ;; activations are multiplied by 2^64 and the sums by 2^48 (exact powers of two; the
  ;; products stay normal floats unless |w * x| < 2^-78, where the lost bits are below
  ;; 2^-100 absolute). f16 infinities and NaNs are not decoded as such (exponent 31
  ;; reads as a finite value): model weights never hold them.

  (func $bf16_4x1 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
      (param $x i32) (param $cols i32) (param $y i32) (param $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
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
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.add
        (f32x4.mul (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16)))
        (f32x4.mul (local.get $xo) (v128.and (local.get $w) (local.get $hi))))))
      (local.set $w (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.add
        (f32x4.mul (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16)))
        (f32x4.mul (local.get $xo) (v128.and (local.get $w) (local.get $hi))))))
      (local.set $w (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.add
        (f32x4.mul (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16)))
        (f32x4.mul (local.get $xo) (v128.and (local.get $w) (local.get $hi))))))
      (local.set $w (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.add
        (f32x4.mul (local.get $xe) (i32x4.shl (local.get $w) (i32.const 16)))
        (f32x4.mul (local.get $xo) (v128.and (local.get $w) (local.get $hi))))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (call $hsum_f32 (local.get $a0)) (call $hsum_f32 (local.get $a1))
      (call $hsum_f32 (local.get $a2)) (call $hsum_f32 (local.get $a3))))

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
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
      (local.set $t (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
      (local.set $t (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
      (local.set $t (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $we (i32x4.shl (local.get $t) (i32.const 16)))
      (local.set $wo (v128.and (local.get $t) (local.get $hi)))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
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
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.add
        (f32x4.mul (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3))))
        (f32x4.mul (local.get $xo) (v128.and (local.get $mask)
          (i32x4.shr_s (v128.and (local.get $w) (local.get $hi)) (i32.const 3)))))))
      (local.set $w (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.add
        (f32x4.mul (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3))))
        (f32x4.mul (local.get $xo) (v128.and (local.get $mask)
          (i32x4.shr_s (v128.and (local.get $w) (local.get $hi)) (i32.const 3)))))))
      (local.set $w (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.add
        (f32x4.mul (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3))))
        (f32x4.mul (local.get $xo) (v128.and (local.get $mask)
          (i32x4.shr_s (v128.and (local.get $w) (local.get $hi)) (i32.const 3)))))))
      (local.set $w (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.add
        (f32x4.mul (local.get $xe) (v128.and (local.get $mask)
          (i32x4.shr_s (i32x4.shl (local.get $w) (i32.const 16)) (i32.const 3))))
        (f32x4.mul (local.get $xo) (v128.and (local.get $mask)
          (i32x4.shr_s (v128.and (local.get $w) (local.get $hi)) (i32.const 3)))))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br_if $L (i32.lt_u (local.get $o) (local.get $end))))
    (call $put4 (local.get $y) (local.get $n)
      (f32.mul (call $hsum_f32 (local.get $a0)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a1)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a2)) (f32.const 0x1p48))
      (f32.mul (call $hsum_f32 (local.get $a3)) (f32.const 0x1p48))))

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
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (v128.and (local.get $t) (local.get $hi)) (i32.const 3))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
      (local.set $t (v128.load (i32.add (local.get $p1) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (v128.and (local.get $t) (local.get $hi)) (i32.const 3))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
      (local.set $t (v128.load (i32.add (local.get $p2) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (v128.and (local.get $t) (local.get $hi)) (i32.const 3))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
      (local.set $t (v128.load (i32.add (local.get $p3) (local.get $o))))
      (local.set $we (v128.and (local.get $mask) (i32x4.shr_s (i32x4.shl (local.get $t) (i32.const 16)) (i32.const 3))))
      (local.set $wo (v128.and (local.get $mask) (i32x4.shr_s (v128.and (local.get $t) (local.get $hi)) (i32.const 3))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.add
        (f32x4.mul (local.get $ae) (local.get $we)) (f32x4.mul (local.get $ao) (local.get $wo)))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.add
        (f32x4.mul (local.get $be) (local.get $we)) (f32x4.mul (local.get $bo) (local.get $wo)))))
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
