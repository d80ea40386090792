//! Everything that talks to a cluster's API server: whether a cluster is fit (`cluster`), what
//! is deployed (`stack`) and how it is applied (`apply`), what korthbox may touch
//! (`ownership`), reaching into pods (`pod`) and the sandbox's MinIO (`minio`).

pub mod apply;
pub mod cluster;
pub mod minio;
pub mod ownership;
pub mod pod;
pub mod stack;
