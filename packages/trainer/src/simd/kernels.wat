;; Small SIMD kernels for the TF.js wasm backend, run on its own memory (imported), so they read
;; and write tensors in place. Compiled at start-up by wabt (see ../simd.ts).
;; All pointers are byte offsets of float32 data.
(module
  (import "env" "memory" (memory 1))

  ;; Batched matrix product o[b] = a[b] · w[b], a: [batch, m, k], w: [batch, k, n], o: [batch, m, n].
  ;; n must be a multiple of 4. The wasm backend runs any batched product as a scalar triple loop
  ;; (~1.7 GFLOP/s at 16×16); here each output row is built 4 columns at a time: o[i, j..j+3] +=
  ;; a[i, kk] · w[kk, j..j+3], kk ascending (for k ≤ 48 the order of the backend's blocked loop, so equal sums).
  (func (export "bmm")
    (param $a i32) (param $w i32) (param $o i32) (param $batch i32) (param $m i32) (param $k i32) (param $n i32)
    (local $bb i32) (local $i i32) (local $j i32) (local $kk i32)
    (local $acc v128) (local $ap i32) (local $wp i32) (local $rowBytes i32) (local $op i32)
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $op (local.get $o))
    (block $batchDone (loop $batchLoop
      (br_if $batchDone (i32.ge_u (local.get $bb) (local.get $batch)))
      (local.set $i (i32.const 0))
      (block $rowsDone (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $j (i32.const 0))
        (block $colsDone (loop $colLoop
          (br_if $colsDone (i32.ge_u (local.get $j) (local.get $n)))
          (local.set $acc (v128.const f32x4 0 0 0 0))
          ;; ap = &a[b, i, 0]; wp = &w[b, 0, j]
          (local.set $ap (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $k)) (i32.const 2))))
          (local.set $wp (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $kk (i32.const 0))
          (block $innerDone (loop $inner
            (br_if $innerDone (i32.ge_u (local.get $kk) (local.get $k)))
            (local.set $acc
              (f32x4.add (local.get $acc) (f32x4.mul (v128.load32_splat (local.get $ap)) (v128.load (local.get $wp)))))
            (local.set $ap (i32.add (local.get $ap) (i32.const 4)))
            (local.set $wp (i32.add (local.get $wp) (local.get $rowBytes)))
            (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
            (br $inner)))
          (v128.store (local.get $op) (local.get $acc))
          (local.set $op (i32.add (local.get $op) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 4)))
          (br $colLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowLoop)))
      ;; next batch item: a += m·k floats, w += k·n floats (o advanced as it was written)
      (local.set $a (i32.add (local.get $a) (i32.shl (i32.mul (local.get $m) (local.get $k)) (i32.const 2))))
      (local.set $w (i32.add (local.get $w) (i32.mul (local.get $k) (local.get $rowBytes))))
      (local.set $bb (i32.add (local.get $bb) (i32.const 1)))
      (br $batchLoop))))

