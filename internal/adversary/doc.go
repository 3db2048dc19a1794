// Package adversary gives tests the powers of the adversary Chaff is built
// against (docs/THREAT-MODEL.md) over a real in-process deployment: an
// embedded JetStream, the API, a CoverNode, readers' installs (package
// client) and journalists' vaults (package journalist).
//
// The adversary
//
//   - records everything on the wire: every HTTP exchange with the API
//     through a recording proxy that every client of the deployment talks
//     to (Proxy, Exchange: bytes, sizes, status, timing), and every message
//     on the NATS bus, JetStream's acknowledgements included (Tap);
//   - controls the cloud: replays, duplicates, reorders, drops, delays and
//     injects messages in every stream, and reads, rewrites, rolls back and
//     deletes entries of every bucket (Cloud);
//   - answers as the API or the CDN: any answer may be replaced or
//     rewritten (Proxy.Intercept), with helpers for hostile dead-drop pages
//     and forged dead drops (stale, forged, repeated, renumbered,
//     huge-epoch, future-dated: DeadDropPage, Forge);
//   - seizes devices: a snapshot of a reader's install or a journalist's
//     vault directory at any moment (bytes, sizes, modes, modification and
//     access times, and the order in which the files were last written:
//     SnapshotDir).
//
// What the adversary does not have: the CoverNode's and the journalists'
// secret keys, the organisation's keys, and a reader's passphrase. A test
// that needs a genuine signature for a hostile purpose (a CoverNode
// identity key that signs a huge epoch) says so and takes it from
// Deployment.Newsroom.
//
// Everything listens on loopback only.
package adversary
