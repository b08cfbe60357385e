//! How long parsing a recipient takes on the API's hot path, and analysing a text.

use criterion::{criterion_group, criterion_main, Criterion};
use sms::{analyse, split, ConcatRef, Msisdn, TextOptions};
use std::hint::black_box;

fn msisdn(c: &mut Criterion) {
    let mut group = c.benchmark_group("msisdn");
    for input in [
        "+420777123456",
        "+420 777 123 456",
        "777123456",
        "00420777123456",
    ] {
        group.bench_function(format!("parse {input:?}"), |b| {
            b.iter(|| Msisdn::parse(black_box(input), "CZ"))
        });
    }
    // Numbers from thirty countries: exercises libphonenumber's regex cache.
    let mixed = [
        "+420777123456",
        "+421905123456",
        "+447911123456",
        "+12015550123",
        "+4915123456789",
        "+33612345678",
        "+48512345678",
        "+436641234567",
        "+393123456789",
        "+34612345678",
        "+31612345678",
        "+32470123456",
        "+41781234567",
        "+46701234567",
        "+4791234567",
        "+4520123456",
        "+358401234567",
        "+36201234567",
        "+40712345678",
        "+380501234567",
        "+79123456789",
        "+905012345678",
        "+972501234567",
        "+919876543210",
        "+8613812345678",
        "+819012345678",
        "+61412345678",
        "+5511987654321",
        "+525512345678",
        "+27821234567",
    ];
    group.bench_function("parse 30 countries", |b| {
        b.iter(|| {
            for m in mixed {
                let _ = black_box(Msisdn::parse(black_box(m), "CZ"));
            }
        })
    });
    group.bench_function("from_e164", |b| {
        b.iter(|| Msisdn::from_e164(black_box("+420777123456")))
    });
    group.finish();
}

fn text(c: &mut Criterion) {
    let opts = TextOptions {
        allow_transliteration: true,
        ..TextOptions::default()
    };
    let mut group = c.benchmark_group("text");
    for (name, text) in [
        ("gsm7 160", "A".repeat(160)),
        (
            "czech transliterated 168",
            "Příliš žluťoučký kůň ".repeat(8),
        ),
        (
            "ucs2 cyrillic 168",
            "Привет, как дела? ".repeat(9)[..]
                .chars()
                .take(168)
                .collect(),
        ),
    ] {
        group.bench_function(format!("analyse+split {name}"), |b| {
            b.iter(|| {
                let a = analyse(black_box(&text), &opts).unwrap();
                split(&a, 1, ConcatRef::Eight)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, msisdn, text);
criterion_main!(benches);