;; Column sums o[j] = Σ_i x[i, j], x: [rows, cols]. Rows are added in order into o, which stays
  ;; in cache, 4 columns at a time, then one at a time for the last cols mod 4; the wasm backend
  ;; instead transposes x first.
  (func (export "colsum") (param $x i32) (param $rows i32) (param $cols i32) (param $o i32)
    (local $i i32) (local $j i32) (local $rowBytes i32) (local $vecBytes i32) (local $p i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (memory.fill (local.get $o) (i32.const 0) (local.get $rowBytes))
    (block $rowsDone (loop $rowLoop
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $vecDone (loop $vecLoop
        (br_if $vecDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
        (local.set $p (i32.add (local.get $o) (local.get $j)))
        (v128.store (local.get $p) (f32x4.add (v128.load (local.get $p)) (v128.load (i32.add (local.get $x) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $vecLoop)))
      (block $tailDone (loop $tailLoop
        (br_if $tailDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $p (i32.add (local.get $o) (local.get $j)))
        (f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (f32.load (i32.add (local.get $x) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $tailLoop)))
      (local.set $x (i32.add (local.get $x) (local.get $rowBytes)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $rowLoop))))

  ;; One Adam step over n floats, in the order of the composed TF.js ops it replaces (so each
  ;; value rounds the same way): m' = m·b1 + g·c1; s' = s·b2 + g²·c2;
  ;; w' = w·shrink − (m' / (√s' / sqrtBc2 + eps))·step. Writes m', s', w' to new buffers.
  (func (export "adam")
    (param $g i32) (param $m i32) (param $s i32) (param $w i32) (param $mo i32) (param $so i32) (param $wo i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $sqrtBc2 f32) (param $eps f32) (param $step f32) (param $shrink f32)
    (local $i i32) (local $bytes i32) (local $vecBytes i32)
    (local $gv v128) (local $mv v128) (local $sv v128)
    (local $gs f32) (local $ms f32) (local $ss f32)
    (local.set $bytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $bytes) (i32.const -16)))
    (block $vecDone (loop $vecLoop
      (br_if $vecDone (i32.ge_u (local.get $i) (local.get $vecBytes)))
      (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
      (local.set $mv (f32x4.add
        (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (f32x4.splat (local.get $b1)))
        (f32x4.mul (local.get $gv) (f32x4.splat (local.get $c1)))))
      (local.set $sv (f32x4.add
        (f32x4.mul (v128.load (i32.add (local.get $s) (local.get $i))) (f32x4.splat (local.get $b2)))
        (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (f32x4.splat (local.get $c2)))))
      (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
      (v128.store (i32.add (local.get $so) (local.get $i)) (local.get $sv))
      (v128.store (i32.add (local.get $wo) (local.get $i))
        (f32x4.sub
          (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $i))) (f32x4.splat (local.get $shrink)))
          (f32x4.mul
            (f32x4.div (local.get $mv)
              (f32x4.add (f32x4.div (f32x4.sqrt (local.get $sv)) (f32x4.splat (local.get $sqrtBc2))) (f32x4.splat (local.get $eps))))
            (f32x4.splat (local.get $step)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vecLoop)))
    (block $tailDone (loop $tailLoop
      (br_if $tailDone (i32.ge_u (local.get $i) (local.get $bytes)))
      (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
      (local.set $ms (f32.add
        (f32.mul (f32.load (i32.add (local.get $m) (local.get $i))) (local.get $b1))
        (f32.mul (local.get $gs) (local.get $c1))))
      (local.set $ss (f32.add
        (f32.mul (f32.load (i32.add (local.get $s) (local.get $i))) (local.get $b2))
        (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
      (f32.store (i32.add (local.get $mo) (local.get $i)) (local.get $ms))
      (f32.store (i32.add (local.get $so) (local.get $i)) (local.get $ss))
      (f32.store (i32.add (local.get $wo) (local.get $i))
        (f32.sub
          (f32.mul (f32.load (i32.add (local.get $w) (local.get $i))) (local.get $shrink))
          (f32.mul
            (f32.div (local.get $ms) (f32.add (f32.div (f32.sqrt (local.get $ss)) (local.get $sqrtBc2)) (local.get $eps)))
            (local.get $step))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $tailLoop))))
;; Copies `rows` runs of `bytes` bytes from src to dst, the runs `srcStride` and `dstStride` bytes
  ;; apart: a column block of a row-major matrix, for splitting and concatenating along an axis
  ;; (the wasm backend copies row by row from JS).
  (func (export "copyRows") (param $src i32) (param $dst i32) (param $rows i32) (param $bytes i32) (param $srcStride i32) (param $dstStride i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (local.get $rows)))
      (memory.copy (local.get $dst) (local.get $src) (local.get $bytes))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
      (br $next))))

  ;; The gradient of an average pool whose ph×pw windows tile the input (stride = window, no
  ;; padding): every input position gets its window's dy·scale (scale = 1/(ph·pw)). dy holds R
  ;; rows (batch × output height) of ow·c floats; o is written in order, [R·ph, ow·pw, c].
  (func (export "avgPoolGrad") (param $dy i32) (param $o i32) (param $R i32) (param $ph i32) (param $ow i32) (param $pw i32) (param $c i32) (param $scale f32)
    (local $r i32) (local $i i32) (local $ox i32) (local $j i32) (local $k i32)
    (local $row i32) (local $src i32) (local $rowBytes i32) (local $cBytes i32) (local $vecBytes i32) (local $sv v128)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $cBytes) (i32.const -16)))
    (local.set $rowBytes (i32.mul (local.get $ow) (local.get $cBytes)))
    (local.set $sv (f32x4.splat (local.get $scale)))
    (block $rDone (loop $rLoop
      (br_if $rDone (i32.ge_u (local.get $r) (local.get $R)))
      (local.set $row (i32.add (local.get $dy) (i32.mul (local.get $r) (local.get $rowBytes))))
      (local.set $i (i32.const 0))
      (block $iDone (loop $iLoop
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $ph)))
        (local.set $src (local.get $row))
        (local.set $ox (i32.const 0))
        (block $oxDone (loop $oxLoop
          (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $j (i32.const 0))
          (block $jDone (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $pw)))
            (local.set $k (i32.const 0))
            (block $vDone (loop $vLoop
              (br_if $vDone (i32.ge_u (local.get $k) (local.get $vecBytes)))
              (v128.store (local.get $o) (f32x4.mul (v128.load (i32.add (local.get $src) (local.get $k))) (local.get $sv)))
              (local.set $o (i32.add (local.get $o) (i32.const 16)))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (br $vLoop)))
            (block $tDone (loop $tLoop
              (br_if $tDone (i32.ge_u (local.get $k) (local.get $cBytes)))
              (f32.store (local.get $o) (f32.mul (f32.load (i32.add (local.get $src) (local.get $k))) (local.get $scale)))
              (local.set $o (i32.add (local.get $o) (i32.const 4)))
              (local.set $k (i32.add (local.get $k) (i32.const 4)))
              (br $tLoop)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $jLoop)))
          (local.set $src (i32.add (local.get $src) (local.get $cBytes)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $oxLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $iLoop)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rLoop))))
)
