//! Compare + score throughput: candidate pairs per second through the
//! feature computation and the model, on generated customers.
//!
//!   cargo bench --bench compare_score

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use findmatches::block::{Blocking, Mode};
use findmatches::matcher::{Matcher, NoProgress};
use findmatches::synth::{generate, SynthOptions};
use findmatches::{bundled_model, Records, Table};

fn compare_score(c: &mut Criterion) {
    let data = generate(&SynthOptions { entities: 20_000, ..SynthOptions::default() });
    let table = Table::from_batch("bench", data.batch);
    let model = bundled_model().expect("bundled model");
    let def = model.definition.clone();
    let records = Records::build(&def, &[&table]).expect("records");
    let (pairs, _) = Blocking::new(&def).candidates(&records, &def, Mode::Dedup).expect("candidates");
    let matcher = Matcher::new(model, &NoProgress);
    let plan = findmatches::ComparePlan::new(&def);

    let mut group = c.benchmark_group("compare_score");
    group.throughput(Throughput::Elements(pairs.len() as u64));
    group.sample_size(10);
    group.bench_function("parallel", |b| b.iter(|| matcher.score_pairs(&records, &pairs)));
    group.bench_function("one_thread", |b| {
        let mut features = vec![0.0f32; plan.num_features()];
        b.iter(|| {
            let mut matches = 0usize;
            for p in &pairs {
                plan.compare(&records, p.a, p.b, &mut features);
                matches += usize::from(matcher.model().probability(&features) >= 0.5);
            }
            matches
        })
    });
    group.finish();
}

criterion_group!(benches, compare_score);
criterion_main!(benches);
