//! Zeek-style connection uids: `C` followed by base62 digits, unique per (seed, serial).

/// A bijective 64-bit mixer (splitmix64's finaliser): distinct inputs give distinct outputs.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The uid of the flow with this serial number. Serial numbers are unique per table, and the
/// mixer is a bijection, so uids never repeat within a run; the seed keeps runs (and workers)
/// apart.
pub fn uid(seed: u64, serial: u64) -> String {
    let mut n = u128::from(mix(seed.wrapping_add(mix(serial)))) << 32 | u128::from(mix(serial ^ seed) as u32);
    // A fixed width (17 digits hold 96 bits) keeps uids sortable by nothing and equal in length.
    let mut digits = [b'0'; 17];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut s = String::with_capacity(18);
    s.push('C');
    s.extend(digits.iter().map(|&b| char::from(b)));
    s
}

#[cfg(test)]
mod tests {
    use super::uid;

    #[test]
    fn uids_are_distinct_and_shaped_like_zeeks() {
        let mut seen = std::collections::HashSet::new();
        for serial in 0..100_000 {
            let u = uid(42, serial);
            assert_eq!(u.len(), 18);
            assert!(u.starts_with('C'));
            assert!(seen.insert(u));
        }
        assert_ne!(uid(1, 7), uid(2, 7));
    }
}
