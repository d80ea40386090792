//! cgroup v1 engines. Kubernetes 1.35 made kubelets refuse cgroup v1 unless their
//! configuration says `failCgroupV1: false` (KEP-5573), and kind stopped testing cgroup v1 with
//! v0.31; many hosts still run it (Ubuntu 20.04, Amazon Linux 2, older WSL2 kernels). Each
//! driver says in its definition what it does about it; this is what they share.

use serde::Serialize;

use super::common::KubeVersion;

/// The cgroup version of the engine the nodes run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cgroup {
    V1,
    V2,
}

/// The first Kubernetes minor whose kubelet refuses cgroup v1 by default.
pub const REFUSED_FROM_MINOR: u64 = 35;

/// What a cluster of Kubernetes `version` needs on an engine of cgroup version `cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// cgroup v2, or not known: the definition as it is.
    Nothing,
    /// cgroup v1 and a Kubernetes that still runs there by default.
    RunsAsIs(KubeVersion),
    /// cgroup v1 and a Kubernetes whose kubelets must be told `failCgroupV1: false`.
    AllowV1(KubeVersion),
}

impl Need {
    pub fn of(cgroup: Option<Cgroup>, version: &str) -> Result<Need, String> {
        if cgroup != Some(Cgroup::V1) {
            return Ok(Need::Nothing);
        }
        let v = KubeVersion::parse(version)?;
        Ok(match v.minor >= REFUSED_FROM_MINOR {
            true => Need::AllowV1(v),
            false => Need::RunsAsIs(v),
        })
    }

    pub fn allow_v1(&self) -> bool {
        matches!(self, Need::AllowV1(_))
    }

    /// The one-line note saying what is done, `how` being the driver's way of doing it.
    pub fn note(&self, how: &str) -> Option<String> {
        match self {
            Need::Nothing => None,
            Need::RunsAsIs(v) => Some(format!(
                "the engine runs cgroup v1: Kubernetes {v} still starts there as it is"
            )),
            Need::AllowV1(v) => Some(format!(
                "the engine runs cgroup v1: {how}, which Kubernetes {v} needs to start there (KEP-5573); move the engine to cgroup v2 when you can"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cgroup_v1_and_kubernetes_1_35_on_need_the_setting() {
        assert_eq!(Need::of(Some(Cgroup::V2), "v1.36.4"), Ok(Need::Nothing));
        assert_eq!(Need::of(None, "v1.36.4"), Ok(Need::Nothing));
        assert!(Need::of(Some(Cgroup::V1), "v1.35.0").unwrap().allow_v1());
        assert!(Need::of(Some(Cgroup::V1), "1.36").unwrap().allow_v1());
        let old = Need::of(Some(Cgroup::V1), "v1.34.11").unwrap();
        assert!(!old.allow_v1());
        assert_eq!(
            old.note("x").unwrap(),
            "the engine runs cgroup v1: Kubernetes v1.34.11 still starts there as it is"
        );
    }
}
