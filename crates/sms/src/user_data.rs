//! SMPP user data to text: `data_coding` (SMPP v3.4 5.2.19 and the GSM 03.38 coding groups)
//! and the user data header of concatenated messages (3GPP TS 23.040 9.2.3.24).

enum Alphabet {
    Gsm7,
    Latin1,
    Ucs2,
}

/// Decodes user data by `data_coding` (SMPP v3.4 5.2.19 and the GSM 03.38 coding groups).
///
/// GSM-7 is expected unpacked, one septet per octet; data_coding 0 holding octets above 0x7F
/// cannot be septets and is read as Latin-1 instead. 8-bit data is read as Latin-1 too.
pub fn decode_user_data(data_coding: u8, data: &[u8]) -> String {
    let alphabet = match data_coding {
        0x00 if data.iter().all(|b| *b < 0x80) => Alphabet::Gsm7,
        0x08 => Alphabet::Ucs2,
        // General data coding groups: bits 3-2 give the alphabet.
        0x10..=0x3F => match (data_coding >> 2) & 0x03 {
            0 => Alphabet::Gsm7,
            2 => Alphabet::Ucs2,
            _ => Alphabet::Latin1,
        },
        // Data coding / message class group: bit 2 set means 8-bit data.
        0xF0..=0xFF if data_coding & 0x04 == 0 => Alphabet::Gsm7,
        // 0x01 IA5 (ASCII), 0x03 Latin-1, 8-bit data and what we do not know.
        _ => Alphabet::Latin1,
    };
    match alphabet {
        Alphabet::Gsm7 => crate::gsm7_decode(data),
        Alphabet::Ucs2 => crate::ucs2_decode(data),
        Alphabet::Latin1 => data.iter().map(|&b| char::from(b)).collect(),
    }
}

/// One part of a concatenated message, from its user data header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatInfo {
    /// The reference shared by all parts (8 or 16 bits).
    pub reference: u16,
    /// How many parts the message has.
    pub total: u8,
    /// This part's number, from 1.
    pub seq: u8,
}

/// Splits user data that starts with a header (its first octet is the header length) into the
/// concatenation element, if any, and the data after the header. `None` when the header does
/// not fit the data.
pub fn split_udh(data: &[u8]) -> Option<(Option<ConcatInfo>, &[u8])> {
    let (&len, rest) = data.split_first()?;
    let header = rest.get(..usize::from(len))?;
    let body = &rest[usize::from(len)..];
    let mut concat = None;
    let mut ies = header;
    while let [iei, ie_len, tail @ ..] = ies {
        let value = tail.get(..usize::from(*ie_len))?;
        match (*iei, value) {
            (0x00, [reference, total, seq]) => {
                concat = Some(ConcatInfo {
                    reference: u16::from(*reference),
                    total: *total,
                    seq: *seq,
                })
            }
            (0x08, [hi, lo, total, seq]) => {
                concat = Some(ConcatInfo {
                    reference: u16::from_be_bytes([*hi, *lo]),
                    total: *total,
                    seq: *seq,
                })
            }
            _ => {}
        }
        ies = &tail[usize::from(*ie_len)..];
    }
    Some((
        concat.filter(|c| c.total > 0 && c.seq >= 1 && c.seq <= c.total),
        body,
    ))
}

/// Joins the parts of concatenated messages as they arrive, in any order, once each.
///
/// `K` names a message (the sender, the recipient and the reference, say); `M` is what the
/// caller keeps with it (taken from the first part offered). Parts that stop coming are handed
/// back by [`Reassembler::take_expired`] with whatever arrived, so nothing is dropped silently.
#[derive(Debug)]
pub struct Reassembler<K, M> {
    pending: std::collections::HashMap<K, Pending<M>>,
}

#[derive(Debug)]
struct Pending<M> {
    meta: M,
    parts: Vec<Option<Vec<u8>>>,
    started: std::time::Instant,
}

/// A message whose parts are in (all, or all that came before the timeout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined<M> {
    pub meta: M,
    /// The parts' user data, in order, without their headers.
    pub data: Vec<u8>,
    /// Parts that never came.
    pub missing: usize,
}

impl<K: std::hash::Hash + Eq + Clone, M> Default for Reassembler<K, M> {
    fn default() -> Self {
        Self {
            pending: std::collections::HashMap::new(),
        }
    }
}

