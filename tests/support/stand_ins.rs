//! Stand-ins for kind, k3d and minikube, which cannot run here (no registry, no privileged
//! containers). Each is a shell script on the sandbox's PATH that records its argv, the
//! environment variables that choose a node provider, and the config file it was given; keeps
//! its clusters as files; writes a kube context the way the real tool does; and answers in the
//! real tool's output format (see ../shared/fixtures/SOURCES.md). `STANDIN_FAIL=1` makes create fail
//! half-way, after the cluster exists, as a kubeadm failure does.

use std::collections::BTreeMap;

use super::Sandbox;

/// One recorded run of a stand-in.
#[derive(Debug, Clone)]
pub struct Call {
    pub tool: String,
    pub args: Vec<String>,
    /// KIND_EXPERIMENTAL_PROVIDER and DOCKER_HOST as the tool saw them ("<unset>" if unset).
    pub env: BTreeMap<String, String>,
    /// The file passed with --config, as it was when the tool ran.
    pub config: Option<String>,
    /// The archive given to `kind load image-archive`, copied when the tool ran.
    pub archive: Option<std::path::PathBuf>,
}

impl Call {
    pub fn line(&self) -> String {
        format!("{} {}", self.tool, self.args.join(" "))
    }
    pub fn env(&self, key: &str) -> &str {
        self.env.get(key).map(String::as_str).unwrap_or("<unset>")
    }
}

const PRELUDE: &str = r#"
dir="$STANDIN_DIR"
mkdir -p "$dir/calls" "$dir/state/$TOOL"
state="$dir/state/$TOOL"
n=$(ls "$dir/calls" | grep -c '\.args$')
rec="$dir/calls/$(printf '%03d' "$n")-$TOOL"
printf '%s\n' "$@" > "$rec.args"
{
  echo "KIND_EXPERIMENTAL_PROVIDER=${KIND_EXPERIMENTAL_PROVIDER-<unset>}"
  echo "DOCKER_HOST=${DOCKER_HOST-<unset>}"
  echo "HTTPS_PROXY=${HTTPS_PROXY-<unset>}"
  echo "NO_PROXY=${NO_PROXY-<unset>}"
  echo "no_proxy=${no_proxy-<unset>}"
} > "$rec.env"
prev=""
for a in "$@"; do
  if [ "$prev" = "--config" ]; then cp "$a" "$rec.config"; fi
  prev="$a"
done
# Writes a kubeconfig whose context points at the fake API server, as the real tools do.
write_context() {
  [ -n "$STANDIN_API_URL" ] || return 0
  cfg="${KUBECONFIG%%:*}"
  mkdir -p "$(dirname "$cfg")"
  cat > "$cfg" <<KUBECONFIG_END
apiVersion: v1
kind: Config
current-context: $1
clusters:
- name: $1
  cluster:
    server: $STANDIN_API_URL
contexts:
- name: $1
  context:
    cluster: $1
    user: $1
users:
- name: $1
  user:
    token: fake-token
KUBECONFIG_END
}
# Removes the context write_context wrote for a cluster that is deleted, as the real tools do.
remove_context() {
  cfg="${KUBECONFIG%%:*}"
  if [ -n "$STANDIN_API_URL" ] && [ -f "$cfg" ] && grep -q "^current-context: $1\$" "$cfg"; then
    rm -f "$cfg"
  fi
}
"#;

const KIND: &str = r#"
name=kind
prev=""
for a in "$@"; do
  if [ "$prev" = "--name" ]; then name="$a"; fi
  prev="$a"
done
case "$1 $2" in
  "version "*) echo "kind ${STANDIN_KIND_VERSION:-v0.33.0} go1.25.4 linux/amd64" ;;
  "get clusters")
    if [ -z "$(ls "$state")" ]; then echo "No kind clusters found." >&2; else ls "$state"; fi ;;
  "create cluster")
    if [ -e "$state/$name" ]; then
      echo "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"$name\"" >&2; exit 1
    fi
    echo "Creating cluster \"$name\" ..." >&2
    if [ "$STANDIN_FAIL" = pull ]; then
      # kind's words when the engine cannot reach the registry: nothing is made yet.
      echo " ✗ Ensuring node image (kindest/node:v1.36.4) 🖼" >&2
      echo "ERROR: failed to create cluster: failed to pull image \"kindest/node:v1.36.4\": command \"docker pull kindest/node:v1.36.4\" failed with error: exit status 1" >&2
      echo "Command Output: Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: no such host" >&2
      exit 1
    fi
    echo " ✓ Ensuring node image (kindest/node:v1.36.4) 🖼" >&2
    touch "$state/$name"
    echo " ✓ Preparing nodes 📦 📦 📦" >&2
    # A process of its own, as kind's docker and kubeadm calls are: a timeout must end it too.
    if [ -n "$STANDIN_CHILD" ]; then sleep 300 & echo $! > "$dir/child.pid"; fi
    sleep "${STANDIN_SLEEP:-0}"
    echo " ✓ Writing configuration 📜" >&2
    if [ -n "$STANDIN_FAIL" ]; then
      echo " ✗ Starting control-plane 🕹️" >&2
      echo "ERROR: failed to create cluster: failed to init node with kubeadm: command \"docker exec --privileged $name-control-plane kubeadm init --skip-phases=preflight --config=/kind/kubeadm.conf --skip-token-print --v=6\" failed with error: exit status 1" >&2
      exit 1
    fi
    echo " ✓ Starting control-plane 🕹️" >&2
    echo " ✓ Installing CNI 🔌" >&2
    echo " ✓ Installing StorageClass 💾" >&2
    echo " ✓ Joining worker nodes 🚜" >&2
    write_context "kind-$name"
    echo "Set kubectl context to \"kind-$name\"" >&2 ;;
  "delete cluster")
    echo "Deleting cluster \"$name\" ..." >&2
    remove_context "kind-$name"
    rm -f "$state/$name" ;;
  "load docker-image"|"load image-archive")
    if [ ! -e "$state/$name" ]; then echo "ERROR: no nodes found for cluster \"$name\"" >&2; exit 1; fi
    if [ "$2" = "image-archive" ]; then cp "$3" "$rec.archive"; fi
    for a in "$@"; do
      case "$a" in load|docker-image|image-archive|--name|"$name") ;; *) echo "Image: \"$a\" with ID \"sha256:0\" not yet present on node \"$name-control-plane\", loading..." ;; esac
    done ;;
  *) echo "ERROR: unknown command \"$*\" for \"kind\"" >&2; exit 1 ;;
