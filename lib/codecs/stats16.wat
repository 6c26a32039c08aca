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

  ;; nonfinite(input, n, mask): how many of the n patterns at input have every
  ;; exponent bit set (mask 0x7c00 for F16, 0x7f80 for BF16): ±inf and NaN.
  ;; Eight at a time; n a multiple of 8.
  (func (export "nonfinite") (param $in i32) (param $n i32) (param $mask i32) (result i32)
    (local $end i32) (local $m v128) (local $acc v128) (local $count i32) (local $k i32)
    (local.set $m (i16x8.splat (local.get $mask)))
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
            (local.set $acc (i16x8.add (local.get $acc)
              (i16x8.eq (v128.and (v128.load (local.get $in)) (local.get $m)) (local.get $m))))
            (local.set $in (i32.add (local.get $in) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $lanes)))
        (local.set $acc (i32x4.extadd_pairwise_i16x8_s (local.get $acc)))
        (local.set $count (i32.sub (local.get $count)
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
        (br $next)))
    (local.get $count))

  ;; stats4(input, stride, n, table): four chunks of n patterns each, at input,
  ;; input + stride, input + 2·stride and input + 3·stride, summed as four
  ;; separate chunks (each from zero, min +inf, max −inf) in one loop: the four
  ;; sums are independent, so their additions overlap instead of waiting on one
  ;; another (3× stats()' speed). Every value must be finite (the caller checks
  ;; with nonfinite first): there is no per-value test. Chunk c's sumSq (f64),
  ;; min and max go to 64 + 32c, +8, +16. (No sum: Stats16 reports no mean.)
  ;; Merged in order they give stats()' figures over the same chunks to the
  ;; last bit: each chunk's sums are the same additions in the same order, and
  ;; a strict compare of a chunk's min against the running one keeps the first
  ;; of equal values (±0), as stats() does.
  (func (export "stats4") (param $in i32) (param $stride i32) (param $n i32) (param $table i32)
    (local $end i32) (local $v f64) (local $p0 i32) (local $sq0 f64) (local $min0 f64) (local $max0 f64) (local $p1 i32) (local $sq1 f64) (local $min1 f64) (local $max1 f64) (local $p2 i32) (local $sq2 f64) (local $min2 f64) (local $max2 f64) (local $p3 i32) (local $sq3 f64) (local $min3 f64) (local $max3 f64)
    (local.set $p0 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 0))))
    (local.set $min0 (f64.const inf))
    (local.set $max0 (f64.const -inf))
    (local.set $p1 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 1))))
    (local.set $min1 (f64.const inf))
    (local.set $max1 (f64.const -inf))
    (local.set $p2 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 2))))
    (local.set $min2 (f64.const inf))
    (local.set $max2 (f64.const -inf))
    (local.set $p3 (i32.add (local.get $in) (i32.mul (local.get $stride) (i32.const 3))))
    (local.set $min3 (f64.const inf))
    (local.set $max3 (f64.const -inf))
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p0) (local.get $end)))
        (local.set $v
          (f64.promote_f32
            (f32.load
              (i32.add (local.get $table) (i32.shl (i32.load16_u (local.get $p0)) (i32.const 2))))))
        (local.set $p0 (i32.add (local.get $p0) (i32.const 2)))
        (local.set $sq0 (f64.add (local.get $sq0) (f64.mul (local.get $v) (local.get $v))))
        (local.set $min0
          (select (local.get $v) (local.get $min0) (f64.lt (local.get $v) (local.get $min0))))
        (local.set $max0
          (select (local.get $v) (local.get $max0) (f64.gt (local.get $v) (local.get $max0))))
        (local.set $v
          (f64.promote_f32
            (f32.load
              (i32.add (local.get $table) (i32.shl (i32.load16_u (local.get $p1)) (i32.const 2))))))
        (local.set $p1 (i32.add (local.get $p1) (i32.const 2)))
        (local.set $sq1 (f64.add (local.get $sq1) (f64.mul (local.get $v) (local.get $v))))
        (local.set $min1
          (select (local.get $v) (local.get $min1) (f64.lt (local.get $v) (local.get $min1))))
        (local.set $max1
          (select (local.get $v) (local.get $max1) (f64.gt (local.get $v) (local.get $max1))))
        (local.set $v
          (f64.promote_f32
            (f32.load
              (i32.add (local.get $table) (i32.shl (i32.load16_u (local.get $p2)) (i32.const 2))))))
        (local.set $p2 (i32.add (local.get $p2) (i32.const 2)))
        (local.set $sq2 (f64.add (local.get $sq2) (f64.mul (local.get $v) (local.get $v))))
        (local.set $min2
          (select (local.get $v) (local.get $min2) (f64.lt (local.get $v) (local.get $min2))))
        (local.set $max2
          (select (local.get $v) (local.get $max2) (f64.gt (local.get $v) (local.get $max2))))
        (local.set $v
          (f64.promote_f32
            (f32.load
              (i32.add (local.get $table) (i32.shl (i32.load16_u (local.get $p3)) (i32.const 2))))))
        (local.set $p3 (i32.add (local.get $p3) (i32.const 2)))
        (local.set $sq3 (f64.add (local.get $sq3) (f64.mul (local.get $v) (local.get $v))))
        (local.set $min3
          (select (local.get $v) (local.get $min3) (f64.lt (local.get $v) (local.get $min3))))
        (local.set $max3
          (select (local.get $v) (local.get $max3) (f64.gt (local.get $v) (local.get $max3))))
        (br $next)))
    (f64.store (i32.const 64) (local.get $sq0))
    (f64.store (i32.const 72) (local.get $min0))
    (f64.store (i32.const 80) (local.get $max0))
    (f64.store (i32.const 96) (local.get $sq1))
    (f64.store (i32.const 104) (local.get $min1))
    (f64.store (i32.const 112) (local.get $max1))
    (f64.store (i32.const 128) (local.get $sq2))
    (f64.store (i32.const 136) (local.get $min2))
    (f64.store (i32.const 144) (local.get $max2))
    (f64.store (i32.const 160) (local.get $sq3))
    (f64.store (i32.const 168) (local.get $min3))
    (f64.store (i32.const 176) (local.get $max3))
  )
)
