//! Queries: records by time range, kind, host, domain, uid or Community ID, newest or oldest
//! first, streamed.
//!
//! The result is produced one time bucket at a time: the next bucket holding candidates is found
//! in the most selective index (`hosts` for a host, `domains` for a domain, each with the `wide`
//! blocks that have too many of them to index, else `time`), the blocks of that bucket are pruned
//! by their filters (host, uid, Community ID, DNS name), read, and
//! their matching records sorted by time. Memory is therefore bounded by the matching records of
//! one bucket (one minute), whatever the size of the result.

use crate::block::Block;
use crate::dict::Dictionaries;
use crate::record::{Decoded, Kind, Peek, dns_query_name};
use crate::trees::{BlockId, DomainKey, HostKey, Span, TimeKey, alerts, bucket_of, domains, filters, wide};
use crate::{Store, StoreError};
use core::net::IpAddr;
use sensor_wire::Timestamp;
use std::collections::VecDeque;

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Newest first (what an analyst looks at first).
    #[default]
    NewestFirst,
    /// Oldest first.
    OldestFirst,
}

/// What to find. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Records at or after this time.
    pub from: Option<Timestamp>,
    /// Records before this time.
    pub to: Option<Timestamp>,
    /// Kinds to return; empty means all.
    pub kinds: Vec<Kind>,
    /// Records involving this host on either side.
    pub host: Option<IpAddr>,
    /// DNS records whose query is this name or a name under it (a registered domain such as
    /// `example.com`, or any name below one).
    pub domain: Option<String>,
    /// Records of this connection uid.
    pub uid: Option<String>,
    /// Records of this Community ID.
    pub community_id: Option<String>,
    /// At most this many records.
    pub limit: Option<usize>,
    /// Order of the results.
    pub order: Order,
}

/// One record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Its kind.
    pub kind: Kind,
    /// Its time.
    pub ts: Timestamp,
    /// The block it was read from (`None` for alerts, which are not kept in blocks).
    pub block: Option<BlockId>,
    bytes: Vec<u8>,
}

impl Hit {
    /// The record.
    pub fn decoded(&self) -> Result<Decoded<'_>, StoreError> {
        Decoded::decode(self.kind, &self.bytes).map_err(|e| {
            let reason = format!("record does not decode: {e}");
            match self.block {
                Some(id) => StoreError::BadBlock { id, reason },
                None => StoreError::BadAlert(reason),
            }
        })
    }
}

/// Which index gives the candidate blocks.
#[derive(Debug, Clone)]
enum Source {
    Time,
    Host(IpAddr),
    Domain(String),
}

/// The records of a [`Query`], in order; an `Err` item reports a damaged block, and the results
/// go on after it.
pub struct QueryResults {
    store: Store,
    query: Query,
    kinds: Vec<Kind>,
    source: Source,
    /// Filter keys every candidate block must hold.
    filter_keys: Vec<u64>,
    /// The domain, lower case, for matching records.
    domain: Option<String>,
    dicts: Dictionaries,
    /// Buckets still to look at, inclusive (`None` when done).
    remaining: Option<(u64, u64)>,
    pending: VecDeque<Result<Hit, StoreError>>,
    returned: usize,
    /// Blocks read and blocks the filters spared.
    pub blocks_read: u64,
    /// Blocks skipped because their filter rules the query out.
    pub blocks_filtered: u64,
}

impl Store {
    /// Runs a query.
    pub fn query(&self, query: &Query) -> Result<QueryResults, StoreError> {
        let kinds = if query.kinds.is_empty() { Kind::ALL.to_vec() } else { query.kinds.clone() };
        let domain = query.domain.as_deref().map(|d| d.trim_end_matches('.').to_ascii_lowercase());
        let registered = match &domain {
            Some(d) => Some(
                domains::registered(d)
                    .ok_or_else(|| StoreError::BadQuery(format!("`{d}` is not a domain name")))?
                    .to_owned(),
            ),
            None => None,
        };
        let source = match (query.host, &registered) {
            (Some(host), _) => Source::Host(host),
            (None, Some(r)) => Source::Domain(r.clone()),
            (None, None) => Source::Time,
        };
        let mut filter_keys = Vec::new();
        if let Some(host) = query.host {
            filter_keys.push(filters::host(host));
        }
        if let Some(uid) = &query.uid {
            filter_keys.push(filters::hash(filters::Tag::Uid, uid));
        }
        if let Some(id) = &query.community_id {
            filter_keys.push(filters::hash(filters::Tag::CommunityId, id));
        }
        if let Some(d) = &domain {
            filter_keys.push(filters::hash(filters::Tag::Name, d));
        }
        let first = query.from.map_or(0, bucket_of);
        let last = match query.to {
            Some(Timestamp(0)) => None,
            Some(to) => Some(bucket_of(Timestamp(to.0 - 1))),
            None => Some(u64::MAX),
        };
        let empty = query.limit == Some(0) || query.from.zip(query.to).is_some_and(|(f, t)| f >= t);
        Ok(QueryResults {
            store: self.clone(),
            query: query.clone(),
            kinds,
            source,
            filter_keys,
            domain,
            dicts: Dictionaries::new(0),
            remaining: last.filter(|&l| !empty && first <= l).map(|l| (first, l)),
            pending: VecDeque::new(),
            returned: 0,
            blocks_read: 0,
            blocks_filtered: 0,
        })
    }
}

