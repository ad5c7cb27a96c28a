//! Loaders against fixture files written in the real IDX and CIFAR byte formats, and
//! every malformed variant rejected with an error naming the file.

mod common;

use common::*;
use occam::data::{DataSource, TRAIN_SIZE};
use std::path::Path;

fn err_of(source: DataSource) -> String {
    source.load().map(|_| ()).expect_err("load must fail").to_string()
}

#[test]
fn idx_plain_and_gzipped_load_the_same_values() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, gz) = (tmp.path().join("plain"), tmp.path().join("gz"));
    write_mnist_like(&plain, 30, 12, 6, false);
    write_mnist_like(&gz, 30, 12, 6, true);
    let a = DataSource::Mnist(plain.clone()).load_raw().unwrap();
    let b = DataSource::FashionMnist(gz).load_raw().unwrap();
    assert_eq!(a.train.inputs, b.train.inputs);
    assert_eq!(a.test.labels, b.test.labels);
    assert_eq!(a.train.shape, [6, 6, 1]);
    assert_eq!((a.train.len(), a.test.len()), (30, 12));
    assert!(
        a.validation.is_none(),
        "fewer than 50,000 examples: no validation split"
    );
    // Raw pixel values scaled to [0,1], in file order: compare with the bytes themselves.
    let bytes = std::fs::read(plain.join("train-images-idx3-ubyte")).unwrap();
    for (k, v) in a.train.inputs.iter().enumerate().take(100) {
        assert_eq!(*v, bytes[16 + k] as f32 / 255.0);
    }
    let lbytes = std::fs::read(plain.join("t10k-labels-idx1-ubyte")).unwrap();
    assert_eq!(a.test.labels, lbytes[8..].iter().map(|&l| l as u16).collect::<Vec<_>>());
}

#[test]
fn normalization_puts_every_example_on_the_sphere() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 20, 5, 7, false);
    let s = DataSource::Mnist(tmp.path().into()).load().unwrap();
    for i in 0..s.train.len() {
        let row = s.train.input(i);
        let mean: f64 = row.iter().map(|&v| v as f64).sum::<f64>() / 49.0;
        let sq: f64 = row.iter().map(|&v| (v as f64).powi(2)).sum();
        assert!(mean.abs() < 1e-6);
        assert!((sq.sqrt() - 7.0).abs() < 1e-4, "norm {} should be √49", sq.sqrt());
    }
}

#[test]
fn constant_image_normalizes_to_zero_not_nan() {
    let mut row = vec![0.5f32; 10];
    occam::data::normalize_row(&mut row);
    assert!(row.iter().all(|&v| v == 0.0));
}

#[test]
fn split_keeps_first_50000_for_training_and_the_rest_for_validation() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), TRAIN_SIZE + 7, 3, 2, true);
    let s = DataSource::Mnist(tmp.path().into()).load_raw().unwrap();
    assert_eq!(s.train.len(), TRAIN_SIZE);
    let v = s.validation.unwrap();
    assert_eq!(v.len(), 7);
    let bytes = flate2_read(&tmp.path().join("train-labels-idx1-ubyte.gz"));
    assert_eq!(
        v.labels,
        bytes[8 + TRAIN_SIZE..].iter().map(|&l| l as u16).collect::<Vec<_>>()
    );
}

fn flate2_read(p: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn random_labels_are_seeded_and_uniform() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 5000, 3, 2, false);
    let s = DataSource::Mnist(tmp.path().into()).load().unwrap();
    let (mut a, mut b, mut c) = (s.train.clone(), s.train.clone(), s.train.clone());
    a.randomize_labels(1);
    b.randomize_labels(1);
    c.randomize_labels(2);
    assert_eq!(a.labels, b.labels);
    assert_ne!(a.labels, c.labels);
    let mut counts = [0usize; 10];
    a.labels.iter().for_each(|&l| counts[l as usize] += 1);
    // 5000 draws over 10 classes: each count is 500 ± ~21 (1 s.d.); allow 5 s.d.
    assert!(counts.iter().all(|&k| (395..=605).contains(&k)), "{counts:?}");
    let kept = a.labels.iter().zip(&s.train.labels).filter(|(x, y)| x == y).count();
    assert!(
        kept < 700,
        "random labels should agree with the true ones only ~10% of the time"
    );
}

