//! The two hashes of spaCy's NER: MurmurHash64A for string ids (`StringStore`) and thinc's
//! MurmurHash3 x64_128 of one `u64` key for the HashEmbed rows (reference README §2, §4.1).
//!
//! Both are a few lines of integer arithmetic, written out here so the exact variants (seed 1 for
//! string ids, the 8-byte tail-only path for HashEmbed) are visible and tested against spaCy's
//! values; no crate offers thinc's `uint64` specialisation.

const M64A: u64 = 0xc6a4_a793_5bd1_e995;
const R64A: u32 = 47;

/// Austin Appleby's MurmurHash64A of `data` with `seed` (spaCy hashes strings with seed 1).
pub fn murmurhash64a(data: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M64A);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let mut k = u64::from_le_bytes(word);
        k = k.wrapping_mul(M64A);
        k ^= k >> R64A;
        k = k.wrapping_mul(M64A);
        h ^= k;
        h = h.wrapping_mul(M64A);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u64::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M64A);
    }
    h ^= h >> R64A;
    h = h.wrapping_mul(M64A);
    h ^= h >> R64A;
    h
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// thinc's `MurmurHash3_x86_128_uint64`: MurmurHash3 x64_128 of the 8 little-endian bytes of
/// `key`, returned as the four `u32` words HashEmbed takes its rows from.
pub fn murmurhash3_u64(key: u64, seed: u32) -> [u32; 4] {
    let seed = u64::from(seed);
    let k1 = key
        .wrapping_mul(0x87c3_7b91_1142_53d5)
        .rotate_left(31)
        .wrapping_mul(0x4cf5_ad43_2745_937f);
    let mut h1 = seed ^ k1 ^ 8;
    let mut h2 = seed ^ 8;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    // Truncating casts are the point: the 128 bits are read as four u32 words.
    #[allow(clippy::cast_possible_truncation)]
    [h1 as u32, (h1 >> 32) as u32, h2 as u32, (h2 >> 32) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmurhash64a_matches_spacy_string_ids() {
        assert_eq!(murmurhash64a(b"iran", 1), 11104119483603518588);
        assert_eq!(murmurhash64a(b"I", 1), 4690420944186131903);
        assert_eq!(murmurhash64a(b"ran", 1), 6840958122370687302);
        assert_eq!(murmurhash64a(b"Xxxx", 1), 10887629174180191697);
        assert_eq!(murmurhash64a(b"color", 1), 7045580820573707335);
        // Exactly one block, one block plus a tail, and multi-byte UTF-8 (values from spaCy).
        assert_eq!(murmurhash64a(b"minister", 1), 5661208895191585800);
        assert_eq!(murmurhash64a(b"12345678", 1), 9871996032675327904);
        assert_eq!(
            murmurhash64a(b"international minister", 1),
            3619816498008924506
        );
        assert_eq!(murmurhash64a("Ελλάδα".as_bytes(), 1), 16942286085743375895);
    }

    #[test]
    fn murmurhash3_rows_match_readme() {
        // "iran" NORM rows with seed 8 mod 5000; "Iran" PREFIX/SUFFIX/SHAPE rows.
        let rows = |key: u64, seed: u32, n: u32| murmurhash3_u64(key, seed).map(|w| w % n);
        assert_eq!(
            rows(11104119483603518588, 8, 5000),
            [3110, 4219, 1017, 3829]
        );
        assert_eq!(rows(4690420944186131903, 9, 1000), [814, 826, 776, 461]);
        assert_eq!(rows(6840958122370687302, 10, 2500), [213, 1310, 80, 734]);
        assert_eq!(
            rows(10887629174180191697, 11, 2500),
            [976, 2479, 1156, 1803]
        );
        // Key 0 with seed 8 is all zeros (README §4.1); other seeds are not.
        assert_eq!(murmurhash3_u64(0, 8), [0, 0, 0, 0]);
        assert_ne!(murmurhash3_u64(0, 9), [0, 0, 0, 0]);
    }
}
