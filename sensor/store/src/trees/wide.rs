//! `wide`: (kind, bucket, block) → which of the block's host and domain entries were left out.
//!
//! A block whose records name more than [`MAX_HOSTS`] distinct hosts (a scan, spoofed sources)
//! or [`MAX_DOMAINS`] registered domains (a DGA burst) is not given one `hosts` or `domains`
//! entry per value: that would let traffic an attacker controls make the index larger than the
//! data. It gets one `wide` entry instead, and a query by host or domain reads the wide blocks of
//! its buckets too, pruned by their filters (which hold every host and name).

/// Distinct hosts a block indexes in `hosts` at most.
pub(crate) const MAX_HOSTS: usize = 256;
/// Distinct registered domains a block indexes in `domains` at most.
pub(crate) const MAX_DOMAINS: usize = 64;

/// Value bit: the block's hosts are not in `hosts`.
pub(crate) const HOSTS: u8 = 0x1;
/// Value bit: the block's domains are not in `domains`.
pub(crate) const DOMAINS: u8 = 0x2;
