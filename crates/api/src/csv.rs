//! A streaming CSV reader (RFC 4180: quoted fields, doubled quotes, CRLF or LF) that takes the
//! upload chunk by chunk and yields whole records, holding at most one record in memory.
//! The delimiter is `,` or `;` (spreadsheets in Czech write `;`), chosen from the header line.

/// The longest record accepted, so one broken quote cannot swallow the whole upload.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvError {
    RecordTooLong { row: u64 },
    NotUtf8 { row: u64 },
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RecordTooLong { row } => write!(
                f,
                "row {row} is longer than {MAX_RECORD_BYTES} bytes (an unclosed quote?)"
            ),
            Self::NotUtf8 { row } => write!(f, "row {row} is not UTF-8 text"),
        }
    }
}

#[derive(Default)]
pub struct CsvReader {
    delimiter: Option<u8>,
    field: Vec<u8>,
    record: Vec<Vec<u8>>,
    in_quotes: bool,
    /// The previous byte closed a quote inside a quoted field (a doubled quote if `"` follows).
    quote_seen: bool,
    record_bytes: usize,
    /// Records completed so far (the header is record 0).
    rows: u64,
    pending_cr: bool,
    /// The start of the input until the header line is complete.
    head: Vec<u8>,
}

impl CsvReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; completed records are passed to `out` as (row number, fields).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut impl FnMut(u64, Vec<String>),
    ) -> Result<(), CsvError> {
        if self.delimiter.is_none() {
            // Decided on the header line: held back until it is complete.
            self.head.extend_from_slice(chunk);
            if !self.head.contains(&b'\n') && self.head.len() <= MAX_RECORD_BYTES {
                return Ok(());
            }
            return self.start(out);
        }
        self.process(chunk, out)
    }

    /// Chooses the delimiter from the header line held back, then reads what was held.
    fn start(&mut self, out: &mut impl FnMut(u64, Vec<String>)) -> Result<(), CsvError> {
        let head = std::mem::take(&mut self.head);
        let line = head.split(|b| *b == b'\n').next().unwrap_or(&head);
        let commas = line.iter().filter(|b| **b == b',').count();
        let semis = line.iter().filter(|b| **b == b';').count();
        self.delimiter = Some(if semis > commas { b';' } else { b',' });
        self.process(&head, out)
    }

    fn process(
        &mut self,
        chunk: &[u8],
        out: &mut impl FnMut(u64, Vec<String>),
    ) -> Result<(), CsvError> {
        let delim = self.delimiter.unwrap_or(b',');
        for &b in chunk {
            self.record_bytes += 1;
            if self.record_bytes > MAX_RECORD_BYTES {
                return Err(CsvError::RecordTooLong { row: self.rows });
            }
            if self.in_quotes {
                if self.quote_seen {
                    self.quote_seen = false;
                    if b == b'"' {
                        self.field.push(b'"');
                        continue;
                    }
                    self.in_quotes = false;
                    // Falls through: the byte after the closing quote.
                } else if b == b'"' {
                    self.quote_seen = true;
                    continue;
                } else {
                    self.field.push(b);
                    continue;
                }
            }
            match b {
                b'"' if self.field.is_empty() => self.in_quotes = true,
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    self.pending_cr = false;
                    self.end_record(out)?;
                }
                _ if b == delim => {
                    self.flush_cr();
                    self.end_field();
                }
                _ => {
                    self.flush_cr();
                    self.field.push(b);
                }
            }
        }
        Ok(())
    }

    /// Ends the input: a last record without a line break is passed on too.
    pub fn finish(&mut self, out: &mut impl FnMut(u64, Vec<String>)) -> Result<(), CsvError> {
        if self.delimiter.is_none() {
            self.start(out)?;
        }
        if self.quote_seen {
            self.quote_seen = false;
            self.in_quotes = false;
        }
        if !self.field.is_empty() || !self.record.is_empty() {
            self.end_record(out)?;
        }
        Ok(())
    }

    fn flush_cr(&mut self) {
        if self.pending_cr {
            self.pending_cr = false;
            self.field.push(b'\r');
        }
    }

    fn end_field(&mut self) {
        self.record.push(std::mem::take(&mut self.field));
    }

    fn end_record(&mut self, out: &mut impl FnMut(u64, Vec<String>)) -> Result<(), CsvError> {
        self.end_field();
        let row = self.rows;
        self.rows += 1;
        self.record_bytes = 0;
        let fields = std::mem::take(&mut self.record);
        if fields.len() == 1 && fields[0].is_empty() {
            return Ok(()); // a blank line
        }
        let fields = fields
            .into_iter()
            .map(String::from_utf8)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| CsvError::NotUtf8 { row })?;
        out(row, fields);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str, chunk: usize) -> Vec<(u64, Vec<String>)> {
        let mut r = CsvReader::new();
        let mut got = Vec::new();
        let mut out = |row, f| got.push((row, f));
        for c in input.as_bytes().chunks(chunk) {
            r.feed(c, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        got
    }

    fn check(input: &str, expected: &[&[&str]]) {
        for chunk in [1, 2, 3, 1000] {
            let got: Vec<Vec<String>> = parse(input, chunk).into_iter().map(|(_, f)| f).collect();
            assert_eq!(got, expected, "chunks of {chunk}: {input:?}");
        }
    }

    #[test]
    fn records_in_any_chunking() {
        check(
            "number,name\n+420777,Jan\n",
            &[&["number", "name"], &["+420777", "Jan"]],
        );
        check(
            "a;b\r\n1;\"x;\"\"y\"\"\"\r\n",
            &[&["a", "b"], &["1", "x;\"y\""]],
        );
        check(
            "a,b\n\"multi\nline\",2",
            &[&["a", "b"], &["multi\nline", "2"]],
        );
        check("a\n\n1\n", &[&["a"], &["1"]]);
        check("Jméno,č\nŽofie,1\n", &[&["Jméno", "č"], &["Žofie", "1"]]);
    }

    #[test]
    fn row_numbers_count_blank_lines() {
        let rows: Vec<u64> = parse("h\n1\n\n3\n", 1)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(rows, vec![0, 1, 3]);
    }

    #[test]
    fn an_unclosed_quote_is_an_error_not_unbounded_memory() {
        let mut r = CsvReader::new();
        let mut out = |_, _| {};
        let big = format!("h\n\"{}", "x".repeat(MAX_RECORD_BYTES + 1));
        assert_eq!(
            r.feed(big.as_bytes(), &mut out),
            Err(CsvError::RecordTooLong { row: 1 })
        );
    }
}
