#!/usr/bin/env python3
"""Extracts the strict Kubernetes JSON schemas korthbox's manifests are validated against.

Source: the `kubernetes-validate` package from PyPI (Apache-2.0, pinned below; .ci/run installs
it), which bundles yannh's kubernetes-json-schema "-local-strict" schemas (additionalProperties:
false everywhere) generated from each Kubernetes release's OpenAPI document. The schemas are
another project's files, so they are not committed here: tests/manifests.rs runs this script
into a scratch directory. Only the definitions reachable from the kinds korthbox deploys are
kept, descriptions are dropped, and $refs are made local, so that each version is one small
file: v1.34.json ... v1.37.json.

    python3 -m pip install kubernetes-validate==1.37.0
    python3 tests/support/k8s_schemas.py OUT_DIR

Exit 3 when the package (at the pinned version) is not installed.
"""
import json
import pathlib
import sys

PACKAGE_VERSION = "1.37.0"
VERSIONS = ["1.34", "1.35", "1.36", "1.37"]
ROOTS = [
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.PersistentVolumeClaim",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.batch.v1.Job",
    "io.k8s.api.policy.v1.PodDisruptionBudget",
    "io.k8s.api.networking.v1.Ingress",
    "io.k8s.api.rbac.v1.ClusterRole",
    "io.k8s.api.rbac.v1.ClusterRoleBinding",
    "io.k8s.api.rbac.v1.Role",
    "io.k8s.api.rbac.v1.RoleBinding",
    "io.k8s.api.storage.v1.StorageClass",
]


def strip(node, refs):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "description":
                continue
            if key == "$ref":
                name = value.split("#/$defs/", 1)[-1]
                refs.add(name)
                out[key] = "#/$defs/" + name
            else:
                out[key] = strip(value, refs)
        return out
    if isinstance(node, list):
        return [strip(v, refs) for v in node]
    return node


def main(out):
    try:
        import kubernetes_validate
        from kubernetes_validate.version import __version__
    except ImportError:
        print(f"kubernetes-validate is not installed: python3 -m pip install kubernetes-validate=={PACKAGE_VERSION}", file=sys.stderr)
        sys.exit(3)
    if __version__ != PACKAGE_VERSION:
        print(f"kubernetes-validate {__version__} is installed, the tests pin {PACKAGE_VERSION}: python3 -m pip install kubernetes-validate=={PACKAGE_VERSION}", file=sys.stderr)
        sys.exit(3)
    package = pathlib.Path(kubernetes_validate.__file__).parent
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for version in VERSIONS:
        path = package / f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json"
        defs = json.loads(path.read_text())["$defs"]
        kept, todo = {}, list(ROOTS)
        while todo:
            name = todo.pop()
            if name in kept:
                continue
            refs = set()
            kept[name] = strip(defs[name], refs)
            todo.extend(refs - kept.keys())
        doc = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "source": f"kubernetes-validate {PACKAGE_VERSION}, v{version}.0-local-strict/_definitions.json",
            "$defs": dict(sorted(kept.items())),
        }
        (out / f"v{version}.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
