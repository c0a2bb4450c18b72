//! The connection history string of Zeek's `conn.log`, kept inline (no allocation per flow).
//!
//! Letters: upper case from the originator, lower case from the responder. `S` SYN, `H` SYN-ACK,
//! `A` pure ACK, `D` data, `F` FIN, `R` RST, `I` FIN+RST, `Q` other multi-flag, `T` retransmission,
//! `W` zero window, `G` content gap, `^` roles flipped. Most letters are recorded once per
//! direction; `T`, `W` and `G` again each time their count reaches 10x the previous mark (1, 10,
//! 100, …), exactly as Zeek's `ScaledHistoryEntry` does.

/// Longest history kept. Zeek's strings are unbounded, but each one-shot letter appears at most
/// once per direction (repeated SYN/FIN/RST only with new sequence numbers) and the scaled
/// letters grow by one per factor of ten, so real histories stay well under this. Letters past it
/// are counted in [`History::dropped`], not kept.
pub const MAX_HISTORY: usize = 18;

/// One-shot history bits (Zeek's `HIST_*` masks, renumbered to fit a byte); responder bits are
/// shifted by 8.
#[derive(Debug, Clone, Copy)]
#[repr(u16)]
pub(crate) enum Mark {
    Syn = 0x1,
    Fin = 0x2,
    Rst = 0x4,
    FinRst = 0x8,
    Ack = 0x10,
    Data = 0x20,
    MultiFlag = 0x40,
}

/// The symbols a history holds, by 5-bit code. The last one stands for any other byte, which
/// the crate never pushes.
const ALPHABET: &[u8; 24] = b"SHADFRIQTWG^shadfriqtwg?";
/// Bits per letter.
const CODE_BITS: usize = 5;
/// Where the length (5 bits), the dropped-letter count (8 bits) and the [`Mark`] bits (16) sit,
/// above the `MAX_HISTORY * CODE_BITS` = 90 bits of letters.
const LEN_SHIFT: u32 = 90;
const OVERFLOW_SHIFT: u32 = 96;
const SEEN_SHIFT: u32 = 104;

/// The history string and the bits that say which one-shot letters were already recorded,
/// packed into 16 bytes (alignment 1), which matters at a million flows: each letter is a 5-bit
/// code, then come the length, the dropped-letter count and the [`Mark`] bits. Read it with
/// [`History::letters`].
#[derive(Debug, Clone, Copy, Default)]
pub struct History {
    bits: [u8; 16],
}

/// A history as text (Zeek's `history` field), decoded from a [`History`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryStr {
    letters: [u8; MAX_HISTORY],
    len: u8,
}

impl HistoryStr {
    /// The letters.
    pub fn as_str(&self) -> &str {
        // Only ALPHABET bytes (ASCII) are ever decoded.
        core::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or("")
    }
}

impl core::ops::Deref for HistoryStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl core::fmt::Display for HistoryStr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl History {
    fn load(&self) -> u128 {
        u128::from_le_bytes(self.bits)
    }

    fn store(&mut self, v: u128) {
        self.bits = v.to_le_bytes();
    }

    fn field(&self, shift: u32, width: u32) -> u32 {
        ((self.load() >> shift) & ((1 << width) - 1)) as u32
    }

    fn set_field(&mut self, shift: u32, width: u32, value: u32) {
        let mask = ((1u128 << width) - 1) << shift;
        self.store((self.load() & !mask) | ((u128::from(value) << shift) & mask));
    }

    fn len(&self) -> usize {
        self.field(LEN_SHIFT, 5) as usize
    }

    fn seen(&self) -> u16 {
        self.field(SEEN_SHIFT, 16) as u16
    }

    fn letter(&self, i: usize) -> u8 {
        let code = self.field((i * CODE_BITS) as u32, CODE_BITS as u32) as usize;
        ALPHABET.get(code).copied().unwrap_or(b'?')
    }

    fn set_letter(&mut self, i: usize, letter: u8) {
        let code = ALPHABET.iter().position(|&l| l == letter).unwrap_or(ALPHABET.len() - 1);
        self.set_field((i * CODE_BITS) as u32, CODE_BITS as u32, code as u32);
    }

