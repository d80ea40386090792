#!/usr/bin/env python3
"""Extracts the strict Kubernetes JSON schemas korthbox's manifests are validated against.

Source: the `kubernetes-validate` wheel from PyPI (Apache-2.0), which bundles yannh's
kubernetes-json-schema "-local-strict" schemas (additionalProperties: false everywhere) generated
from each Kubernetes release's OpenAPI document. Only the definitions reachable from the kinds
korthbox deploys are kept, descriptions are dropped, and $refs are made local, so that each
version is one small file: v1.34.json ... v1.37.json.

    pip download kubernetes-validate==1.37.0 --no-deps -d /tmp/kv
    python3 tests/k8s-schemas/extract.py /tmp/kv/kubernetes_validate-1.37.0-py3-none-any.whl
"""
import json
import pathlib
import sys
import zipfile

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


def main(wheel):
    z = zipfile.ZipFile(wheel)
    here = pathlib.Path(__file__).parent
    for version in VERSIONS:
        path = f"kubernetes_validate/kubernetes-json-schema/v{version}.0-local-strict/_definitions.json"
        defs = json.loads(z.read(path))["$defs"]
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
            "source": f"kubernetes-validate 1.37.0, v{version}.0-local-strict/_definitions.json",
            "$defs": dict(sorted(kept.items())),
        }
        (here / f"v{version}.json").write_text(json.dumps(doc, separators=(",", ":"), sort_keys=False) + "\n")
        print(version, len(kept), "definitions")


if __name__ == "__main__":
    main(sys.argv[1])