esac
"#;

const K3D: &str = r#"
case "$1 $2" in
  "version "*) printf 'k3d version v5.8.3\nk3s version v1.31.5-k3s1 (default)\n' ;;
  "cluster list")
    printf '['
    sep=""
    for f in "$state"/*; do
      [ -e "$f" ] || continue
      c=$(basename "$f")
      printf '%s{"name":"%s","network":{"name":"k3d-%s"},"nodes":[{"name":"k3d-%s-server-0","role":"server"}],"serversRunning":1,"serversCount":1,"agentsRunning":2,"agentsCount":2}' "$sep" "$c" "$c" "$c"
      sep=","
    done
    printf ']\n' ;;
  "cluster create")
    name="$3"
    if [ -e "$state/$name" ]; then
      echo "FATA[0000] Failed to create cluster '$name' because a cluster with that name already exists" >&2; exit 1
    fi
    echo "INFO[0000] Using config file $5 (k3d.io/v1alpha5#simple)" >&2
    echo "INFO[0000] Prep: Network" >&2
    echo "INFO[0000] Created network 'k3d-$name'" >&2
    touch "$state/$name"
    echo "INFO[0001] Starting new tools node..." >&2
    if [ -n "$STANDIN_FAIL" ]; then
      echo "ERRO[0012] Failed Cluster Start: Failed to start server k3d-$name-server-0: Node k3d-$name-server-0 failed to get ready" >&2
      echo "FATA[0012] Cluster creation FAILED, also FAILED to rollback changes!" >&2
      exit 1
    fi
    echo "INFO[0020] Cluster '$name' created successfully!" >&2
    write_context "k3d-$name"
    echo "INFO[0020] You can now use it like this:" >&2
    echo "kubectl cluster-info" ;;
  "cluster delete")
    name="$3"
    if [ ! -e "$state/$name" ]; then echo "FATA[0000] No nodes found for given cluster" >&2; exit 1; fi
    echo "INFO[0000] Deleting cluster '$name'" >&2
    remove_context "k3d-$name"
    rm -f "$state/$name"
    echo "INFO[0001] Successfully deleted cluster $name!" >&2 ;;
  "cluster stop")
    echo "INFO[0000] Stopping cluster '$3'" >&2
    echo "INFO[0001] Stopped cluster '$3'" >&2 ;;
  "cluster start")
    echo "INFO[0000] Using the k3d-tools node to gather environment information" >&2
    echo "INFO[0001] Started cluster '$3'" >&2 ;;
  "image import")
    echo "INFO[0000] Importing image(s) into cluster" >&2
    echo "INFO[0003] Successfully imported image(s)" >&2 ;;
  *) echo "FATA[0000] unknown command \"$*\"" >&2; exit 1 ;;
esac
"#;

const MINIKUBE: &str = r#"
name=minikube
prev=""
for a in "$@"; do
  case "$a" in --profile=*) name="${a#--profile=}" ;; esac
  if [ "$prev" = "--profile" ] || [ "$prev" = "-p" ]; then name="$a"; fi
  prev="$a"
done
case "$1 $2" in
  "version "*) echo '{"commit":"7a9f2e07b5cd44b1d33f7a8c89a1e9b0e1a0c3a1","minikubeVersion":"v1.39.0"}' ;;
  "profile list")
    if [ -z "$(ls "$state")" ]; then
      echo "{\"error\":{\"Op\":\"open\",\"Path\":\"$HOME/.minikube/profiles\",\"Err\":2}}"; exit 1
    fi
    printf '{"invalid":[],"valid":['
    sep=""
    for f in "$state"/*; do
      c=$(basename "$f")
      printf '%s{"Name":"%s","Status":"OK","Config":{"Name":"%s","Driver":"docker","KubernetesConfig":{"ContainerRuntime":"containerd"},"Nodes":[{"Name":"","ControlPlane":true,"Worker":true}]}}' "$sep" "$c" "$c"
      sep=","
    done
    printf ']}\n' ;;
  "start "*)
    echo "😄  [$name] minikube v1.39.0 on Debian 12.12"
    echo "✨  Using the docker driver based on user configuration"
    if [ -n "$HTTPS_PROXY" ]; then
      echo "🌐  Found network options:"
      echo "    ▪ HTTPS_PROXY=$HTTPS_PROXY"
      echo "    ▪ NO_PROXY=$NO_PROXY"
    fi
    touch "$state/$name"
    echo "👍  Starting \"$name\" primary control-plane node in \"$name\" cluster"
    if [ -n "$STANDIN_FAIL" ]; then
      echo "❌  Exiting due to GUEST_START: failed to start node: wait 6m0s for node: wait for healthy API server: apiserver healthz never reported healthy" >&2
      exit 80
    fi
    echo "🔗  Configuring CNI (Container Networking Interface) ..."
    write_context "$name"
    echo "🏄  Done! kubectl is now configured to use \"$name\" cluster and \"default\" namespace by default" ;;
  "stop "*)
    echo "✋  Stopping node \"$name\"  ..."
    echo "🛑  1 node stopped." ;;
  "delete "*)
    echo "🔥  Deleting \"$name\" in docker ..."
    remove_context "$name"
    rm -f "$state/$name"
    echo "💀  Removed all traces of the \"$name\" cluster." ;;
  "image load") ;;
  *) echo "❌  Exiting due to MK_USAGE: unknown command \"$*\"" >&2; exit 64 ;;
esac
"#;

/// Puts the three stand-ins on the sandbox's PATH; their records go under `standin/`. With
/// `api_url`, a successful create writes a kube context pointing at it into KUBECONFIG.
pub fn install(sandbox: &mut Sandbox, api_url: Option<&str>) {
    let dir = sandbox.path("standin");
    sandbox.set("STANDIN_DIR", dir.to_str().unwrap());
    if let Some(url) = api_url {
        sandbox.set("STANDIN_API_URL", url);
    }
    let kubeconfig = sandbox.path("home/.kube/config");
    sandbox.set("KUBECONFIG", kubeconfig.to_str().unwrap());
    for (tool, body) in [("kind", KIND), ("k3d", K3D), ("minikube", MINIKUBE)] {
        sandbox.stand_in(tool, &format!("TOOL={tool}\n{PRELUDE}\n{body}"));
    }
}

/// A sandbox with the stand-ins installed and a captured Docker Engine at DOCKER_HOST: the
/// usual world of a driver test, with no cluster yet.
pub fn with_docker_engine() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.serve_docker_host(
        "engine/docker.sock",
        super::fixture_json("docker-engine-linux-fedora-info.json"),
    );
    install(&mut sandbox, None);
    sandbox
}

/// Every recorded call except version probes, in order.
pub fn calls(sandbox: &Sandbox) -> Vec<Call> {
    let dir = sandbox.path("standin/calls");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut stems: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".args")
                .map(String::from)
        })
        .collect();
    stems.sort();
    stems
        .into_iter()
        .map(|stem| {
            let read = |ext: &str| std::fs::read_to_string(dir.join(format!("{stem}.{ext}")));
            let args: Vec<String> = read("args").unwrap().lines().map(String::from).collect();
            let env = read("env")
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Call {
                tool: stem.split_once('-').unwrap().1.to_string(),
                args,
                env,
                config: read("config").ok(),
                archive: Some(dir.join(format!("{stem}.archive"))).filter(|p| p.exists()),
            }
        })
        .filter(|c| c.args.first().map(String::as_str) != Some("version"))
        .collect()
}

/// Whether the stand-in `tool` holds a cluster called `name`.
pub fn has_cluster(sandbox: &Sandbox, tool: &str, name: &str) -> bool {
    sandbox
        .path(&format!("standin/state/{tool}/{name}"))
        .exists()
}

/// Makes the stand-in `tool` hold a cluster called `name`, as if it had been created.
pub fn add_cluster(sandbox: &Sandbox, tool: &str, name: &str) {
    sandbox.write(&format!("standin/state/{tool}/{name}"), "");
}

/// A cluster korthbox made: the tool has it, and korthbox's cache holds the definition it
/// wrote for it (the evidence of ownership).
pub fn add_korthbox_cluster(sandbox: &Sandbox, tool: &str, name: &str) {
    add_cluster(sandbox, tool, name);
    let file = match tool {
        "kind" => "kind.yaml",
        "k3d" => "k3d.yaml",
        _ => "minikube.args",
    };
    sandbox.write(
        &format!("home/.cache/korthbox/clusters/{name}/{file}"),
        &format!("name: {name}\n"),
    );
}
