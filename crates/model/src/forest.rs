//! An inference-only copy of a hessboost ensemble, laid out for scoring one row at a time.
//!
//! hessboost's `predict_row` is exact but general (iteration ranges, tree weights, model
//! shrinkage, vector and linear leaves, categorical splits, several outputs). A live score needs
//! none of that: one output, constant leaves, numeric splits. [`Forest`] keeps only what such a
//! model reads and gives the same `f32` bits, because it repeats hessboost's arithmetic step for
//! step (checked on every row of the test slices, on rows placed on, just below and just above
//! every threshold, and on the full KCS validation split by `examples/kcs.rs`):
//!
//! - **Routing.** A present value goes left when `value < threshold`, a missing one (`NaN`)
//!   follows the node's default direction. As in hessboost's row walk the test is an unsigned
//!   compare of monotone keys ([`key`]: `-0.0` and `+0.0` share a key, `NaN` is `0`, below every
//!   other key), in "second child when greater" form: a default-left split compares `key(v)` with
//!   `key(next_below(threshold))`; a default-right split stores its children swapped and compares
//!   `key(-v)` with `key(-threshold)`. A missing value's key is `0`, never greater, so it takes
//!   the first child, which is the default one.
//! - **Sum.** The margin starts at the model's intercept (`base_score`) and adds each tree's leaf
//!   value in tree order, in `f32` (every tree weight is `1.0`, so `weight * leaf` is the leaf).
//! - **Probability.** hessboost's own transform of that margin (`BoostedModel::transform_margin`,
//!   the logistic function of `binary:logistic`), so it cannot drift from `predict_row`.
//!
//! Layout: trees are cut into chunks of [`LANES`] consecutive trees. A chunk whose trees are at
//! most [`MAX_DEPTH`] levels deep is one 64-byte aligned block of *complete* trees padded to the
//! chunk's deepest tree (heap order: node `h`'s children are `2h + 1` and `2h + 2`, no child
//! links; a leaf above the chunk's depth fills every leaf slot below it and its padding splits
//! always take the first child). A split is a `u32` threshold key and a `u8` key slot
//! (`2 * feature + swapped`, so the row's 256 keys are indexed without a bounds check), in two
//! arrays; the leaves are a third. The chunk's trees are walked in lockstep, branch-free, with
//! `u32` lane state (with `usize` lanes or each tree walked on its own, the compiler spilled
//! lanes to the stack or branched), so their dependent load chains overlap. Other chunks
//! (deeper trees, e.g. leaf-wise LightGBM ones) are walked node by node through a node array,
//! with the same keys and tests.
//!
//! A model this cannot copy exactly (categorical splits, linear or vector leaves, several
//! outputs, tree weights other than `1.0`, model shrinkage, a linear booster, more than
//! [`MAX_FEATURES`] features) gets no forest, and scoring stays on hessboost.

use std::ops::Range;

use hessboost::prelude::BoostedModel;
use hessboost::tree::{Node, RegTree};

/// Trees walked in lockstep.
const LANES: usize = 8;
/// Deepest tree a complete block holds.
const MAX_DEPTH: usize = 6;
/// Leaf slots of a complete tree (`2^MAX_DEPTH`); its splits use `SLOTS - 1` of as many entries.
const SLOTS: usize = 1 << MAX_DEPTH;
/// Entries of a complete chunk: [`LANES`] trees of [`SLOTS`] entries each.
const CHUNK_SLOTS: usize = LANES * SLOTS;
/// Features a forest reads at most: a key slot (`2 * feature + swapped`) is a `u8`.
const MAX_FEATURES: usize = 128;
/// Key slots of a row: one per `u8`, so a slot indexes them without a bounds check.
const KEY_SLOTS: usize = 256;
/// Threshold key of a padding split: no row key is greater, so the walk takes the first child.
const PAD_KEY: u32 = u32::MAX;
const SIGN: u32 = 1 << 31;

/// Monotone unsigned key of an `f32` (hessboost's): `key(a) > key(b)` iff `a > b` for non-`NaN`
/// values (`-0.0` and `+0.0` share a key); every `NaN` is `0`, below every other key.
#[inline(always)]
fn key(v: f32) -> u32 {
    let bits = (v + 0.0).to_bits();
    let key = bits ^ ((((bits as i32) >> 31) as u32) | SIGN);
    key & u32::from(!v.is_nan()).wrapping_neg()
}

/// The largest `f32` below the finite `c` (hessboost's, `0.0` included).
fn next_below(c: f32) -> f32 {
    if c > 0.0 {
        f32::from_bits(c.to_bits() - 1)
    } else if c == 0.0 {
        -f32::from_bits(1)
    } else {
        f32::from_bits(c.to_bits() + 1)
    }
}

