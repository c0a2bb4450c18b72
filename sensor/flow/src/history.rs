//! The connection history string of Zeek's `conn.log`, kept inline (no allocation per flow).
//!
//! Letters: upper case from the originator, lower case from the responder. `S` SYN, `H` SYN-ACK,
//! `A` pure ACK, `D` data, `F` FIN, `R` RST, `I` FIN+RST, `Q` other multi-flag, `T` retransmission,
//! `W` zero window, `G` content gap, `^` roles flipped. Most letters are recorded once per
//! direction; `T`, `W` and `G` again each time their count reaches 10x the previous mark (1, 10,
//! 100, …), exactly as Zeek's `ScaledHistoryEntry` does.

/// Longest history kept. Zeek's strings are unbounded, but each one-shot letter appears at most
/// once per direction (repeated SYN/FIN/RST only with new sequence numbers) and the scaled
/// letters grow by one per factor of ten, so real histories stay well under this. It keeps the
/// whole [`History`] at 24 bytes, which matters at a million flows. Letters past it are counted in
/// [`History::dropped`], not kept.
pub const MAX_HISTORY: usize = 18;

/// One-shot history bits (Zeek's `HIST_*` masks); responder bits are shifted by 16.
#[derive(Debug, Clone, Copy)]
#[repr(u32)]
pub(crate) enum Mark {
    Syn = 0x1,
    Fin = 0x2,
    Rst = 0x4,
    FinRst = 0x8,
    Ack = 0x10,
    Data = 0x20,
    MultiFlag = 0x400,
}

/// The history string and the bits that say which one-shot letters were already recorded.
#[derive(Debug, Clone, Copy)]
pub struct History {
    letters: [u8; MAX_HISTORY],
    len: u8,
    /// Letters dropped because the string was full.
    overflow: u8,
    seen: u32,
}

impl Default for History {
    fn default() -> Self {
        History { letters: [0; MAX_HISTORY], len: 0, overflow: 0, seen: 0 }
    }
}

impl History {
    /// The history as Zeek prints it.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters and '^' are ever pushed.
        core::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or("")
    }

    /// Letters that did not fit in [`MAX_HISTORY`].
    pub fn dropped(&self) -> u8 {
        self.overflow
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a letter.
    pub(crate) fn push(&mut self, letter: u8) {
        if usize::from(self.len) < MAX_HISTORY {
            self.letters[usize::from(self.len)] = letter;
            self.len += 1;
        } else {
            self.overflow = self.overflow.saturating_add(1);
        }
    }

    /// Records `letter` the first time `mark` is seen in this direction. Returns whether the mark
    /// had been seen before (Zeek's `CheckHistory`).
    pub(crate) fn check(&mut self, mark: Mark, from_orig: bool, letter: u8) -> bool {
        let bit = if from_orig { mark as u32 } else { (mark as u32) << 16 };
        if self.seen & bit == 0 {
            self.seen |= bit;
            self.push(case(letter, from_orig));
            false
        } else {
            true
        }
    }

    /// Replaces the whole string (used when roles flip on a SYN-ACK-first connection).
    pub(crate) fn replace(&mut self, letters: &[u8]) {
        self.len = 0;
        for &l in letters {
            self.push(l);
        }
    }

    /// Swaps the case of every letter and the direction bits, after the roles flipped.
    pub(crate) fn flip(&mut self) {
        for l in &mut self.letters[..usize::from(self.len)] {
            if l.is_ascii_uppercase() {
                *l = l.to_ascii_lowercase();
            } else if l.is_ascii_lowercase() {
                *l = l.to_ascii_uppercase();
            }
        }
        self.seen = self.seen.rotate_left(16);
        self.push(b'^');
    }
}

/// Upper case for the originator, lower case for the responder.
pub(crate) fn case(letter: u8, from_orig: bool) -> u8 {
    if from_orig { letter.to_ascii_uppercase() } else { letter.to_ascii_lowercase() }
}

/// A counter whose history letter is added at 1, 10, 100, … occurrences (Zeek's
/// `ScaledHistoryEntry` with base 10).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scaled(u32);

impl Scaled {
    /// Counts one occurrence; returns true when the letter is due (the count is a power of ten).
    pub(crate) fn hit(&mut self) -> bool {
        self.0 = self.0.saturating_add(1);
        let mut n = self.0;
        while n.is_multiple_of(10) {
            n /= 10;
        }
        n == 1 && self.0 != u32::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_letters_are_recorded_once_per_direction() {
        let mut h = History::default();
        assert!(!h.check(Mark::Syn, true, b'S'));
        assert!(h.check(Mark::Syn, true, b'S'));
        assert!(!h.check(Mark::Syn, false, b'H'));
        assert!(!h.check(Mark::Ack, true, b'A'));
        assert_eq!(h.as_str(), "ShA");
    }

    #[test]
    fn scaled_entries_fire_at_powers_of_ten() {
        let mut s = Scaled::default();
        let fired: Vec<u32> = (1..=1000).filter(|_| s.hit()).collect::<Vec<_>>().into_iter().collect();
        assert_eq!(fired.len(), 4); // at 1, 10, 100, 1000
    }

    #[test]
    fn flip_swaps_case_and_marks() {
        let mut h = History::default();
        h.check(Mark::Data, true, b'D');
        h.flip();
        assert_eq!(h.as_str(), "d^");
        assert!(h.check(Mark::Data, false, b'D'), "the responder's data mark moved with the flip");
    }

    #[test]
    fn overflow_is_bounded() {
        let mut h = History::default();
        for _ in 0..100 {
            h.push(b'T');
        }
        assert_eq!(h.as_str().len(), MAX_HISTORY);
    }
}
