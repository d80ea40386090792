//! Server-side apply's field ownership as the real API server keeps it, for the fake API
//! server: every manager owns a set of fields (`managedFields`, FieldsV1); an apply conflicts
//! only on a field another manager owns *with a different value* (new fields and equal values
//! merge silently and become shared); a forced apply takes the conflicting fields over; a field
//! the applier owned before and no longer applies is removed unless someone else owns it.
//! Lists are atomic here (a whole list is one field), which is how the stack's lists behave
//! for the cases the tests look at.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

type Path = Vec<String>;

/// Who owns which fields of one object.
struct Owner {
    manager: String,
    operation: String,
    fields: BTreeSet<Path>,
}

/// Fields the server keeps to itself: never owned by a manager.
fn server_field(path: &[String]) -> bool {
    match path {
        [top] => matches!(top.as_str(), "apiVersion" | "kind"),
        [top, ..] if top == "status" => true,
        [meta, key, ..] if meta == "metadata" => matches!(
            key.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "managedFields"
        ),
        _ => false,
    }
}

/// Every leaf field of `object` (a scalar, a list or an empty map), the server's own left out.
pub fn leaves(object: &Value) -> BTreeSet<Path> {
    fn walk(value: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    path.push(k.clone());
                    walk(v, path, out);
                    path.pop();
                }
            }
            _ if !path.is_empty() && !server_field(path) => {
                out.insert(path.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(object, &mut Vec::new(), &mut out);
    out
}

fn at<'v>(object: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(object, |v, k| v.get(k))
}

fn remove(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut v = object;
    for k in parents {
        match v.get_mut(k) {
            Some(next) => v = next,
            None => return,
        }
    }
    if let Some(map) = v.as_object_mut() {
        map.remove(last);
    }
}

/// FieldsV1 (`{"f:metadata": {"f:labels": {"f:app": {}}}}`) from a set of paths.
fn to_fields_v1(fields: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for k in path {
            node = node
                .entry(format!("f:{k}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap();
        }
    }
    Value::Object(root)
}

fn from_fields_v1(value: &Value) -> BTreeSet<Path> {
    fn walk(value: &Value, path: &mut Path, out: &mut BTreeSet<Path>) {
        match value.as_object() {
            Some(map) if !map.is_empty() => {
                for (k, v) in map {
                    let key = k.strip_prefix("f:").unwrap_or(k);
                    path.push(key.to_string());
                    walk(v, path, out);
                    path.pop();
                }
            }
            _ if !path.is_empty() => {
                out.insert(path.clone());
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// The owners `object` records. An entry without FieldsV1 (as a test writes one) owns every
/// field of the object; an object with no entries at all is owned by `before-first-apply`,
/// as the real server assigns it on the first apply.
fn owners(object: &Value) -> Vec<Owner> {
    let entries = object["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return vec![Owner {
            manager: "before-first-apply".into(),
            operation: "Update".into(),
            fields: leaves(object),
        }];
    }
    entries
        .iter()
        .map(|e| Owner {
            manager: e["manager"].as_str().unwrap_or("unknown").to_string(),
            operation: e["operation"].as_str().unwrap_or("Update").to_string(),
            fields: match e.get("fieldsV1") {
                Some(f) => from_fields_v1(f),
                None => leaves(object),
            },
        })
        .collect()
}

fn write_owners(object: &mut Value, owners: &[Owner]) {
    write_entries(object, owners, false)
}

/// `keep_empty`: an entry that owns no field stays (a test's object that has only a name).
fn write_entries(object: &mut Value, owners: &[Owner], keep_empty: bool) {
    let api_version = object["apiVersion"].clone();
    let entries: Vec<Value> = owners
        .iter()
        .filter(|o| keep_empty || !o.fields.is_empty())
        .map(|o| {
            json!({"manager": o.manager, "operation": o.operation, "apiVersion": api_version,
                   "time": "2026-12-06T00:00:00Z", "fieldsType": "FieldsV1",
                   "fieldsV1": to_fields_v1(&o.fields)})
        })
        .collect();
    object["metadata"]["managedFields"] = json!(entries);
}

/// Records `manager` as the creator of every field of a new `object` (a POST, or an object a
/// test puts in place with a bare `managedFields` entry).
pub fn created(object: &mut Value, manager: &str, operation: &str) {
    let owner = Owner {
        manager: manager.to_string(),
        operation: operation.to_string(),
        fields: leaves(object),
    };
    write_owners(object, &[owner]);
}

/// Spells out the fields of entries a test wrote without FieldsV1.
pub fn normalise(object: &mut Value) {
    let has_entries = object["metadata"]["managedFields"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if has_entries {
        let owners = owners(object);
        write_entries(object, &owners, true);
    }
}

/// Maps merged key by key; anything else (lists included) replaced.
pub fn merge(mut base: Value, over: Value) -> Value {
    match (base.as_object_mut(), over) {
        (Some(map), Value::Object(over)) => {
            for (k, v) in over {
                let merged = match map.remove(&k) {
                    Some(old) => merge(old, v),
                    None => v,
                };
                map.insert(k, merged);
            }
            base
        }
        (_, over) => over,
    }
}

/// Server-side apply of `applied` by `manager` onto `old` (absent: a create). `Err` is the
/// real server's conflict message.
pub fn apply(
    old: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, String> {
    let wanted = leaves(applied);
    let Some(old) = old else {
        let mut object = applied.clone();
        created(&mut object, manager, "Apply");
        return Ok(object);
    };
    let mut owners = owners(old);
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for owner in owners.iter().filter(|o| o.manager != manager) {
        for path in owner.fields.intersection(&wanted) {
            if at(old, path) != at(applied, path) {
                conflicts.push((owner.manager.clone(), format!(".{}", path.join("."))));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_message(&conflicts, applied));
    }
    for owner in owners.iter_mut().filter(|o| o.manager != manager) {
        for (_, path) in &conflicts {
            let path: Path = path[1..].split('.').map(String::from).collect();
            owner.fields.remove(&path);
        }
    }
    let before: BTreeSet<Path> = owners
        .iter()
        .filter(|o| o.manager == manager && o.operation == "Apply")
        .flat_map(|o| o.fields.clone())
        .collect();
    owners.retain(|o| !(o.manager == manager && o.operation == "Apply"));
    let others: BTreeSet<Path> = owners.iter().flat_map(|o| o.fields.clone()).collect();
    let mut object = merge(old.clone(), applied.clone());
    for gone in before.difference(&wanted) {
        if !others.contains(gone) {
            remove(&mut object, gone);
        }
    }
    owners.push(Owner {
        manager: manager.to_string(),
        operation: "Apply".into(),
        fields: wanted,
    });
    write_owners(&mut object, &owners);
    Ok(object)
}

/// "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
fn conflict_message(conflicts: &[(String, String)], applied: &Value) -> String {
    let api_version = applied["apiVersion"].as_str().unwrap_or("v1");
    match conflicts {
        [(manager, path)] => format!(
            "Apply failed with 1 conflict: conflict with \"{manager}\" using {api_version}: {path}"
        ),
        many => {
            let lines: Vec<String> = many
                .iter()
                .map(|(m, p)| format!("- conflict with \"{m}\" using {api_version}: {p}"))
                .collect();
            format!(
                "Apply failed with {} conflicts: {}",
                many.len(),
                lines.join("\n")
            )
        }
    }
}