/// One CIFAR record: label byte(s) then R, G, B planes of 32×32, with pixel value
/// encoding (channel, y, x) so the crop and HWC order can be checked exactly.
fn cifar_record(labels: &[u8], salt: u8) -> Vec<u8> {
    let mut r = labels.to_vec();
    for c in 0..3u32 {
        for y in 0..32u32 {
            for x in 0..32u32 {
                r.push(((c * 67 + y * 5 + x * 3) as u8).wrapping_add(salt));
            }
        }
    }
    r
}

#[test]
fn cifar10_is_centre_cropped_in_hwc_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=5 {
        let mut f = cifar_record(&[i as u8], i as u8);
        f.extend(cifar_record(&[9], 0));
        std::fs::write(dir.join(format!("data_batch_{i}.bin")), f).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), cifar_record(&[3], 7)).unwrap();
    // Accepts the parent directory of the unpacked archive as well.
    let s = DataSource::parse(&format!("cifar10:{}", tmp.path().display()))
        .unwrap()
        .load_raw()
        .unwrap();
    assert_eq!(s.train.shape, [24, 24, 3]);
    assert_eq!(s.train.shape, occam::data::DatasetKind::Cifar10.input_shape());
    assert_eq!(s.train.len(), 10);
    assert_eq!(s.train.labels, vec![1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    assert_eq!(s.test.labels, vec![3]);
    let img = s.test.input(0);
    for y in 0..24u32 {
        for x in 0..24u32 {
            for c in 0..3u32 {
                let want = ((c * 67 + (y + 4) * 5 + (x + 4) * 3) as u8).wrapping_add(7);
                assert_eq!(img[((y * 24 + x) * 3 + c) as usize], want as f32 / 255.0);
            }
        }
    }
}

#[test]
fn cifar100_uses_fine_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let mut train = cifar_record(&[3, 77], 0);
    train.extend(cifar_record(&[19, 99], 1));
    std::fs::write(tmp.path().join("train.bin"), train).unwrap();
    std::fs::write(tmp.path().join("test.bin"), cifar_record(&[0, 42], 2)).unwrap();
    let s = DataSource::Cifar100(tmp.path().into()).load().unwrap();
    assert_eq!(s.train.labels, vec![77, 99]);
    assert_eq!(s.test.labels, vec![42]);
    assert_eq!(s.train.classes, 100);
}

/// Writes a valid MNIST-like set, lets `damage` break one file, and returns the error.
fn damaged(damage: impl FnOnce(&Path)) -> String {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 10, 4, 4, false);
    damage(tmp.path());
    err_of(DataSource::Mnist(tmp.path().into()))
}

/// A way to break a fixture directory.
type Damage = Box<dyn FnOnce(&Path)>;

#[test]
fn malformed_idx_files_are_rejected_with_the_file_named() {
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "missing",
            Box::new(|d| std::fs::remove_file(d.join("t10k-images-idx3-ubyte")).unwrap()),
            "missing IDX file",
        ),
        (
            "truncated",
            Box::new(|d| {
                let p = d.join("train-images-idx3-ubyte");
                let b = std::fs::read(&p).unwrap();
                std::fs::write(&p, &b[..b.len() - 5]).unwrap();
            }),
            "truncated",
        ),
        (
            "trailing",
            Box::new(|d| {
                let p = d.join("train-images-idx3-ubyte");
                let mut b = std::fs::read(&p).unwrap();
                b.push(0);
                std::fs::write(&p, b).unwrap();
            }),
            "trailing bytes",
        ),
        (
            "bad magic",
            Box::new(|d| std::fs::write(d.join("train-labels-idx1-ubyte"), b"PK\x03\x04junk").unwrap()),
            "not an IDX file",
        ),
        (
            "empty",
            Box::new(|d| std::fs::write(d.join("train-labels-idx1-ubyte"), b"").unwrap()),
            "truncated",
        ),
        (
            "wrong element type",
            Box::new(|d| {
                let p = d.join("train-images-idx3-ubyte");
                let mut b = std::fs::read(&p).unwrap();
                b[2] = 0x0d;
                std::fs::write(&p, b).unwrap();
            }),
            "element type",
        ),
        (
            "labels as images",
            Box::new(|d| {
                std::fs::copy(d.join("train-labels-idx1-ubyte"), d.join("train-images-idx3-ubyte")).unwrap();
            }),
            "expected 3 IDX dimensions",
        ),
        (
            "count mismatch",
            Box::new(|d| std::fs::write(d.join("t10k-labels-idx1-ubyte"), idx_bytes(&[3], &[1, 2, 3])).unwrap()),
            "3 labels but",
        ),
        (
            "label out of range",
            Box::new(|d| std::fs::write(d.join("t10k-labels-idx1-ubyte"), idx_bytes(&[4], &[1, 2, 10, 3])).unwrap()),
            "label 10 at index 2",
        ),
        (
            "corrupt gzip",
            Box::new(|d| {
                std::fs::remove_file(d.join("train-labels-idx1-ubyte")).unwrap();
                std::fs::write(d.join("train-labels-idx1-ubyte.gz"), [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
            }),
            "corrupt gzip",
        ),
    ];
    for (name, damage, want) in cases {
        let msg = damaged(damage);
        assert!(msg.contains(want), "{name}: message '{msg}' should say '{want}'");
        assert!(
            msg.contains("idx") || msg.contains("ubyte"),
            "{name}: message '{msg}' should name the file"
        );
    }
}

