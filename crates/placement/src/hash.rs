//! The one hash placement uses, fixed across builds, platforms and versions: FNV-1a over the
//! bytes, finished with SplitMix64's mixer. `std`'s `DefaultHasher` is unspecified and may
//! change between Rust releases; a change here would move homes between controllers of two
//! versions during a rolling upgrade, so the values are pinned by a test.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The key of a text (an action's fully qualified name, a revision key, an invoker id).
pub fn key(text: &str) -> u64 {
    finish(fnv1a(FNV_OFFSET, text.as_bytes()))
}

/// The key of a declared file, as an invoker's file cache reports it: `namespace/name`
/// (a namespace holds no `/`, so the pair is unambiguous).
pub fn file_key(namespace: &str, name: &str) -> u64 {
    let state = fnv1a(FNV_OFFSET, namespace.as_bytes());
    let state = fnv1a(state, b"/");
    finish(fnv1a(state, name.as_bytes()))
}

/// The rendezvous score of an invoker for an action: the higher, the earlier in the action's
/// order. FNV-1a alone mixes poorly; the finisher makes every output bit depend on every
/// input bit, so the orders of different actions are independent.
pub(crate) fn score(action: u64, invoker: u64) -> u64 {
    finish(action ^ invoker)
}

fn fnv1a(mut state: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        state ^= u64::from(byte);
        state = state.wrapping_mul(FNV_PRIME);
    }
    state
}

/// SplitMix64's finisher (Steele, Lea and Flood, 2014): a bijection with full avalanche.
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
