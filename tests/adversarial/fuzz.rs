//! Seeded mutation fuzzing, one test per format. A failure prints each bad mutant's
//! format, seed and mutation, which rebuild it exactly.

use super::{Case, assert_clean, common, mutate, path_str, run_cases, s, tiny};
use std::path::Path;

const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Copies the four files of `from` into `to`, replacing `name` by `bytes`.
fn idx_dir_with(from: &Path, to: &Path, suffix: &str, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(to).unwrap();
    for f in IDX_FILES {
        let f = format!("{f}{suffix}");
        if f == name {
            std::fs::write(to.join(&f), bytes).unwrap();
        } else {
            std::fs::copy(from.join(&f), to.join(&f)).unwrap();
        }
    }
}

fn evaluate(model: &Path, data: String) -> Vec<String> {
    vec![s("evaluate"), s("--model"), path_str(model), s("--data"), data]
}

#[test]
fn idx_mutants_end_cleanly() {
    let t = tiny();
    let gz_base = t.dir.path().join("idx-gz");
    common::write_mnist_like(&gz_base, 24, 12, 4, true);
    let mut cases = Vec::new();
    for seed in mutate::seeds(1, 500) {
        let mut rng = mutate::rng(seed);
        let gz = seed % 3 == 0;
        let (base, suffix) = if gz { (&gz_base, ".gz") } else { (&t.data, "") };
        let name = format!("{}{suffix}", IDX_FILES[(seed as usize / 3) % 4]);
        let original = std::fs::read(base.join(&name)).unwrap();
        let (bytes, what) = if gz && seed % 2 == 0 {
            // Damage the decompressed IDX bytes, then compress: reaches the IDX checks.
            let raw = common::gunzip(&original);
            let (m, what) = mutate::bytes(&raw, 16, &mut rng);
            (common::gzip(&m), format!("inside gzip: {what}"))
        } else {
            mutate::bytes(&original, if gz { 24 } else { 16 }, &mut rng)
        };
        let dir = t.dir.path().join(format!("m{seed}"));
        idx_dir_with(base, &dir, suffix, &name, &bytes);
        cases.push(Case {
            label: format!("idx seed {seed} {name}: {what}"),
            args: evaluate(&t.model, format!("fashion-mnist:{}", dir.display())),
            names: vec![name, path_str(&dir)],
        });
    }
    assert_clean("IDX", cases.len(), &run_cases(&cases));
}

fn cifar_record(label: u8, salt: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|i| (i as u8).wrapping_mul(7).wrapping_add(salt)));
    r
}

#[test]
fn cifar_mutants_end_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("cifar");
    std::fs::create_dir_all(&base).unwrap();
    let files: Vec<String> = (1..=5)
        .map(|i| format!("data_batch_{i}.bin"))
        .chain(["test_batch.bin".to_string()])
        .collect();
    for (k, f) in files.iter().enumerate() {
        let bytes: Vec<u8> = (0..2)
            .flat_map(|j| cifar_record((k + j) as u8 % 10, (k * 2 + j) as u8))
            .collect();
        std::fs::write(base.join(f), bytes).unwrap();
    }
    let net = root.path().join("net");
    common::ok(&[
        "train",
        "--data",
        &format!("cifar10:{}", base.display()),
        "--width",
        "4",
        "--depth",
        "2",
        "--steps",
        "2",
        "--batch",
        "2",
        "--out",
        net.to_str().unwrap(),
        "--quiet",
    ]);
    let model = net.join("model.safetensors");
    let mut cases = Vec::new();
    for seed in mutate::seeds(2, 300) {
        let mut rng = mutate::rng(seed);
        let name = &files[seed as usize % files.len()];
        let (bytes, what) = mutate::bytes(&std::fs::read(base.join(name)).unwrap(), 3073, &mut rng);
        let dir = root.path().join(format!("m{seed}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in &files {
            if f == name {
                std::fs::write(dir.join(f), &bytes).unwrap();
            } else {
                std::fs::copy(base.join(f), dir.join(f)).unwrap();
            }
        }
        cases.push(Case {
            label: format!("cifar seed {seed} {name}: {what}"),
            args: evaluate(&model, format!("cifar10:{}", dir.display())),
            names: vec![name.clone(), path_str(&dir)],
        });
    }
    assert_clean("CIFAR", cases.len(), &run_cases(&cases));
}