#[test]
fn malformed_cifar_files_are_rejected_with_the_file_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for i in 1..=5 {
        std::fs::write(d.join(format!("data_batch_{i}.bin")), cifar_record(&[1], 0)).unwrap();
    }
    assert!(err_of(DataSource::Cifar10(d.into())).contains("test_batch.bin: missing CIFAR file"));
    std::fs::write(d.join("test_batch.bin"), &cifar_record(&[1], 0)[..3000]).unwrap();
    assert!(err_of(DataSource::Cifar10(d.into())).contains("test_batch.bin: 3000 bytes is not a whole number"));
    std::fs::write(d.join("test_batch.bin"), cifar_record(&[10], 0)).unwrap();
    assert!(err_of(DataSource::Cifar10(d.into())).contains("label 10"));
    std::fs::remove_file(d.join("data_batch_3.bin")).unwrap();
    assert!(err_of(DataSource::Cifar10(d.into())).contains("data_batch_3.bin: missing CIFAR file"));
    // A CIFAR-10 file read as CIFAR-100 has the wrong record length.
    std::fs::write(d.join("train.bin"), cifar_record(&[1], 0)).unwrap();
    std::fs::write(d.join("test.bin"), cifar_record(&[1, 2], 0)).unwrap();
    assert!(err_of(DataSource::Cifar100(d.into())).contains("train.bin: 3073 bytes"));
}

#[test]
fn dataset_names_parse_or_explain() {
    assert_eq!(DataSource::parse("mnist:/x").unwrap(), DataSource::Mnist("/x".into()));
    assert_eq!(
        DataSource::parse("cifar100:/y").unwrap(),
        DataSource::Cifar100("/y".into())
    );
    let e = DataSource::parse("imagenet:/z").unwrap_err().to_string();
    assert!(e.contains("unknown dataset 'imagenet:/z'"), "{e}");
    let e = err_of(DataSource::parse("mnist:/nonexistent/dir").unwrap());
    assert!(
        e.contains("/nonexistent/dir: no such directory, expected a dataset directory"),
        "{e}"
    );
    let e = DataSource::parse("mnist:").unwrap_err().to_string();
    assert!(e.contains("'mnist:' names no directory"), "{e}");
}

// ---- Hardening: sizes, kinds of path, empty files, reading only what is needed ----

#[path = "support/hostile.rs"]
mod hostile;

use hostile::{WrongKind, assert_clean_failure, occam_bounded, write_gz_zeros};
use std::io::Write as _;
use std::time::Duration;

/// `occam train` on `data` with a tiny network, `extra` options appended.
fn train_args<'a>(data: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let tiny = "--width 8 --depth 2 --steps 3 --batch 10 --threads 2 --quiet";
    let mut a = vec!["train", "--data", data, "--out", out];
    a.extend(tiny.split(' '));
    a.extend_from_slice(extra);
    a
}

