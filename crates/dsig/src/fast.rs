//! SM2 verification with precomputed tables: the bench's ~10,000 messages a second on 2 cores
//! leave about 200 µs per message, and the `sm2` crate's verification (two constant-time scalar
//! multiplications, 512 doublings) takes most of that alone.
//!
//! A verification's inputs are all public (message, signature, key), so it may take variable
//! time. `[s]G + [t]P` is computed from fixed-base tables, one for G (made once) and one per
//! registered key (made on its first verification, kept with it): for each 4-bit window i of
//! the scalar, the table holds `j·16^i·Q` for j in 1..=15 as affine points, and the product is
//! the sum of one entry per non-zero window, about 60 mixed additions and no doubling. A table
//! is 64 × 15 points, about 70 KB.
//!
//! The result is the one GB/T 32918.2 §7 defines (B5–B7); the tests check it against the `sm2`
//! crate's verification on signatures both valid and not.

use std::sync::OnceLock;

use sm2::dsa::Signature;
use sm2::elliptic_curve::PrimeField;
use sm2::elliptic_curve::group::Group;
use sm2::elliptic_curve::ops::Reduce;
use sm2::elliptic_curve::point::{AffineCoordinates, BatchNormalize};
use sm2::elliptic_curve::sec1::ToEncodedPoint;
use sm2::{AffinePoint, FieldBytes, ProjectivePoint, PublicKey, Scalar, U256};
use sm3::{Digest, Sm3};

/// 4-bit windows of a 256-bit scalar.
const WINDOWS: usize = 64;
/// Non-zero values of a window.
const MULTIPLES: usize = 15;

pub(crate) struct Table(Vec<AffinePoint>);

impl Table {
    pub fn new(point: ProjectivePoint) -> Table {
        let mut affine = Vec::with_capacity(WINDOWS * MULTIPLES);
        let mut base = point;
        for _ in 0..WINDOWS {
            let mut window = [base; MULTIPLES];
            for j in 1..MULTIPLES {
                window[j] = window[j - 1] + base;
            }
            // 16·base: the next window's base.
            base = window[MULTIPLES - 1] + base;
            // One inversion per window (the slice form needs primeorder's alloc feature).
            affine.extend(ProjectivePoint::batch_normalize(&window));
        }
        Table(affine)
    }

    /// `accumulator + [k]Q`, `k` big-endian.
    fn add_product(&self, accumulator: ProjectivePoint, k: &FieldBytes) -> ProjectivePoint {
        let mut sum = accumulator;
        for (from_end, byte) in k.iter().rev().enumerate() {
            for (half, nibble) in [(0, byte & 0x0F), (1, byte >> 4)] {
                if nibble != 0 {
                    let window = 2 * from_end + half;
                    sum += self.0[window * MULTIPLES + usize::from(nibble) - 1];
                }
            }
        }
        sum
    }
}

/// The table of the generator, made on first use.
fn generator_table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::new(ProjectivePoint::generator()))
}

/// The SM2 curve's a, b, Gx, Gy (GB/T 32918.5), as Z_A hashes them.
const CURVE: [&str; 4] = [
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
];

/// Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2 §5.5).
pub(crate) fn identity_hash(distinguishing_id: &str, public_key: &PublicKey) -> Option<[u8; 32]> {
    let bits = u16::try_from(distinguishing_id.len().checked_mul(8)?).ok()?;
    let mut hash = Sm3::new();
    hash.update(bits.to_be_bytes());
    hash.update(distinguishing_id.as_bytes());
    for constant in CURVE {
        hash.update(hex::decode(constant).ok()?);
    }
    let point = public_key.to_encoded_point(false);
    hash.update(point.x()?);
    hash.update(point.y()?);
    Some(hash.finalize().into())
}

/// A registered key made ready for verification.
pub(crate) struct FastKey {
    identity_hash: [u8; 32],
    point: ProjectivePoint,
    table: OnceLock<Table>,
}

impl FastKey {
    pub fn new(distinguishing_id: &str, public_key: &PublicKey) -> Option<FastKey> {
        Some(FastKey {
            identity_hash: identity_hash(distinguishing_id, public_key)?,
            point: public_key.to_projective(),
            table: OnceLock::new(),
        })
    }

    /// GB/T 32918.2 §7.1 B1–B7 over `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let e = Sm3::new()
            .chain_update(self.identity_hash)
            .chain_update(message)
            .finalize();
        let e = <Scalar as Reduce<U256>>::reduce_bytes(&e);
        // B1, B2: r and s in [1, n-1] (checked when the signature was read).
        let (r, s) = (signature.r(), signature.s());
        let t = *r + *s;
        if bool::from(t.is_zero()) {
            return false;
        }
        let table = self.table.get_or_init(|| Table::new(self.point));
        let point = generator_table().add_product(ProjectivePoint::IDENTITY, &s.to_repr());
        let point = table.add_product(point, &t.to_repr());
        if bool::from(point.is_identity()) {
            return false;
        }
        let x = point.to_affine().x();
        *r == e + <Scalar as Reduce<U256>>::reduce_bytes(&x)
    }
}

impl std::fmt::Debug for FastKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastKey")
            .field("table_made", &self.table.get().is_some())
            .finish_non_exhaustive()
    }
}
