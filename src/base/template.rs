//! The small template language of drivers/ and assets/: YAML (or argument lists) with
//! `{{name}}` placeholders, filled from a map of values.
//!
//! A string that is exactly one placeholder takes the value's type (a port stays a number);
//! a placeholder inside a longer string is replaced by the value's text. Templates are embedded
//! in the binary, so an unknown placeholder is a bug, caught by the tests that render them.

use std::collections::BTreeMap;

use serde_json::Value;

/// Placeholder values by name.
pub type Vars = BTreeMap<&'static str, Value>;

/// Parses a YAML template and fills its placeholders. A key whose placeholder is null is
/// left out (`storageClassName` when the cluster's default class is meant).
pub fn render_yaml(template: &str, vars: &Vars) -> Result<Value, String> {
    let mut value: Value =
        serde_saphyr::from_str(template).map_err(|e| format!("template is not YAML: {e}"))?;
    fill(&mut value, vars)?;
    drop_nulls(&mut value);
    Ok(value)
}

/// Renders every document of a multi-document YAML template.
pub fn render_yaml_documents(template: &str, vars: &Vars) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(template).map_err(|e| format!("template is not YAML: {e}"))?;
    docs.into_iter()
        .filter(|d| !d.is_null())
        .map(|mut d| {
            fill(&mut d, vars)?;
            drop_nulls(&mut d);
            Ok(d)
        })
        .collect()
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Serializes a rendered document as block-style YAML: long single-line strings (a digest-pinned
/// image) stay on one line; multi-line strings (a config file) become literal blocks.
pub fn to_yaml(value: &Value) -> String {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(value, options).unwrap_or_else(|e| {
        // A serde_json::Value always has a YAML form; failing here is a bug in the serializer.
        panic!("could not write YAML: {e}")
    })
}

/// Renders an argument-list template: one argument per line, `#` lines are comments, and a
/// line that renders to nothing is dropped (that is how an optional flag is written).
pub fn render_args(template: &str, vars: &Vars) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    for line in template.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let arg = substitute(line, vars)?;
        if !arg.is_empty() {
            args.push(arg);
        }
    }
    Ok(args)
}

/// Fills every placeholder in `value`, recursively.
pub fn fill(value: &mut Value, vars: &Vars) -> Result<(), String> {
    match value {
        Value::String(text) => {
            if let Some(name) = whole_placeholder(text) {
                *value = vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("no value for placeholder {{{{{name}}}}}"))?;
            } else if text.contains("{{") {
                *text = substitute(text, vars)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                fill(item, vars)?;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                fill(item, vars)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

fn whole_placeholder(text: &str) -> Option<&str> {
    let name = text.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!name.contains("{{") && !name.contains("}}")).then_some(name)
}

/// Replaces every `{{name}}` in `text` with the value's text.
pub fn substitute(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in {text:?}"))?;
        let name = after[..end].trim();
        let value = vars
            .get(name)
            .ok_or_else(|| format!("no value for placeholder {{{{{name}}}}}"))?;
        match value {
            Value::String(s) => out.push_str(s),
            Value::Null => {}
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        Vars::from([("port", json!(8042)), ("name", json!("dev"))])
    }

    #[test]
    fn a_whole_placeholder_keeps_the_value_type() {
        let v = render_yaml("a: '{{port}}'\nb: 'x-{{port}}-{{name}}'\n", &vars()).unwrap();
        assert_eq!(v, json!({"a": 8042, "b": "x-8042-dev"}));
    }

    #[test]
    fn an_unknown_placeholder_is_an_error() {
        let err = render_yaml("a: '{{nope}}'\n", &vars()).unwrap_err();
        assert!(err.contains("{{nope}}"), "{err}");
    }

    #[test]
    fn empty_argument_lines_are_dropped() {
        let vars = Vars::from([("flag", json!("")), ("name", json!("dev"))]);
        let args = render_args("# comment\nstart\n{{flag}}\n-p={{name}}\n", &vars).unwrap();
        assert_eq!(args, ["start", "-p=dev"]);
    }

    #[test]
    fn yaml_round_trips() {
        let long = format!("kindest/node:v1.36.4@sha256:{}", "0".repeat(64));
        let v = json!({"kind": "Cluster", "nodes": [{"role": "worker", "port": 1}],
            "ip": "127.0.0.1:8042:30042", "image": long, "file": "{\n  \"a\": 1\n}\n"});
        let text = to_yaml(&v);
        assert!(text.contains(&format!("image: {long}\n")), "{text}");
        assert!(text.contains("file: |"), "{text}");
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
