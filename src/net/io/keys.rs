//! Which tensors of a model file are the layers, and in which order. Two naming schemes
//! are read: Occam's own `layers.{i}.weight`, and a PyTorch `nn.Sequential` state_dict
//! `{k}.weight` (k the module index, so activations leave gaps: 0, 2, 4), optionally
//! under one common prefix (`model.0.weight`). Layers are ordered by their index as a
//! number, so `10.weight` comes after `2.weight`. A layer's bias is `{same stem}.bias`;
//! a bias without its weight, and names of any other form, are refused, listing what the
//! file holds.

use safetensors::Dtype;

/// A tensor as the file describes it, for ordering and for messages.
pub(super) struct Found {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

/// What a tensor name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Weight,
    Bias,
}

/// A name of the form `{prefix}{index}.weight` or `{prefix}{index}.bias`.
struct Key<'a> {
    prefix: &'a str,
    index: usize,
    part: Part,
}

fn parse(name: &str) -> Option<Key<'_>> {
    let (stem, part) = if let Some(stem) = name.strip_suffix(".weight") {
        (stem, Part::Weight)
    } else {
        (name.strip_suffix(".bias")?, Part::Bias)
    };
    let (prefix, digits) = match stem.rfind('.') {
        Some(dot) => (&stem[..=dot], &stem[dot + 1..]),
        None => ("", stem),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Key {
        prefix,
        index: digits.parse().ok()?,
        part,
    })
}

/// The accepted names, said once for every message that needs them.
const EXPECTED: &str = "expected Occam's layers.{i}.weight, or an nn.Sequential state_dict's {k}.weight \
     (k the module index), optionally under one common prefix such as model.0.weight";

/// The tensors of a file as `name [shape] DTYPE`, in index order, at most 16 of them.
pub(super) fn listing(found: &[Found]) -> String {
    let mut sorted: Vec<&Found> = found.iter().collect();
    sorted.sort_by_key(|f| (parse(&f.name).map(|k| k.index), f.name.clone()));
    let shown: Vec<String> = sorted
        .iter()
        .take(16)
        .map(|f| format!("{} {:?} {:?}", f.name, f.shape, f.dtype))
        .collect();
    let more = sorted.len().saturating_sub(shown.len());
    format!(
        "{}{}",
        shown.join(", "),
        if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        }
    )
}

/// One layer's tensors: its weight matrix and, when the file has one, its bias.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LayerNames {
    pub weight: String,
    pub bias: Option<String>,
}

/// The tensors of every layer, in layer order. `contiguous` (Occam's own files)
/// additionally requires `layers.0.weight`, `layers.1.weight`, … without a gap.
pub(super) fn layer_names(found: &[Found], contiguous: bool) -> Result<Vec<LayerNames>, String> {
    if found.is_empty() {
        return Err(format!("the file holds no tensors ({EXPECTED})"));
    }
    let unknown: Vec<&str> = found
        .iter()
        .filter(|f| parse(&f.name).is_none())
        .map(|f| f.name.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unexpected tensor{} {}: {EXPECTED}; the file holds {}",
            if unknown.len() == 1 { "" } else { "s" },
            quoted(&unknown),
            listing(found)
        ));
    }
    let keys: Vec<(Key, &Found)> = found
        .iter()
        .map(|f| (parse(&f.name).expect("parsed above"), f))
        .collect();
    let mut prefixes: Vec<&str> = keys.iter().map(|(k, _)| k.prefix).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    if prefixes.len() > 1 {
        return Err(format!(
            "the tensors sit under {} different prefixes ({}): one network's layers share one prefix; the file holds {}",
            prefixes.len(),
            quoted(&prefixes),
            listing(found)
        ));
    }
    let weights = indexed(&keys, Part::Weight)?;
    let biases = indexed(&keys, Part::Bias)?;
    if let Some((index, name)) = biases.iter().find(|(i, _)| !weights.iter().any(|(w, _)| w == i)) {
        return Err(format!(
            "bias tensor '{name}' has no weight '{}{index}.weight' beside it: a bias belongs to a layer; \
             the file holds {}",
            prefixes[0],
            listing(found)
        ));
    }
    if contiguous {
        check_contiguous(&weights, prefixes[0])?;
    }
    Ok(weights
        .iter()
        .map(|&(index, weight)| LayerNames {
            weight: weight.to_string(),
            bias: biases.iter().find(|(i, _)| *i == index).map(|(_, b)| b.to_string()),
        })
        .collect())
}

