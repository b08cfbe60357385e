//! Decoding arbitrary bytes never panics, and whatever decodes re-encodes to a
//! PDU that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smpp_codec::{check, decode, DeliveryReceipt, PduBody};

fuzz_target!(|data: &[u8]| {
    let _ = check(data, 65_536);
    if let Ok(pdu) = decode(data) {
        let bytes = pdu.to_bytes();
        let again = decode(&bytes).expect("re-encoded PDU decodes");
        assert_eq!(again, pdu);
        if let PduBody::DeliverSm(d) = &pdu.body {
            let _ = DeliveryReceipt::from_deliver_sm(d);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = DeliveryReceipt::parse(s);
    }
});
