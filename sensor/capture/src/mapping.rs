//! [`Mapping`]: memory shared with the kernel (an AF_PACKET ring, an AF_XDP UMEM), unmapped when
//! dropped. The sources read frames out of it; the safety of each read is argued where it is made.

#![allow(unsafe_code)] // mmap and munmap; each block documents why it holds
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

/// A mapping of `len` bytes at `base`, owned: unmapped on drop.
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// `len` bytes of fresh private memory, faulted in now rather than on first receive.
    pub(crate) fn anonymous(len: usize) -> io::Result<Mapping> {
        Self::map(len, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE, None)
    }

    /// The `len`-byte ring the kernel allocated for socket `fd`, shared with it.
    pub(crate) fn of_socket(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
        Self::map(len, libc::MAP_SHARED, Some(fd))
    }

    fn map(len: usize, flags: libc::c_int, fd: Option<BorrowedFd<'_>>) -> io::Result<Mapping> {
        let fd = fd.map_or(-1, |fd| fd.as_raw_fd());
        // Safety: a new mapping at an address of the kernel's choosing, so no existing memory is
        // touched; for a socket, exactly the ring it allocated. The result is checked below.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, flags, fd, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Mapping { base, len })
    }

    /// The first byte.
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Safety: exactly the mapping made in `map`. Its owners drop what the kernel or their
        // own readers use it through (sockets, rings, borrowed frames) before it.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}
