//! The rows and outputs of a recommender blob on a device (layout in `firmware/README.md`):
//! each row is one user's item history, a little-endian u32 count then that many u32 item ids
//! (oldest first), zero-padded; the history is also the exclusion list. Each output is the top
//! [`TOP_K`] items, best first, as the little-endian bytes of the id (u32) then the score
//! (i32); slots beyond the items found hold id `u32::MAX` and score `i32::MIN`.

use mote_runtime::{Error, Recommendation, Recommender};

/// Items a recommender row gets back (the firmware's `REC_TOP_K`).
pub const TOP_K: usize = 10;

/// Longest history a row may hold (the firmware's `REC_HISTORY`).
pub const MAX_HISTORY: usize = 256;

/// One history as a row of `4 + 4 · width` bytes (viewed as int8), `width >= ids.len()`.
pub fn history_row(ids: &[u32], width: usize) -> Vec<i8> {
    let mut row: Vec<i8> = std::iter::once(ids.len() as u32)
        .chain(ids.iter().copied())
        .flat_map(u32::to_le_bytes)
        .map(|b| b as i8)
        .collect();
    row.resize(4 + 4 * width.max(ids.len()), 0);
    row
}

/// The history a row holds; `None` if it is not one (count beyond the row or [`MAX_HISTORY`]).
pub fn read_history_row(row: &[i8]) -> Option<Vec<u32>> {
    let mut words = row
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]));
    let count = words.next()? as usize;
    if count > MAX_HISTORY {
        return None;
    }
    let ids: Vec<u32> = words.take(count).collect();
    (ids.len() == count).then_some(ids)
}

/// The output bytes of one row's recommendations, as the firmware writes them.
pub fn recommendation_bytes(top: &[Recommendation]) -> Vec<i8> {
    let mut slots = top.iter().map(|r| (r.item, r.score));
    (0..TOP_K)
        .flat_map(|_| {
            let (item, score) = slots.next().unwrap_or((u32::MAX, i32::MIN));
            item.to_le_bytes().into_iter().chain(score.to_le_bytes())
        })
        .map(|b| b as i8)
        .collect()
}

/// The recommendations an output row holds (the filled slots), as `(item id, score)`.
pub fn read_recommendation_bytes(output: &[i8]) -> Vec<(u32, i32)> {
    output
        .chunks_exact(8)
        .map(|c| {
            let b: Vec<u8> = c.iter().map(|&v| v as u8).collect();
            (
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            )
        })
        .filter(|&(item, score)| !(item == u32::MAX && score == i32::MIN))
        .collect()
}

/// What the firmware reports for each row, computed by the host runtime.
pub fn host_outputs(
    recommender: &Recommender<'_>,
    rows: &[Vec<i8>],
) -> Result<Vec<Vec<i8>>, Error> {
    let mut arena = vec![0u8; recommender.arena_len()];
    let mut top = heapless::Vec::<Recommendation, TOP_K>::new();
    rows.iter()
        .map(|row| {
            let history = read_history_row(row).ok_or(Error::InputLength)?;
            recommender.recommend(&history, &history, &mut arena, &mut top)?;
            Ok(recommendation_bytes(&top))
        })
        .collect()
}

/// `count` deterministic histories over the blob's items (fixed-seed pseudo-random, lengths 0
/// to `max_len`, one id the blob lacks now and then), as rows of `max_len` ids.
pub fn history_rows(recommender: &Recommender<'_>, count: usize, max_len: usize) -> Vec<Vec<i8>> {
    let mut state = 0x7265_635f_u64;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n.max(1) as u64) as usize
    };
    let items = recommender.items();
    (0..count)
        .map(|i| {
            let len = if i == 0 { 0 } else { 1 + next(max_len.max(1)) };
            let ids: Vec<u32> = (0..len.min(max_len))
                .map(|k| {
                    if k == 1 && i % 3 == 0 {
                        u32::MAX - 1 // not in the blob: ignored
                    } else {
                        recommender.item_id(next(items)).unwrap_or(0)
                    }
                })
                .collect();
            history_row(&ids, max_len)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_outputs_round_trip() {
        let row = history_row(&[7, 1 << 20], 4);
        assert_eq!(row.len(), 20);
        assert_eq!(read_history_row(&row), Some(vec![7, 1 << 20]));
        assert_eq!(read_history_row(&history_row(&[], 2)), Some(vec![]));
        // A count beyond the row is not a history.
        let mut bad = row.clone();
        bad[0] = 9;
        assert_eq!(read_history_row(&bad), None);
        let top = [Recommendation { item: 3, score: -5 }];
        let bytes = recommendation_bytes(&top);
        assert_eq!(bytes.len(), 8 * TOP_K);
        assert_eq!(read_recommendation_bytes(&bytes), vec![(3, -5)]);
    }
}
