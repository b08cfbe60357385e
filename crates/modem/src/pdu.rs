//! SMS transfer protocol data units (3GPP TS 23.040 §9.2.2) as modems speak them in PDU mode
//! (3GPP TS 27.005): SMS-SUBMIT to send, SMS-DELIVER and SMS-STATUS-REPORT received.
//! No I/O: bytes in, values out, and back.
//!
//! A PDU as a modem shows it starts with the service centre address (`00`: the SIM's
//! default); `AT+CMGS=<n>` counts only the octets after it (the TPDU).

use sms::{gsm7_decode, pack_septets_with_fill, ucs2_decode, unpack_septets};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("the PDU ends early (at octet {0})")]
    Truncated(usize),
    #[error("not hexadecimal: {0:?}")]
    NotHex(String),
    #[error("the PDU is not an {expected} (TP-MTI {mti})")]
    WrongType { expected: &'static str, mti: u8 },
    #[error("address {0:?} cannot be sent (digits, '+', '*', '#' only; at most 20)")]
    BadAddress(String),
    #[error("user data of {0} octets does not fit one PDU (140 at most)")]
    TooLong(usize),
}

/// The alphabet of user data (TP-DCS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    Gsm7,
    EightBit,
    Ucs2,
}

impl Alphabet {
    /// Reads TP-DCS (3GPP TS 23.038 §4): the general coding groups and the message class group.
    pub fn from_dcs(dcs: u8) -> Alphabet {
        let bits = match dcs >> 4 {
            0x0..=0x7 => (dcs >> 2) & 0x03,
            0xF => {
                if dcs & 0x04 == 0 {
                    0
                } else {
                    1
                }
            }
            // Message waiting groups: GSM 7 (0xC, 0xD) or UCS-2 (0xE).
            0xE => 2,
            _ => 0,
        };
        match bits {
            0 => Alphabet::Gsm7,
            2 => Alphabet::Ucs2,
            _ => Alphabet::EightBit,
        }
    }

    pub fn dcs(self) -> u8 {
        match self {
            Alphabet::Gsm7 => 0x00,
            Alphabet::EightBit => 0x04,
            Alphabet::Ucs2 => 0x08,
        }
    }
}

/// User data: an optional header (with its length octet) and the payload — unpacked septets
/// for GSM 7, octets otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserData {
    pub alphabet: Alphabet,
    pub header: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

impl UserData {
    pub fn text(&self) -> String {
        match self.alphabet {
            Alphabet::Gsm7 => gsm7_decode(&self.payload),
            Alphabet::Ucs2 => ucs2_decode(&self.payload),
            Alphabet::EightBit => self.payload.iter().map(|&b| char::from(b)).collect(),
        }
    }

    /// The concatenation element of the header, if any.
    pub fn concat(&self) -> Option<sms::ConcatInfo> {
        let h = self.header.as_ref()?;
        let mut with_body = h.clone();
        with_body.push(0);
        sms::split_udh(&with_body).and_then(|(c, _)| c)
    }