#[test]
fn gz_idx_declaring_more_images_than_it_holds_fails_fast_naming_both_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    write_mnist_like(&dir, 10, 4, 28, true);
    // Labels for 200,000 images, but the images stream holds only 1,000 of them.
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        gzip(&idx_bytes(&[200_000], &vec![1u8; 200_000])),
    )
    .unwrap();
    write_gz_zeros(&dir.join("train-images-idx3-ubyte.gz"), &[200_000, 28, 28], 1000, 784);
    let data = format!("mnist:{}", dir.display());
    let out = tmp.path().join("out");
    let args = train_args(&data, out.to_str().unwrap(), &["--train-size", "100"]);
    // 1 GiB of address space: far less than the 627 MB of f32 plus the raw bytes that
    // decoding 200,000 declared images would take.
    let run = occam_bounded(&args, Duration::from_secs(20), Some(1 << 20));
    assert_clean_failure(
        &run,
        &[
            "train-images-idx3-ubyte.gz",
            "truncated",
            "declares 156800016 bytes",
            "holds only 784016",
        ],
    );
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[test]
fn train_size_decodes_only_what_it_needs_from_a_large_gz_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    write_mnist_like(&dir, 10, 4, 28, true);
    // 400,000 real (all-zero) images: 314 MB decompressed, 1.25 GB as f32.
    let n = 400_000;
    write_gz_zeros(&dir.join("train-images-idx3-ubyte.gz"), &[n as u32, 28, 28], n, 784);
    write_gz_zeros(&dir.join("train-labels-idx1-ubyte.gz"), &[n as u32], n, 1);
    let data = format!("mnist:{}", dir.display());
    let out = tmp.path().join("out");
    let args = train_args(&data, out.to_str().unwrap(), &["--train-size", "100"]);
    // Under 1 GiB of address space: reading the whole file into memory cannot succeed.
    let run = occam_bounded(&args, Duration::from_secs(60), Some(1 << 20));
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let metrics: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(metrics["train_examples"], 100);
}

#[test]
fn train_size_on_a_huge_sparse_plain_file_reads_only_the_first_examples() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    write_mnist_like(&dir, 10, 4, 28, false);
    // 2,000,000 declared images (1.57 GB, a sparse file holding no disk blocks).
    let n = 2_000_000u32;
    let images = std::fs::File::create(dir.join("train-images-idx3-ubyte")).unwrap();
    (&images).write_all(&idx_bytes(&[n, 28, 28], &[])).unwrap();
    images.set_len(16 + n as u64 * 784).unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        idx_bytes(&[n], &vec![3u8; n as usize]),
    )
    .unwrap();
    let data = format!("mnist:{}", dir.display());
    let out = tmp.path().join("out");
    let args = train_args(&data, out.to_str().unwrap(), &["--train-size", "100"]);
    let run = occam_bounded(&args, Duration::from_secs(30), Some(1 << 20));
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    // The rest of the file is still checked for its declared length.
    images.set_len(16 + n as u64 * 784 - 1).unwrap();
    let run = occam_bounded(&args, Duration::from_secs(30), Some(1 << 20));
    assert_clean_failure(
        &run,
        &["train-images-idx3-ubyte", "truncated", "declares 1568000016 bytes"],
    );
}

#[test]
fn load_with_decodes_at_most_n_training_examples_and_no_validation() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 40, 5, 4, true);
    let all = DataSource::Mnist(tmp.path().into()).load().unwrap();
    let some = DataSource::Mnist(tmp.path().into()).load_with(Some(7)).unwrap();
    assert_eq!((some.train.len(), some.test.len()), (7, 5));
    assert_eq!(some.train.inputs, all.train.take(7).inputs);
    assert!(some.validation.is_none());
    assert_eq!(
        DataSource::Mnist(tmp.path().into())
            .load_with(None)
            .unwrap()
            .train
            .len(),
        40
    );
    let e = DataSource::Mnist(tmp.path().into())
        .load_with(Some(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 1"), "{e}");
}

#[test]
fn declared_sizes_beyond_memory_are_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 10, 4, 4, false);
    // 60,000 images of 4096×4096: a 1 TB sparse file whose f32 decoding needs 4 PB.
    let images = std::fs::File::create(tmp.path().join("train-images-idx3-ubyte")).unwrap();
    (&images).write_all(&idx_bytes(&[60_000, 4096, 4096], &[])).unwrap();
    images.set_len(16 + 60_000 * 4096 * 4096).unwrap();
    std::fs::write(
        tmp.path().join("train-labels-idx1-ubyte"),
        idx_bytes(&[60_000], &vec![0u8; 60_000]),
    )
    .unwrap();
    let e = err_of(DataSource::Mnist(tmp.path().into()));
    assert!(
        e.contains("train-images-idx3-ubyte: 60000 of its 60000 images of 4096×4096 needs")
            && e.contains("this machine has"),
        "{e}"
    );
}

