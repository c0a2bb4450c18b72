//! Framing: `length: u32 big-endian` (bytes that follow), `flags: u8` (bit 0: the payload is
//! zstd-compressed; the other bits must be zero), then the payload: one message, postcard.

use crate::{COMPRESS_FROM, MAX_FRAME, ProtocolError, ZSTD_LEVEL};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Read;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Flag bit: the payload is zstd-compressed.
const ZSTD: u8 = 1;

/// One message as a frame body (flags and payload; the length prefix is added by
/// [`write_frame`]).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, ProtocolError> {
    let plain = postcard::to_stdvec(msg)?;
    let mut body = Vec::with_capacity(plain.len() + 1);
    if plain.len() >= COMPRESS_FROM {
        body.push(ZSTD);
        body.extend_from_slice(&zstd::bulk::compress(&plain, ZSTD_LEVEL)?);
    } else {
        body.push(0);
        body.extend_from_slice(&plain);
    }
    if body.len() > MAX_FRAME {
        return Err(ProtocolError::Oversize(body.len()));
    }
    Ok(body)
}

/// The message in a frame body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ProtocolError> {
    let Some((&flags, payload)) = body.split_first() else {
        return Err(ProtocolError::Decode(postcard::Error::DeserializeUnexpectedEnd));
    };
    if body.len() > MAX_FRAME {
        return Err(ProtocolError::Oversize(body.len()));
    }
    match flags {
        0 => Ok(postcard::from_bytes(payload)?),
        ZSTD => {
            let mut plain = Vec::new();
            let decoder =
                zstd::stream::read::Decoder::new(payload).map_err(|e| ProtocolError::Compression(e.to_string()))?;
            // One byte past the limit tells a payload that exceeds it from one that fills it.
            decoder
                .take(MAX_FRAME as u64 + 1)
                .read_to_end(&mut plain)
                .map_err(|e| ProtocolError::Compression(e.to_string()))?;
            if plain.len() > MAX_FRAME {
                return Err(ProtocolError::Compression(format!("more than {MAX_FRAME} bytes")));
            }
            Ok(postcard::from_bytes(&plain)?)
        }
        other => Err(ProtocolError::Flags(other)),
    }
}

/// Writes one message as a frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> Result<(), ProtocolError> {
    let body = encode(msg)?;
    // `encode` bounds the body by MAX_FRAME, which fits a u32.
    let len = u32::try_from(body.len()).map_err(|_| ProtocolError::Oversize(body.len()))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(&body).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame and decodes its message; `None` when the peer closed the connection
/// between frames. The length is checked before anything is allocated.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>, ProtocolError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(ProtocolError::Oversize(len));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    decode(&body).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{AlertItem, Down, ErrorCode, Up};

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(msg: T) {
        assert_eq!(decode::<T>(&encode(&msg).unwrap()).unwrap(), msg);
    }

    #[test]
    fn messages_round_trip_small_and_compressed() {
        round_trip(Up::Hello { min_version: 1, max_version: 1, software: "0.1.0".into() });
        let big = "x".repeat(10_000);
        let alerts = Up::Alerts(vec![AlertItem { seq: 7, json: big.clone() }, AlertItem { seq: 8, json: "{}".into() }]);
        let body = encode(&alerts).unwrap();
        assert_eq!(body[0], ZSTD, "a large payload is compressed");
        assert!(body.len() < 1000);
        round_trip(alerts);
        round_trip(Down::Acks(vec![1, 2, u64::MAX]));
        round_trip(Down::Error { code: ErrorCode::BadToken, message: big });
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(decode::<Up>(&[]).is_err());
        assert!(matches!(decode::<Up>(&[0x80, 0]), Err(ProtocolError::Flags(0x80))));
        assert!(matches!(decode::<Up>(&[0, 0xff, 0xff, 0xff]), Err(ProtocolError::Decode(_))));
        assert!(matches!(decode::<Up>(&[ZSTD, 1, 2, 3]), Err(ProtocolError::Compression(_))));
        // A zstd bomb: a small frame that would decompress past the limit.
        let bomb = zstd::bulk::compress(&vec![0u8; MAX_FRAME + 10], 19).unwrap();
        let mut body = vec![ZSTD];
        body.extend_from_slice(&bomb);
        assert!(body.len() < 1 << 20);
        assert!(matches!(decode::<Up>(&body), Err(ProtocolError::Compression(_))));
    }

    #[tokio::test]
    async fn frames_over_a_stream_and_oversize_lengths() {
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        write_frame(&mut a, &Up::Heartbeat(crate::Health { backlog: 3, ..Default::default() })).await.unwrap();
        drop(a);
        let got: Option<Up> = read_frame(&mut b).await.unwrap();
        assert!(matches!(got, Some(Up::Heartbeat(h)) if h.backlog == 3));
        assert!(read_frame::<_, Up>(&mut b).await.unwrap().is_none(), "clean end between frames");

        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&(MAX_FRAME as u32 + 1).to_be_bytes()).await.unwrap();
        assert!(matches!(read_frame::<_, Up>(&mut b).await, Err(ProtocolError::Oversize(_))));
    }

    #[test]
    fn versions_negotiate_to_the_highest_in_common() {
        assert_eq!(crate::negotiate(1, 1), Some(1));
        assert_eq!(crate::negotiate(1, 9), Some(1));
        assert_eq!(crate::negotiate(2, 9), None);
        assert_eq!(crate::negotiate(0, 0), None);
    }
}
