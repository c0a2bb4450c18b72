//! [`XdpProgram`]: the kernel side of AF_XDP capture, the program `ebpf/sensor.bpf.c` (built by
//! `build.rs`, embedded in the binary) loaded and attached by aya.
//!
//! Attaching, in order:
//! 1. raise `RLIMIT_MEMLOCK` (kernels before 5.11 charge BPF maps to it; newer ones do not, and
//!    a refusal is only a warning, see [`XdpProgram::warnings`]);
//! 2. load the object and fill the ignored-CIDR tries from configuration (before attaching, so
//!    no ignored frame ever reaches user space);
//! 3. look at what the interface already holds (route netlink): our own program left by a dead
//!    process attached the old way is removed (and said, [`XdpProgram::replaced`]); another
//!    program, or one held by a live `bpf_link` (another sensor), is an error: nothing is stacked
//!    or silently replaced;
//! 4. attach through a `bpf_link` in driver (native) mode, or generic (skb) mode, or native then
//!    generic for [`XdpMode::Auto`]. The link dies with the process, so even after SIGKILL
//!    nothing is left on the interface; dropping the [`XdpProgram`] detaches it.
//!
//! The AF_XDP sockets ([`crate::AfXdpSource`], one per RX queue, each on its worker thread) and
//! the bypass of flows reach the program's maps through [`XdpHandles`]: duplicated map file
//! descriptors that can move to other threads.

use crate::CaptureError;
use crate::netlink;
use aya::Ebpf;
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{HashMap, Map, MapData, MapError, PerCpuArray, XskMap};
use aya::programs::Xdp;
use ipnet::IpNet;
use sensor_ebpf_common::{
    COUNTERS_KEY, COUNTERS_NR, FLOW_KEY_BYTES, MAP_BYPASSED, MAP_COUNTERS, MAP_IGNORED_V4, MAP_IGNORED_V6, MAP_XSKS,
    MAX_IGNORED_CIDRS_V4, MAX_IGNORED_CIDRS_V6, PROG_NAME, SensorCounters, SensorFlowKey, SensorFlowValue,
    SensorLpmV4Key, SensorLpmV6Key,
};
use std::os::fd::{AsFd, OwnedFd};

/// The object built by `build.rs` (empty when clang-19 was missing at build time).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sensor.bpf.o"));

/// Where the program runs (`[capture] xdp_mode`, `--xdp-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// Native if the driver supports it, else generic.
    #[default]
    Auto,
    /// In the driver, before any socket buffer exists (the fast path).
    Native,
    /// In the kernel's generic receive path (every driver; slower).
    Generic,
}

/// The mode the program was attached in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// Driver mode.
    Native,
    /// Generic (skb) mode.
    Generic,
}

impl Attached {
    /// `native` or `generic`, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Attached::Native => "native",
            Attached::Generic => "generic",
        }
    }

    fn aya(self) -> aya::programs::XdpMode {
        match self {
            Attached::Native => aya::programs::XdpMode::Driver,
            Attached::Generic => aya::programs::XdpMode::Skb,
        }
    }
}

/// The XDP program attached to one interface; detached when dropped.
pub struct XdpProgram {
    ebpf: Ebpf,
    mode: Attached,
    replaced: Option<u32>,
    warnings: Vec<String>,
}

impl XdpProgram {
    /// Whether this binary carries the program (it does when clang-19 was there at build time).
    pub fn built_in() -> bool {
        !OBJECT.is_empty()
    }