#[test]
fn safetensors_mutants_end_cleanly() {
    let t = tiny();
    let original = std::fs::read(&t.model).unwrap();
    let header = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let mut cases = Vec::new();
    for seed in mutate::seeds(3, 500) {
        let mut rng = mutate::rng(seed);
        let (bytes, what) = if seed % 2 == 0 {
            mutate::safetensors_header(&original, &mut rng)
        } else {
            mutate::bytes(&original, header, &mut rng)
        };
        let model = t.dir.path().join(format!("m{seed}.safetensors"));
        std::fs::write(&model, bytes).unwrap();
        cases.push(Case {
            label: format!("safetensors seed {seed}: {what}"),
            args: evaluate(&model, format!("fashion-mnist:{}", t.data.display())),
            names: vec![format!("m{seed}.safetensors")],
        });
    }
    assert_clean("safetensors", cases.len(), &run_cases(&cases));
}

/// Names a text mutant's error must contain: its file, or the key whose value was replaced.
fn text_names(file: &str, key: Option<String>) -> Vec<String> {
    let mut names = vec![file.to_string()];
    names.extend(key);
    names
}

#[test]
fn training_config_mutants_end_cleanly() {
    let t = tiny();
    let base = format!(
        "data = \"fashion-mnist:{}\"\nwidth = 8\ndepth = 2\nactivation = \"relu\"\ninit_scale = 1.0\n\
         optimizer = \"momentum\"\nlr = 0.01\nbatch = 8\nsteps = 2\nlr_decay_epochs = 500\n\
         lr_decay_factor = 0.1\nstop_at_100 = false\nrandom_labels = false\ntrain_size = 20\nseed = 3\n\
         [augment]\ntranslate = 1\nhflip = true\nvflip = false\nrotate90 = false\n",
        t.data.display()
    );
    let mut cases = Vec::new();
    for seed in mutate::seeds(4, 400) {
        let mut rng = mutate::rng(seed);
        let (text, what, key) = mutate::text(&base, &mut rng);
        let name = format!("c{seed}.toml");
        std::fs::write(t.dir.path().join(&name), text).unwrap();
        // The command line caps the step budget so that valid mutants finish at once.
        let out = t.dir.path().join(format!("out{seed}"));
        cases.push(Case {
            label: format!("config seed {seed}: {what}"),
            args: [
                "train",
                "--config",
                t.dir.path().join(&name).to_str().unwrap(),
                "--steps",
                "2",
                "--out",
                out.to_str().unwrap(),
                "--quiet",
            ]
            .map(s)
            .to_vec(),
            names: text_names(&name, key),
        });
    }
    assert_clean("training config", cases.len(), &run_cases(&cases));
}

#[test]
fn sweep_spec_mutants_end_cleanly() {
    let t = tiny();
    let base = format!(
        "name = \"fuzz\"\ndescription = \"a spec to damage\"\nmode = \"grid\"\nsamples = 0\nseed = 1\n\
         prefer_small = false\n\
         [axes]\ndata = [\"fashion-mnist:{}\"]\nwidth = [4, 8]\ndepth = [2, 3]\nactivation = [\"relu\"]\n\
         init_scale = [1.0]\noptimizer = [\"sgd\", \"adam\"]\nlr = [0.01]\nbatch = [8]\nsteps = [5]\n\
         augment = [\"none\", \"standard\"]\nrandom_labels = [false]\nseed = [1, 2]\n\
         [fixed]\nstop_at_100 = false\ntrain_size = 20\nlr_decay_epochs = 500\nlr_decay_factor = 0.1\n\
         [measure]\njacobian_points = 10\nper_point = true\n\
         [measure.transitions]\ntrajectory = \"random-ellipse\"\ncount = 2\nmethod = \"sampled\"\nsamples = 1024\n\
         [measure.profile]\ntrajectories = [\"translate\"]\ncount = 2\nbins = 16\n\
         [measure.regions]\ngrid = 16\ntriplet = \"same-class-ellipse\"\n",
        t.data.display()
    );
    let mut cases = Vec::new();
    for seed in mutate::seeds(5, 400) {
        let mut rng = mutate::rng(seed);
        let (text, what, key) = mutate::text(&base, &mut rng);
        let name = format!("s{seed}.toml");
        std::fs::write(t.dir.path().join(&name), text).unwrap();
        // `status` reads, validates and expands the spec without training anything.
        cases.push(Case {
            label: format!("spec seed {seed}: {what}"),
            args: [
                "sweep",
                "status",
                t.dir.path().join(&name).to_str().unwrap(),
                t.dir.path().join("absent.sqlite").to_str().unwrap(),
            ]
            .map(s)
            .to_vec(),
            names: text_names(&name, key),
        });
    }
    assert_clean("sweep spec", cases.len(), &run_cases(&cases));
}