impl QueryResults {
    /// The next bucket holding candidates within `remaining`, in result order.
    fn next_bucket(&self, (first, last): (u64, u64)) -> Result<Option<u64>, StoreError> {
        let newest = self.query.order == Order::NewestFirst;
        let t = &self.store.trees;
        let mut best: Option<u64> = None;
        let mut consider = |found: Option<u64>| {
            best = match (best, found) {
                (Some(b), Some(f)) => Some(if newest { b.max(f) } else { b.min(f) }),
                (b, f) => b.or(f),
            };
        };
        for &kind in &self.kinds {
            if kind == Kind::Alert {
                // Few: found by time, the other conditions checked on each.
                consider(
                    edge(&t.alerts, alerts::range(first, last), newest)?.and_then(|k| alerts::ts_of(&k)).map(bucket_of),
                );
                continue;
            }
            let time_range = TimeKey::range(kind, first, last);
            match &self.source {
                Source::Time => {
                    consider(edge(&t.time, time_range, newest)?.and_then(|k| TimeKey::parse(&k)).map(|k| k.bucket))
                }
                Source::Host(host) => {
                    let range = HostKey::range(*host, kind, first, last);
                    consider(edge(&t.hosts, range, newest)?.and_then(|k| HostKey::parse_tail(&k)).map(|(b, _)| b));
                    consider(edge(&t.wide, time_range, newest)?.and_then(|k| TimeKey::parse(&k)).map(|k| k.bucket));
                }
                Source::Domain(d) => {
                    let range = DomainKey::range(d, kind, first, last);
                    consider(edge(&t.domains, range, newest)?.and_then(|k| DomainKey::parse_tail(&k)).map(|(b, _)| b));
                    consider(edge(&t.wide, time_range, newest)?.and_then(|k| TimeKey::parse(&k)).map(|k| k.bucket));
                }
            }
        }
        Ok(best)
    }

    /// The candidate blocks of `kind` in `bucket`.
    fn blocks(&self, kind: Kind, bucket: u64) -> Result<Vec<BlockId>, StoreError> {
        let t = &self.store.trees;
        let mut ids = Vec::new();
        let add_wide = |bit: u8, ids: &mut Vec<BlockId>| -> Result<(), StoreError> {
            for item in t.wide.range(TimeKey::range(kind, bucket, bucket)) {
                let (k, v) = item?;
                if v.first().is_some_and(|flags| flags & bit != 0) {
                    ids.extend(TimeKey::parse(&k).map(|k| k.block));
                }
            }
            Ok(())
        };
        match &self.source {
            Source::Time => {
                for item in t.time.range(TimeKey::range(kind, bucket, bucket)) {
                    ids.extend(TimeKey::parse(&item?.0).map(|k| k.block));
                }
            }
            Source::Host(host) => {
                for item in t.hosts.range(HostKey::range(*host, kind, bucket, bucket)) {
                    ids.extend(HostKey::parse_tail(&item?.0).map(|(_, b)| b));
                }
                add_wide(wide::HOSTS, &mut ids)?;
            }
            Source::Domain(d) => {
                for item in t.domains.range(DomainKey::range(d, kind, bucket, bucket)) {
                    ids.extend(DomainKey::parse_tail(&item?.0).map(|(_, b)| b));
                }
                add_wide(wide::DOMAINS, &mut ids)?;
            }
        }
        Ok(ids)
    }

