//! Escaped text in binary serialisations: each `\xNN` of a non-printable byte packed back into
//! the byte.
//!
//! A record's text holds bytes escaped as Zeek logs them ([`push_escaped`](super::render::push_escaped)):
//! a DNS tunnel's names and answers are mostly `\xNN`, four characters for each byte of payload.
//! In a binary format (the telemetry store's postcard) the field is written packed: a marker
//! byte, then the text with every `\xNN` (lowercase hex) of a byte outside printable ASCII
//! replaced by that byte. Unpacking writes each byte outside printable ASCII back as `\xNN`
//! ([`expand`](super::render::expand) with the renderer's own table), so a text unpacks to
//! exactly itself, whatever produced it.
//!
//! Only text that is all printable ASCII and has something to pack is packed; any other text
//! (plain names, UTF-8 kept as is) is written as a string, as before packing existed. The marker
//! `0xFF` never starts UTF-8, so a reader tells the two apart, and data written before (all
//! strings) reads unchanged. Human-readable formats (JSON) always get the string.

use super::render::{BYTE_FORMS, expand, printable};
use serde::{Deserializer, Serializer, de};
use std::cell::RefCell;

/// First byte of a packed text.
const PACKED: u8 = 0xff;

std::thread_local! {
    /// The packed form being built: records are serialised one at a time per thread. It keeps
    /// the capacity of the longest text packed, at most a record's answer text
    /// ([`MAX_ANSWER_BYTES_PER_RECORD`](super::MAX_ANSWER_BYTES_PER_RECORD), 64 KiB).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The value of each lowercase hex digit; 16 for any other byte.
const HEX_VALUE: [u8; 256] = {
    let mut values = [16u8; 256];
    let mut d = 0;
    while d < 16 {
        values[b"0123456789abcdef"[d] as usize] = d as u8;
        d += 1;
    }
    values
};

/// Packs `text` into `out` (marker first); `false`, with `out` unspecified, when packing does
/// not apply: a byte outside printable ASCII, or no escape to pack.
fn pack(text: &[u8], out: &mut Vec<u8>) -> bool {
    // One branch-free pass, so it vectorizes (as in `push_escaped`).
    if text.iter().fold(0u8, |seen, &b| seen | u8::from(!printable(b))) != 0 {
        return false;
    }
    out.clear();
    out.reserve(text.len() + 1);
    out.push(PACKED);
    let mut packed_any = false;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if let (b'\\', Some(&[b'x', hi, lo])) = (b, text.get(i + 1..i + 4)) {
            let (hi, lo) = (HEX_VALUE[usize::from(hi)], HEX_VALUE[usize::from(lo)]);
            let byte = hi << 4 | lo & 0x0f;
            if hi | lo < 16 && !printable(byte) {
                out.push(byte);
                packed_any = true;
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    packed_any
}

/// Serialises `text`, packed in binary formats when that makes it shorter.
pub(super) fn serialize<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() || !text.as_bytes().contains(&b'\\') {
        return serializer.serialize_str(text);
    }
    SCRATCH.with_borrow_mut(|scratch| match pack(text.as_bytes(), scratch) {
        true => serializer.serialize_bytes(scratch),
        false => serializer.serialize_str(text),
    })
}

/// Deserialises a text written by [`serialize`] (or as a plain string).
pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    if deserializer.is_human_readable() {
        deserializer.deserialize_string(TextVisitor)
    } else {
        deserializer.deserialize_bytes(TextVisitor)
    }
}

struct TextVisitor;

impl de::Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a string, or packed text")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<String, E> {
        Ok(text)
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<String, E> {
        let Some((&PACKED, packed)) = bytes.split_first() else {
            return core::str::from_utf8(bytes).map(str::to_owned).map_err(E::custom);
        };
        let mut text = Vec::with_capacity(packed.len() * 2);
        expand(packed, &BYTE_FORMS, |chunk| text.extend_from_slice(chunk));
        // Every byte `expand` writes is printable ASCII.
        String::from_utf8(text).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use crate::dns::render::escaped;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Field(#[serde(with = "super")] String);

    fn round_trip(text: &str) -> usize {
        let bytes = postcard::to_allocvec(&Field(text.to_owned())).unwrap();
        let back: Field = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.0, text, "{bytes:?}");
        let json = serde_json::to_string(&Field(text.to_owned())).unwrap();
        assert_eq!(json, serde_json::to_string(text).unwrap(), "JSON keeps the text");
        assert_eq!(serde_json::from_str::<Field>(&json).unwrap().0, text);
        bytes.len()
    }

    #[test]
    fn every_text_comes_back_as_it_was() {
        for text in [
            "",
            "example.com",
            r"\x00\x01\xff.tunnel.example",
            r"\\xff",
            r"\xFF upper case stays",
            r"\x41 printable stays",
            r"\x0",
            r"\xf",
            r"trailing \",
            r"\x09\x7f\x80",
            "caf\u{e9} \\xff",
            "\u{fffd}",
        ] {
            round_trip(text);
        }
        let all: Vec<u8> = (0..=255).collect();
        for window in all.windows(7) {
            round_trip(&escaped(window));
        }
    }

    #[test]
    fn payload_is_stored_as_bytes() {
        let payload: Vec<u8> = (0..200u8).map(|i| i.wrapping_mul(151)).collect();
        let text = escaped(&payload);
        let stored = round_trip(&text);
        // A `\` of the payload stays two characters; the length and the marker add three bytes.
        assert!(stored <= payload.len() + 8, "{stored} bytes for {} of payload", payload.len());
        assert!(text.len() > 2 * payload.len(), "most of the payload is escaped");
    }

    #[test]
    fn strings_written_before_packing_still_read() {
        let old = postcard::to_allocvec(&r"\xff\x00 escaped text").unwrap();
        let read: Field = postcard::from_bytes(&old).unwrap();
        assert_eq!(read.0, r"\xff\x00 escaped text");
        let bad = postcard::to_allocvec(&[0xc3u8, 0x28].to_vec()).unwrap();
        assert!(postcard::from_bytes::<Field>(&bad).is_err(), "invalid UTF-8 that is not packed is refused");
    }
}
