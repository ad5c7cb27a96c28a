//! The user's own inputs: `--inputs`/`--labels` (.npy and .npz, every accepted shape and
//! dtype) for `occam evaluate` and `occam measure`, each refusal with a clean error, and
//! `occam data export` round trips that give the same numbers bit for bit.

mod common;

use common::{occam, ok, ok_json, refused};
use npyz::{Order, WriterBuilder};
use occam::data::DataSource;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A network trained on a small MNIST-like dataset of 6 × 6 images (d = 36, 10 classes),
/// and that dataset's normalized test split.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    data: String,
    x: Vec<f32>,
    y: Vec<u16>,
}

const N: usize = 60;
const D: usize = 36;

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        common::write_mnist_like(&dir.join("data"), 300, N, 6, false);
        let data = format!("fashion-mnist:{}", dir.join("data").display());
        let run = dir.join("run").display().to_string();
        let train = [
            "train", "--data", &data, "--width", "24", "--depth", "3", "--steps", "100", "--quiet", "--out", &run,
        ];
        ok(&train);
        let test = DataSource::parse(&data).unwrap().load().unwrap().test;
        Fixture {
            _tmp: tmp,
            dir,
            data,
            x: test.inputs,
            y: test.labels,
        }
    }
    fn model(&self) -> String {
        self.dir.join("run/model.safetensors").display().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
    fn labels_i64(&self) -> Vec<i64> {
        self.y.iter().map(|&l| l as i64).collect()
    }
    /// The per-point Jacobian CSV of `occam measure jacobian` with `args` added.
    fn jacobian_csv(&self, args: &[&str]) -> String {
        let out = self.path("per_point.csv");
        let model = self.model();
        let mut all = vec!["measure", "jacobian", "--model", &model, "--quiet", "--per-point", &out];
        all.extend_from_slice(args);
        ok(&all);
        std::fs::read_to_string(&out).unwrap()
    }
    /// The CSV the dataset's own test split gives.
    fn reference_csv(&self) -> String {
        self.jacobian_csv(&["--data", &self.data])
    }
}

/// A `.npy` file's bytes: `values` stored in `order` with dtype `descr` (e.g. `>f8`).
fn npy<T: npyz::Serialize + Copy>(descr: &str, shape: &[u64], order: Order, values: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    let dtype = npyz::DType::new_scalar(descr.parse().unwrap());
    let mut w = npyz::WriteOptions::new()
        .dtype(dtype)
        .shape(shape)
        .order(order)
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    out
}

/// Writes an `.npz` archive of `.npy` byte strings, compressed or not.
fn npz(path: &str, arrays: &[(&str, Vec<u8>)], compressed: bool) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let method = if compressed {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    for (name, bytes) in arrays {
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

fn write(path: &str, bytes: &[u8]) -> String {
    std::fs::write(path, bytes).unwrap();
    path.to_string()
}

/// `values` of a row-major `[rows × cols]` matrix stored column by column (Fortran order).
fn column_major<T: Copy>(values: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| values[r * cols + c]))
        .collect()
}

