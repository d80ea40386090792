//! Loading images into a cluster from the real Docker Engine and the real Podman service
//! (.ci/run starts both), through the stand-in kind: on Docker kind reads the engine itself;
//! on Podman korthbox exports a real archive through the engine's API and hands it to
//! `kind load image-archive`.

mod support;

use std::path::Path;
use std::process::Command;

use support::stand_ins::{self, add_cluster};
use support::{Sandbox, real_part_available};

const DOCKER_SOCKET: &str = "/var/run/docker.sock";
const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// Imports a one-file root filesystem as `name` with the engine's own CLI; false when the
/// engine or its CLI is not there.
fn import_tiny_image(sandbox: &Sandbox, program: &str, name: &str) -> bool {
    let rootfs = sandbox.write("rootfs/hello", "korthbox\n");
    let tar = sandbox.path("tiny.tar");
    support::tar_dir(rootfs.parent().unwrap(), &tar)
        && Command::new(program)
            .arg("import")
            .arg(&tar)
            .arg(name)
            .output()
            .is_ok_and(|o| o.status.success())
}

fn world(socket: &str) -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.set("DOCKER_HOST", &format!("unix://{socket}"));
    stand_ins::install(&mut sandbox, None);
    add_cluster(&sandbox, "kind", "korthbox");
    sandbox
}

/// Imports a tiny `image` into the engine behind `socket` with `cli`, loads it into the
/// stand-in kind cluster with korthbox, and returns the kind call; `None` when the engine is
/// not there (skipped, or failed under KORTHBOX_TEST_REQUIRE).
fn load_through_kind(
    socket: &str,
    cli: &str,
    image: &str,
    what: &str,
) -> Option<(Sandbox, stand_ins::Call)> {
    let sandbox = world(socket);
    let available = Path::new(socket).exists() && import_tiny_image(&sandbox, cli, image);
    if !real_part_available(what, available) {
        return None;
    }
    let out = sandbox.run(&["cluster", "load", "--driver", "kind", image]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let load = stand_ins::calls(&sandbox).pop().unwrap();
    Some((sandbox, load))
}

#[test]
fn kind_on_real_docker_loads_from_the_engine() {
    let image = "korthbox-test/tiny:1";
    let Some((_, load)) =
        load_through_kind(DOCKER_SOCKET, "docker", image, "Docker Engine with its CLI")
    else {
        return;
    };
    assert_eq!(
        load.line(),
        format!("kind load docker-image {image} --name korthbox")
    );
    assert_eq!(load.env("KIND_EXPERIMENTAL_PROVIDER"), "<unset>");
}

#[test]
fn kind_on_real_podman_gets_a_real_archive_from_the_engine() {
    let image = "localhost/korthbox-test/tiny:1";
    let what = "the Podman service with its CLI";
    let Some((_sandbox, load)) = load_through_kind(PODMAN_SOCKET, "podman", image, what) else {
        return;
    };
    assert_eq!(load.env("KIND_EXPERIMENTAL_PROVIDER"), "podman");
    assert_eq!(&load.args[..2], ["load", "image-archive"]);
    // A docker-archive whose manifest names the image, with its one layer.
    let archive = load.archive.expect("kind got an archive");
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.lines().any(|l| l == "manifest.json"), "{listing}");
    let manifest = Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg("manifest.json")
        .output()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    let tags = manifest[0]["RepoTags"].to_string();
    assert!(tags.contains("korthbox-test/tiny:1"), "{manifest:#}");
    assert_eq!(
        manifest[0]["Layers"].as_array().unwrap().len(),
        1,
        "{manifest:#}"
    );
}