    /// The history as Zeek prints it.
    pub fn letters(&self) -> HistoryStr {
        let mut out = HistoryStr { letters: [0; MAX_HISTORY], len: self.len() as u8 };
        for (i, l) in out.letters[..self.len()].iter_mut().enumerate() {
            *l = self.letter(i);
        }
        out
    }

    /// Whether the history is exactly `letters`, without decoding the rest.
    pub(crate) fn is(&self, letters: &[u8]) -> bool {
        self.len() == letters.len() && letters.iter().enumerate().all(|(i, &l)| self.letter(i) == l)
    }

    /// Letters that did not fit in [`MAX_HISTORY`].
    pub fn dropped(&self) -> u8 {
        self.field(OVERFLOW_SHIFT, 8) as u8
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a letter.
    pub(crate) fn push(&mut self, letter: u8) {
        let len = self.len();
        if len < MAX_HISTORY {
            self.set_letter(len, letter);
            self.set_field(LEN_SHIFT, 5, len as u32 + 1);
        } else {
            let dropped = self.dropped().saturating_add(1);
            self.set_field(OVERFLOW_SHIFT, 8, u32::from(dropped));
        }
    }

    /// Records `letter` the first time `mark` is seen in this direction. Returns whether the mark
    /// had been seen before (Zeek's `CheckHistory`).
    pub(crate) fn check(&mut self, mark: Mark, from_orig: bool, letter: u8) -> bool {
        let bit = if from_orig { mark as u16 } else { (mark as u16) << 8 };
        let seen = self.seen();
        if seen & bit == 0 {
            self.set_field(SEEN_SHIFT, 16, u32::from(seen | bit));
            self.push(case(letter, from_orig));
            false
        } else {
            true
        }
    }

    /// Replaces the whole string (used when roles flip on a SYN-ACK-first connection).
    pub(crate) fn replace(&mut self, letters: &[u8]) {
        self.set_field(LEN_SHIFT, 5, 0);
        for &l in letters {
            self.push(l);
        }
    }

    /// Swaps the case of every letter and the direction bits, after the roles flipped.
    pub(crate) fn flip(&mut self) {
        for i in 0..self.len() {
            let l = self.letter(i);
            if l.is_ascii_uppercase() {
                self.set_letter(i, l.to_ascii_lowercase());
            } else if l.is_ascii_lowercase() {
                self.set_letter(i, l.to_ascii_uppercase());
            }
        }
        let seen = self.seen().rotate_left(8);
        self.set_field(SEEN_SHIFT, 16, u32::from(seen));
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
        assert_eq!(h.letters().as_str(), "ShA");
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
        assert_eq!(h.letters().as_str(), "d^");
        assert!(h.check(Mark::Data, false, b'D'), "the responder's data mark moved with the flip");
    }

    #[test]
    fn every_letter_survives_packing() {
        let mut h = History::default();
        let letters = b"SHADFRIQTWGshadfriqtwg^";
        for &l in &letters[..MAX_HISTORY] {
            h.push(l);
        }
        assert_eq!(h.letters().as_bytes(), &letters[..MAX_HISTORY]);
        let mut h = History::default();
        for &l in &letters[MAX_HISTORY..] {
            h.push(l);
        }
        assert_eq!(h.letters().as_bytes(), &letters[MAX_HISTORY..]);
        assert!(h.is(&letters[MAX_HISTORY..]) && !h.is(b"H"));
    }

    #[test]
    fn marks_and_letters_do_not_disturb_each_other() {
        let mut h = History::default();
        for _ in 0..3 {
            for mark in [Mark::Syn, Mark::Fin, Mark::Rst, Mark::FinRst, Mark::Ack, Mark::Data, Mark::MultiFlag] {
                h.check(mark, true, b'S');
                h.check(mark, false, b'S');
            }
        }
        assert_eq!(h.letters().as_str(), "SsSsSsSsSsSsSs");
        h.replace(b"^h");
        assert_eq!(h.letters().as_str(), "^h");
        assert!(h.check(Mark::MultiFlag, false, b'Q'), "the marks outlive a replace");
        assert_eq!(h.dropped(), 0);
    }

    #[test]
    fn overflow_is_bounded() {
        let mut h = History::default();
        for _ in 0..100 {
            h.push(b'T');
        }
        assert_eq!(h.letters().len(), MAX_HISTORY);
        assert_eq!(h.dropped(), 100 - MAX_HISTORY as u8);
    }
}
