//! Real data end to end: the README's quick-start network on Debian's Fashion-MNIST.

use std::process::Command;

#[test]
fn quickstart_network_reaches_85_percent_on_fashion_mnist() {
    assert!(
        std::path::Path::new("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file()
            || std::env::var_os("OCCAM_DATA").is_some(),
        "Fashion-MNIST is missing: run the README's set-up command (apt-get install dataset-fashion-mnist)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let res = Command::new(env!("CARGO_BIN_EXE_occam"))
        .args([
            "train",
            "--data",
            "fashion-mnist",
            "--width",
            "256",
            "--depth",
            "3",
            "--activation",
            "relu",
        ])
        .args([
            "--optimizer",
            "momentum",
            "--lr",
            "0.005",
            "--batch",
            "256",
            "--steps",
            "2000",
            "--seed",
            "1",
            "--quiet",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(res.status.success(), "{}", String::from_utf8_lossy(&res.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["train_examples"], 50_000);
    assert_eq!(m["test_examples"], 10_000);
    assert_eq!(m["status"], "completed");
    let acc = m["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.85, "test accuracy {acc} < 0.85: {m}");
}
