//! The pipeline's hot loops, stage by stage, on generated customers (20k
//! people, about 38k records): normalize, blocking keys, index build and
//! queries, compare, score and cluster.
//!
//!   cargo bench --bench stages
//!
//! The whole run at scale is `benches/scale.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use findmatches::block::index::{write_index, StoredIndex};
use findmatches::block::{Blocking, Mode};
use findmatches::cluster::{cluster, ClusterOptions};
use findmatches::matcher::{Matcher, NoProgress};
use findmatches::synth::{generate, SynthOptions};
use findmatches::{bundled_model, Records, Table};

fn stages(c: &mut Criterion) {
    let data = generate(&SynthOptions { entities: 20_000, ..SynthOptions::default() });
    let table = Table::from_batch("bench", data.batch);
    let model = bundled_model().expect("bundled model");
    let def = model.definition.clone();
    let records = Records::build(&def, &[&table]).expect("records");
    let blocking = Blocking::new(&def, records.len());
    let (pairs, _) = blocking.candidates(&records, &def, Mode::Dedup).expect("candidates");
    let matcher = Matcher::new(model, &NoProgress);
    let plan = findmatches::ComparePlan::new(&def);
    let n = records.len() as u64;

    let mut group = c.benchmark_group("stages");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function("normalize", |b| b.iter(|| Records::build(&def, &[&table]).expect("records")));
    group.bench_function("block_keys", |b| {
        b.iter(|| blocking.candidates(&records, &def, Mode::Dedup).expect("candidates"))
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut built = 0;
    group.bench_function("index_build", |b| {
        b.iter(|| {
            built += 1;
            write_index(&dir.path().join(format!("i{built}")), &records, 0..records.len(), 0).expect("index")
        })
    });
    write_index(&dir.path().join("query"), &records, 0..records.len(), 0).expect("index");
    let index = StoredIndex::open(&dir.path().join("query")).expect("open index");
    let queries = 1000u32;
    group.throughput(Throughput::Elements(queries as u64));
    group.bench_function("index_queries", |b| {
        b.iter(|| {
            (0..queries).map(|id| index.similar(&records, id * 31, 16).expect("query").len()).sum::<usize>()
        })
    });

    group.throughput(Throughput::Elements(pairs.len() as u64));
    let mut features = vec![0.0f32; plan.num_features()];
    group.bench_function("compare_one_thread", |b| {
        b.iter(|| {
            for p in &pairs {
                plan.compare(&records, p.a, p.b, &mut features);
            }
        })
    });
    let matrix = plan.compare_all(&records, &pairs);
    group.bench_function("score_one_thread", |b| {
        b.iter(|| (0..matrix.rows()).filter(|&i| matcher.model().probability(matrix.row(i)) >= 0.5).count())
    });
    group.bench_function("compare_score_parallel", |b| b.iter(|| matcher.score_pairs(&records, &pairs)));
    let scored = matcher.score_pairs(&records, &pairs);
    let options = ClusterOptions {
        threshold: matcher.model().threshold(),
        one_per_source: false,
        max_cluster_size: 500,
    };
    group.bench_function("cluster", |b| {
        b.iter(|| cluster(records.len(), records.sources(), &scored, &options, matcher.scorer(&records)))
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
