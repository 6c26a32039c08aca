;; Summary sums of 16-bit float values through their f32 value table
;; (lib/codecs/stats16.ts): exactly the arithmetic of StatsAccumulator.addBits16
;; (lib/stats/summary.ts), in the same order, so the results are the same to
;; the last bit: each value v (f32 widened to f64) that is finite adds to sum
;; and v·v to sumSq, one after the other; min and max move on a strict
;; compare; non-finite values are counted and skipped.
;;
;; stats(input, n, table, min, max): n patterns at input, the 65536-entry f32
;; table at table. Stores sum (f64) at 0, sumSq at 8, min at 16, max at 24,
;; and the number of non-finite values (i32) at 32.
;;
;; The four-chunk path of a copied tensor (Stats16.sumFour) takes the same
;; figures apart: scan (non-finite count, min and max by order key, in SIMD)
;; and sumsq4 (the sums of squares of four chunks in one loop).
(module
  (memory (export "memory") 71)

  (func (export "stats") (param $in i32) (param $n i32) (param $table i32)
    (param $min f64) (param $max f64)
    (local $end i32) (local $v f64) (local $sum f64) (local $sumSq f64) (local $bad i32)
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $v
          (f64.promote_f32
            (f32.load
              (i32.add (local.get $table) (i32.shl (i32.load16_u (local.get $in)) (i32.const 2))))))
        (local.set $in (i32.add (local.get $in) (i32.const 2)))
        ;; v − v is 0 exactly when v is finite (NaN and ±inf give NaN).
        (if (f64.ne (f64.sub (local.get $v) (local.get $v)) (f64.const 0))
          (then
            (local.set $bad (i32.add (local.get $bad) (i32.const 1)))
            (br $next)))
        (local.set $sum (f64.add (local.get $sum) (local.get $v)))
        (local.set $sumSq (f64.add (local.get $sumSq) (f64.mul (local.get $v) (local.get $v))))
        (local.set $min
          (select (local.get $v) (local.get $min) (f64.lt (local.get $v) (local.get $min))))
        (local.set $max
          (select (local.get $v) (local.get $max) (f64.gt (local.get $v) (local.get $max))))
        (br $next)))
    (f64.store (i32.const 0) (local.get $sum))
    (f64.store (i32.const 8) (local.get $sumSq))
    (f64.store (i32.const 16) (local.get $min))
    (f64.store (i32.const 24) (local.get $max))
    (i32.store (i32.const 32) (local.get $bad)))
  ;; scan(input, n, mask): for n patterns at input (n a multiple of 8), returns
  ;; how many have every exponent bit set (mask 0x7c00 for F16, 0x7f80 for
  ;; BF16: ±inf and NaN), and stores at 40 and 44 (i32) the least and greatest
  ;; order key of them, key = ±(bits & 0x7fff) by the sign bit: for finite
  ;; values keys order as the values do, and both zeros have key 0. Eight
  ;; lanes at a time.
  (func (export "scan") (param $in i32) (param $n i32) (param $mask i32) (result i32)
    (local $end i32) (local $m v128) (local $acc v128) (local $count i32) (local $k i32)
    (local $bits v128) (local $sign v128) (local $key v128) (local $lo v128) (local $hi v128)
    (local.set $m (i16x8.splat (local.get $mask)))
    (local.set $lo (i16x8.splat (i32.const 0x7fff)))
    (local.set $hi (i16x8.splat (i32.const -0x7fff)))
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        ;; Lanes count down from 0 (−1 per hit); at most 4096 rounds per i16 lane before widening.
        (local.set $acc (v128.const i64x2 0 0))
        (local.set $k (i32.const 0))
        (block $flush
          (loop $lanes
            (br_if $flush (i32.ge_u (local.get $in) (local.get $end)))
            (br_if $flush (i32.ge_u (local.get $k) (i32.const 4096)))
            (local.set $bits (v128.load (local.get $in)))
            (local.set $acc (i16x8.add (local.get $acc)
              (i16x8.eq (v128.and (local.get $bits) (local.get $m)) (local.get $m))))
            ;; key = (magnitude XOR sign) − sign, sign all ones for negative values.
            (local.set $sign (i16x8.shr_s (local.get $bits) (i32.const 15)))
            (local.set $key (i16x8.sub
              (v128.xor (v128.and (local.get $bits) (i16x8.splat (i32.const 0x7fff))) (local.get $sign))
              (local.get $sign)))
            (local.set $lo (i16x8.min_s (local.get $lo) (local.get $key)))
            (local.set $hi (i16x8.max_s (local.get $hi) (local.get $key)))
            (local.set $in (i32.add (local.get $in) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $lanes)))
        (local.set $acc (i32x4.extadd_pairwise_i16x8_s (local.get $acc)))
        (local.set $count (i32.sub (local.get $count)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
        (br $next)))
    ;; The lanes' extremes: halve the vector three times.
    (local.set $lo (i16x8.min_s (local.get $lo) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $lo) (local.get $lo))))
    (local.set $lo (i16x8.min_s (local.get $lo) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $lo) (local.get $lo))))
    (local.set $lo (i16x8.min_s (local.get $lo) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $lo) (local.get $lo))))
    (local.set $hi (i16x8.max_s (local.get $hi) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $hi) (local.get $hi))))
    (local.set $hi (i16x8.max_s (local.get $hi) (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $hi) (local.get $hi))))
    (local.set $hi (i16x8.max_s (local.get $hi) (i8x16.shuffle 2 3 0 1 2 3 0 1 2 3 0 1 2 3 0 1 (local.get $hi) (local.get $hi))))
    (i32.store (i32.const 40) (i16x8.extract_lane_s 0 (local.get $lo)))
    (i32.store (i32.const 44) (i16x8.extract_lane_s 0 (local.get $hi)))
    (local.get $count))

  ;; sumsq4(input, stride, n, table): the sums of squares of four chunks of n
  ;; patterns each, at input, input + stride, input + 2·stride and input +
  ;; 3·stride, each from zero, in one loop: the four sums are independent, so
  ;; their additions overlap instead of waiting on one another. Every value
  ;; must be finite (the caller checks with scan first): there is no per-value
  ;; test. Chunk c's sumSq (f64) goes to 64 + 8c: the same additions in the
  ;; same order as stats()' sumSq of that chunk, so the same bits.
  (func (export "sumsq4") (param $in i32) (param $stride i32) (param $n i32) (param $table i32)
    (local $end i32) (local $v f64) (local $p0 i32) (local $sq0 f64) (local $p1 i32) (local $sq1 f64) (local $p2 i32) (local $sq2 f64) (local $p3 i32) (local $sq3 f64)
    (local.set $p0 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 0))))
    (local.set $p1 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 1))))
    (local.set $p2 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 2))))
    (local.set $p3 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 3))))
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p0) (local.get $end)))
        (local.set $sq0 (f64.add (local.get $sq0)
          (f64.mul
            (local.tee $v (f64.promote_f32 (f32.load (i32.add (local.get $table)
              (i32.shl (i32.load16_u (local.get $p0)) (i32.const 2))))))
            (local.get $v))))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 2)))
        (local.set $sq1 (f64.add (local.get $sq1)
          (f64.mul
            (local.tee $v (f64.promote_f32 (f32.load (i32.add (local.get $table)
              (i32.shl (i32.load16_u (local.get $p1)) (i32.const 2))))))
            (local.get $v))))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 2)))
        (local.set $sq2 (f64.add (local.get $sq2)
          (f64.mul
            (local.tee $v (f64.promote_f32 (f32.load (i32.add (local.get $table)
              (i32.shl (i32.load16_u (local.get $p2)) (i32.const 2))))))
            (local.get $v))))
        (local.set $p2 (i32.add (local.get $p2) (i32.const 2)))
        (local.set $sq3 (f64.add (local.get $sq3)
          (f64.mul
            (local.tee $v (f64.promote_f32 (f32.load (i32.add (local.get $table)
              (i32.shl (i32.load16_u (local.get $p3)) (i32.const 2))))))
            (local.get $v))))
        (local.set $p3 (i32.add (local.get $p3) (i32.const 2)))
        (br $next)))
    (f64.store (i32.const 64) (local.get $sq0))
    (f64.store (i32.const 72) (local.get $sq1))
    (f64.store (i32.const 80) (local.get $sq2))
    (f64.store (i32.const 88) (local.get $sq3))
  )
)