    /// TP-UDL and TP-UD.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let header = self.header.as_deref().unwrap_or_default();
        match self.alphabet {
            Alphabet::Gsm7 => {
                let header_bits = header.len() * 8;
                let fill = (7 - header_bits % 7) % 7;
                let packed = pack_septets_with_fill(&self.payload, fill as u8);
                let udl = (header_bits + fill) / 7 + self.payload.len();
                let octets = header.len() + packed.len();
                if octets > 140 || udl > 160 {
                    return Err(PduError::TooLong(octets));
                }
                out.push(udl as u8);
                out.extend_from_slice(header);
                out.extend_from_slice(&packed);
            }
            Alphabet::Ucs2 | Alphabet::EightBit => {
                let octets = header.len() + self.payload.len();
                if octets > 140 {
                    return Err(PduError::TooLong(octets));
                }
                out.push(octets as u8);
                out.extend_from_slice(header);
                out.extend_from_slice(&self.payload);
            }
        }
        Ok(())
    }

    fn decode(r: &mut Reader<'_>, dcs: u8, has_header: bool) -> Result<UserData, PduError> {
        let alphabet = Alphabet::from_dcs(dcs);
        let udl = usize::from(r.u8()?);
        let rest = r.rest();
        let (header, header_len) = if has_header {
            let hl = usize::from(*rest.first().ok_or(PduError::Truncated(r.pos))?);
            let h = rest.get(..=hl).ok_or(PduError::Truncated(r.pos + hl))?;
            (Some(h.to_vec()), hl + 1)
        } else {
            (None, 0)
        };
        let payload = match alphabet {
            Alphabet::Gsm7 => {
                let header_bits = header_len * 8;
                let fill = (7 - header_bits % 7) % 7;
                let skip_septets = (header_bits + fill) / 7;
                let count = udl.saturating_sub(skip_septets);
                let packed = rest.get(header_len..).unwrap_or_default();
                if packed.len() * 8 < fill + count * 7 {
                    return Err(PduError::Truncated(r.pos + rest.len()));
                }
                unpack_septets(packed, count, fill as u8)
            }
            Alphabet::Ucs2 | Alphabet::EightBit => rest
                .get(header_len..udl)
                .ok_or(PduError::Truncated(r.pos + udl))?
                .to_vec(),
        };
        Ok(UserData {
            alphabet,
            header,
            payload,
        })
    }
}

/// A service centre time stamp (TP-SCTS), as the network gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u8,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in quarters of an hour.
    pub quarters: i8,
}

impl Timestamp {
    fn decode(r: &mut Reader<'_>) -> Result<Timestamp, PduError> {
        let b = r.take(7)?;
        let d = |x: u8| (x & 0x0F) * 10 + (x >> 4);
        let tz = b[6];
        let quarters = ((tz & 0x07) * 10 + (tz >> 4)) as i8;
        Ok(Timestamp {
            year: d(b[0]),
            month: d(b[1]),
            day: d(b[2]),
            hour: d(b[3]),
            minute: d(b[4]),
            second: d(b[5]),
            quarters: if tz & 0x08 != 0 { -quarters } else { quarters },
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let e = |x: u8| ((x % 10) << 4) | (x / 10);
        out.extend_from_slice(&[
            e(self.year),
            e(self.month),
            e(self.day),
            e(self.hour),
            e(self.minute),
            e(self.second),
        ]);
        let q = self.quarters.unsigned_abs();
        let sign = if self.quarters < 0 { 0x08 } else { 0 };
        out.push(((q % 10) << 4) | (q / 10) | sign);
    }

    /// From Unix seconds, in UTC.
    pub fn from_unix(secs: i64) -> Timestamp {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Timestamp {
            year: (y % 100) as u8,
            month: m as u8,
            day: d as u8,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
            quarters: 0,
        }
    }

    /// Unix seconds (years 00-99 read as 2000-2099).
    pub fn to_unix(&self) -> i64 {
        let days = days_from_civil(
            2000 + i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.quarters) * 15 * 60
    }
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// An SMS-SUBMIT: a message the modem sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    /// TP-MR; modems usually replace it with their own counter.
    pub reference: u8,
    /// E.164 with '+' (international) or digits as dialled (unknown type).
    pub destination: String,
    /// TP-SRR: ask the network for a status report.
    pub status_report: bool,
    /// TP-VP in the relative format (0xAA: 4 days); `None` for no validity period.
    pub validity: Option<u8>,
    pub user_data: UserData,
}

impl Submit {
    /// The TPDU (without the service centre address).
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(160);
        let mut first = 0x01;
        if self.validity.is_some() {
            first |= 0x10;
        }
        if self.status_report {
            first |= 0x20;
        }
        if self.user_data.header.is_some() {
            first |= 0x40;
        }
        out.push(first);
        out.push(self.reference);
        encode_address(&self.destination, &mut out)?;
        out.push(0x00);
        out.push(self.user_data.alphabet.dcs());
        if let Some(vp) = self.validity {
            out.push(vp);
        }
        self.user_data.encode(&mut out)?;
        Ok(out)
    }

    /// What `AT+CMGS` takes: the hexadecimal PDU with the given service centre (`None`: the
    /// SIM's default, `00`) and the length to announce (the TPDU's octets).
    pub fn to_modem(&self, smsc: Option<&str>) -> Result<(String, usize), PduError> {
        let tpdu = self.encode()?;
        let mut pdu = Vec::with_capacity(tpdu.len() + 12);
        match smsc {
            None => pdu.push(0x00),
            Some(number) => {
                let mut a = Vec::new();
                encode_address(number, &mut a)?;
                // The SMSC address length counts octets (type included), not digits.
                pdu.push((a.len() - 1) as u8);
                pdu.extend_from_slice(&a[1..]);
            }
        }
        pdu.extend_from_slice(&tpdu);
        Ok((hex_upper(&pdu), tpdu.len()))
    }

    /// Reads a TPDU (without the service centre address).
    pub fn decode(tpdu: &[u8]) -> Result<Submit, PduError> {
        let mut r = Reader {
            bytes: tpdu,
            pos: 0,
        };
        let first = r.u8()?;
        if first & 0x03 != 0x01 {
            return Err(PduError::WrongType {
                expected: "SMS-SUBMIT",
                mti: first & 0x03,
            });
        }
        let reference = r.u8()?;
        let destination = decode_address(&mut r)?;
        let _pid = r.u8()?;
        let dcs = r.u8()?;
        let validity = match (first >> 3) & 0x03 {
            0 => None,
            2 => Some(r.u8()?),
            // Enhanced and absolute formats: 7 octets, kept only as "present".
            _ => {
                r.take(7)?;
                Some(0xFF)
            }
        };
        let user_data = UserData::decode(&mut r, dcs, first & 0x40 != 0)?;
        Ok(Submit {
            reference,
            destination,
            status_report: first & 0x20 != 0,
            validity,
            user_data,
        })
    }
}

/// An SMS-DELIVER: a message the modem received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    pub originator: String,
    pub timestamp: Timestamp,
    pub user_data: UserData,
}

