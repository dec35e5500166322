//! A small deterministic generator for the seeded data (SplitMix64). Hand-rolled because it is
//! fast in debug builds (100 000 customers at start-up) and its output never changes with a
//! dependency upgrade, so a seed names the same data forever.

use uuid::Uuid;

/// SplitMix64 (Steele, Lea, Flood 2014).
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

/// Independent streams derived from one seed, so generating one part of the data never shifts
/// another (e.g. a customer's directory does not depend on which directories were built before).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    Customer = 1,
    Directory = 2,
    Gdap = 3,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The generator for item `index` of `stream` under `seed`.
    pub(crate) fn for_item(seed: u64, stream: Stream, index: u64) -> Self {
        let mut mixer = Self::new(seed ^ (stream as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        let a = mixer.next_u64();
        Self(a ^ index.wrapping_mul(0xE703_7ED1_A0B4_28DB))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by multiply-shift.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniformly chosen element. The word lists passed here are non-empty constants.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random (version 4 layout) GUID.
    pub(crate) fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|i| SplitMix64::for_item(42, Stream::Customer, i).next_u64())
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|i| SplitMix64::for_item(42, Stream::Customer, i).next_u64())
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|i| SplitMix64::for_item(42, Stream::Directory, i).next_u64())
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..10_000 {
            assert!(rng.below(7) < 7);
            let v = rng.between(4, 12);
            assert!((4..=12).contains(&v));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.uuid().get_version_num(), 4);
    }
}
