//! Privileged end-to-end tests of live capture (`tests/`): they create their own network
//! namespace and veth pair, start the `sensor` binary on one end, send shared captures into the
//! other with tcpreplay, and compare the records with a replay of the same captures.
//!
//! They need root (namespaces, AF_PACKET) and `ip` and `tcpreplay`; without them each test says
//! why it skipped, on stderr, and passes: a machine that cannot run them is not a failure of the
//! code. CI runs as root with both installed (`make setup-test`). Traffic never leaves the
//! namespace, which is deleted when the test ends, pass or fail.

#![forbid(unsafe_code)]