    /// Reads one bucket's matching records into `pending`. Blocks are read in result order of
    /// their spans; with a limit, reading stops once the blocks left cannot hold a record that
    /// would make the cut.
    fn fill(&mut self, bucket: u64) -> Result<(), StoreError> {
        let newest = self.query.order == Order::NewestFirst;
        let mut candidates = Vec::new();
        let mut hits = Vec::new();
        for kind in self.kinds.clone() {
            if kind == Kind::Alert {
                self.alerts(bucket, &mut hits)?;
                continue;
            }
            for id in self.blocks(kind, bucket)? {
                let key = TimeKey { kind, bucket, block: id }.key();
                let span = self.store.trees.time.get(key)?.and_then(|v| Span::parse(&v));
                let span = span.unwrap_or(Span { min: Timestamp(0), max: Timestamp(u64::MAX) });
                candidates.push((span, id));
            }
        }
        match newest {
            true => candidates.sort_by_key(|(s, id)| core::cmp::Reverse((s.max, *id))),
            false => candidates.sort_by_key(|(s, id)| (s.min, *id)),
        }
        let wanted = self.query.limit.map(|l| l.saturating_sub(self.returned));
        for (span, id) in candidates {
            if let Some(wanted) = wanted
                && let Some(cut) = cut(&mut hits, wanted, newest)
                && (if newest { span.max < cut } else { span.min > cut })
            {
                break;
            }
            self.read(id, &mut hits)?;
        }
        sort(&mut hits, newest);
        self.pending.extend(hits.into_iter().map(Ok));
        Ok(())
    }

    /// Adds the alerts of `bucket` the query selects to `hits`.
    fn alerts(&mut self, bucket: u64, hits: &mut Vec<Hit>) -> Result<(), StoreError> {
        for item in self.store.trees.alerts.range(alerts::range(bucket, bucket)) {
            let (key, bytes) = item?;
            let Some(ts) = alerts::ts_of(&key) else { continue };
            let selected = Decoded::decode(Kind::Alert, &bytes).map(|alert| {
                let keys = alert.keys();
                let peek = Peek { ts, uid: keys.uid, hosts: keys.hosts };
                // An alert's uid is its own id or any record it rests on.
                let evidence_uid = match (&alert, self.query.uid.as_deref()) {
                    (Decoded::Alert(a), Some(u)) => a.evidence.uids.iter().any(|e| e == u),
                    _ => false,
                };
                (self.selects(&peek) || evidence_uid && self.selects(&Peek { uid: self.query.uid.as_deref(), ..peek }))
                    && self.selects_whole(&alert)
            });
            match selected {
                Ok(true) => hits.push(Hit { kind: Kind::Alert, ts, block: None, bytes: bytes.to_vec() }),
                Ok(false) => {}
                Err(e) => self.pending.push_back(Err(StoreError::BadAlert(e))),
            }
        }
        Ok(())
    }

