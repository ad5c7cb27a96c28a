//! Which tensors of a model file are the layers, and in which order. Two naming schemes
//! are read: Occam's own `layers.{i}.weight`, and a PyTorch `nn.Sequential` state_dict
//! `{k}.weight` (k the module index, so activations leave gaps: 0, 2, 4), optionally
//! under one common prefix (`model.0.weight`). Layers are ordered by their index as a
//! number, so `10.weight` comes after `2.weight`. Bias tensors and names of any other
//! form are refused, listing what the file holds.

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

/// The names of the weight tensors in layer order. `contiguous` (Occam's own files)
/// additionally requires `layers.0.weight`, `layers.1.weight`, … without a gap.
pub(super) fn layer_names(found: &[Found], contiguous: bool) -> Result<Vec<String>, String> {
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
    refuse_biases(&keys)?;
    let mut weights: Vec<(usize, &str)> = keys.iter().map(|(k, f)| (k.index, f.name.as_str())).collect();
    weights.sort_unstable();
    if let Some(pair) = weights.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "tensors '{}' and '{}' both claim layer index {}",
            pair[0].1, pair[1].1, pair[0].0
        ));
    }
    if contiguous {
        check_contiguous(&weights, prefixes[0])?;
    }
    Ok(weights.into_iter().map(|(_, name)| name.to_string()).collect())
}

/// Networks of this release are bias-free; silently dropping a bias would compute a
/// different function, so the file is refused naming every bias tensor.
fn refuse_biases(keys: &[(Key, &Found)]) -> Result<(), String> {
    let biases: Vec<String> = keys
        .iter()
        .filter(|(k, _)| k.part == Part::Bias)
        .map(|(_, f)| format!("{} {:?}", f.name, f.shape))
        .collect();
    if biases.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the file holds bias tensor{} {}: biases are not supported yet (Occam's networks are bias-free, \
         and dropping a bias would change the network's outputs); save a model built with \
         nn.Linear(..., bias=False) or Dense(..., use_bias=False)",
        if biases.len() == 1 { "" } else { "s" },
        biases.join(", ")
    ))
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
        let names = layer_names(&found(&["net.10.weight", "net.2.weight", "net.0.weight"]), false).unwrap();
        assert_eq!(names, ["net.0.weight", "net.2.weight", "net.10.weight"]);
        let names = layer_names(&found(&["layers.1.weight", "layers.0.weight"]), true).unwrap();
        assert_eq!(names, ["layers.0.weight", "layers.1.weight"]);
    }

    #[test]
    fn other_names_mixed_prefixes_duplicates_and_gaps_are_refused() {
        let cases: [(&[&str], bool, &str); 6] = [
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
            (&["0.weight", "0.bias"], false, "bias tensor 0.bias [2, 2]"),
        ];
        for (names, contiguous, want) in cases {
            let e = layer_names(&found(names), contiguous).unwrap_err();
            assert!(e.contains(want), "'{e}' should contain '{want}'");
        }
        assert!(layer_names(&[], false).unwrap_err().contains("no tensors"));
    }
}