impl Deliver {
    pub fn decode(tpdu: &[u8]) -> Result<Deliver, PduError> {
        let mut r = Reader {
            bytes: tpdu,
            pos: 0,
        };
        let first = r.u8()?;
        if first & 0x03 != 0x00 {
            return Err(PduError::WrongType {
                expected: "SMS-DELIVER",
                mti: first & 0x03,
            });
        }
        let originator = decode_address(&mut r)?;
        let _pid = r.u8()?;
        let dcs = r.u8()?;
        let timestamp = Timestamp::decode(&mut r)?;
        let user_data = UserData::decode(&mut r, dcs, first & 0x40 != 0)?;
        Ok(Deliver {
            originator,
            timestamp,
            user_data,
        })
    }

    /// The TPDU (without the service centre address).
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(160);
        // TP-MMS set: no more messages waiting.
        let mut first = 0x04;
        if self.user_data.header.is_some() {
            first |= 0x40;
        }
        out.push(first);
        encode_address(&self.originator, &mut out)?;
        out.push(0x00);
        out.push(self.user_data.alphabet.dcs());
        self.timestamp.encode(&mut out);
        self.user_data.encode(&mut out)?;
        Ok(out)
    }
}

/// An SMS-STATUS-REPORT: what became of a message sent with TP-SRR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// TP-MR of the SMS-SUBMIT it reports on (as `+CMGS` answered it).
    pub reference: u8,
    pub recipient: String,
    pub submitted: Timestamp,
    pub discharged: Timestamp,
    /// TP-ST (3GPP TS 23.040 §9.2.3.15).
    pub status: u8,
}

/// What a TP-ST value means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The network is still trying.
    Pending,
    /// The network gave up.
    Failed,
}

impl StatusReport {
    pub fn outcome(&self) -> Outcome {
        match self.status {
            0x00..=0x1F => Outcome::Delivered,
            0x20..=0x3F => Outcome::Pending,
            _ => Outcome::Failed,
        }
    }

