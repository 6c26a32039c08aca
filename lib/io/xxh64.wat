;; XXH64 (xxHash's 64-bit hash, any seed), streaming, for lib/io/xxh64.ts.
;; The source of truth: lib/io/xxh64_wasm.ts holds these bytes assembled
;; (deno run -A tools/build_xxh64.ts); a test fails when the two disagree.
;;
;; A hash state is 80 bytes at a caller-chosen address `s`:
;;   s+0  v1, s+8 v2, s+16 v3, s+24 v4 (the four lanes, i64)
;;   s+32 total length (i64), s+40 buffered bytes (i32), s+48 the 32-byte buffer.
;; The algorithm follows the xxHash specification (doc/xxhash_spec.md, "XXH64").
(module
  (memory (export "memory") 1)

  (global $P1 i64 (i64.const 0x9E3779B185EBCA87))
  (global $P2 i64 (i64.const 0xC2B2AE3D27D4EB4F))
  (global $P3 i64 (i64.const 0x165667B19E3779F9))
  (global $P4 i64 (i64.const 0x85EBCA77C2B2AE63))
  (global $P5 i64 (i64.const 0x27D4EB2F165667C5))

  (func $round (param $acc i64) (param $lane i64) (result i64)
    (i64.mul
      (i64.rotl (i64.add (local.get $acc) (i64.mul (local.get $lane) (global.get $P2))) (i64.const 31))
      (global.get $P1)))

  (func $merge (param $h i64) (param $v i64) (result i64)
    (i64.add
      (i64.mul
        (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $v)))
        (global.get $P1))
      (global.get $P4)))

  ;; Starts a state at `s` with `seed`.
  (func (export "init") (param $s i32) (param $seed i64)
    (i64.store offset=0 (local.get $s)
      (i64.add (local.get $seed) (i64.add (global.get $P1) (global.get $P2))))
    (i64.store offset=8 (local.get $s) (i64.add (local.get $seed) (global.get $P2)))
    (i64.store offset=16 (local.get $s) (local.get $seed))
    (i64.store offset=24 (local.get $s) (i64.sub (local.get $seed) (global.get $P1)))
    (i64.store offset=32 (local.get $s) (i64.const 0))
    (i32.store offset=40 (local.get $s) (i32.const 0)))

  ;; Consumes the 32-byte stripes of [p, p+len) into the lanes at `s`; returns the bytes consumed.
  (func $stripes (param $s i32) (param $p i32) (param $len i32) (result i32)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64) (local $end i32) (local $q i32)
    (local.set $v1 (i64.load offset=0 (local.get $s)))
    (local.set $v2 (i64.load offset=8 (local.get $s)))
    (local.set $v3 (i64.load offset=16 (local.get $s)))
    (local.set $v4 (i64.load offset=24 (local.get $s)))
    (local.set $q (local.get $p))
    (local.set $end
      (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -32))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
        ;; round(v, lane) = rotl(v + lane * P2, 31) * P1, written out: the hot loop makes no calls.
        (local.set $v1 (i64.mul (i64.rotl (i64.add (local.get $v1)
          (i64.mul (i64.load offset=0 (local.get $q)) (global.get $P2))) (i64.const 31)) (global.get $P1)))
        (local.set $v2 (i64.mul (i64.rotl (i64.add (local.get $v2)
          (i64.mul (i64.load offset=8 (local.get $q)) (global.get $P2))) (i64.const 31)) (global.get $P1)))
        (local.set $v3 (i64.mul (i64.rotl (i64.add (local.get $v3)
          (i64.mul (i64.load offset=16 (local.get $q)) (global.get $P2))) (i64.const 31)) (global.get $P1)))
        (local.set $v4 (i64.mul (i64.rotl (i64.add (local.get $v4)
          (i64.mul (i64.load offset=24 (local.get $q)) (global.get $P2))) (i64.const 31)) (global.get $P1)))
        (local.set $q (i32.add (local.get $q) (i32.const 32)))
        (br $next)))
    (i64.store offset=0 (local.get $s) (local.get $v1))
    (i64.store offset=8 (local.get $s) (local.get $v2))
    (i64.store offset=16 (local.get $s) (local.get $v3))
    (i64.store offset=24 (local.get $s) (local.get $v4))
    (i32.sub (local.get $q) (local.get $p)))

  ;; Feeds [p, p+len) to the state at `s`.
  (func (export "update") (param $s i32) (param $p i32) (param $len i32)
    (local $have i32) (local $take i32) (local $used i32)
    (i64.store offset=32 (local.get $s)
      (i64.add (i64.load offset=32 (local.get $s)) (i64.extend_i32_u (local.get $len))))
    (local.set $have (i32.load offset=40 (local.get $s)))
    ;; Too little for a stripe: buffer it.
    (if (i32.lt_u (i32.add (local.get $have) (local.get $len)) (i32.const 32))
      (then
        (memory.copy
          (i32.add (i32.add (local.get $s) (i32.const 48)) (local.get $have))
          (local.get $p) (local.get $len))
        (i32.store offset=40 (local.get $s) (i32.add (local.get $have) (local.get $len)))
        (return)))
    ;; Complete the buffered stripe first.
    (if (i32.gt_u (local.get $have) (i32.const 0))
      (then
        (local.set $take (i32.sub (i32.const 32) (local.get $have)))
        (memory.copy
          (i32.add (i32.add (local.get $s) (i32.const 48)) (local.get $have))
          (local.get $p) (local.get $take))
        (drop (call $stripes (local.get $s) (i32.add (local.get $s) (i32.const 48)) (i32.const 32)))
        (local.set $p (i32.add (local.get $p) (local.get $take)))
        (local.set $len (i32.sub (local.get $len) (local.get $take)))))
    (local.set $used (call $stripes (local.get $s) (local.get $p) (local.get $len)))
    (local.set $len (i32.sub (local.get $len) (local.get $used)))
    (memory.copy
      (i32.add (local.get $s) (i32.const 48))
      (i32.add (local.get $p) (local.get $used)) (local.get $len))
    (i32.store offset=40 (local.get $s) (local.get $len)))

  ;; The digest of everything fed to `s` so far (the state is left as it is).
  (func (export "digest") (param $s i32) (result i64)
    (local $h i64) (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64)
    (local $total i64) (local $p i32) (local $end i32)
    (local.set $v1 (i64.load offset=0 (local.get $s)))
    (local.set $v2 (i64.load offset=8 (local.get $s)))
    (local.set $v3 (i64.load offset=16 (local.get $s)))
    (local.set $v4 (i64.load offset=24 (local.get $s)))
    (local.set $total (i64.load offset=32 (local.get $s)))
    (if (i64.ge_u (local.get $total) (i64.const 32))
      (then
        (local.set $h
          (i64.add
            (i64.add (i64.rotl (local.get $v1) (i64.const 1)) (i64.rotl (local.get $v2) (i64.const 7)))
            (i64.add (i64.rotl (local.get $v3) (i64.const 12)) (i64.rotl (local.get $v4) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (local.get $v1)))
        (local.set $h (call $merge (local.get $h) (local.get $v2)))
        (local.set $h (call $merge (local.get $h) (local.get $v3)))
        (local.set $h (call $merge (local.get $h) (local.get $v4))))
      (else
        ;; v3 still holds the seed.
        (local.set $h (i64.add (local.get $v3) (global.get $P5)))))
    (local.set $h (i64.add (local.get $h) (local.get $total)))
    (local.set $p (i32.add (local.get $s) (i32.const 48)))
    (local.set $end (i32.add (local.get $p) (i32.load offset=40 (local.get $s))))
    (block $d8
      (loop $l8
        (br_if $d8 (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load (local.get $p))))
                (i64.const 27))
              (global.get $P1))
            (global.get $P4)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $l8)))
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h)
                  (i64.mul (i64.load32_u (local.get $p)) (global.get $P1)))
                (i64.const 23))
              (global.get $P2))
            (global.get $P3)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h
          (i64.mul
            (i64.rotl
              (i64.xor (local.get $h) (i64.mul (i64.load8_u (local.get $p)) (global.get $P5)))
              (i64.const 11))
            (global.get $P1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l1)))
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))))
    (local.set $h (i64.mul (local.get $h) (global.get $P2)))
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))))
    (local.set $h (i64.mul (local.get $h) (global.get $P3)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))
)