impl<K: std::hash::Hash + Eq + Clone, M> Reassembler<K, M> {
    /// Adds a part; returns the whole message when this was the last missing part. A part seen
    /// before is ignored; `meta` is made only for the first part of a message.
    pub fn offer(
        &mut self,
        key: K,
        info: ConcatInfo,
        data: &[u8],
        meta: impl FnOnce() -> M,
    ) -> Option<Joined<M>> {
        let total = usize::from(info.total.max(1));
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            meta: meta(),
            parts: vec![None; total],
            started: std::time::Instant::now(),
        });
        if let Some(slot) = entry.parts.get_mut(usize::from(info.seq).saturating_sub(1)) {
            if slot.is_none() {
                *slot = Some(data.to_vec());
            }
        }
        if entry.parts.iter().all(Option::is_some) {
            self.pending.remove(&key).map(join)
        } else {
            None
        }
    }

    /// The metadata of a message still waiting for parts.
    pub fn meta_mut(&mut self, key: &K) -> Option<&mut M> {
        self.pending.get_mut(key).map(|p| &mut p.meta)
    }

    /// Removes and returns the messages that have waited `timeout` or longer.
    pub fn take_expired(&mut self, timeout: std::time::Duration) -> Vec<Joined<M>> {
        let keys: Vec<K> = self
            .pending
            .iter()
            .filter(|(_, p)| p.started.elapsed() >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter()
            .filter_map(|k| self.pending.remove(k))
            .map(join)
            .collect()
    }

    /// How many messages are waiting for parts.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

fn join<M>(p: Pending<M>) -> Joined<M> {
    let missing = p.parts.iter().filter(|x| x.is_none()).count();
    Joined {
        meta: p.meta,
        data: p.parts.into_iter().flatten().flatten().collect(),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_by_data_coding() {
        let check = |dc: u8, data: &[u8], expected: &str| {
            assert_eq!(
                decode_user_data(dc, data),
                expected,
                "data_coding {dc:#04x}"
            );
        };
        check(0x00, b"STOP", "STOP");
        check(0x00, &[0x00, 0x1B, 0x65, 0x04], "@€è");
        check(0x00, &[b'c', 0xE9], "cé");
        check(0x01, b"Hi", "Hi");
        check(0x03, &[0x50, 0xE8, 0xED], "Pèí");
        check(
            0x08,
            &crate::ucs2_encode("Příliš žluťoučký kůň"),
            "Příliš žluťoučký kůň",
        );
        check(0x18, &crate::ucs2_encode("ř"), "ř");
        check(0xF0, b"ok", "ok");
        check(0xF4, &[0xE9], "é");
    }

    #[test]
    fn reads_concatenation_headers() {
        let data = [5, 0x00, 3, 0x2A, 3, 2, b'h', b'i'];
        let (c, body) = split_udh(&data).unwrap();
        assert_eq!(
            c,
            Some(ConcatInfo {
                reference: 0x2A,
                total: 3,
                seq: 2
            })
        );
        assert_eq!(body, b"hi");
        let data = [6, 0x08, 4, 0x12, 0x34, 2, 1, b'x'];
        let (c, body) = split_udh(&data).unwrap();
        assert_eq!(
            c,
            Some(ConcatInfo {
                reference: 0x1234,
                total: 2,
                seq: 1
            })
        );
        assert_eq!(body, b"x");
        // A port-addressing element only, then a header longer than the data.
        assert_eq!(
            split_udh(&[4, 0x05, 2, 0, 1, b'y']).unwrap(),
            (None, &b"y"[..])
        );
        assert_eq!(split_udh(&[9, 0x00, 3]), None);
        assert_eq!(split_udh(&[]), None);
        // Part 0 or part beyond the total is not a concatenation.
        assert_eq!(split_udh(&[5, 0x00, 3, 1, 2, 3]).unwrap().0, None);
    }

    #[test]
    fn parts_join_in_order_whatever_order_they_come_in() {
        let mut r: Reassembler<u16, &str> = Reassembler::default();
        let info = |seq| ConcatInfo {
            reference: 9,
            total: 3,
            seq,
        };
        assert_eq!(r.offer(9, info(3), b"c", || "first"), None);
        assert_eq!(r.offer(9, info(1), b"a", || "second"), None);
        assert_eq!(
            r.offer(9, info(1), b"x", || "dup"),
            None,
            "a repeated part changes nothing"
        );
        let joined = r.offer(9, info(2), b"b", || "third").unwrap();
        assert_eq!(
            joined,
            Joined {
                meta: "first",
                data: b"abc".to_vec(),
                missing: 0
            }
        );
        assert!(r.is_empty());
    }

    #[test]
    fn incomplete_messages_come_back_after_the_timeout() {
        let mut r: Reassembler<u16, ()> = Reassembler::default();
        let info = ConcatInfo {
            reference: 1,
            total: 2,
            seq: 2,
        };
        assert_eq!(r.offer(1, info, b"tail", || ()), None);
        assert!(r
            .take_expired(std::time::Duration::from_secs(60))
            .is_empty());
        let expired = r.take_expired(std::time::Duration::ZERO);
        assert_eq!(
            expired,
            vec![Joined {
                meta: (),
                data: b"tail".to_vec(),
                missing: 1
            }]
        );
        assert_eq!(r.len(), 0);
    }
}
