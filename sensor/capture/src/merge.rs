//! [`MergedFiles`]: several capture files read as one timeline.
//!
//! Each file's next frame is copied into a head buffer of its own (reused, so no allocation per
//! frame once the buffers have grown); the head with the smallest timestamp goes to the sink next,
//! ties going to the file named first. With a single file no copy is made at all.

use crate::{CaptureAnomaly, CaptureError, FileSource, Frame, PacketSource, Poll};
use sensor_wire::{LinkType, Timestamp};
use std::path::PathBuf;

/// The next frame of one file, copied out of its reader.
struct Head {
    source: FileSource,
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    data: Vec<u8>,
    /// Whether `ts`, `link`, `orig_len` and `data` hold a frame not yet delivered.
    full: bool,
    done: bool,
}

impl Head {
    fn fill(&mut self) -> Result<(), CaptureError> {
        if self.full || self.done {
            return Ok(());
        }
        let Head { source, ts, link, orig_len, data, full, .. } = self;
        let poll = source.poll(1, &mut |frame| {
            *ts = frame.ts;
            *link = frame.link;
            *orig_len = frame.orig_len;
            data.clear();
            data.extend_from_slice(frame.data);
            *full = true;
        })?;
        if poll == Poll::End {
            self.done = true;
        }
        Ok(())
    }
}

/// Several capture files merged into one time-ordered stream.
pub struct MergedFiles {
    heads: Vec<Head>,
}

impl MergedFiles {
    /// Opens every file (all are checked before any frame is read).
    pub fn open(paths: &[PathBuf]) -> Result<MergedFiles, CaptureError> {
        let heads = paths
            .iter()
            .map(|path| {
                Ok(Head {
                    source: FileSource::open(path)?,
                    ts: Timestamp::default(),
                    link: LinkType::ETHERNET,
                    orig_len: 0,
                    data: Vec::new(),
                    full: false,
                    done: false,
                })
            })
            .collect::<Result<Vec<_>, CaptureError>>()?;
        Ok(MergedFiles { heads })
    }
}

impl PacketSource for MergedFiles {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(Frame<'_>)) -> Result<Poll, CaptureError> {
        if let [only] = self.heads.as_mut_slice() {
            return only.source.poll(budget, sink);
        }
        let mut delivered = 0;
        while delivered < budget {
            for head in &mut self.heads {
                head.fill()?;
            }
            let next = self.heads.iter_mut().filter(|h| h.full).min_by_key(|h| h.ts);
            let Some(head) = next else { break };
            sink(Frame { ts: head.ts, link: head.link, data: &head.data, orig_len: head.orig_len });
            head.full = false;
            delivered += 1;
        }
        Ok(if delivered > 0 { Poll::Delivered(delivered) } else { Poll::End })
    }

    fn take_anomalies(&mut self) -> Vec<CaptureAnomaly> {
        self.heads.iter_mut().flat_map(|h| h.source.take_anomalies()).collect()
    }

    fn progress(&self) -> (u64, Option<u64>) {
        self.heads.iter().fold((0, Some(0)), |(done, total), h| {
            let (d, t) = h.source.progress();
            (done + d, total.zip(t).map(|(a, b)| a + b))
        })
    }
}