    pub fn decode(tpdu: &[u8]) -> Result<StatusReport, PduError> {
        let mut r = Reader {
            bytes: tpdu,
            pos: 0,
        };
        let first = r.u8()?;
        if first & 0x03 != 0x02 {
            return Err(PduError::WrongType {
                expected: "SMS-STATUS-REPORT",
                mti: first & 0x03,
            });
        }
        let reference = r.u8()?;
        let recipient = decode_address(&mut r)?;
        let submitted = Timestamp::decode(&mut r)?;
        let discharged = Timestamp::decode(&mut r)?;
        let status = r.u8()?;
        Ok(StatusReport {
            reference,
            recipient,
            submitted,
            discharged,
            status,
        })
    }

    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mut out = vec![0x06, self.reference];
        encode_address(&self.recipient, &mut out)?;
        self.submitted.encode(&mut out);
        self.discharged.encode(&mut out);
        out.push(self.status);
        Ok(out)
    }
}

/// Splits a PDU as a modem shows it into the service centre address and the TPDU.
pub fn strip_smsc(pdu: &[u8]) -> Result<(Option<String>, &[u8]), PduError> {
    let (&len, rest) = pdu.split_first().ok_or(PduError::Truncated(0))?;
    let len = usize::from(len);
    if len == 0 {
        return Ok((None, rest));
    }
    let sca = rest.get(..len).ok_or(PduError::Truncated(len))?;
    let digits = semi_octets(&sca[1..], (len - 1) * 2);
    let number = if sca[0] & 0x70 == 0x10 {
        format!("+{digits}")
    } else {
        digits
    };
    Ok((Some(number), &rest[len..]))
}

/// Adds the service centre address a modem puts in front of a TPDU (`00`: the default).
pub fn with_default_smsc(tpdu: &[u8]) -> String {
    format!("00{}", hex_upper(tpdu))
}

pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

pub fn from_hex(s: &str) -> Result<Vec<u8>, PduError> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PduError::NotHex(s.chars().take(40).collect()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| PduError::NotHex(s.into())))
        .collect()
}

/// TP-DA / TP-OA / TP-RA: digit count, type of address, swapped semi-octets padded with F.
fn encode_address(number: &str, out: &mut Vec<u8>) -> Result<(), PduError> {
    let (toa, digits) = match number.strip_prefix('+') {
        Some(d) => (0x91, d),
        None => (0x81, number),
    };
    if digits.is_empty()
        || digits.len() > 20
        || !digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
    {
        return Err(PduError::BadAddress(number.into()));
    }
    out.push(digits.len() as u8);
    out.push(toa);
    let nibble = |b: u8| match b {
        b'*' => 0xA,
        b'#' => 0xB,
        d => d - b'0',
    };
    for pair in digits.as_bytes().chunks(2) {
        let lo = nibble(pair[0]);
        let hi = pair.get(1).map_or(0xF, |&b| nibble(b));
        out.push((hi << 4) | lo);
    }
    Ok(())
}

fn semi_octets(bytes: &[u8], digits: usize) -> String {
    let mut s = String::with_capacity(digits);
    for b in bytes {
        for n in [b & 0x0F, b >> 4] {
            if s.len() == digits || n == 0xF {
                break;
            }
            s.push(match n {
                0xA => '*',
                0xB => '#',
                0xC..=0xE => char::from(b'a' + n - 0xC),
                d => char::from(b'0' + d),
            });
        }
    }
    s
}