#[test]
fn every_accepted_shape_and_dtype_gives_the_datasets_numbers() {
    let f = Fixture::new();
    let want = f.reference_csv();
    let labels = f.path("y.npy");
    write(&labels, &npy("<i8", &[N as u64], Order::C, &f.labels_i64()));
    let x64: Vec<f64> = f.x.iter().map(|&v| v as f64).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flat", npy("<f4", &[N as u64, D as u64], Order::C, &f.x)),
        ("hw", npy("<f4", &[N as u64, 6, 6], Order::C, &f.x)),
        ("hwc", npy("<f4", &[N as u64, 6, 6, 1], Order::C, &f.x)),
        ("big-endian", npy(">f4", &[N as u64, D as u64], Order::C, &f.x)),
        (
            "fortran",
            npy("<f4", &[N as u64, D as u64], Order::Fortran, &column_major(&f.x, N, D)),
        ),
        ("f64", npy("<f8", &[N as u64, D as u64], Order::C, &x64)),
    ];
    for (name, bytes) in cases {
        let path = write(&f.path(&format!("{name}.npy")), &bytes);
        let out = occam(&[
            "measure",
            "jacobian",
            "--model",
            &f.model(),
            "--inputs",
            &path,
            "--labels",
            &labels,
            "--quiet",
        ]);
        let notice = String::from_utf8_lossy(&out.stderr).contains("float64 inputs converted to float32");
        assert_eq!(
            notice,
            name == "f64",
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = f.jacobian_csv(&["--inputs", &path, "--labels", &labels]);
        assert_eq!(got, want, "{name}");
    }
    let x = write(&f.path("x.npy"), &npy("<f4", &[N as u64, D as u64], Order::C, &f.x));
    let y = &f.y;
    let label_files: Vec<(&str, Vec<u8>)> = vec![
        (
            "i1",
            npy(
                "|i1",
                &[N as u64],
                Order::C,
                &y.iter().map(|&l| l as i8).collect::<Vec<_>>(),
            ),
        ),
        (
            "u1",
            npy(
                "|u1",
                &[N as u64],
                Order::C,
                &y.iter().map(|&l| l as u8).collect::<Vec<_>>(),
            ),
        ),
        (
            ">i2",
            npy(
                ">i2",
                &[N as u64],
                Order::C,
                &y.iter().map(|&l| l as i16).collect::<Vec<_>>(),
            ),
        ),
        ("u2", npy("<u2", &[N as u64], Order::C, y)),
        (
            "i4",
            npy(
                "<i4",
                &[N as u64],
                Order::C,
                &y.iter().map(|&l| l as i32).collect::<Vec<_>>(),
            ),
        ),
        (
            "u4",
            npy(
                "<u4",
                &[N as u64],
                Order::C,
                &y.iter().map(|&l| l as u32).collect::<Vec<_>>(),
            ),
        ),
        (
            "u8",
            npy(
                "<u8",
                &[N as u64],
                Order::C,
                &y.iter().map(|&l| l as u64).collect::<Vec<_>>(),
            ),
        ),
    ];
    for (name, bytes) in label_files {
        let path = write(&f.path(&format!("labels-{name}.npy")), &bytes);
        assert_eq!(
            f.jacobian_csv(&["--inputs", &x, "--labels", &path]),
            want,
            "labels {name}"
        );
    }
}

#[test]
fn npz_archives_find_their_arrays_by_name() {
    let f = Fixture::new();
    let want = f.reference_csv();
    let x = npy("<f4", &[N as u64, D as u64], Order::C, &f.x);
    let y = npy("<i8", &[N as u64], Order::C, &f.labels_i64());
    for (names, compressed) in [(["x", "y"], false), (["inputs", "labels"], true), (["X", "y"], true)] {
        let path = f.path(&format!("{}.npz", names[0]));
        npz(&path, &[(names[0], x.clone()), (names[1], y.clone())], compressed);
        assert_eq!(f.jacobian_csv(&["--inputs", &path]), want, "{names:?}");
        let j = ok_json(&[
            "measure",
            "jacobian",
            "--model",
            &f.model(),
            "--inputs",
            &path,
            "--json",
        ]);
        assert_eq!(j["inputs"], format!("{path}:{}", names[0]));
        assert_eq!(j["labels"], format!("{path}:{}", names[1]));
    }
    let named = f.path("named.npz");
    npz(&named, &[("pixels", x.clone()), ("classes", y.clone())], false);
    let (xs, ys) = (format!("{named}:pixels"), format!("{named}:classes"));
    assert_eq!(f.jacobian_csv(&["--inputs", &xs, "--labels", &ys]), want);
}

