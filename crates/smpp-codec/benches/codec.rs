//! Encode and decode throughput of `submit_sm` and a `deliver_sm` delivery receipt.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smpp_codec::*;

fn submit_sm() -> Pdu {
    Pdu::new(
        42,
        PduBody::SubmitSm(SubmitSm {
            source_addr_ton: 5,
            source_addr: "ApiSendSms".try_into().unwrap(),
            dest_addr_ton: 1,
            dest_addr_npi: 1,
            destination_addr: "420777123456".try_into().unwrap(),
            registered_delivery: registered_delivery::ON_FINAL,
            short_message: ShortMessage::new(
                &b"Your verification code is 123456. It expires in 10 minutes."[..],
            )
            .unwrap(),
            tlvs: vec![Tlv::Other {
                tag: 0x1501,
                value: OctetString::new(&b"01J9Z6K3M4N5P6Q7R8S9T0V1W2"[..]).unwrap(),
            }],
            ..Default::default()
        }),
    )
}

fn receipt() -> Pdu {
    let r = DeliveryReceipt::parse(
        "id:0123456789 sub:001 dlvrd:001 submit date:2311291200 done date:2311291201 stat:DELIVRD err:000 text:Your verification",
    )
    .unwrap();
    Pdu::new(
        7,
        PduBody::DeliverSm(DeliverSm {
            source_addr_ton: 1,
            source_addr_npi: 1,
            source_addr: "420777123456".try_into().unwrap(),
            destination_addr: "ApiSendSms".try_into().unwrap(),
            esm_class: esm_class::DELIVERY_RECEIPT,
            short_message: ShortMessage::new(r.to_string().into_bytes()).unwrap(),
            tlvs: r.tlvs(),
            ..Default::default()
        }),
    )
}

fn bench(c: &mut Criterion) {
    for (name, pdu) in [
        ("submit_sm", submit_sm()),
        ("deliver_sm_receipt", receipt()),
    ] {
        let bytes = pdu.to_bytes();
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(1));
        let mut buf = Vec::with_capacity(512);
        g.bench_function("encode", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&pdu).encode(&mut buf);
                black_box(buf.len())
            })
        });
        g.bench_function("decode", |b| b.iter(|| decode(black_box(&bytes)).unwrap()));
        g.finish();
    }
    let text = "id:0123456789 sub:001 dlvrd:001 submit date:2311291200 done date:2311291201 stat:DELIVRD err:000 text:Your verification";
    c.bench_function("receipt_parse", |b| {
        b.iter(|| DeliveryReceipt::parse(black_box(text)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