fn decode_address(r: &mut Reader<'_>) -> Result<String, PduError> {
    let digits = usize::from(r.u8()?);
    let toa = r.u8()?;
    let bytes = r.take(digits.div_ceil(2))?;
    if toa & 0x70 == 0x50 {
        // Alphanumeric: GSM 7 packed in `digits` semi-octets.
        let septets = digits * 4 / 7;
        return Ok(gsm7_decode(&unpack_septets(bytes, septets, 0)));
    }
    let number = semi_octets(bytes, digits);
    Ok(if toa & 0x70 == 0x10 {
        format!("+{number}")
    } else {
        number
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, PduError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(PduError::Truncated(self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        let s = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or(PduError::Truncated(self.pos))?;
        self.pos += n;
        Ok(s)
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos.min(self.bytes.len())..]
    }
}

/// The SMS-SUBMITs for a text: one per part, with concatenation headers (8-bit reference)
/// when it needs more than one, asking for status reports.
pub fn submits_for(
    to: &str,
    text: &str,
    reference: u8,
    max_parts: u32,
) -> Result<Vec<Submit>, SubmitsError> {
    let opts = sms::TextOptions {
        max_parts,
        ..sms::TextOptions::default()
    };
    let analysis = sms::analyse(text, &opts).map_err(SubmitsError::Text)?;
    let alphabet = match analysis.encoding() {
        sms::Encoding::Gsm7 => Alphabet::Gsm7,
        sms::Encoding::Ucs2 => Alphabet::Ucs2,
    };
    Ok(
        sms::split(&analysis, u16::from(reference), sms::ConcatRef::Eight)
            .into_iter()
            .map(|p| Submit {
                reference: 0,
                destination: to.to_owned(),
                status_report: true,
                validity: Some(0xAA),
                user_data: UserData {
                    alphabet,
                    header: p.udh,
                    payload: p.payload,
                },
            })
            .collect(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitsError {
    #[error("the text cannot be sent: {0}")]
    Text(sms::TextError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsm(text: &str) -> UserData {
        UserData {
            alphabet: Alphabet::Gsm7,
            header: None,
            payload: sms::gsm7_encode(text).unwrap(),
        }
    }

    /// Published SMS-SUBMIT PDUs: (PDU as sent with AT+CMGS, length announced, the submit,
    /// the service centre).
    fn check_submit(pdu: &str, length: usize, submit: Submit, smsc: Option<&str>) {
        let (hex, len) = submit.to_modem(smsc).unwrap();
        assert_eq!(hex, pdu);
        assert_eq!(len, length);
        let bytes = from_hex(pdu).unwrap();
        let (sc, tpdu) = strip_smsc(&bytes).unwrap();
        assert_eq!(sc.as_deref(), smsc);
        assert_eq!(Submit::decode(tpdu).unwrap(), submit);
    }

    #[test]
    fn published_sms_submit_examples() {
        // The classic "hellohello" to +46708251358, validity 4 days.
        check_submit(
            "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",
            23,
            Submit {
                reference: 0,
                destination: "+46708251358".into(),
                status_report: false,
                validity: Some(0xAA),
                user_data: gsm("hellohello"),
            },
            None,
        );
        // Nordic Semiconductor's AT+CMGS example: through service centre +448888888. (Its
        // prose says "Testing a SMS messaging over LTE"; the PDU carries it in lower case.)
        check_submit(
            "069144888888F811000C9153481032547600000B20D4F29C9E769F4161D0BC3D07B5CBF379F89C769F416F7B590E62D3CB",
            42,
            Submit {
                reference: 0,
                destination: "+358401234567".into(),
                status_report: false,
                validity: Some(0x0B),
                user_data: gsm("Testing a sms messaging over lte"),
            },
            Some("+448888888"),
        );
        // Neoway's UCS-2 "hello" to a national number, no validity period.
        check_submit(
            "0001000B813124819396F300080A00680065006C006C006F",
            23,
            Submit {
                reference: 0,
                destination: "13421839693".into(),
                status_report: false,
                validity: None,
                user_data: UserData {
                    alphabet: Alphabet::Ucs2,
                    header: None,
                    payload: sms::ucs2_encode("hello"),
                },
            },
            None,
        );
        // "hello" to 1234567 (national), length 17.
        check_submit(
            "0011000781214365F70000AA05E8329BFD06",
            17,
            Submit {
                reference: 0,
                destination: "1234567".into(),
                status_report: false,
                validity: Some(0xAA),
                user_data: gsm("hello"),
            },
            None,
        );
    }

    #[test]
    fn a_published_sms_deliver() {
        let pdu =
            from_hex("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
                .unwrap();
        let (sc, tpdu) = strip_smsc(&pdu).unwrap();
        assert_eq!(sc.as_deref(), Some("+27381000015"));
        let d = Deliver::decode(tpdu).unwrap();
        assert_eq!(d.originator, "27838890001");
        assert_eq!(d.user_data.text(), "hellohello");
        assert_eq!(
            d.timestamp,
            Timestamp {
                year: 99,
                month: 3,
                day: 29,
                hour: 15,
                minute: 16,
                second: 59,
                quarters: 8
            }
        );
    }

    #[test]
    fn concatenated_parts_carry_headers_and_fill_bits() {
        let text = "x".repeat(200);
        let parts = submits_for("+420777000111", &text, 0x42, 10).unwrap();
        assert_eq!(parts.len(), 2);
        for (i, p) in parts.iter().enumerate() {
            let tpdu = p.encode().unwrap();
            // UDHI and SRR and relative validity are set.
            assert_eq!(tpdu[0], 0x01 | 0x10 | 0x20 | 0x40);
            let back = Submit::decode(&tpdu).unwrap();
            assert_eq!(back, *p);
            let c = back.user_data.concat().unwrap();
            assert_eq!((c.reference, c.total, c.seq), (0x42, 2, i as u8 + 1));
        }
        // 153 septets after a 6-octet header with 1 fill bit: UDL 160, 140 octets of user data.
        let tpdu = parts[0].encode().unwrap();
        let udl_at = tpdu.len() - 141;
        assert_eq!(tpdu[udl_at], 160);
        let joined: String = parts.iter().map(|p| p.user_data.text()).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn ucs2_and_extension_characters_round_trip() {
        for text in ["Příliš žluťoučký kůň", "a{b}c€", "😀 emoji"] {
            let parts = submits_for("+420777000111", text, 1, 10).unwrap();
            let joined: String = parts
                .iter()
                .map(|p| {
                    Submit::decode(&p.encode().unwrap())
                        .unwrap()
                        .user_data
                        .text()
                })
                .collect();
            assert_eq!(joined, text);
        }
    }

    #[test]
    fn status_reports_and_delivers_round_trip() {
        let ts = Timestamp::from_unix(1_764_410_000);
        assert_eq!(ts.to_unix(), 1_764_410_000);
        let r = StatusReport {
            reference: 7,
            recipient: "+420777000111".into(),
            submitted: ts,
            discharged: ts,
            status: 0,
        };
        let back = StatusReport::decode(&r.encode().unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.outcome(), Outcome::Delivered);
        for (st, outcome) in [
            (0x00, Outcome::Delivered),
            (0x21, Outcome::Pending),
            (0x41, Outcome::Failed),
            (0x65, Outcome::Failed),
        ] {
            assert_eq!(
                StatusReport {
                    status: st,
                    ..r.clone()
                }
                .outcome(),
                outcome
            );
        }
        let d = Deliver {
            originator: "+420777000111".into(),
            timestamp: Timestamp { quarters: -4, ..ts },
            user_data: gsm("STOP"),
        };
        assert_eq!(Deliver::decode(&d.encode().unwrap()).unwrap(), d);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(from_hex("0G").is_err());
        assert!(from_hex("123").is_err());
        assert!(matches!(
            Submit::decode(&[0x11, 0x00, 0x0B]),
            Err(PduError::Truncated(_))
        ));
        assert!(matches!(
            Deliver::decode(
                &from_hex("0011000B916407281553F80000AA0AE8329BFD4697D9EC37").unwrap()[1..]
            ),
            Err(PduError::WrongType { .. })
        ));
        assert!(Submit {
            reference: 0,
            destination: "+42077x".into(),
            status_report: false,
            validity: None,
            user_data: gsm("x"),
        }
        .encode()
        .is_err());
        // Every prefix of a valid PDU fails cleanly.
        let pdu = from_hex("0011000B916407281553F80000AA0AE8329BFD4697D9EC37").unwrap();
        for n in 0..pdu.len() - 1 {
            let _ = Submit::decode(&pdu[1..=n]);
        }
    }
}