#[test]
fn inputs_without_labels_measure_only_what_needs_no_label() {
    let f = Fixture::new();
    let x = write(&f.path("x.npy"), &npy("<f4", &[N as u64, D as u64], Order::C, &f.x));
    let got = f.jacobian_csv(&["--inputs", &x]);
    let want = f.reference_csv();
    let mut lines = got.lines();
    assert_eq!(lines.next(), Some("index,predicted,jacobian_norm,logit_jacobian_norm"));
    for (g, w) in lines.zip(want.lines().skip(1)) {
        let w: Vec<&str> = w.split(',').collect();
        assert_eq!(g, [w[0], w[2], w[4], w[5]].join(","));
    }
    let j = ok_json(&["measure", "jacobian", "--model", &f.model(), "--inputs", &x, "--json"]);
    for absent in ["mean_loss", "accuracy", "mean_target_row_norm", "data", "split"] {
        assert!(j.get(absent).is_none(), "{absent} in {j}");
    }
    assert_eq!(j["points"], N);
    // Trajectories that need no class: the inputs serve as the training points too.
    let t = ok_json(&[
        "measure",
        "transitions",
        "--model",
        &f.model(),
        "--inputs",
        &x,
        "--trajectory",
        "translate",
        "--limit",
        "3",
        "--json",
    ]);
    assert_eq!(t["points"], 3);
    let r = ok_json(&[
        "measure",
        "regions",
        "--model",
        &f.model(),
        "--inputs",
        &x,
        "--points",
        "0,1,2",
        "--grid",
        "16",
        "--out",
        &f.path("reg"),
        "--json",
    ]);
    assert_eq!(r["inputs"], x);
    assert!(r["labels"].is_null());
    // Picking training points by class needs labels.
    let out = occam(&[
        "measure",
        "transitions",
        "--model",
        &f.model(),
        "--inputs",
        &x,
        "--trajectory",
        "same-class-ellipse",
    ]);
    refused(&out, &["--trajectory same-class-ellipse", "--labels"]);
    let out = occam(&[
        "measure",
        "regions",
        "--model",
        &f.model(),
        "--inputs",
        &x,
        "--out",
        &f.path("r2"),
    ]);
    refused(&out, &["--triplet different-class-ellipse", "--labels"]);
    let out = occam(&["evaluate", "--model", &f.model(), "--inputs", &x]);
    refused(&out, &["x.npy", "needs labels"]);
}

#[test]
fn data_ellipses_come_from_the_dataset_when_one_is_named() {
    let f = Fixture::new();
    let x = write(&f.path("x.npy"), &npy("<f4", &[N as u64, D as u64], Order::C, &f.x));
    let model = f.model();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "measure",
            "transitions",
            "--model",
            &model,
            "--trajectory",
            "different-class-ellipse",
            "--limit",
            "4",
            "--json",
        ];
        args.extend_from_slice(extra);
        ok_json(&args)
    };
    let with_data = run(&["--data", &f.data]);
    let with_inputs = run(&["--data", &f.data, "--inputs", &x]);
    assert_eq!(with_data["mean_transitions"], with_inputs["mean_transitions"]);
    let out = occam(&[
        "measure",
        "regions",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--inputs",
        &x,
        "--out",
        &f.path("r"),
    ]);
    refused(&out, &["--data and --inputs", "give one of them"]);
}

#[test]
fn evaluate_on_inputs_matches_the_test_split() {
    let f = Fixture::new();
    let archive = f.path("exported.npz");
    ok(&["data", "export", &f.data, "--npz", &archive]);
    let plain = ok_json(&["evaluate", "--model", &f.model(), "--data", &f.data]);
    let (xs, ys) = (format!("{archive}:x_test"), format!("{archive}:y_test"));
    let own = ok_json(&["evaluate", "--model", &f.model(), "--inputs", &xs, "--labels", &ys]);
    assert_eq!(own["accuracy"], plain["test_accuracy"]);
    assert_eq!(own["loss"], plain["test_loss"]);
    assert_eq!(own["examples"], N);
    let both = ok_json(&[
        "evaluate",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--inputs",
        &xs,
        "--labels",
        &ys,
    ]);
    for key in [
        "train_accuracy",
        "test_accuracy",
        "train_loss",
        "test_loss",
        "generalization_gap",
    ] {
        assert_eq!(both[key], plain[key], "{key}");
    }
    assert_eq!(both["inputs"], xs);
}