#[test]
fn insane_idx_dimensions_are_refused_naming_the_file() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("zero images", idx_bytes(&[0, 4, 4], &[]), "holds no examples"),
        ("zero rows", idx_bytes(&[10, 0, 4], &[]), "side 0 is out of range"),
        (
            "huge side",
            idx_bytes(&[1, 5000, 1], &[0; 5000]),
            "side 5000 is out of range",
        ),
        (
            "huge declared size",
            idx_bytes(&[4, 4096, 4096], &[0; 64]),
            "truncated: the header (dimensions [4, 4096, 4096]) declares 67108880 bytes",
        ),
    ];
    for (name, bytes, want) in cases {
        for gz in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            write_mnist_like(tmp.path(), 10, 4, 4, gz);
            let file = if gz {
                "t10k-images-idx3-ubyte.gz"
            } else {
                "t10k-images-idx3-ubyte"
            };
            std::fs::write(tmp.path().join(file), if gz { gzip(&bytes) } else { bytes.clone() }).unwrap();
            let e = err_of(DataSource::Mnist(tmp.path().into()));
            assert!(
                e.contains(file) && e.contains(want),
                "{name} (gz {gz}): '{e}' should say '{want}'"
            );
        }
    }
    // Empty label file: no examples either.
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 10, 4, 4, false);
    std::fs::write(tmp.path().join("t10k-labels-idx1-ubyte"), idx_bytes(&[0], &[])).unwrap();
    std::fs::write(tmp.path().join("t10k-images-idx3-ubyte"), idx_bytes(&[0, 4, 4], &[])).unwrap();
    assert!(err_of(DataSource::Mnist(tmp.path().into())).contains("t10k-images-idx3-ubyte: holds no examples"));
}

#[test]
fn gz_stream_longer_than_declared_is_refused_with_both_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 10, 4, 4, true);
    let mut bytes = idx_bytes(&[4], &[1, 2, 3, 4]);
    bytes.extend_from_slice(&[0; 5]);
    std::fs::write(tmp.path().join("t10k-labels-idx1-ubyte.gz"), gzip(&bytes)).unwrap();
    let e = err_of(DataSource::Mnist(tmp.path().into()));
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz: 5 trailing bytes")
            && e.contains("declares 12 bytes")
            && e.contains("decompressed stream holds 17"),
        "{e}"
    );
}

#[test]
fn wrong_kinds_of_path_for_idx_files_are_named_without_hanging() {
    for victim in ["t10k-images-idx3-ubyte", "train-labels-idx1-ubyte"] {
        for kind in WrongKind::ALL {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("data");
            write_mnist_like(&dir, 10, 4, 4, false);
            std::fs::remove_file(dir.join(victim)).unwrap();
            kind.make(&dir.join(victim));
            let data = format!("mnist:{}", dir.display());
            let out = tmp.path().join("out");
            let run = occam_bounded(
                &train_args(&data, out.to_str().unwrap(), &[]),
                Duration::from_secs(20),
                None,
            );
            let e = assert_clean_failure(&run, &[victim, kind.message()]);
            assert!(!e.contains("missing IDX file"), "{kind:?}: {e}");
        }
    }
}

#[test]
fn wrong_kinds_of_path_for_cifar_files_are_named() {
    for kind in WrongKind::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for i in 1..=5 {
            std::fs::write(d.join(format!("data_batch_{i}.bin")), cifar_record(&[1], 0)).unwrap();
        }
        kind.make(&d.join("test_batch.bin"));
        let e = err_of(DataSource::Cifar10(d.into()));
        assert!(
            e.contains("test_batch.bin") && e.contains(kind.message()),
            "{kind:?}: {e}"
        );
    }
}

