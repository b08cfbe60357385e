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
        ("ucs2 3 parts", "Příliš žluťoučký kůň ".repeat(8)),
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
