//! From the flags to the library's requests.

use crate::cli::{PortArgs, SpecArgs, StackArgs, TargetArgs};
use crate::sandbox::target::Wanted;
use crate::spec::{ClusterSpec, HostPorts};
use crate::stack::Choices;

pub fn wanted(args: &TargetArgs) -> Wanted {
    Wanted {
        name: args.name.clone(),
        driver: args.driver.0,
        context: args.context.clone(),
        provider: args.provider,
    }
}

pub fn cluster_spec(args: &SpecArgs) -> ClusterSpec {
    ClusterSpec {
        name: args.target.name.clone(),
        control_planes: args.control_planes,
        workers: args.workers,
        kubernetes_version: args.kubernetes_version.clone(),
        ports: host_ports(&args.ports),
        node_cpus: args.node_cpus,
        node_memory_mib: args.node_memory,
    }
}

pub fn choices(args: &StackArgs) -> Choices {
    Choices {
        namespace: args.ns.namespace.clone(),
        storage: args.storage,
        orthanc_storage: args.orthanc_storage,
        orthanc_image: args.orthanc_image.clone(),
        postgres_image: args.postgres_image.clone(),
        minio_image: args.minio_image.clone(),
        registry_mirror: args.registry_mirror.clone(),
    }
}

pub fn host_ports(args: &PortArgs) -> HostPorts {
    HostPorts {
        http: args.http_port,
        dicom: args.dicom_port,
        api_server: args.api_server_port,
    }
}