#[test]
fn a_dataset_directory_that_is_a_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("not-a-dir");
    std::fs::write(&f, b"x").unwrap();
    for source in [DataSource::Mnist(f.clone()), DataSource::Cifar100(f.clone())] {
        let e = err_of(source);
        assert!(e.contains("not-a-dir: is a regular file, expected a"), "{e}");
    }
}

#[test]
fn empty_cifar_files_hold_no_examples() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("train.bin"), cifar_record(&[1, 2], 0)).unwrap();
    std::fs::write(tmp.path().join("test.bin"), b"").unwrap();
    let e = err_of(DataSource::Cifar100(tmp.path().into()));
    assert!(e.contains("test.bin: holds no examples"), "{e}");
    std::fs::write(tmp.path().join("test.bin"), gzip(b"")).unwrap();
    let e = err_of(DataSource::Cifar100(tmp.path().into()));
    assert!(e.contains("test.bin: holds no examples"), "{e}");
}

#[test]
fn gzipped_cifar_loads_like_plain_and_a_partial_record_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut train = cifar_record(&[3, 77], 0);
    train.extend(cifar_record(&[19, 99], 1));
    std::fs::write(tmp.path().join("train.bin"), gzip(&train)).unwrap();
    std::fs::write(tmp.path().join("test.bin"), gzip(&cifar_record(&[0, 42], 2))).unwrap();
    let s = DataSource::Cifar100(tmp.path().into()).load_with(Some(1)).unwrap();
    assert_eq!((s.train.labels.clone(), s.test.labels.clone()), (vec![77], vec![42]));
    std::fs::write(tmp.path().join("train.bin"), gzip(&train[..5000])).unwrap();
    let e = err_of(DataSource::Cifar100(tmp.path().into()));
    assert!(
        e.contains("train.bin: 5000 bytes (decompressed) is not a whole number"),
        "{e}"
    );
}

#[test]
fn cifar10_train_size_skips_later_batch_files_but_checks_their_length() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for i in 1..=5 {
        std::fs::write(d.join(format!("data_batch_{i}.bin")), cifar_record(&[i as u8], 0)).unwrap();
    }
    std::fs::write(d.join("test_batch.bin"), cifar_record(&[3], 7)).unwrap();
    let s = DataSource::Cifar10(d.into()).load_with(Some(2)).unwrap();
    assert_eq!(s.train.labels, vec![1, 2]);
    std::fs::write(d.join("data_batch_5.bin"), &cifar_record(&[5], 0)[..100]).unwrap();
    let e = DataSource::Cifar10(d.into())
        .load_with(Some(2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("data_batch_5.bin: 100 bytes"), "{e}");
}

/// Seeded mutation fuzzing of the IDX and CIFAR readers: every mutant loads or fails with
/// an error naming a file; none panics.
#[test]
fn mutated_dataset_files_never_panic() {
    let mut seed = 0x5eed_u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_mnist_like(d, 6, 3, 3, false);
    let originals: Vec<(String, Vec<u8>)> = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(d.join(f)).unwrap()))
    .collect();
    for round in 0..300 {
        let (name, original) = &originals[round % originals.len()];
        let mut bytes = original.clone();
        match next() % 4 {
            0 => bytes.truncate(next() % (bytes.len() + 1)),
            1 => {
                let i = next() % bytes.len().min(16);
                bytes[i] = next() as u8;
            }
            2 => {
                let i = next() % bytes.len();
                bytes[i] ^= 1 << (next() % 8);
            }
            _ => bytes.extend((0..next() % 9).map(|_| next() as u8)),
        }
        let gz = next() % 2 == 0;
        std::fs::write(d.join(name), if gz { gzip(&bytes) } else { bytes }).unwrap();
        if let Err(e) = DataSource::Mnist(d.into()).load() {
            let e = e.to_string();
            assert!(e.contains("ubyte"), "round {round}: {e}");
        }
        std::fs::write(d.join(name), original).unwrap();
    }
}
