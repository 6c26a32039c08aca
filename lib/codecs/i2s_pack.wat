;; F16/BF16 ternary bit patterns → I2_S bytes, in one pass (lib/codecs/i2s_pack.ts).
;;
;; Input: n 16-bit patterns (n a multiple of 128) at $in. Each value must be
;; exactly +s (bits S), −s (S | 0x8000) or ±0 (0x0000, 0x8000), S ≠ 0: the
;; same test as lib/codecs/ternary_bits.ts. Output: the I2_S codes of
;; lib/codecs/i2s.ts, n/4 bytes at $out: −s → 0, 0 → 1, +s → 2; element j of
;; block b (128 elements) goes to byte 32b + (j mod 32), at bit shift
;; 6 − 2·(j div 32).
;;
;; Result: 0 when every value was valid, 1 otherwise (the output is then
;; meaningless). The counts of +s and −s values of the call are stored as two
;; i32 at address 0 and 4.
;;
;; Eight values at a time (i16x8): three compares give +s, −s and ±0 masks
;; (all ones when true); code = 1 − (+s mask) + (−s mask). Four groups of 32
;; elements are shifted into one byte per lane, and two i16x8 halves are
;; narrowed into 16 output bytes.
(module
  (memory (export "memory") 8)

  (func (export "pack") (param $in i32) (param $n i32) (param $out i32) (param $s i32)
    (result i32)
    (local $end i32) (local $half i32) (local $g i32) (local $at i32)
    (local $S v128) (local $SN v128) (local $MASK v128) (local $ONE v128)
    (local $lo v128) (local $hi v128) (local $accLo v128) (local $accHi v128)
    (local $p v128) (local $q v128) (local $z v128) (local $bad v128)
    (local $np16 v128) (local $nn16 v128) (local $np v128) (local $nn v128)
    (local.set $S (i16x8.splat (local.get $s)))
    (local.set $SN (i16x8.splat (i32.or (local.get $s) (i32.const 0x8000))))
    (local.set $MASK (i16x8.splat (i32.const 0x7fff)))
    (local.set $ONE (i16x8.splat (i32.const 1)))
    (local.set $end (i32.add (local.get $in) (i32.shl (local.get $n) (i32.const 1))))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $in) (local.get $end)))
        (local.set $np16 (v128.const i64x2 0 0))
        (local.set $nn16 (v128.const i64x2 0 0))
        ;; half 0: output bytes 0..15 (elements m = 0..15 of each group); half 16: bytes 16..31.
        (local.set $half (i32.const 0))
        (loop $halves
          (local.set $accLo (v128.const i64x2 0 0))
          (local.set $accHi (v128.const i64x2 0 0))
          (local.set $g (i32.const 0))
          (loop $groups
            ;; group g's elements half..half+15: 2 bytes each, 64 bytes per group.
            (local.set $at
              (i32.add (local.get $in)
                (i32.add (i32.shl (local.get $g) (i32.const 6)) (i32.shl (local.get $half) (i32.const 1)))))
            (local.set $lo (v128.load (local.get $at)))
            (local.set $hi (v128.load offset=16 (local.get $at)))

            (local.set $p (i16x8.eq (local.get $lo) (local.get $S)))
            (local.set $q (i16x8.eq (local.get $lo) (local.get $SN)))
            (local.set $z (i16x8.eq (v128.and (local.get $lo) (local.get $MASK)) (v128.const i64x2 0 0)))
            (local.set $bad (v128.or (local.get $bad)
              (v128.not (v128.or (v128.or (local.get $p) (local.get $q)) (local.get $z)))))
            (local.set $np16 (i16x8.sub (local.get $np16) (local.get $p)))
            (local.set $nn16 (i16x8.sub (local.get $nn16) (local.get $q)))
            (local.set $accLo (v128.or (i16x8.shl (local.get $accLo) (i32.const 2))
              (i16x8.add (i16x8.sub (local.get $ONE) (local.get $p)) (local.get $q))))

            (local.set $p (i16x8.eq (local.get $hi) (local.get $S)))
            (local.set $q (i16x8.eq (local.get $hi) (local.get $SN)))
            (local.set $z (i16x8.eq (v128.and (local.get $hi) (local.get $MASK)) (v128.const i64x2 0 0)))
            (local.set $bad (v128.or (local.get $bad)
              (v128.not (v128.or (v128.or (local.get $p) (local.get $q)) (local.get $z)))))
            (local.set $np16 (i16x8.sub (local.get $np16) (local.get $p)))
            (local.set $nn16 (i16x8.sub (local.get $nn16) (local.get $q)))
            (local.set $accHi (v128.or (i16x8.shl (local.get $accHi) (i32.const 2))
              (i16x8.add (i16x8.sub (local.get $ONE) (local.get $p)) (local.get $q))))

            (local.set $g (i32.add (local.get $g) (i32.const 1)))
            (br_if $groups (i32.lt_u (local.get $g) (i32.const 4))))
          (v128.store (i32.add (local.get $out) (local.get $half))
            (i8x16.narrow_i16x8_u (local.get $accLo) (local.get $accHi)))
          (local.set $half (i32.add (local.get $half) (i32.const 16)))
          (br_if $halves (i32.lt_u (local.get $half) (i32.const 32))))
        ;; At most 16 per i16 lane per block: widen into the i32 totals.
        (local.set $np (i32x4.add (local.get $np) (i32x4.extadd_pairwise_i16x8_s (local.get $np16))))
        (local.set $nn (i32x4.add (local.get $nn) (i32x4.extadd_pairwise_i16x8_s (local.get $nn16))))
        (local.set $in (i32.add (local.get $in) (i32.const 256)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (br $block)))
    (i32.store (i32.const 0)
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $np)) (i32x4.extract_lane 1 (local.get $np)))
        (i32.add (i32x4.extract_lane 2 (local.get $np)) (i32x4.extract_lane 3 (local.get $np)))))
    (i32.store (i32.const 4)
      (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $nn)) (i32x4.extract_lane 1 (local.get $nn)))
        (i32.add (i32x4.extract_lane 2 (local.get $nn)) (i32x4.extract_lane 3 (local.get $nn)))))
    (v128.any_true (local.get $bad))))