/// A numeric split in "second child when greater" form (hessboost's): the threshold key, the
/// key slot, and the children as `(first, second)`.
fn numeric_test(node: &Node) -> (u32, u8, (i32, i32)) {
    // `MAX_FEATURES` keeps the slot within a `u8`.
    let slot = |swapped: u32| (2 * node.split_feature + swapped) as u8;
    if node.default_left {
        // right iff v >= threshold <=> v > next_below(threshold)
        (
            key(next_below(node.split_cond)),
            slot(0),
            (node.left, node.right),
        )
    } else {
        // left iff v < threshold <=> -v > -threshold
        (key(-node.split_cond), slot(1), (node.right, node.left))
    }
}

/// A complete chunk: tree `j`'s heap-ordered splits are `thresholds[j * SLOTS..][..SLOTS - 1]`
/// (threshold keys) and `slots[..]` (key slots), its leaf slots `leaves[j * SLOTS..][..2^depth]`;
/// lanes past the chunk's trees hold padding splits and `-0.0` leaves (which leave every sum as
/// it is).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Block {
    thresholds: [u32; CHUNK_SLOTS],
    slots: [u8; CHUNK_SLOTS],
    leaves: [f32; CHUNK_SLOTS],
}

/// A node of a tree walked node by node.
#[derive(Clone, Copy, Debug)]
struct ArenaNode {
    /// Threshold key; unused for a leaf.
    threshold: u32,
    /// Key slot; unused for a leaf.
    slot: u8,
    /// Index of the child a false compare (and a missing value) takes, or `u32::MAX` for a leaf.
    first: u32,
    /// Index of the child a true compare takes.
    second: u32,
    value: f32,
}

#[derive(Clone, Debug)]
enum Chunk {
    /// Complete trees of depth `depth` in `blocks[block]`.
    Complete { block: usize, depth: usize },
    /// Trees rooted at these arena indices, in tree order.
    Arena(Range<usize>),
}

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Forest {
    base_score: f32,
    n_features: usize,
    chunks: Vec<Chunk>,
    blocks: Vec<Block>,
    roots: Vec<u32>,
    arena: Vec<ArenaNode>,
}

impl Forest {
    /// The forest of `booster`'s trees used by `Iterations::Best`, or `None` when the model is
    /// not one this copy reproduces bit for bit (see the module docs).
    pub(crate) fn of(booster: &BoostedModel) -> Option<Forest> {
        let n_features = booster.n_features();
        if n_features > MAX_FEATURES
            || booster.n_outputs() != 1
            || booster.prediction_width() != 1
            || booster.num_parallel_tree() != 1
            || booster.linear().is_some()
            || booster.shrinkage().is_some()
            || booster.has_vector_leaves()
        {
            return None;
        }
        let per = booster.trees_per_iteration();
        let rounds = booster.num_boost_rounds();
        let end = booster.best_iteration().map_or(rounds, |best| best + 1);
        let n_trees = end.checked_mul(per)?;
        let trees = booster.trees().get(..n_trees)?;
        if booster
            .tree_weights()
            .take(n_trees)
            .any(|weight| weight.to_bits() != 1.0f32.to_bits())
        {
            return None;
        }
        for tree in trees {
            if tree.linear_leaves().is_some()
                || tree.is_vector_leaf()
                || tree.has_categorical_splits()
                || tree
                    .nodes()
                    .iter()
                    .any(|node| !node.is_leaf() && node.split_feature as usize >= n_features)
            {
                return None;
            }
        }
        let mut forest = Forest {
            base_score: booster.base_score(),
            n_features,
            chunks: Vec::new(),
            blocks: Vec::new(),
            roots: Vec::new(),
            arena: Vec::new(),
        };
        for chunk in trees.chunks(LANES) {
            let depth = chunk.iter().map(RegTree::depth).max().unwrap_or(0);
            if depth <= MAX_DEPTH {
                let mut block = Block {
                    thresholds: [PAD_KEY; CHUNK_SLOTS],
                    slots: [0; CHUNK_SLOTS],
                    leaves: [-0.0; CHUNK_SLOTS],
                };
                for (j, tree) in chunk.iter().enumerate() {
                    let mut place = Place {
                        tree,
                        depth,
                        thresholds: &mut block.thresholds[j * SLOTS..][..SLOTS],
                        slots: &mut block.slots[j * SLOTS..][..SLOTS],
                        leaves: &mut block.leaves[j * SLOTS..][..SLOTS],
                    };
                    place.node(0, 0, 0);
                }
                forest.chunks.push(Chunk::Complete {
                    block: forest.blocks.len(),
                    depth,
                });
                forest.blocks.push(block);
            } else {
                let start = forest.roots.len();
                for tree in chunk {
                    let root = forest.push_arena(tree)?;
                    forest.roots.push(root);
                }
                forest.chunks.push(Chunk::Arena(start..forest.roots.len()));
            }
        }
        Some(forest)
    }

    /// Appends `tree`'s nodes to the arena; its root's index.
    fn push_arena(&mut self, tree: &RegTree) -> Option<u32> {
        let offset = u32::try_from(self.arena.len()).ok()?;
        u32::try_from(self.arena.len() + tree.num_nodes()).ok()?;
        for node in tree.nodes() {
            let arena_node = if node.is_leaf() {
                ArenaNode {
                    threshold: PAD_KEY,
                    slot: 0,
                    first: u32::MAX,
                    second: u32::MAX,
                    value: node.leaf_value,
                }
            } else {
                let (threshold, slot, (first, second)) = numeric_test(node);
                ArenaNode {
                    threshold,
                    slot,
                    first: offset + u32::try_from(first).ok()?,
                    second: offset + u32::try_from(second).ok()?,
                    value: node.leaf_value,
                }
            };
            self.arena.push(arena_node);
        }
        Some(offset)
    }

