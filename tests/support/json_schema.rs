//! A small JSON Schema (draft 2020-12) validator for the subset docs/schemas/ uses:
//! `type` (one or a list), `enum`, `properties`, `required`, `additionalProperties: false`,
//! `items`, `minimum`, `minLength`, `maxLength`, and the annotations `$schema`, `$id`,
//! `title`, `description`, `format`. Any other keyword is an error, so a schema never
//! relies on a rule this validator would silently skip.

use serde_json::Value;

const ANNOTATIONS: [&str; 5] = ["$schema", "$id", "title", "description", "format"];
const RULES: [&str; 9] = [
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "minLength",
    "maxLength",
];

/// Every violation of `schema` by `value`, each with its JSON path; empty when valid.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    errors
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
    if let (Some(items), Value::Array(elements)) = (rules.get("items"), value) {
        for (i, element) in elements.iter().enumerate() {
            check(items, element, &format!("{at}[{i}]"), errors);
        }
    }
    if let Value::Object(fields) = value {
        check_object(rules, fields, at, errors);
    }
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
