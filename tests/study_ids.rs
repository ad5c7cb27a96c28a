//! Trial identities are the store's keys: a resumed sweep finds its finished trials by
//! them. This pins the identities every built-in study expands to, so that no change to
//! spec parsing, expansion or the configuration types silently orphans existing stores.

use occam::sweep::SweepSpec;
use occam::sweep::spec::stable_hash;

/// (study file, trials, hash of the trial ids in expansion order), as of occam 0.1.0;
/// the two fig5 random sweeps re-pinned when `prefer_small` became the bounded rule
/// (every width and depth between 1% and 25% of the draws), which draws other networks.
const PINNED: [(&str, usize, &str); 16] = [
    (
        "studies/quick/fig2-profiles.toml",
        1,
        "5de8a71996fc44c74892c8a8f674e3c1",
    ),
    ("studies/quick/fig3-regions.toml", 1, "3edf397f3258dc72d829c85a507208dd"),
    (
        "studies/quick/fig4-full_batch.toml",
        16,
        "c2bc1973251ea0a2a040bca24bb30146",
    ),
    (
        "studies/quick/fig4-hard_sigmoid.toml",
        16,
        "c97042e12e3a7f7252ac9d563299fdd3",
    ),
    (
        "studies/quick/fig4-no_augmentation.toml",
        16,
        "094589e1167c2f3fe2fc28c6aed45089",
    ),
    (
        "studies/quick/fig4-random_labels.toml",
        16,
        "a0b54d96dfd7030384a5c94b852dc7ba",
    ),
    (
        "studies/quick/fig5-random-sweep.toml",
        60,
        "bbc4d2a00e3800d327c784af71b3e406",
    ),
    (
        "studies/quick/fig6-per-point.toml",
        16,
        "e56fe847ea77fc85da273aee6d8262c7",
    ),
    (
        "studies/paper/fig2-profiles.toml",
        8,
        "2bd2858497e3fd556752ecb5fbd3b597",
    ),
    ("studies/paper/fig3-regions.toml", 1, "c7aa1645fee54e38e78df216f0cf40e5"),
    (
        "studies/paper/fig4-full_batch.toml",
        512,
        "c91def6a78313887eb428f18f0dc946a",
    ),
    (
        "studies/paper/fig4-hard_sigmoid.toml",
        512,
        "9b425bd52ab6890a8e1b8b8365234b6c",
    ),
    (
        "studies/paper/fig4-no_augmentation.toml",
        512,
        "577d5862d326c42858b8712267e7f344",
    ),
    (
        "studies/paper/fig4-random_labels.toml",
        512,
        "e3d9c61848cbf043854ccf993e4c2d25",
    ),
    (
        "studies/paper/fig5-random-sweep.toml",
        20000,
        "b69e4abc31f2490520b2287ed1484d78",
    ),
    (
        "studies/paper/fig6-per-point.toml",
        1500,
        "cb59d665c57af2485a7a22bb4bcbf810",
    ),
];

#[test]
fn built_in_studies_expand_to_the_trial_ids_of_earlier_releases() {
    for (file, count, hash) in PINNED {
        let spec = SweepSpec::from_toml_file(std::path::Path::new(file)).unwrap();
        let ids: Vec<String> = spec.trials().iter().map(|t| t.id()).collect();
        assert_eq!(ids.len(), count, "{file}");
        assert_eq!(stable_hash(&ids.join(",")), hash, "{file}: trial ids changed");
    }
}
