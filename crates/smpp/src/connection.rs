//! One SMPP stream: framing of whole PDUs over any `AsyncRead + AsyncWrite`.

use std::io;

use bytes::{Buf, BytesMut};
use smpp_codec::{DecodeError, FrameError, Pdu};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

/// Default maximum `command_length` accepted: 64 KiB covers a 64 KiB `message_payload`.
pub const DEFAULT_MAX_PDU_LEN: u32 = 70_000;

/// Why reading or writing a PDU failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The stream failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The stream cannot be framed (length below 16 or above the maximum). Fatal:
    /// close the connection. `sequence_number` is given when the header was buffered.
    #[error("{error}")]
    Frame {
        /// The framing failure.
        error: FrameError,
        /// Sequence number of the offending PDU, if its header was already buffered.
        sequence_number: Option<u32>,
    },
    /// The peer closed the stream in the middle of a PDU.
    #[error("connection closed in the middle of a PDU")]
    ResetByPeer,
    /// A whole PDU was received but could not be decoded. **Not fatal**: the frame has
    /// been consumed and the connection is still usable; answer `generic_nack` with
    /// [`DecodeError::status`] and the sequence number it carries.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
}

impl ConnError {
    /// True when the connection must be closed; false for [`ConnError::Malformed`].
    pub fn is_fatal(&self) -> bool {
        !matches!(self, ConnError::Malformed(_))
    }
}

/// Owns a stream's read buffer and buffered writer.
///
/// `read_pdu` is cancel-safe: it can be a branch of `tokio::select!` without losing data.
/// `write_pdu` is not; do not race it.
#[derive(Debug)]
pub struct Connection<S> {
    stream: BufWriter<S>,
    buffer: BytesMut,
    max_pdu_len: u32,
    scratch: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps a stream, accepting PDUs up to `max_pdu_len` octets.
    pub fn new(stream: S, max_pdu_len: u32) -> Self {
        Connection {
            stream: BufWriter::new(stream),
            buffer: BytesMut::with_capacity(4096),
            max_pdu_len,
            scratch: Vec::with_capacity(512),
        }
    }

    /// Reads the next PDU. `Ok(None)` means the peer closed the stream between PDUs.
    pub async fn read_pdu(&mut self) -> Result<Option<Pdu>, ConnError> {
        loop {
            if let Some(result) = self.parse_pdu() {
                return result.map(Some);
            }
            if 0 == self.stream.get_mut().read_buf(&mut self.buffer).await? {
                return if self.buffer.is_empty() {
                    Ok(None)
                } else {
                    Err(ConnError::ResetByPeer)
                };
            }
        }
    }

    fn parse_pdu(&mut self) -> Option<Result<Pdu, ConnError>> {
        match smpp_codec::check(&self.buffer, self.max_pdu_len) {
            Ok(None) => None,
            Ok(Some(len)) => {
                let result = smpp_codec::decode(&self.buffer[..len]).map_err(ConnError::from);
                self.buffer.advance(len);
                Some(result)
            }
            Err(error) => {
                let sequence_number = self
                    .buffer
                    .get(12..16)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                Some(Err(ConnError::Frame {
                    error,
                    sequence_number,
                }))
            }
        }
    }

    /// Encodes and writes one PDU, then flushes.
    pub async fn write_pdu(&mut self, pdu: &Pdu) -> Result<(), ConnError> {
        self.queue_pdu(pdu).await?;
        self.flush().await
    }

    /// Encodes one PDU into the write buffer without flushing it (a full buffer is written
    /// out), so that a session with several PDUs to send at once sends them with one system
    /// call. The caller flushes before it waits for anything: see [`Connection::has_unflushed`].
    pub async fn queue_pdu(&mut self, pdu: &Pdu) -> Result<(), ConnError> {
        self.scratch.clear();
        pdu.encode(&mut self.scratch);
        self.stream.write_all(&self.scratch).await?;
        Ok(())
    }

    /// Whether queued PDUs wait in the write buffer.
    pub fn has_unflushed(&self) -> bool {
        !self.stream.buffer().is_empty()
    }

    /// Writes out the queued PDUs.
    pub async fn flush(&mut self) -> Result<(), ConnError> {
        self.stream.flush().await?;
        Ok(())
    }

    /// Shuts the write side down (sends FIN on TCP).
    pub async fn shutdown(&mut self) -> Result<(), ConnError> {
        self.stream.shutdown().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp_codec::{CommandStatus, PduBody};

    #[tokio::test]
    async fn reads_pdus_split_across_writes_and_reports_malformed_ones() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut conn = Connection::new(a, 1024);
        let enquire = Pdu::new(7, PduBody::EnquireLink).to_bytes();
        b.write_all(&enquire[..5]).await.unwrap();
        let writer = tokio::spawn(async move {
            tokio::task::yield_now().await;
            b.write_all(&enquire[5..]).await.unwrap();
            // unknown command id 0x99, sequence 8
            b.write_all(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 8])
                .await
                .unwrap();
            b
        });
        let pdu = conn.read_pdu().await.unwrap().unwrap();
        assert_eq!(pdu.sequence_number, 7);
        match conn.read_pdu().await {
            Err(ConnError::Malformed(e)) => {
                assert_eq!(e.sequence_number, Some(8));
                assert_eq!(e.status(), CommandStatus::ESME_RINVCMDID);
            }
            other => panic!("{other:?}"),
        }
        drop(writer.await.unwrap());
        assert!(conn.read_pdu().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn over_long_pdu_is_fatal() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut conn = Connection::new(a, 100);
        b.write_all(&[0, 0, 1, 0]).await.unwrap();
        let e = conn.read_pdu().await.unwrap_err();
        assert!(e.is_fatal());
        assert!(matches!(
            e,
            ConnError::Frame {
                error: FrameError::TooLong { len: 256, max: 100 },
                ..
            }
        ));
    }

    #[tokio::test]
    async fn queued_pdus_leave_together_when_flushed() {
        let (a, b) = tokio::io::duplex(4096);
        let mut conn = Connection::new(a, 1024);
        let mut peer = Connection::new(b, 1024);
        assert!(!conn.has_unflushed());
        conn.queue_pdu(&Pdu::new(1, PduBody::EnquireLink))
            .await
            .unwrap();
        conn.queue_pdu(&Pdu::new(2, PduBody::EnquireLinkResp))
            .await
            .unwrap();
        assert!(conn.has_unflushed());
        // Nothing reached the peer yet.
        let early = tokio::time::timeout(std::time::Duration::from_millis(50), peer.read_pdu());
        assert!(early.await.is_err(), "a queued PDU left before the flush");
        conn.flush().await.unwrap();
        assert!(!conn.has_unflushed());
        assert_eq!(peer.read_pdu().await.unwrap().unwrap().sequence_number, 1);
        assert_eq!(peer.read_pdu().await.unwrap().unwrap().sequence_number, 2);
        // write_pdu flushes by itself.
        conn.write_pdu(&Pdu::new(3, PduBody::EnquireLink))
            .await
            .unwrap();
        assert!(!conn.has_unflushed());
        assert_eq!(peer.read_pdu().await.unwrap().unwrap().sequence_number, 3);
    }
}
