//! Trial identities are the store's keys: a resumed sweep finds its finished trials by
//! them. This pins the identities every built-in study expands to, so that no change to
//! spec parsing, expansion or the configuration types silently orphans existing stores.

use occam::sweep::SweepSpec;
use occam::sweep::spec::stable_hash;

/// (study file, trials, hash of the trial ids in expansion order), as of occam 0.1.0; the
/// paper-scale studies as of their move to the paper's full budgets, the fallback
/// checkpoint, 128 Figure 2 networks and the Figure 4 designs of A.5.4 / A.5.5, with
/// `prefer_small` as the bounded rule (every width and depth between 1% and 25% of the draws);
/// the quick paired studies as of their move to 1,000 training examples, full budgets with
/// no early stop, `mild` augmentation and hard-sigmoid pairs at depths 4–5; the quick random
/// sweep as of its widest networks going from 400 to 300.
const PINNED: [(&str, usize, &str); 18] = [
    (
        "studies/quick/fig2-profiles.toml",
        1,
        "5de8a71996fc44c74892c8a8f674e3c1",
    ),
    ("studies/quick/fig3-regions.toml", 1, "3edf397f3258dc72d829c85a507208dd"),
    (
        "studies/quick/fig4-full_batch.toml",
        16,
        "0e46a362b873e95d94d3303235a2d46b",
    ),
    (
        "studies/quick/fig4-hard_sigmoid.toml",
        16,
        "da1e650a80db6f2f9b7e61f88de092ec",
    ),
    (
        "studies/quick/fig4-no_augmentation.toml",
        16,
        "dfe74b906993faee3e3d9a76341d3b53",
    ),
    (
        "studies/quick/fig4-random_labels.toml",
        16,
        "2ebca9d4b6fb33ec52eaaf144139c8cc",
    ),
    (
        "studies/quick/fig5-random-sweep.toml",
        60,
        "68b60117005ee009dfa105cc91517e57",
    ),
    (
        "studies/quick/fig6-per-point.toml",
        16,
        "e56fe847ea77fc85da273aee6d8262c7",
    ),
    (
        "studies/paper/fig2-profiles.toml",
        128,
        "45006a13a3d550387272725104223fc8",
    ),
    ("studies/paper/fig3-regions.toml", 1, "0b97c612701bedb58ef121fef0b7f753"),
    (
        "studies/paper/fig4-full_batch.toml",
        4000,
        "0a51bc4244ea87654ecb416e8c9490a6",
    ),
    (
        "studies/paper/fig4-hard_sigmoid.toml",
        4000,
        "69ef3e8d5288171049e66a52a7d6087b",
    ),
    (
        "studies/paper/fig4-no_augmentation.toml",
        9216,
        "a25190c3a7ef7ae9368ac25cdf62c95a",
    ),
    (
        "studies/paper/fig4-random_labels.toml",
        4000,
        "a25fd6121fe2424fc5cd97ab76900e1a",
    ),
    (
        "studies/paper/fig5-random-sweep.toml",
        20000,
        "93031910f8fea82d9c636470a6b461c8",
    ),
    (
        "studies/paper/fig6-per-point.toml",
        6000,
        "4963b999540a4490265910d349e84513",
    ),
    (
        "studies/quick/track-training.toml",
        8,
        "cde8f756a71e9fe2664516aef4cc98fc",
    ),
    (
        "studies/paper/track-training.toml",
        48,
        "43a13e010af07202eb65443f977d3dc4",
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