    pub(crate) fn n_features(&self) -> usize {
        self.n_features
    }

    /// The margin of one row (one value per feature, `NaN` when missing), or `None` when a value
    /// is infinite or the row has another length.
    #[inline]
    pub(crate) fn margin(&self, row: &[f32]) -> Option<f32> {
        if row.len() != self.n_features {
            return None;
        }
        // The row's keys: `key(v)` and `key(-v)` per feature.
        let mut keys = [0u32; KEY_SLOTS];
        let mut infinite = false;
        for (pair, &v) in keys.chunks_exact_mut(2).zip(row) {
            infinite |= v.is_infinite();
            pair[0] = key(v);
            pair[1] = key(-v);
        }
        if infinite {
            // hessboost refuses such a row; the caller asks it, to fail the same way.
            return None;
        }
        let mut sum = self.base_score;
        for chunk in &self.chunks {
            match *chunk {
                Chunk::Complete { block, depth } => {
                    let block = &self.blocks[block];
                    let values = match depth {
                        6 => walk_complete::<6>(block, &keys),
                        5 => walk_complete::<5>(block, &keys),
                        4 => walk_complete::<4>(block, &keys),
                        3 => walk_complete::<3>(block, &keys),
                        2 => walk_complete::<2>(block, &keys),
                        1 => walk_complete::<1>(block, &keys),
                        _ => walk_complete::<0>(block, &keys),
                    };
                    for value in values {
                        sum += value;
                    }
                }
                Chunk::Arena(ref roots) => {
                    for &root in &self.roots[roots.clone()] {
                        sum += self.walk_arena(root, &keys);
                    }
                }
            }
        }
        Some(sum)
    }

    fn walk_arena(&self, root: u32, keys: &[u32; KEY_SLOTS]) -> f32 {
        let mut node = &self.arena[root as usize];
        while node.first != u32::MAX {
            let greater = keys[usize::from(node.slot)] > node.threshold;
            node = &self.arena[if greater { node.second } else { node.first } as usize];
        }
        node.value
    }
}

/// Lays one tree out as a complete tree of depth `depth` (heap order) in its lane of a block.
struct Place<'a> {
    tree: &'a RegTree,
    depth: usize,
    thresholds: &'a mut [u32],
    slots: &'a mut [u8],
    leaves: &'a mut [f32],
}

impl Place<'_> {
    /// Places tree node `nid` at heap position `at`, on level `level`.
    fn node(&mut self, nid: usize, at: usize, level: usize) {
        let node = self.tree.node(nid);
        if level == self.depth {
            // Only leaves end at the chunk's depth (no tree of the chunk is deeper).
            debug_assert!(node.is_leaf());
            self.leaves[at + 1 - (1 << self.depth)] = node.leaf_value;
            return;
        }
        if node.is_leaf() {
            // A padding split: every leaf slot below holds this leaf.
            self.thresholds[at] = PAD_KEY;
            self.node(nid, 2 * at + 1, level + 1);
            self.node(nid, 2 * at + 2, level + 1);
            return;
        }
        let (threshold, slot, (first, second)) = numeric_test(node);
        self.thresholds[at] = threshold;
        self.slots[at] = slot;
        // Validated trees have in-range, non-negative children.
        self.node(first as usize, 2 * at + 1, level + 1);
        self.node(second as usize, 2 * at + 2, level + 1);
    }
}

/// The leaf values a row with keys `keys` reaches in the [`LANES`] trees of `block`, complete
/// trees of depth `D`, walked in lockstep so that their dependent loads overlap: lane `j` keeps
/// its absolute split index, so node `a = j * SLOTS + h`'s children `j * SLOTS + 2h + 1 (+1)`
/// are `2a + 1 - j * SLOTS (+1)`, and its leaf slot after `D` steps is `a - (2^D - 1)`.
#[inline(always)]
fn walk_complete<const D: usize>(block: &Block, keys: &[u32; KEY_SLOTS]) -> [f32; LANES] {
    let mut at: [u32; LANES] = std::array::from_fn(|j| (j * SLOTS) as u32);
    for _ in 0..D {
        for (j, a) in at.iter_mut().enumerate() {
            let i = *a as usize % CHUNK_SLOTS;
            let greater = keys[usize::from(block.slots[i])] > block.thresholds[i];
            *a = (*a << 1)
                .wrapping_add(1u32.wrapping_sub((j * SLOTS) as u32))
                .wrapping_add(u32::from(greater));
        }
    }
    let first_leaf = (1u32 << D) - 1;
    at.map(|a| block.leaves[a.wrapping_sub(first_leaf) as usize % CHUNK_SLOTS])
}