    /// Loads the program, fills the ignored networks and attaches it to `iface` in `mode`.
    pub fn attach(iface: &str, mode: XdpMode, ignore: &[IpNet]) -> Result<XdpProgram, CaptureError> {
        if !Self::built_in() {
            return Err(xdp_error(
                iface,
                "load the XDP program",
                "this sensor was built without it (clang-19 was missing: `make setup` installs it)",
            ));
        }
        let mut warnings = Vec::new();
        // Kernels before 5.11 charge maps to RLIMIT_MEMLOCK; later ones do not, so a refusal
        // (EPERM without CAP_SYS_RESOURCE) matters only if loading then fails.
        let memlock = raise_memlock().err();
        let mut ebpf = Ebpf::load(OBJECT).map_err(|e| {
            let why = memlock.map(|m| format!(" (RLIMIT_MEMLOCK could not be raised: {m})")).unwrap_or_default();
            xdp_error(iface, "load the XDP program", format!("{}{why}", error_chain(&e)))
        })?;
        fill_ignored(&mut ebpf, ignore).map_err(|e| xdp_error(iface, "fill the ignored networks", e))?;
        let ifindex = crate::interface_index(iface)?;
        let replaced = remove_stale(iface, ifindex)?;
        let program: &mut Xdp = ebpf
            .program_mut(PROG_NAME)
            .ok_or_else(|| xdp_error(iface, "load the XDP program", "no program named sensor_xdp in the object"))?
            .try_into()
            .map_err(fail(iface, "load the XDP program"))?;
        program.load().map_err(fail(iface, "load the XDP program (verifier)"))?;
        let tries: &[Attached] = match mode {
            XdpMode::Auto => &[Attached::Native, Attached::Generic],
            XdpMode::Native => &[Attached::Native],
            XdpMode::Generic => &[Attached::Generic],
        };
        let mut refused = Vec::new();
        let mut attached = None;
        for &m in tries {
            match program.attach_to_if_index(ifindex, m.aya()) {
                Ok(_) => {
                    attached = Some(m);
                    break;
                }
                Err(e) => refused.push(format!("{} mode: {}", m.name(), error_chain(&e))),
            }
        }
        let Some(mode) = attached else {
            return Err(xdp_error(iface, "attach the XDP program", refused.join("; ")));
        };
        if mode == Attached::Generic && !refused.is_empty() {
            warnings.push(format!("native XDP refused ({}), attached in generic mode", refused.join("; ")));
        }
        Ok(XdpProgram { ebpf, mode, replaced, warnings })
    }

    /// The mode the program runs in.
    pub fn mode(&self) -> Attached {
        self.mode
    }

    /// The id of a stale program of ours that was removed from the interface first, if any.
    pub fn replaced(&self) -> Option<u32> {
        self.replaced
    }

    /// What went less well than it should have, for the log.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The program's counters, summed over the CPUs.
    pub fn counters(&self) -> Result<SensorCounters, MapError> {
        let map = self.ebpf.map(MAP_COUNTERS).ok_or(MapError::InvalidName { name: MAP_COUNTERS.into() })?;
        let counters = PerCpuArray::<_, [u64; COUNTERS_NR]>::try_from(map)?;
        let per_cpu = counters.get(&COUNTERS_KEY, 0)?;
        Ok(SensorCounters::sum(per_cpu.iter().map(|&a| SensorCounters::from_array(a)).collect::<Vec<_>>().iter()))
    }

    /// Handles on the socket and bypass maps, for the workers.
    pub fn handles(&self) -> Result<XdpHandles, MapError> {
        Ok(XdpHandles { xsks: map_fd(&self.ebpf, MAP_XSKS)?, bypass: map_fd(&self.ebpf, MAP_BYPASSED)? })
    }
}

/// The maps a worker needs, as file descriptors of their own (they can move between threads).
#[derive(Debug)]
pub struct XdpHandles {
    xsks: OwnedFd,
    bypass: OwnedFd,
}

impl XdpHandles {
    /// Another set of handles on the same maps.
    pub fn try_clone(&self) -> std::io::Result<XdpHandles> {
        Ok(XdpHandles { xsks: self.xsks.try_clone()?, bypass: self.bypass.try_clone()? })
    }

    /// Routes the frames of RX queue `queue` to the AF_XDP socket `fd`.
    pub(crate) fn register(&self, queue: u32, fd: std::os::fd::RawFd) -> Result<(), MapError> {
        let data = MapData::from_fd(self.xsks.try_clone().map_err(|e| MapError::SyscallError(syscall("dup", e)))?)?;
        let mut xsks = XskMap::try_from(Map::XskMap(data))?;
        xsks.set(queue, fd, 0)
    }

    /// The table of bypassed flows.
    pub fn bypass_table(&self) -> Result<BypassTable, MapError> {
        let data = MapData::from_fd(self.bypass.try_clone().map_err(|e| MapError::SyscallError(syscall("dup", e)))?)?;
        Ok(BypassTable { map: HashMap::try_from(Map::HashMap(data))? })
    }
}

/// Flows the program drops in the kernel: user space has seen enough of them.
pub struct BypassTable {
    map: HashMap<MapData, [u8; FLOW_KEY_BYTES], [u64; 3]>,
}

impl BypassTable {
    /// Starts dropping the flow (both directions) in the kernel.
    pub fn insert(&mut self, key: &SensorFlowKey) -> Result<(), MapError> {
        self.map.insert(key.to_bytes(), [0; 3], 0)
    }

    /// What the kernel dropped of the flow so far, if it is in the table.
    pub fn get(&self, key: &SensorFlowKey) -> Option<SensorFlowValue> {
        self.map.get(&key.to_bytes(), 0).ok().map(SensorFlowValue::from_array)
    }

