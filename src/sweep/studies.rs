//! The paper's studies as built-in sweep specs (the files under `studies/`, compiled into
//! the binary): what `occam reproduce` runs, and what a report compares stored specs with
//! to tell quick, paper and custom scale apart.

/// The built-in studies (name, quick spec, paper spec), as `occam reproduce` runs them.
pub const BUILT_IN: [(&str, &str, &str); 9] = [
    (
        "fig2-profiles",
        include_str!("../../studies/quick/fig2-profiles.toml"),
        include_str!("../../studies/paper/fig2-profiles.toml"),
    ),
    (
        "fig3-regions",
        include_str!("../../studies/quick/fig3-regions.toml"),
        include_str!("../../studies/paper/fig3-regions.toml"),
    ),
    (
        "fig4-random_labels",
        include_str!("../../studies/quick/fig4-random_labels.toml"),
        include_str!("../../studies/paper/fig4-random_labels.toml"),
    ),
    (
        "fig4-no_augmentation",
        include_str!("../../studies/quick/fig4-no_augmentation.toml"),
        include_str!("../../studies/paper/fig4-no_augmentation.toml"),
    ),
    (
        "fig4-hard_sigmoid",
        include_str!("../../studies/quick/fig4-hard_sigmoid.toml"),
        include_str!("../../studies/paper/fig4-hard_sigmoid.toml"),
    ),
    (
        "fig4-full_batch",
        include_str!("../../studies/quick/fig4-full_batch.toml"),
        include_str!("../../studies/paper/fig4-full_batch.toml"),
    ),
    (
        "fig5-random-sweep",
        include_str!("../../studies/quick/fig5-random-sweep.toml"),
        include_str!("../../studies/paper/fig5-random-sweep.toml"),
    ),
    (
        "fig6-per-point",
        include_str!("../../studies/quick/fig6-per-point.toml"),
        include_str!("../../studies/paper/fig6-per-point.toml"),
    ),
    (
        "track-training",
        include_str!("../../studies/quick/track-training.toml"),
        include_str!("../../studies/paper/track-training.toml"),
    ),
];
