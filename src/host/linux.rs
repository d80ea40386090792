//! Linux kernel settings that decide whether a multi-node cluster runs: inotify limits and,
//! for rootless engines, which cgroup v2 controllers systemd delegates to the user.

use serde::Serialize;

use crate::base::env::Env;

/// kind's documented fix for "too many open files" on multi-node clusters.
pub const MIN_INOTIFY_WATCHES: u64 = 524_288;
pub const MIN_INOTIFY_INSTANCES: u64 = 512;

/// The controllers a rootless engine needs delegated to run Kubernetes nodes (kind's rootless
/// guide lists cpu, cpuset, io, memory and pids).
pub const ROOTLESS_CONTROLLERS: [&str; 5] = ["cpu", "cpuset", "io", "memory", "pids"];

#[derive(Debug, Clone, Copy, Serialize)]
pub struct InotifyLimits {
    pub max_user_watches: Option<u64>,
    pub max_user_instances: Option<u64>,
}

pub fn inotify_limits(env: &Env) -> InotifyLimits {
    let read = |name: &str| {
        env.read_host_file(&format!("/proc/sys/fs/inotify/{name}"))
            .and_then(|v| v.parse().ok())
    };
    InotifyLimits {
        max_user_watches: read("max_user_watches"),
        max_user_instances: read("max_user_instances"),
    }
}

/// The cgroup v2 controllers systemd delegates to `uid`'s user manager, or `None` when there
/// is no such cgroup (no systemd, cgroup v1, or no session for that user).
pub fn delegated_controllers(env: &Env, uid: u32) -> Option<Vec<String>> {
    let path =
        format!("/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers");
    env.read_host_file(&path)
        .map(|text| text.split_whitespace().map(str::to_string).collect())
}
