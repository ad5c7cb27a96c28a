//! A small JSON Schema (draft 2020-12) validator for the subset docs/schemas/ uses:
//! `type` (one or a list), `enum`, `properties`, `required`, `additionalProperties: false`,
//! `items`, `prefixItems` (a fixed-length array's positions, e.g. a `[name, value]` pair),
//! `minItems`, `maxItems`, `oneOf` (a value tagged by its `status`), `minimum`, `maximum`,
//! `minLength`, `maxLength`, and the annotations `$schema`, `$id`, `title`, `description`,
//! `format`. Any other keyword is an error, so a schema never relies on a rule this
//! validator would silently skip.

use serde_json::Value;

const ANNOTATIONS: [&str; 5] = ["$schema", "$id", "title", "description", "format"];
const RULES: [&str; 14] = [
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "oneOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
];

/// Every violation of `schema` by `value`, each with its JSON path; empty when valid.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    validate_at(schema, value, "$")
}

fn check(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(rules) = schema.as_object() else {
        errors.push(format!("{at}: the schema is not an object"));
        return;
    };
    for key in rules.keys() {
        if !ANNOTATIONS.contains(&key.as_str()) && !RULES.contains(&key.as_str()) {
            errors.push(format!("{at}: unsupported schema keyword '{key}'"));
        }
    }
    if let Some(types) = rules.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !allowed.iter().any(|t| has_type(value, t)) {
            errors.push(format!("{at}: {value} is not of type {types}"));
        }
    }
    if let Some(Value::Array(options)) = rules.get("enum")
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {}", Value::Array(options.clone())));
    }
    if let (Some(min), Some(n)) = (rules.get("minimum").and_then(Value::as_f64), value.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} is below the minimum {min}"));
    }
    if let (Some(max), Some(n)) = (rules.get("maximum").and_then(Value::as_f64), value.as_f64())
        && n > max
    {
        errors.push(format!("{at}: {n} is above the maximum {max}"));
    }
    if let Some(s) = value.as_str() {
        let chars = s.chars().count() as u64;
        if rules
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| chars < m)
            || rules
                .get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| chars > m)
        {
            errors.push(format!("{at}: '{s}' has a length out of bounds"));
        }
    }
    if let Value::Array(elements) = value {
        check_array(rules, elements, at, errors);
    }
    if let Some(Value::Array(options)) = rules.get("oneOf") {
        check_one_of(options, value, at, errors);
    }
    if let Value::Object(fields) = value {
        check_object(rules, fields, at, errors);
    }
}

/// `prefixItems` checks the leading elements position by position, `items` every element
/// after them, `minItems`/`maxItems` the length.
fn check_array(rules: &serde_json::Map<String, Value>, elements: &[Value], at: &str, errors: &mut Vec<String>) {
    let prefix = rules
        .get("prefixItems")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, element) in elements.iter().enumerate() {
        let schema = prefix.get(i).or(rules.get("items"));
        if let Some(schema) = schema {
            check(schema, element, &format!("{at}[{i}]"), errors);
        }
    }
    let len = elements.len() as u64;
    if rules.get("minItems").and_then(Value::as_u64).is_some_and(|m| len < m)
        || rules.get("maxItems").and_then(Value::as_u64).is_some_and(|m| len > m)
    {
        errors.push(format!("{at}: an array of {len} elements has a length out of bounds"));
    }
}

/// Exactly one of `options` must accept the value; otherwise every option's errors are
/// reported (none accepted) or the count (several accepted).
fn check_one_of(options: &[Value], value: &Value, at: &str, errors: &mut Vec<String>) {
    let results: Vec<Vec<String>> = options.iter().map(|o| validate_at(o, value, at)).collect();
    match results.iter().filter(|e| e.is_empty()).count() {
        1 => {}
        0 => {
            errors.push(format!("{at}: {value} matches none of the oneOf options:"));
            errors.extend(results.into_iter().flatten().map(|e| format!("  {e}")));
        }
        n => errors.push(format!(
            "{at}: {value} matches {n} of the oneOf options, not exactly one"
        )),
    }
}

fn validate_at(schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, at, &mut errors);
    errors
}

fn check_object(
    rules: &serde_json::Map<String, Value>,
    fields: &serde_json::Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let properties = rules.get("properties").and_then(Value::as_object);
    for name in rules.get("required").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = name.as_str()
            && !fields.contains_key(name)
        {
            errors.push(format!("{at}: required property '{name}' is missing"));
        }
    }
    for (name, field) in fields {
        match properties.and_then(|p| p.get(name)) {
            Some(sub) => check(sub, field, &format!("{at}.{name}"), errors),
            None if rules.get("additionalProperties") == Some(&Value::Bool(false)) => {
                errors.push(format!("{at}: property '{name}' is not in the schema"));
            }
            None => {}
        }
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        // JSON Schema: a number with a zero fractional part is an integer.
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        _ => false,
    }
}

#[cfg(test)]
mod keyword_tests {
    use super::validate;
    use serde_json::json;

    fn errors(schema: serde_json::Value, value: serde_json::Value) -> String {
        validate(&schema, &value).join("\n")
    }

    #[test]
    fn prefix_items_check_each_position_and_items_the_rest() {
        let pair = json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                          "items": {"type": "null"}, "minItems": 2, "maxItems": 3});
        assert_eq!(errors(pair.clone(), json!(["width", 3])), "");
        assert_eq!(errors(pair.clone(), json!(["width", 3, null])), "");
        assert!(errors(pair.clone(), json!([3, "width"])).contains("$[0]"));
        assert!(errors(pair.clone(), json!(["width", 3, 4])).contains("$[2]"));
        assert!(errors(pair.clone(), json!(["width"])).contains("length out of bounds"));
        assert!(errors(pair, json!(["a", 1, null, null])).contains("length out of bounds"));
    }

    #[test]
    fn one_of_needs_exactly_one_option() {
        let tagged = json!({"oneOf": [
            {"type": "object", "required": ["status", "value"], "additionalProperties": false,
             "properties": {"status": {"enum": ["value"]}, "value": {"type": "number"}}},
            {"type": "object", "required": ["status", "why"], "additionalProperties": false,
             "properties": {"status": {"enum": ["undefined"]}, "why": {"type": "string"}}}]});
        assert_eq!(errors(tagged.clone(), json!({"status": "value", "value": 0.5})), "");
        assert_eq!(
            errors(tagged.clone(), json!({"status": "undefined", "why": "constant"})),
            ""
        );
        let wrong = errors(tagged.clone(), json!({"status": "value", "why": "constant"}));
        assert!(
            wrong.contains("none of the oneOf") && wrong.contains("'value' is missing"),
            "{wrong}"
        );
        let both = json!({"oneOf": [{"type": "number"}, {"minimum": 0}]});
        assert!(errors(both, json!(1)).contains("2 of the oneOf"));
    }

    #[test]
    fn maximum_bounds_numbers_only() {
        let fraction = json!({"type": ["number", "null"], "minimum": 0, "maximum": 1});
        assert_eq!(errors(fraction.clone(), json!(1.0)), "");
        assert_eq!(errors(fraction.clone(), json!(null)), "");
        assert!(errors(fraction, json!(1.5)).contains("above the maximum 1"));
    }

    #[test]
    fn unknown_keywords_are_still_rejected() {
        assert!(errors(json!({"anyOf": []}), json!(1)).contains("unsupported schema keyword 'anyOf'"));
    }
}