/// The (index, name) of every tensor of one `part`, ordered by index; two tensors of the
/// same part claiming one index are refused.
fn indexed<'a>(keys: &[(Key, &'a Found)], part: Part) -> Result<Vec<(usize, &'a str)>, String> {
    let mut named: Vec<(usize, &str)> = keys
        .iter()
        .filter(|(k, _)| k.part == part)
        .map(|(k, f)| (k.index, f.name.as_str()))
        .collect();
    named.sort_unstable();
    if let Some(pair) = named.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "tensors '{}' and '{}' both claim layer index {}",
            pair[0].1, pair[1].1, pair[0].0
        ));
    }
    Ok(named)
}

/// Occam writes `layers.0.weight` to `layers.{n−1}.weight`; a gap means a damaged file.
fn check_contiguous(weights: &[(usize, &str)], prefix: &str) -> Result<(), String> {
    if let Some(i) = weights.iter().enumerate().position(|(i, (index, _))| *index != i) {
        return Err(format!(
            "missing tensor '{prefix}{i}.weight' (an Occam model's layers are numbered 0..{}; found {})",
            weights.len() - 1,
            quoted(&weights.iter().map(|(_, n)| *n).collect::<Vec<_>>())
        ));
    }
    Ok(())
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(names: &[&str]) -> Vec<Found> {
        names
            .iter()
            .map(|n| Found {
                name: n.to_string(),
                dtype: Dtype::F32,
                shape: vec![2, 2],
            })
            .collect()
    }

    #[test]
    fn indices_order_numerically_under_one_prefix() {
        let weights = |names: Vec<LayerNames>| names.into_iter().map(|n| n.weight).collect::<Vec<_>>();
        let names = layer_names(&found(&["net.10.weight", "net.2.weight", "net.0.weight"]), false).unwrap();
        assert_eq!(weights(names), ["net.0.weight", "net.2.weight", "net.10.weight"]);
        let names = layer_names(&found(&["layers.1.weight", "layers.0.weight"]), true).unwrap();
        assert_eq!(weights(names), ["layers.0.weight", "layers.1.weight"]);
    }

    #[test]
    fn each_bias_joins_the_weight_of_its_index_and_may_be_missing() {
        let names = layer_names(
            &found(&["10.bias", "2.weight", "10.weight", "0.weight", "0.bias"]),
            false,
        )
        .unwrap();
        let pairs: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.weight.as_str(), n.bias.as_deref())).collect();
        assert_eq!(
            pairs,
            [
                ("0.weight", Some("0.bias")),
                ("2.weight", None),
                ("10.weight", Some("10.bias"))
            ]
        );
    }

    #[test]
    fn other_names_mixed_prefixes_duplicates_and_gaps_are_refused() {
        let cases: [(&[&str], bool, &str); 7] = [
            (&["fc1.weight"], false, "unexpected tensor 'fc1.weight'"),
            (
                &["0.weight", "1.running_mean"],
                false,
                "unexpected tensor '1.running_mean'",
            ),
            (
                &["a.0.weight", "b.1.weight"],
                false,
                "2 different prefixes ('a.', 'b.')",
            ),
            (&["1.weight", "01.weight"], false, "both claim layer index 1"),
            (&["layers.1.weight"], true, "missing tensor 'layers.0.weight'"),
            (
                &["0.weight", "2.bias"],
                false,
                "bias tensor '2.bias' has no weight '2.weight'",
            ),
            (&["0.weight", "0.bias", "00.bias"], false, "both claim layer index 0"),
        ];
        for (names, contiguous, want) in cases {
            let e = layer_names(&found(names), contiguous).unwrap_err();
            assert!(e.contains(want), "'{e}' should contain '{want}'");
        }
        assert!(layer_names(&[], false).unwrap_err().contains("no tensors"));
    }
}
