;; The ephemeral allocator the `route` pass puts into a module: a TLSF
;; (two-level segregated fit) heap with boundary tags, whose whole state lives
;; in memory 1 (the header layout is `heap_abi.rs`). A fresh memory 1 is a
;; fresh heap: the first call lays the header out.
;;
;; This is a template: `{NAME}` is replaced by `ephemeral_heap::source`.
;; Pointers in and out are tagged (memory-1 offset + {SPLIT}).
;;
;; Blocks are 8-aligned. A block at offset b:
;;   b+0  size of the previous block, valid only while that block is free
;;        (otherwise the last word of the previous block's payload)
;;   b+4  size | CINUSE (2, this block is in use) | PINUSE (1, the previous one is)
;;   b+8  payload; a free block keeps its list links there (next at b+8, prev at b+12)
;; The payload runs to the next block's b+4, so a block of size s holds s - 4
;; bytes. The heap ends with a sentinel block of size 0 marked in use.
;;
;; Free lists: first level by the size's highest bit, second level by the
;; next 4 bits (16 lists per level); sizes below 128 get one list per 8 bytes.
;; Allocation takes the first non-empty list at or above the request's
;; rounded-up class (O(1)), falling back to a scan of the request's own list
;; before the heap grows. Freeing merges with both neighbours.
(module
  (import "multimem" "proof_epoch" (global $epoch (mut i32)))
  (import "multimem" "stack_pointer" (global $sp (mut i32)))
  (memory $m 0)
  (export "memory" (memory $m))

  (func $hdr (param $b i32) (result i32) (i32.load offset=4 (local.get $b)))
  (func $bsize (param $b i32) (result i32) (i32.and (i32.load offset=4 (local.get $b)) (i32.const -8)))

  ;; Block size for a request of $s bytes; 0 when it cannot be had.
  (func $need (param $s i32) (result i32)
    (if (i32.gt_u (local.get $s) (i32.const 0x7fff0000)) (then (return (i32.const 0))))
    (select (i32.const 16)
      (local.tee $s (i32.and (i32.add (local.get $s) (i32.const 11)) (i32.const -8)))
      (i32.lt_u (local.get $s) (i32.const 16))))

  ;; List index (first level * 16 + second level) of a block size.
  (func $mapping (param $s i32) (result i32) (local $f i32)
    (if (result i32) (i32.lt_u (local.get $s) (i32.const 128))
      (then (i32.shr_u (local.get $s) (i32.const 3)))
      (else
        (local.set $f (i32.sub (i32.const 31) (i32.clz (local.get $s))))
        (i32.or
          (i32.shl (i32.sub (local.get $f) (i32.const 6)) (i32.const 4))
          (i32.and (i32.shr_u (local.get $s) (i32.sub (local.get $f) (i32.const 4))) (i32.const 15))))))

  ;; The smallest size whose class holds only blocks of at least $s bytes.
  (func $round (param $s i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $s) (i32.const 128))
      (then (local.get $s))
      (else
        (i32.add (local.get $s)
          (i32.sub (i32.shl (i32.const 1) (i32.sub (i32.sub (i32.const 31) (i32.clz (local.get $s))) (i32.const 4))) (i32.const 1))))))

  (func $insert (param $b i32) (local $i i32) (local $head i32)
    (local.set $i (call $mapping (call $bsize (local.get $b))))
    (local.set $head (i32.load offset={HEADS} (i32.shl (local.get $i) (i32.const 2))))
    (i32.store offset=8 (local.get $b) (local.get $head))
    (i32.store offset=12 (local.get $b) (i32.const 0))
    (if (local.get $head) (then (i32.store offset=12 (local.get $head) (local.get $b))))
    (i32.store offset={HEADS} (i32.shl (local.get $i) (i32.const 2)) (local.get $b))
    (i32.store offset={FL_MAP} (i32.const 0)
      (i32.or (i32.load offset={FL_MAP} (i32.const 0)) (i32.shl (i32.const 1) (i32.shr_u (local.get $i) (i32.const 4)))))
    (i32.store offset={SL_MAPS} (i32.shl (i32.shr_u (local.get $i) (i32.const 4)) (i32.const 2))
      (i32.or (i32.load offset={SL_MAPS} (i32.shl (i32.shr_u (local.get $i) (i32.const 4)) (i32.const 2)))
        (i32.shl (i32.const 1) (i32.and (local.get $i) (i32.const 15))))))

  (func $remove (param $b i32) (local $i i32) (local $next i32) (local $prev i32) (local $sl i32)
    (local.set $i (call $mapping (call $bsize (local.get $b))))
    (local.set $next (i32.load offset=8 (local.get $b)))
    (local.set $prev (i32.load offset=12 (local.get $b)))
    (if (local.get $next) (then (i32.store offset=12 (local.get $next) (local.get $prev))))
    (if (local.get $prev)
      (then (i32.store offset=8 (local.get $prev) (local.get $next)))
      (else
        (i32.store offset={HEADS} (i32.shl (local.get $i) (i32.const 2)) (local.get $next))
        (if (i32.eqz (local.get $next))
          (then
            (local.set $sl (i32.and
              (i32.load offset={SL_MAPS} (i32.shl (i32.shr_u (local.get $i) (i32.const 4)) (i32.const 2)))
              (i32.xor (i32.const -1) (i32.shl (i32.const 1) (i32.and (local.get $i) (i32.const 15))))))
            (i32.store offset={SL_MAPS} (i32.shl (i32.shr_u (local.get $i) (i32.const 4)) (i32.const 2)) (local.get $sl))
            (if (i32.eqz (local.get $sl))
              (then
                (i32.store offset={FL_MAP} (i32.const 0)
                  (i32.and (i32.load offset={FL_MAP} (i32.const 0))
                    (i32.xor (i32.const -1) (i32.shl (i32.const 1) (i32.shr_u (local.get $i) (i32.const 4)))))))))))))

  ;; A free block of at least $s bytes, still in its list; 0 if none.
  (func $find (param $s i32) (result i32) (local $i i32) (local $fl i32) (local $map i32) (local $b i32)
    (local.set $i (call $mapping (call $round (local.get $s))))
    (local.set $fl (i32.shr_u (local.get $i) (i32.const 4)))
    (local.set $map (i32.and
      (i32.load offset={SL_MAPS} (i32.shl (local.get $fl) (i32.const 2)))
      (i32.shl (i32.const -1) (i32.and (local.get $i) (i32.const 15)))))
    (if (i32.eqz (local.get $map))
      (then
        (local.set $map (i32.and (i32.load offset={FL_MAP} (i32.const 0))
          (i32.shl (i32.const -2) (local.get $fl))))
        (if (local.get $map)
          (then
            (local.set $fl (i32.ctz (local.get $map)))
            (local.set $map (i32.load offset={SL_MAPS} (i32.shl (local.get $fl) (i32.const 2))))))))
    (if (local.get $map)
      (then (return (i32.load offset={HEADS}
        (i32.shl (i32.or (i32.shl (local.get $fl) (i32.const 4)) (i32.ctz (local.get $map))) (i32.const 2))))))
    ;; Blocks in the request's own class may still fit: look before growing.
    (local.set $b (i32.load offset={HEADS} (i32.shl (call $mapping (local.get $s)) (i32.const 2))))
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (local.get $b)))
        (br_if $done (i32.ge_u (call $bsize (local.get $b)) (local.get $s)))
        (local.set $b (i32.load offset=8 (local.get $b)))
        (br $scan)))
    (local.get $b))

  ;; Makes the free block $b (out of its list) a used block of $s bytes,
  ;; returning the rest of it to the lists.
  (func $use (param $b i32) (param $s i32) (local $bs i32) (local $rest i32) (local $n i32)
    (local.set $bs (call $bsize (local.get $b)))
    (local.set $rest (i32.sub (local.get $bs) (local.get $s)))
    (if (i32.ge_u (local.get $rest) (i32.const 16))
      (then
        (local.set $n (i32.add (local.get $b) (local.get $s)))
        (i32.store offset=4 (local.get $n) (i32.or (local.get $rest) (i32.const 1)))
        (i32.store (i32.add (local.get $n) (local.get $rest)) (local.get $rest))
        (call $insert (local.get $n))
        (i32.store offset=4 (local.get $b)
          (i32.or (i32.or (local.get $s) (i32.const 2)) (i32.and (call $hdr (local.get $b)) (i32.const 1)))))
      (else
        (i32.store offset=4 (local.get $b) (i32.or (call $hdr (local.get $b)) (i32.const 2)))
        (local.set $n (i32.add (local.get $b) (local.get $bs)))
        (i32.store offset=4 (local.get $n) (i32.or (call $hdr (local.get $n)) (i32.const 1))))))

  ;; Grows the heap so that its last block is free and holds $s bytes; that
  ;; block (in its list), or 0 when memory 1 cannot grow.
  (func $extend (param $s i32) (result i32) (local $top i32) (local $last i32) (local $b i32) (local $end i32) (local $pages i32)
    (local.set $top (i32.sub (i32.load offset={TOP_AT} (i32.const 0)) (i32.const 8)))
    (local.set $b (local.get $top))
    (if (i32.eqz (i32.and (call $hdr (local.get $top)) (i32.const 1)))
      (then
        (local.set $last (i32.load (local.get $top)))
        (local.set $b (i32.sub (local.get $top) (local.get $last)))
        (if (i32.ge_u (local.get $last) (local.get $s)) (then (return (local.get $b))))
        (call $remove (local.get $b))))
    ;; New end of the heap (sentinel included), whole pages.
    (local.set $end (i32.and
      (i32.add (i32.add (local.get $b) (local.get $s)) (i32.const 0x10007))
      (i32.const -0x10000)))
    (if (i32.lt_u (local.get $end) (local.get $b))
      (then (if (local.get $last) (then (call $insert (local.get $b)))) (return (i32.const 0))))
    (local.set $pages (i32.sub (i32.shr_u (local.get $end) (i32.const 16)) (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
          (then (if (local.get $last) (then (call $insert (local.get $b)))) (return (i32.const 0))))))
    (local.set $top (i32.sub (local.get $end) (i32.const 8)))
    (i32.store offset=4 (local.get $b) (i32.or (i32.sub (local.get $top) (local.get $b)) (i32.const 1)))
    (i32.store (local.get $top) (i32.sub (local.get $top) (local.get $b)))
    (i32.store offset=4 (local.get $top) (i32.const 2))
    (i32.store offset={TOP_AT} (i32.const 0) (local.get $end))
    (call $insert (local.get $b))
    (local.get $b))

  ;; Lays the header out in a fresh memory 1; 0 when memory 1 cannot hold it.
  (func $ready (result i32) (local $base i32) (local $pages i32)
    (if (memory.size)
      (then (if (i32.eq (i32.load (i32.const 0)) (i32.const {MAGIC})) (then (return (i32.const 1))))))
    (local.set $base (i32.const {BASE_EVEN}))
    (if (i32.and (global.get $epoch) (i32.const 1)) (then (local.set $base (i32.const {BASE_ODD}))))
    (local.set $pages (i32.sub (i32.add (i32.shr_u (local.get $base) (i32.const 16)) (i32.const 1)) (memory.size)))
    (if (i32.gt_s (local.get $pages) (i32.const 0))
      (then
        (if (i32.eq (memory.grow (local.get $pages)) (i32.const -1))
          (then
            ;; Too small for the odd layout: fall back to the even one.
            (local.set $base (i32.const {BASE_EVEN}))
            (if (i32.eqz (memory.size))
              (then (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))))))))
    ;; Memory 1 reads as zero when fresh; a header some other code left is not trusted.
    (memory.fill (i32.const 0) (i32.const 0) (i32.const {LOG_AT}))
    (i32.store offset={MAGIC_AT} (i32.const 0) (i32.const {MAGIC}))
    (i32.store offset={KIND_AT} (i32.const 0) (i32.const {KIND}))
    (i32.store offset={BASE_AT} (i32.const 0) (local.get $base))
    (i32.store offset={TOP_AT} (i32.const 0) (i32.add (local.get $base) (i32.const 8)))
    (i32.store offset={EPOCH_AT} (i32.const 0) (global.get $epoch))
    (i32.store offset=4 (local.get $base) (i32.const 3))
    (i32.const 1))

  (func $count (param $delta i32) (local $live i32)
    (local.set $live (i32.add (i32.load offset={LIVE_AT} (i32.const 0)) (local.get $delta)))
    (i32.store offset={LIVE_AT} (i32.const 0) (local.get $live))
    (if (i32.gt_u (local.get $live) (i32.load offset={PEAK_AT} (i32.const 0)))
      (then (i32.store offset={PEAK_AT} (i32.const 0) (local.get $live)))))

  (func $malloc (export "malloc") (param $size i32) (param $align i32) (result i32) (local $s i32) (local $want i32) (local $b i32) (local $p i32) (local $gap i32) (local $bs i32) (local $n i32)
    (if (i32.eqz (call $ready)) (then (return (i32.const 0))))
    (local.set $s (call $need (local.get $size)))
    (if (i32.eqz (local.get $s)) (then (return (i32.const 0))))
    (if (i32.lt_u (local.get $align) (i32.const 8)) (then (local.set $align (i32.const 8))))
    (if (i32.and (local.get $align) (i32.sub (local.get $align) (i32.const 1))) (then (return (i32.const 0))))
    (local.set $want (local.get $s))
    (if (i32.gt_u (local.get $align) (i32.const 8))
      (then
        (if (i32.gt_u (local.get $align) (i32.const 0x10000000)) (then (return (i32.const 0))))
        (local.set $want (i32.add (local.get $s) (i32.add (local.get $align) (i32.const 16))))
        (if (i32.lt_u (local.get $want) (local.get $s)) (then (return (i32.const 0))))))
    (local.set $b (call $find (local.get $want)))
    (if (i32.eqz (local.get $b))
      (then
        (local.set $b (call $extend (local.get $want)))
        (if (i32.eqz (local.get $b)) (then (return (i32.const 0))))))
    (call $remove (local.get $b))
    (if (i32.gt_u (local.get $align) (i32.const 8))
      (then
        (local.set $p (i32.add (local.get $b) (i32.const 8)))
        (local.set $gap (i32.sub
          (i32.and (i32.add (local.get $p) (i32.sub (local.get $align) (i32.const 1))) (i32.sub (i32.const 0) (local.get $align)))
          (local.get $p)))
        (if (local.get $gap)
          (then
            (if (i32.lt_u (local.get $gap) (i32.const 16)) (then (local.set $gap (i32.add (local.get $gap) (local.get $align)))))
            ;; The gap before the aligned payload becomes a free block of its own.
            (local.set $bs (call $bsize (local.get $b)))
            (local.set $n (i32.add (local.get $b) (local.get $gap)))
            (i32.store offset=4 (local.get $b) (i32.or (local.get $gap) (i32.and (call $hdr (local.get $b)) (i32.const 1))))
            (i32.store (local.get $n) (local.get $gap))
            (i32.store offset=4 (local.get $n) (i32.sub (local.get $bs) (local.get $gap)))
            (call $insert (local.get $b))
            (local.set $b (local.get $n))))))
    (call $use (local.get $b) (local.get $s))
    (call $count (i32.sub (call $bsize (local.get $b)) (i32.const 4)))
    (i32.store offset={ALLOCATIONS_AT} (i32.const 0) (i32.add (i32.load offset={ALLOCATIONS_AT} (i32.const 0)) (i32.const 1)))
    (i32.add (i32.add (local.get $b) (i32.const 8)) (i32.const {SPLIT})))

  (func $calloc (export "calloc") (param $size i32) (param $align i32) (result i32) (local $p i32)
    (local.set $p (call $malloc (local.get $size) (local.get $align)))
    (if (local.get $p) (then (memory.fill (i32.sub (local.get $p) (i32.const {SPLIT})) (i32.const 0) (local.get $size))))
    (local.get $p))

  ;; Frees the used block $b, merging it with free neighbours (no accounting).
  (func $release (param $b i32) (local $bs i32) (local $n i32)
    (local.set $bs (call $bsize (local.get $b)))
    (if (i32.eqz (i32.and (call $hdr (local.get $b)) (i32.const 1)))
      (then
        (local.set $n (i32.load (local.get $b)))
        (local.set $b (i32.sub (local.get $b) (local.get $n)))
        (call $remove (local.get $b))
        (local.set $bs (i32.add (local.get $bs) (local.get $n)))))
    (local.set $n (i32.add (local.get $b) (local.get $bs)))
    (if (i32.eqz (i32.and (call $hdr (local.get $n)) (i32.const 2)))
      (then
        (call $remove (local.get $n))
        (local.set $bs (i32.add (local.get $bs) (call $bsize (local.get $n))))))
    (i32.store offset=4 (local.get $b) (i32.or (local.get $bs) (i32.const 1)))
    (local.set $n (i32.add (local.get $b) (local.get $bs)))
    (i32.store (local.get $n) (local.get $bs))
    (i32.store offset=4 (local.get $n) (i32.and (call $hdr (local.get $n)) (i32.const -2)))
    (call $insert (local.get $b)))

  ;; The block of a tagged pointer this heap handed out, or 0 (not a live block of this heap).
  (func $block (param $p i32) (result i32) (local $b i32)
    (if (i32.lt_u (local.get $p) (i32.const {SPLIT})) (then (return (i32.const 0))))
    (local.set $b (i32.sub (i32.sub (local.get $p) (i32.const {SPLIT})) (i32.const 8)))
    (if (i32.eqz (memory.size)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load (i32.const 0)) (i32.const {MAGIC})) (then (return (i32.const 0))))
    (if (i32.lt_u (local.get $b) (i32.load offset={BASE_AT} (i32.const 0))) (then (return (i32.const 0))))
    (if (i32.ge_u (local.get $b) (i32.load offset={TOP_AT} (i32.const 0))) (then (return (i32.const 0))))
    (if (i32.and (local.get $b) (i32.const 7)) (then (return (i32.const 0))))
    (if (i32.eqz (i32.and (call $hdr (local.get $b)) (i32.const 2))) (then (return (i32.const 0))))
    (local.get $b))

  ;; Frees a tagged pointer; pointers that are not live blocks of this heap are ignored.
  (func $free (export "free") (param $p i32) (local $b i32)
    (local.set $b (call $block (local.get $p)))
    (if (i32.eqz (local.get $b)) (then (return)))
    (call $count (i32.sub (i32.const 4) (call $bsize (local.get $b))))
    (call $release (local.get $b)))

  (func $usable_size (export "usable_size") (param $p i32) (result i32) (local $b i32)
    (local.set $b (call $block (local.get $p)))
    (if (i32.eqz (local.get $b)) (then (return (i32.const 0))))
    (i32.sub (call $bsize (local.get $b)) (i32.const 4)))

  ;; Resizes the used block $b to $s bytes if it can stay where it is.
  (func $resize (param $b i32) (param $s i32) (result i32) (local $bs i32) (local $n i32) (local $rest i32)
    (local.set $bs (call $bsize (local.get $b)))
    (local.set $n (i32.add (local.get $b) (local.get $bs)))
    (if (i32.lt_u (local.get $bs) (local.get $s))
      (then
        ;; Last in the heap, or followed only by a free block: grow the heap behind it.
        (if (i32.or
              (i32.eq (i32.add (local.get $n) (i32.const 8)) (i32.load offset={TOP_AT} (i32.const 0)))
              (i32.and
                (i32.eqz (i32.and (call $hdr (local.get $n)) (i32.const 2)))
                (i32.eq (i32.add (i32.add (local.get $n) (call $bsize (local.get $n))) (i32.const 8)) (i32.load offset={TOP_AT} (i32.const 0)))))
          (then (drop (call $extend (i32.sub (local.get $s) (local.get $bs))))))
        (if (i32.and (call $hdr (local.get $n)) (i32.const 2)) (then (return (i32.const 0))))
        (if (i32.lt_u (i32.add (local.get $bs) (call $bsize (local.get $n))) (local.get $s)) (then (return (i32.const 0))))
        (call $remove (local.get $n))
        (local.set $bs (i32.add (local.get $bs) (call $bsize (local.get $n))))
        (local.set $n (i32.add (local.get $b) (local.get $bs)))
        (i32.store offset=4 (local.get $n) (i32.or (call $hdr (local.get $n)) (i32.const 1)))))
    (local.set $rest (i32.sub (local.get $bs) (local.get $s)))
    (if (i32.ge_u (local.get $rest) (i32.const 16))
      (then
        (local.set $n (i32.add (local.get $b) (local.get $s)))
        (i32.store offset=4 (local.get $n) (i32.or (local.get $rest) (i32.const 3)))
        (local.set $bs (local.get $s))
        (call $release (local.get $n))))
    (i32.store offset=4 (local.get $b)
      (i32.or (local.get $bs) (i32.and (call $hdr (local.get $b)) (i32.const 3))))
    (i32.const 1))

  ;; Resizes a tagged pointer's block, in place when it can; 0 when it cannot
  ;; (the old block is then untouched) or when the pointer is not a live block.
  (func $realloc (export "realloc") (param $p i32) (param $size i32) (param $align i32) (result i32) (local $b i32) (local $s i32) (local $old i32) (local $q i32) (local $pb i32) (local $n i32) (local $total i32)
    (local.set $b (call $block (local.get $p)))
    (if (i32.eqz (local.get $b)) (then (return (i32.const 0))))
    (local.set $s (call $need (local.get $size)))
    (if (i32.eqz (local.get $s)) (then (return (i32.const 0))))
    (local.set $old (call $bsize (local.get $b)))
    ;; In place only where the block already has the alignment asked for.
    (if (i32.or (i32.le_u (local.get $align) (i32.const 8)) (i32.eqz (i32.and (local.get $p) (i32.sub (local.get $align) (i32.const 1)))))
      (then
        (if (call $resize (local.get $b) (local.get $s))
          (then
            (call $count (i32.sub (call $bsize (local.get $b)) (local.get $old)))
            (return (local.get $p))))))
    ;; A free block before it (and one after) may hold the new size: move down.
    (if (i32.eqz (i32.and (call $hdr (local.get $b)) (i32.const 1)))
      (then
        (local.set $pb (i32.sub (local.get $b) (i32.load (local.get $b))))
        (local.set $n (i32.add (local.get $b) (local.get $old)))
        (local.set $total (i32.sub (i32.add (local.get $b) (local.get $old)) (local.get $pb)))
        (if (i32.eqz (i32.and (call $hdr (local.get $n)) (i32.const 2)))
          (then (local.set $total (i32.add (local.get $total) (call $bsize (local.get $n))))))
        (if (i32.and
              (i32.ge_u (local.get $total) (local.get $s))
              (i32.or (i32.le_u (local.get $align) (i32.const 8))
                      (i32.eqz (i32.and (i32.add (local.get $pb) (i32.const 8)) (i32.sub (local.get $align) (i32.const 1))))))
          (then
            (call $remove (local.get $pb))
            (if (i32.eqz (i32.and (call $hdr (local.get $n)) (i32.const 2))) (then (call $remove (local.get $n))))
            (memory.copy (i32.add (local.get $pb) (i32.const 8)) (i32.add (local.get $b) (i32.const 8))
              (select (local.get $size) (i32.sub (local.get $old) (i32.const 4)) (i32.lt_u (local.get $size) (i32.sub (local.get $old) (i32.const 4)))))
            (i32.store offset=4 (local.get $pb) (i32.or (local.get $total) (i32.const 3)))
            (local.set $n (i32.add (local.get $pb) (local.get $total)))
            (i32.store offset=4 (local.get $n) (i32.or (call $hdr (local.get $n)) (i32.const 1)))
            (drop (call $resize (local.get $pb) (local.get $s)))
            (call $count (i32.sub (call $bsize (local.get $pb)) (local.get $old)))
            (return (i32.add (i32.add (local.get $pb) (i32.const 8)) (i32.const {SPLIT})))))))
    (local.set $q (call $malloc (local.get $size) (local.get $align)))
    (if (i32.eqz (local.get $q)) (then (return (i32.const 0))))
    (memory.copy
      (i32.sub (local.get $q) (i32.const {SPLIT}))
      (i32.sub (local.get $p) (i32.const {SPLIT}))
      (select (local.get $size) (i32.sub (local.get $old) (i32.const 4)) (i32.lt_u (local.get $size) (i32.sub (local.get $old) (i32.const 4)))))
    (call $free (local.get $p))
    (local.get $q))

  ;; Check mode: a store of $value at memory-0 address $addr by function
  ;; $func. Records it when the value points into this proof's heap and the
  ;; address is not on the live stack.
  (func $escape (export "escape") (param $addr i32) (param $value i32) (param $func i32) (local $v i32) (local $n i32)
    (if (i32.lt_u (local.get $value) (i32.const {SPLIT})) (then (return)))
    (if (i32.ge_u (local.get $addr) (i32.const {SPLIT})) (then (return)))
    (if (i32.eqz (memory.size)) (then (return)))
    (if (i32.ne (i32.load (i32.const 0)) (i32.const {MAGIC})) (then (return)))
    (local.set $v (i32.sub (local.get $value) (i32.const {SPLIT})))
    (if (i32.lt_u (local.get $v) (i32.load offset={BASE_AT} (i32.const 0))) (then (return)))
    (if (i32.ge_u (local.get $v) (i32.load offset={TOP_AT} (i32.const 0))) (then (return)))
    ;; The stack: all of [0, top) when it comes first (Rust's layout), else
    ;; from 64 KiB below the stack pointer (leaf functions use frames they never publish).
    (if (i32.and
          (i32.ge_u (local.get $addr)
            (select (i32.const 0)
              (i32.sub (select (global.get $sp) (i32.const 0x10000) (i32.gt_u (global.get $sp) (i32.const 0x10000))) (i32.const 0x10000))
              (i32.const {STACK_FIRST})))
          (i32.lt_u (local.get $addr) (i32.const {STACK_TOP})))
      (then (return)))
    (local.set $n (i32.load offset={ESCAPES_AT} (i32.const 0)))
    (i32.store offset={ESCAPES_AT} (i32.const 0) (i32.add (local.get $n) (i32.const 1)))
    (if (i32.lt_u (local.get $n) (i32.const {LOG_ENTRIES}))
      (then
        (i32.store offset={LOG_AT} (i32.shl (local.get $n) (i32.const 3)) (local.get $func))
        (i32.store offset={LOG_AT_4} (i32.shl (local.get $n) (i32.const 3)) (local.get $addr)))))
)