    /// Reads block `id` (unless its filter rules it out) and adds its matching records to `hits`.
    fn read(&mut self, id: BlockId, hits: &mut Vec<Hit>) -> Result<(), StoreError> {
        if !self.filter_keys.is_empty() {
            let filter = self.store.trees.filters.get(id.key())?;
            if !filters::may_contain(filter.as_deref(), &self.filter_keys) {
                self.blocks_filtered += 1;
                return Ok(());
            }
        }
        // A block evicted since its index entry was read is simply gone.
        let bytes = match self.store.read_block(id) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(()),
            Err(e) => {
                self.pending.push_back(Err(e));
                return Ok(());
            }
        };
        self.blocks_read += 1;
        match Block::open(&bytes, &mut self.dicts) {
            Ok(block) => self.matches(&block, id, hits),
            Err(reason) => self.pending.push_back(Err(StoreError::BadBlock { id, reason })),
        }
        Ok(())
    }

    /// The records of `block` the query selects.
    fn matches(&mut self, block: &Block, id: BlockId, hits: &mut Vec<Hit>) {
        let kind = block.header.kind;
        // A DNS record's name is read on its own, before the answers; Community ID (and a domain
        // on other kinds) need the whole record; the rest is in its first fields.
        let by_name = self.domain.as_deref().filter(|_| kind == Kind::Dns);
        let whole = self.query.community_id.is_some() || self.domain.is_some() && by_name.is_none();
        for record in block.records() {
            let selected = record.and_then(|bytes| {
                let peek = Peek::read(kind, bytes).map_err(|e| format!("record does not decode: {e}"))?;
                if !self.selects(&peek) {
                    return Ok(None);
                }
                if let Some(domain) = by_name {
                    let name = dns_query_name(bytes).map_err(|e| format!("record does not decode: {e}"))?;
                    if !name.is_some_and(|name| under(&name, domain)) {
                        return Ok(None);
                    }
                }
                if whole {
                    let decoded = Decoded::decode(kind, bytes).map_err(|e| format!("record does not decode: {e}"))?;
                    if !self.selects_whole(&decoded) {
                        return Ok(None);
                    }
                }
                Ok(Some((peek.ts, bytes)))
            });
            match selected {
                Ok(Some((ts, bytes))) => hits.push(Hit { kind, ts, block: Some(id), bytes: bytes.to_vec() }),
                Ok(None) => {}
                Err(reason) => {
                    self.pending.push_back(Err(StoreError::BadBlock { id, reason }));
                    break;
                }
            }
        }
    }

    /// The conditions on a record's first fields.
    fn selects(&self, peek: &Peek<'_>) -> bool {
        let q = &self.query;
        q.from.is_none_or(|f| peek.ts >= f)
            && q.to.is_none_or(|t| peek.ts < t)
            && q.host.is_none_or(|h| peek.hosts.contains(&Some(h)))
            && q.uid.as_deref().is_none_or(|u| peek.uid == Some(u))
    }

    /// The conditions that need the whole record.
    fn selects_whole(&self, record: &Decoded<'_>) -> bool {
        let keys = record.keys();
        self.query.community_id.as_deref().is_none_or(|c| keys.community_id == Some(c))
            && self.domain.as_deref().is_none_or(|d| keys.query.is_some_and(|name| under(name, d)))
    }
}

/// Sorts hits in result order.
fn sort(hits: &mut [Hit], newest: bool) {
    match newest {
        true => hits.sort_by_key(|h| core::cmp::Reverse((h.ts, h.block))),
        false => hits.sort_by_key(|h| (h.ts, h.block)),
    }
}

/// The time of the `wanted`-th hit in result order, once there are that many: a block entirely
/// beyond it cannot change the first `wanted` results.
fn cut(hits: &mut [Hit], wanted: usize, newest: bool) -> Option<Timestamp> {
    if wanted == 0 || hits.len() < wanted {
        return None;
    }
    let nth = match newest {
        true => hits.select_nth_unstable_by_key(wanted - 1, |h| core::cmp::Reverse((h.ts, h.block))).1,
        false => hits.select_nth_unstable_by_key(wanted - 1, |h| (h.ts, h.block)).1,
    };
    Some(nth.ts)
}

/// Whether `name` is `domain` or a name below it (ASCII case-insensitive, trailing dot ignored).
fn under(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() == domain.len() {
        return name.eq_ignore_ascii_case(domain);
    }
    name.len() > domain.len()
        && name.as_bytes()[name.len() - domain.len() - 1] == b'.'
        && name[name.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// The first (or, `last`, the final) key of a range.
fn edge<K: AsRef<[u8]>>(
    tree: &sled::Tree,
    range: core::ops::RangeInclusive<K>,
    last: bool,
) -> Result<Option<sled::IVec>, StoreError> {
    let mut iter = tree.range(range);
    let item = if last { iter.next_back() } else { iter.next() };
    Ok(item.transpose()?.map(|(k, _)| k))
}

impl Iterator for QueryResults {
    type Item = Result<Hit, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.query.limit.is_some_and(|l| self.returned >= l) {
                return None;
            }
            if let Some(item) = self.pending.pop_front() {
                if item.is_ok() {
                    self.returned += 1;
                }
                return Some(item);
            }
            let (first, last) = self.remaining?;
            let bucket = match self.next_bucket((first, last)) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    self.remaining = None;
                    continue;
                }
                Err(e) => {
                    self.remaining = None;
                    return Some(Err(e));
                }
            };
            self.remaining = match self.query.order {
                Order::NewestFirst => bucket.checked_sub(1).filter(|&b| b >= first).map(|b| (first, b)),
                Order::OldestFirst => bucket.checked_add(1).filter(|&b| b <= last).map(|b| (b, last)),
            };
            if let Err(e) = self.fill(bucket) {
                self.remaining = None;
                return Some(Err(e));
            }
        }
    }
}