#[test]
fn export_writes_the_normalized_splits() {
    let f = Fixture::new();
    let archive = f.path("all.npz");
    let summary = ok_json(&["data", "export", &f.data, "--npz", &archive, "--train-size", "40"]);
    assert_eq!(summary["examples"]["train"], 40);
    assert_eq!(summary["examples"]["test"], N);
    let file = std::fs::File::open(&archive).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
    names.sort();
    assert_eq!(names, ["x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"]);
    let x = npyz::NpyFile::new(zip.by_name("x_test.npy").unwrap()).unwrap();
    assert_eq!(x.shape(), [N as u64, 6, 6, 1]);
    assert_eq!(x.dtype().descr(), "'<f4'");
    let bits: Vec<u32> = x.into_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, f.x.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    let y = npyz::NpyFile::new(zip.by_name("y_test.npy").unwrap()).unwrap();
    assert_eq!(y.dtype().descr(), "'<i8'");
    assert_eq!(y.into_vec::<i64>().unwrap(), f.labels_i64());
    let y = npyz::NpyFile::new(zip.by_name("y_train.npy").unwrap()).unwrap();
    assert_eq!(y.shape(), [40]);
    for (split, wanted) in [("train", "x_train.npy"), ("test", "x_test.npy")] {
        let one = f.path(&format!("{split}.npz"));
        ok(&["data", "export", &f.data, "--npz", &one, "--split", split]);
        let zip = zip::ZipArchive::new(std::fs::File::open(&one).unwrap()).unwrap();
        assert!(zip.file_names().any(|n| n.unwrap() == wanted), "{split}");
        assert_eq!(zip.len(), 2, "{split}");
    }
}

