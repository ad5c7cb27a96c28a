//! Flattening a trial's configuration into dotted columns (`train.augment.translate`),
//! in the order the fields are declared, so that a new configuration field becomes a
//! column of every export without a change here.

use crate::measure::profile::Method;
use crate::measure::trajectory::TrajectoryKind;
use crate::sweep::spec::{Factor, MeasureSpec, PairSlot, ProfileSpec, RegionSpec, TransitionSpec, TrialSpec};
use crate::train::TrainConfig;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A JSON value whose objects keep their keys in the order they were written (serde
/// writes struct fields in declaration order; `serde_json::Value` would sort them).
enum Node {
    Leaf(Value),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// The plain JSON value (object keys sorted), for leaves that are arrays or objects.
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(v) => v,
            Node::Object(entries) => Value::Object(entries.into_iter().map(|(k, n)| (k, n.into_value())).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(Value::String(v.to_string())))
    }
    fn visit_unit<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(Value::Null))
    }
    fn visit_none<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Leaf(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item.into_value());
        }
        Ok(Node::Leaf(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

/// The leaves of a trial's configuration as (dotted name, value), in declaration order.
/// An absent optional part (`measure.transitions` when no transitions are counted) is
/// one leaf holding null; arrays are single leaves.
pub fn flatten(spec: &TrialSpec) -> Vec<(String, Value)> {
    let text = serde_json::to_string(spec).expect("a trial spec serializes to JSON");
    let root: Node = serde_json::from_str(&text).expect("serde_json reads its own output");
    let mut out = Vec::new();
    push_leaves(String::new(), root, &mut out);
    out
}

fn push_leaves(prefix: String, node: Node, out: &mut Vec<(String, Value)>) {
    match node {
        Node::Leaf(v) => out.push((prefix, v)),
        Node::Object(entries) => {
            for (key, child) in entries {
                let name = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                push_leaves(name, child, out);
            }
        }
    }
}

/// A configuration with every optional part present, so that every known column exists
/// (with its type) even in a store whose trials never set it. Its values are never
/// exported, only its column names, their order and their JSON types.
pub fn full_template() -> TrialSpec {
    TrialSpec {
        train: TrainConfig {
            train_size: Some(0),
            fallback_at: Some(0),
            lbfgs_steps: Some(0),
            ..TrainConfig::default()
        },
        measure: MeasureSpec {
            seed: Some(0),
            track: Some(0),
            transitions: Some(TransitionSpec {
                trajectory: TrajectoryKind::Translate,
                count: 0,
                method: Method::Exact,
                samples: 0,
            }),
            profile: Some(ProfileSpec {
                trajectories: Vec::new(),
                count: 0,
                bins: 0,
            }),
            regions: Some(RegionSpec {
                grid: 0,
                triplet: TrajectoryKind::DifferentClassEllipse,
                max_regions: Some(0),
            }),
            ..MeasureSpec::default()
        },
        pair: Some(PairSlot {
            group: String::new(),
            factor: Factor::RandomLabels,
            on: false,
        }),
    }
}

/// Merges the column names of `leaves` into `columns`, keeping the existing order and
/// placing each new name right after the name that precedes it in `leaves`.
pub fn merge_names(columns: &mut Vec<String>, leaves: &[(String, Value)]) {
    let mut after: Option<usize> = None;
    for (name, _) in leaves {
        match columns.iter().position(|c| c == name) {
            Some(i) => after = Some(i),
            None => {
                let at = after.map_or(0, |i| i + 1);
                columns.insert(at, name.clone());
                after = Some(at);
            }
        }
    }
}

/// Drops names that are only the parent of other columns (`measure.transitions`, left by
/// a trial without transitions, beside `measure.transitions.count`).
pub fn drop_parents(columns: &mut Vec<String>) {
    let parents: Vec<String> = columns
        .iter()
        .filter(|c| {
            let prefix = format!("{c}.");
            columns.iter().any(|other| other.starts_with(&prefix))
        })
        .cloned()
        .collect();
    columns.retain(|c| !parents.contains(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_gives_every_field_a_dotted_column_in_declaration_order() {
        let leaves = flatten(&full_template());
        let names: Vec<&str> = leaves.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..3], ["train.data", "train.width", "train.depth"]);
        for name in [
            "train.augment.translate",
            "train.augment.rotate90",
            "train.train_size",
            "train.fallback_at",
            "train.lbfgs_steps",
            "measure.seed",
            "measure.transitions.samples",
            "measure.profile.trajectories",
            "measure.regions.triplet",
            "pair.on",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert!(!names.contains(&"measure.transitions"));
    }

    #[test]
    fn new_names_are_placed_after_their_predecessor_and_parents_dropped() {
        let leaf = |n: &str| (n.to_string(), Value::Null);
        let mut columns = vec!["a".to_string(), "m.t".to_string(), "z".to_string()];
        merge_names(
            &mut columns,
            &[leaf("a"), leaf("m.t.count"), leaf("m.t.kind"), leaf("z")],
        );
        drop_parents(&mut columns);
        assert_eq!(columns, ["a", "m.t.count", "m.t.kind", "z"]);
    }
}
