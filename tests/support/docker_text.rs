//! Turns the plain-text `docker info` captures (colima, OrbStack, Rancher Desktop, Docker
//! Desktop on Linux and WSL2) into the `/info` JSON the engine itself sent to that CLI, so the
//! fake engine can serve what the real one answered.

use serde_json::{Map, Value, json};

/// Parses the `Server:` section of `docker info` text.
pub fn info_json(text: &str) -> Value {
    let mut out = Map::new();
    let mut in_server = false;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("Server:") {
            in_server = true;
            continue;
        }
        if !in_server || !line.starts_with(' ') || line.starts_with("  ") {
            continue;
        }
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Server Version" => put(&mut out, "ServerVersion", value),
            "Operating System" => put(&mut out, "OperatingSystem", value),
            "OSType" => put(&mut out, "OSType", value),
            "Architecture" => put(&mut out, "Architecture", value),
            "Kernel Version" => put(&mut out, "KernelVersion", value),
            "Name" => put(&mut out, "Name", value),
            "Docker Root Dir" => put(&mut out, "DockerRootDir", value),
            "Cgroup Driver" => put(&mut out, "CgroupDriver", value),
            "Cgroup Version" => put(&mut out, "CgroupVersion", value),
            "HTTP Proxy" => put(&mut out, "HttpProxy", value),
            "HTTPS Proxy" => put(&mut out, "HttpsProxy", value),
            "No Proxy" => put(&mut out, "NoProxy", value),
            "CPUs" => {
                out.insert("NCPU".into(), json!(value.parse::<i64>().expect("CPUs")));
            }
            "Total Memory" => {
                out.insert("MemTotal".into(), json!(memory_bytes(value)));
            }
            "Labels" | "Security Options" => {
                let mut items = Vec::new();
                while let Some(next) = lines.peek() {
                    if !next.starts_with("  ") {
                        break;
                    }
                    let item = lines.next().unwrap();
                    // Nested lines ("   Profile: builtin") belong to the item above.
                    if item.starts_with("   ") || item.trim().is_empty() {
                        continue;
                    }
                    items.push(item.trim().to_string());
                }
                if key == "Labels" {
                    out.insert("Labels".into(), json!(items));
                } else {
                    let opts: Vec<String> = items.iter().map(|i| format!("name={i}")).collect();
                    out.insert("SecurityOptions".into(), json!(opts));
                }
            }
            _ => {}
        }
    }
    Value::Object(out)
}

fn put(out: &mut Map<String, Value>, key: &str, value: &str) {
    out.insert(key.into(), Value::String(value.to_string()));
}

/// The CLI prints MemTotal with Go's `units.BytesSize` ("7.667GiB"); the engine sent bytes.
pub fn memory_bytes(text: &str) -> i64 {
    let units = [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    for (suffix, factor) in units {
        if let Some(number) = text.strip_suffix(suffix) {
            return (number.trim().parse::<f64>().expect("memory number") * factor as f64) as i64;
        }
    }
    panic!("unknown memory figure {text:?}")
}
