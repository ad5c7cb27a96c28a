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
    assert!(e.contains("/nonexistent/dir"), "{e}");
}
