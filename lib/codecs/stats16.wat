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
    (i32.store (i32.const 32) (local.get $bad))))