#[test]
fn fashion_mnist_round_trip_is_bit_for_bit() {
    assert!(
        Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file()
            || std::env::var_os("OCCAM_DATA").is_some(),
        "Fashion-MNIST is missing: run the README's set-up command (apt-get install dataset-fashion-mnist)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = |name: &str| tmp.path().join(name).display().to_string();
    ok(&[
        "train",
        "--data",
        "fashion-mnist",
        "--train-size",
        "2000",
        "--width",
        "32",
        "--depth",
        "3",
        "--steps",
        "60",
        "--quiet",
        "--out",
        &path("run"),
    ]);
    ok(&[
        "data",
        "export",
        "fashion-mnist",
        "--npz",
        &path("fm.npz"),
        "--split",
        "test",
    ]);
    let model = path("run/model.safetensors");
    let measure = |csv: &str, source: &[&str]| {
        let mut args = vec![
            "measure",
            "jacobian",
            "--model",
            &model,
            "--limit",
            "2000",
            "--quiet",
            "--per-point",
            csv,
        ];
        args.extend_from_slice(source);
        ok(&args);
        std::fs::read_to_string(csv).unwrap()
    };
    let (xs, ys) = (
        format!("{}:x_test", path("fm.npz")),
        format!("{}:y_test", path("fm.npz")),
    );
    let own = measure(&path("own.csv"), &["--inputs", &xs, "--labels", &ys]);
    let theirs = measure(&path("data.csv"), &["--data", "fashion-mnist"]);
    assert_eq!(own.lines().count(), 2001);
    assert_eq!(own, theirs);
}

#[test]
fn bad_inputs_are_refused_by_file_value_and_rule() {
    let f = Fixture::new();
    let model = f.model();
    let labels = write(&f.path("y.npy"), &npy("<i8", &[N as u64], Order::C, &f.labels_i64()));
    let measure = |inputs: &str, labels: Option<&str>| {
        let mut args = vec!["measure", "jacobian", "--model", &model, "--inputs", inputs];
        if let Some(l) = labels {
            args.extend(["--labels", l]);
        }
        occam(&args)
    };
    let x_of = |name: &str, descr: &str, shape: &[u64], values: &[f32]| {
        write(&f.path(name), &npy(descr, shape, Order::C, values))
    };
    let p = x_of("narrow.npy", "<f4", &[5, 35], &[0.0; 175]);
    refused(&measure(&p, None), &["narrow.npy", "[5, 35]", "d = 36"]);
    let p = x_of("flat.npy", "<f4", &[36], &[0.0; 36]);
    refused(&measure(&p, None), &["flat.npy", "[36]", "[1, 36]"]);
    let p = x_of("empty.npy", "<f4", &[0, 36], &[]);
    refused(&measure(&p, None), &["empty.npy", "no examples"]);
    let mut values = vec![0.5f32; 3 * D];
    values[2 * D + 7] = f32::NAN;
    let p = x_of("nan.npy", "<f4", &[3, 36], &values);
    refused(&measure(&p, None), &["nan.npy", "example 2, entry 7", "NaN", "finite"]);
    values[2 * D + 7] = f32::NEG_INFINITY;
    let p = x_of("inf.npy", "<f4", &[3, 36], &values);
    refused(&measure(&p, None), &["inf.npy", "example 2, entry 7", "-inf"]);
    let mut wide = vec![0.0f64; 2 * D];
    wide[40] = 1e300;
    let p = write(&f.path("huge.npy"), &npy("<f8", &[2, 36], Order::C, &wide));
    refused(&measure(&p, None), &["huge.npy", "example 1, entry 4", "float32"]);
    let p = write(&f.path("ints.npy"), &npy("<i4", &[2, 36], Order::C, &[0i32; 72]));
    refused(&measure(&p, None), &["ints.npy", "dtype '<i4'", "float32 or float64"]);
    let x = x_of("x.npy", "<f4", &[N as u64, 36], &f.x);
    let mut bad = f.labels_i64();
    bad[9] = 10;
    let p = write(&f.path("ten.npy"), &npy("<i8", &[N as u64], Order::C, &bad));
    refused(&measure(&x, Some(&p)), &["ten.npy", "label 10 at index 9", "0 to 9"]);
    bad[9] = -1;
    let p = write(&f.path("neg.npy"), &npy("<i8", &[N as u64], Order::C, &bad));
    refused(&measure(&x, Some(&p)), &["neg.npy", "label -1 at index 9"]);
    let p = write(&f.path("short.npy"), &npy("<i8", &[3], Order::C, &[0i64, 1, 2]));
    refused(&measure(&x, Some(&p)), &["short.npy", "[3]", &format!("[{N}]")]);
    let p = write(
        &f.path("float-labels.npy"),
        &npy("<f4", &[N as u64], Order::C, &vec![0f32; N]),
    );
    refused(&measure(&x, Some(&p)), &["float-labels.npy", "dtype '<f4'", "integers"]);
    refused(&measure(&f.path("missing.npy"), None), &["missing.npy"]);
    let p = write(&f.path("text.npy"), b"0.5, 0.25\n");
    refused(
        &measure(&p, None),
        &["text.npy", "neither a NumPy .npy file nor an .npz archive"],
    );
    let whole = npy("<f4", &[N as u64, 36], Order::C, &f.x);
    let p = write(&f.path("cut.npy"), &whole[..whole.len() / 2]);
    refused(&measure(&p, None), &["cut.npy", "truncated"]);
    let xb = npy("<f4", &[N as u64, 36], Order::C, &f.x);
    let yb = npy("<i8", &[N as u64], Order::C, &f.labels_i64());
    let archive = f.path("a.npz");
    npz(&archive, &[("x_test", xb.clone()), ("y_test", yb.clone())], false);
    refused(
        &measure(&archive, None),
        &["a.npz", "none of the arrays x, X, inputs", "x_test, y_test", ":NAME"],
    );
    refused(
        &measure(&format!("{archive}:pixels"), None),
        &["a.npz:pixels", "no array named 'pixels'", "x_test"],
    );
    let both = f.path("both.npz");
    npz(&both, &[("x", xb.clone()), ("X", xb)], false);
    refused(&measure(&both, None), &["both.npz", "several of the arrays"]);
    let npy_named = write(&f.path("really-npy.npz"), &yb);
    refused(
        &measure(&format!("{npy_named}:x"), None),
        &["really-npy.npz:x", "holds one array"],
    );
    refused(&measure(&format!("{archive}:"), None), &["names no array"]);
    // Finite inputs so large that the network overflows: an error naming the inputs, never a number.
    let p = x_of("overflow.npy", "<f4", &[2, 36], &[3e38; 72]);
    refused(
        &measure(&p, None),
        &["model.safetensors", "non-finite result on --inputs", "overflow.npy"],
    );
    let out = occam(&["evaluate", "--model", &model, "--inputs", &p, "--labels", &labels[..]]);
    let short_labels = write(&f.path("y2.npy"), &npy("<i8", &[2], Order::C, &[0i64, 1]));
    refused(&out, &["y.npy", "[60]", "[2]"]);
    let out = occam(&["evaluate", "--model", &model, "--inputs", &p, "--labels", &short_labels]);
    refused(
        &out,
        &["model.safetensors", "non-finite result on --inputs", "overflow.npy"],
    );
    // Option combinations are refused by the parser, with a usage error.
    let out = occam(&["measure", "jacobian", "--model", &model, "--labels", &labels]);
    refused(&out, &["--inputs"]);
    let out = occam(&[
        "measure", "jacobian", "--model", &model, "--inputs", &x, "--split", "train",
    ]);
    refused(&out, &["--split", "--inputs"]);
    let out = occam(&["measure", "jacobian", "--model", &model]);
    refused(&out, &["--data"]);
}

#[test]
fn bad_exports_are_refused() {
    let f = Fixture::new();
    refused(
        &occam(&["data", "export", &f.data, "--npz", "-"]),
        &["--npz -", "file name"],
    );
    let out = occam(&[
        "data",
        "export",
        &f.data,
        "--npz",
        &f.path("v.npz"),
        "--split",
        "validation",
    ]);
    refused(&out, &["no validation split"]);
    assert!(!Path::new(&f.path("v.npz")).exists());
    let out = occam(&[
        "data",
        "export",
        &f.data,
        "--npz",
        &f.path("t.npz"),
        "--split",
        "test",
        "--train-size",
        "5",
    ]);
    refused(&out, &["--train-size 5", "--split"]);
    let out = occam(&[
        "data",
        "export",
        &f.data,
        "--npz",
        &f.path("z.npz"),
        "--train-size",
        "0",
    ]);
    refused(&out, &["--train-size = 0", "1 to"]);
    refused(
        &occam(&["data", "export", "imagenet", "--npz", &f.path("i.npz")]),
        &["unknown dataset 'imagenet'"],
    );
}

/// Files written by NumPy itself, when it is installed.
#[test]
fn numpy_written_files_are_read_and_exports_load_in_numpy() {
    let python = std::env::var("OCCAM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_numpy = std::process::Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_numpy {
        println!("skipped: {python} cannot import numpy (set OCCAM_TEST_PYTHON to a Python with numpy)");
        return;
    }
    let f = Fixture::new();
    let want = f.reference_csv();
    let exported = f.path("exported.npz");
    ok(&["data", "export", &f.data, "--npz", &exported, "--split", "test"]);
    let written = f.path("numpy.npz");
    // float64, Fortran order, as [n, h, w]; int8 labels; compressed.
    let script = format!(
        "import numpy as np\n\
         a = np.load('{exported}')\n\
         assert a['x_test'].dtype == np.float32 and a['x_test'].shape == ({N}, 6, 6, 1)\n\
         assert a['y_test'].dtype == np.int64 and a['y_test'].shape == ({N},)\n\
         x = np.asfortranarray(a['x_test'][..., 0].astype(np.float64))\n\
         np.savez_compressed('{written}', x=x, y=a['y_test'].astype(np.int8))\n"
    );
    let out = std::process::Command::new(&python)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(f.jacobian_csv(&["--inputs", &written]), want);
}
