//! [`Bounded`]: the capped table every per-client or per-domain state lives in.
//!
//! Keyed by traffic, so an attacker chooses how many keys there are: past the cap, the entry
//! used longest ago is dropped and counted. The LRU order comes from the `lru` crate.

use core::hash::Hash;
use core::num::NonZeroUsize;
use lru::LruCache;

/// A table of at most `cap` entries, dropping the least recently used. Hashed with foldhash
/// (looked up on every DNS transaction), seeded at random per table as std's hasher is.
pub(crate) struct Bounded<K: Hash + Eq, V> {
    map: LruCache<K, V, foldhash::fast::RandomState>,
    evicted: u64,
}

impl<K: Hash + Eq, V> Bounded<K, V> {
    pub(crate) fn new(cap: usize) -> Self {
        let cap = NonZeroUsize::new(cap).unwrap_or(NonZeroUsize::MIN);
        Bounded { map: LruCache::with_hasher(cap, foldhash::fast::RandomState::default()), evicted: 0 }
    }

    /// The entry of `key`, made with `make` if absent (which may drop the oldest entry).
    pub(crate) fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains(&key) && self.map.len() == self.map.cap().get() {
            self.map.pop_lru();
            self.evicted += 1;
        }
        self.map.get_or_insert_mut(key, make)
    }

    /// The entry of `key`, if present (marks it used).
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// Removes the entry of `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.map.pop(key)
    }

    /// Entries dropped because the table was full.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::Bounded;

    #[test]
    fn drops_the_least_recently_used_and_counts_it() {
        let mut t = Bounded::new(2);
        *t.entry(1, || 0) += 1;
        *t.entry(2, || 0) += 1;
        *t.entry(1, || 0) += 1; // 1 is now the most recent
        *t.entry(3, || 0) += 1; // drops 2
        assert_eq!(t.evicted(), 1);
        assert!(t.get_mut(&2).is_none());
        assert_eq!(t.get_mut(&1), Some(&mut 2));
    }
}