    /// Stops dropping the flow; returns what the kernel dropped of it.
    pub fn remove(&mut self, key: &SensorFlowKey) -> Option<SensorFlowValue> {
        let value = self.get(key);
        self.map.remove(&key.to_bytes()).ok().and(value)
    }
}

fn syscall(call: &'static str, io_error: std::io::Error) -> aya::sys::SyscallError {
    aya::sys::SyscallError { call, io_error }
}

fn map_fd(ebpf: &Ebpf, name: &str) -> Result<OwnedFd, MapError> {
    let data = match ebpf.map(name) {
        Some(Map::XskMap(data) | Map::HashMap(data)) => data,
        _ => return Err(MapError::InvalidName { name: name.into() }),
    };
    data.fd().as_fd().try_clone_to_owned().map_err(|e| MapError::SyscallError(syscall("dup", e)))
}

/// Puts the configured networks into the LPM tries; the rule id is the entry's index.
fn fill_ignored(ebpf: &mut Ebpf, ignore: &[IpNet]) -> Result<(), String> {
    let v4 = ignore.iter().filter(|n| matches!(n, IpNet::V4(_))).count();
    let v6 = ignore.len() - v4;
    if v4 > MAX_IGNORED_CIDRS_V4 as usize || v6 > MAX_IGNORED_CIDRS_V6 as usize {
        return Err(format!("{v4} IPv4 and {v6} IPv6 networks to ignore: at most {MAX_IGNORED_CIDRS_V4} of each fit"));
    }
    let mut trie_v4 = LpmTrie::<_, [u8; 4], u32>::try_from(ebpf.map_mut(MAP_IGNORED_V4).ok_or("no ignored_v4 map")?)
        .map_err(|e| e.to_string())?;
    for (rule, net) in ignore.iter().enumerate() {
        if let IpNet::V4(n) = net
            && let Some(k) = SensorLpmV4Key::new(n.network(), n.prefix_len())
        {
            trie_v4.insert(&Key::new(k.prefixlen, k.addr), rule as u32, 0).map_err(|e| format!("{net}: {e}"))?;
        }
    }
    let mut trie_v6 = LpmTrie::<_, [u8; 16], u32>::try_from(ebpf.map_mut(MAP_IGNORED_V6).ok_or("no ignored_v6 map")?)
        .map_err(|e| e.to_string())?;
    for (rule, net) in ignore.iter().enumerate() {
        if let IpNet::V6(n) = net
            && let Some(k) = SensorLpmV6Key::new(n.network(), n.prefix_len())
        {
            trie_v6.insert(&Key::new(k.prefixlen, k.addr), rule as u32, 0).map_err(|e| format!("{net}: {e}"))?;
        }
    }
    Ok(())
}

/// Removes our own program left on the interface by a process that is gone; refuses to touch
/// anyone else's. Returns the id of the program removed.
fn remove_stale(iface: &str, ifindex: u32) -> Result<Option<u32>, CaptureError> {
    let live = |op, source| CaptureError::Live { iface: iface.into(), op, source };
    let Some(old) = netlink::attached(ifindex).map_err(|e| live("read its XDP state (netlink)", e))? else {
        return Ok(None);
    };
    let name = aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == old.prog_id)
        .and_then(|p| p.name_as_str().map(str::to_owned))
        .unwrap_or_default();
    if name != PROG_NAME {
        return Err(xdp_error(
            iface,
            "attach the XDP program",
            format!(
                "the interface already runs XDP program {} (id {}): remove it first \
                 (`ip link set dev {iface} xdp off`); the sensor does not replace another tool's program",
                if name.is_empty() { "?" } else { &name },
                old.prog_id
            ),
        ));
    }
    match netlink::detach(ifindex, old.generic) {
        Ok(()) => Ok(Some(old.prog_id)),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Err(xdp_error(
            iface,
            "attach the XDP program",
            format!(
                "a running process holds the sensor's XDP program (id {}) on it: is another sensor capturing there?",
                old.prog_id
            ),
        )),
        Err(e) => Err(live("remove the stale XDP program", e)),
    }
}

fn raise_memlock() -> nix::Result<()> {
    use nix::sys::resource::{RLIM_INFINITY, Resource, setrlimit};
    setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY)
}

fn xdp_error(iface: &str, op: &'static str, detail: impl std::fmt::Display) -> CaptureError {
    CaptureError::Xdp { iface: iface.into(), op, detail: detail.to_string() }
}

/// Turns an aya error into a [`CaptureError::Xdp`] with its causes.
fn fail<E: std::error::Error>(iface: &str, op: &'static str) -> impl Fn(E) -> CaptureError {
    move |e| xdp_error(iface, op, error_chain(&e))
}

/// An error with its causes, as one line (aya nests the system error).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
