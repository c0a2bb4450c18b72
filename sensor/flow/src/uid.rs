//! Zeek-style connection uids: `C` followed by 17 base62 digits, unique per (seed, serial); alert
//! ids have the same shape with another first letter.
//!
//! A [`Uid`] lives on the stack (no allocation per record) and derefs to `&str`.

/// A bijective 64-bit mixer (splitmix64's finaliser): distinct inputs give distinct outputs.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 digits for 64 bits (62^11 > 2^64) and for 32 bits (62^6 > 2^32).
const HIGH_DIGITS: usize = 11;
const LOW_DIGITS: usize = 6;
const LEN: usize = 1 + HIGH_DIGITS + LOW_DIGITS;

/// A connection uid.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uid([u8; LEN]);

impl core::ops::Deref for Uid {
    type Target = str;
    fn deref(&self) -> &str {
        // Only an ASCII letter and base62 digits are ever written.
        core::str::from_utf8(&self.0).unwrap_or("C")
    }
}

impl core::fmt::Display for Uid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self)
    }
}

impl core::fmt::Debug for Uid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self)
    }
}

fn base62(mut n: u64, out: &mut [u8]) {
    for d in out.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
}

/// The uid of the flow with this serial number. Serial numbers are unique per table and the
/// high 64 bits are a bijection of the serial, so uids never repeat within a run; the seed keeps
/// runs (and workers) apart.
pub fn uid(seed: u64, serial: u64) -> Uid {
    tagged_id(b'C', seed, serial)
}

/// An identifier shaped like a uid but starting with `tag` (`A` for alerts), unique per (tag,
/// seed, serial) in the same way.
pub fn tagged_id(tag: u8, seed: u64, serial: u64) -> Uid {
    let tag = if tag.is_ascii_alphabetic() { tag } else { b'X' };
    let mut s = [tag; LEN];
    base62(mix(seed.wrapping_add(mix(serial))), &mut s[1..1 + HIGH_DIGITS]);
    // The golden-ratio constant keeps `mix(0) == 0` (serial equal to seed) from printing zeros.
    base62(u64::from(mix(serial ^ seed ^ 0x9e37_79b9_7f4a_7c15) as u32), &mut s[1 + HIGH_DIGITS..]);
    Uid(s)
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
            assert!(u[1..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(seen.insert(u.to_string()));
        }
        assert_ne!(uid(1, 7), uid(2, 7));
    }
}
