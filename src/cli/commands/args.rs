//! From the flags to the library's requests.

use crate::base::error::{Error, Result};
use crate::base::spec::{ClusterSpec, HostPorts};
use crate::cli::grammar::{PortArgs, SpecArgs, StackArgs, TargetArgs};
use crate::kube::stack::Choices;
use crate::sandbox::target::Wanted;

pub fn wanted(args: &TargetArgs) -> Wanted {
    Wanted {
        name: args.name.clone(),
        driver: args.driver.0,
        context: args.context.clone(),
        provider: args.provider,
    }
}

pub fn cluster_spec(args: &SpecArgs) -> Result<ClusterSpec> {
    Ok(ClusterSpec {
        name: args.target.name.clone(),
        control_planes: args.control_planes,
        workers: args.workers,
        kubernetes_version: args.kubernetes_version.clone(),
        ports: host_ports(&args.ports)?,
        node_cpus: args.node_cpus,
        node_memory_mib: args.node_memory,
        registry_mirror: None,
    })
}

pub fn choices(args: &StackArgs) -> Result<Choices> {
    let external_postgres = match &args.postgres_url {
        None => None,
        Some(pg) => {
            let mut pg = pg.clone();
            if let Some(file) = &args.postgres_ca {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    Error::usage(format!(
                        "--postgres-ca {}: could not read it",
                        file.display()
                    ))
                    .because(e)
                })?;
                if !text.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(Error::usage(format!(
                        "--postgres-ca {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                        file.display()
                    )));
                }
                pg.ca = Some(text);
            }
            pg.check().map_err(Error::usage)?;
            Some(pg)
        }
    };
    Ok(Choices {
        namespace: args.ns.namespace.clone(),
        storage: args.storage,
        orthanc_storage: args.orthanc_storage,
        viewer: args.viewer,
        orthanc_replicas: args.orthanc_replicas,
        storage_class: args.storage_class.clone(),
        ingress: args
            .ingress_host
            .clone()
            .map(|host| crate::kube::stack::spec::Ingress {
                host,
                class: args.ingress_class.clone(),
                tls_secret: args.tls_secret.clone(),
            }),
        dicom_service: args.dicom_service,
        external_s3: args
            .s3_bucket
            .clone()
            .map(|bucket| crate::kube::stack::spec::ExternalS3 {
                bucket,
                endpoint: args.s3_endpoint.clone(),
                region: args.s3_region.clone(),
                secret: args.s3_secret.clone(),
            }),
        orthanc_image: args.orthanc_image.clone(),
        postgres_image: args.postgres_image.clone(),
        minio_image: args.minio_image.clone(),
        registry_mirror: args.registry_mirror.clone(),
        external_postgres,
    })
}

/// The host ports, each different from the others.
pub fn host_ports(args: &PortArgs) -> Result<HostPorts> {
    distinct(&[
        ("--http-port", args.http_port),
        ("--dicom-port", args.dicom_port),
        ("--api-server-port", args.api_server_port),
    ])?;
    Ok(HostPorts {
        http: args.http_port,
        dicom: args.dicom_port,
        api_server: args.api_server_port,
    })
}

/// Two listeners cannot share a port: the second would fail, later and less clearly.
pub fn distinct(ports: &[(&str, u16)]) -> Result<()> {
    for (i, (flag, port)) in ports.iter().enumerate() {
        if let Some((other, _)) = ports[i + 1..].iter().find(|(_, p)| p == port) {
            return Err(Error::usage(format!("{flag} and {other} are both {port}"))
                .hint("give each its own port"));
        }
    }
    Ok(())
}
