#!/usr/bin/env bash
# Render the kustomize overlays into manifests/<env>/resources.yaml, the
# GitOps source that Argo CD / Flux and the pipeline's deploy stage read.
# Called by `make manifests`; tests/manifests checks that the committed files
# match a fresh render, so re-run it after every change under kustomize/.
#
# Usage: scripts/render_manifests.sh [env ...]   (default: dev staging prod prod-vllm)
# KUBECTL=/path/to/kubectl overrides the kubectl on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

kubectl_bin="${KUBECTL:-kubectl}"
if ! command -v "$kubectl_bin" >/dev/null 2>&1; then
    echo "render_manifests: '$kubectl_bin' not found; install kubectl >= 1.27" \
         "(it bundles kustomize v5) or set KUBECTL=/path/to/kubectl" >&2
    exit 1
fi

envs=("$@")
if [ "${#envs[@]}" -eq 0 ]; then
    envs=(dev staging prod prod-vllm)
fi

for env in "${envs[@]}"; do
    overlay="kustomize/overlays/$env"
    if [ ! -f "$overlay/kustomization.yaml" ]; then
        echo "render_manifests: no overlay at $overlay" >&2
        exit 1
    fi
    out_dir="manifests/$env"
    mkdir -p "$out_dir"
    tmp="$(mktemp "$out_dir/.resources.yaml.XXXXXX")"
    # Write to a temp file first so a failed render never leaves a half file.
    if ! {
        echo "# Rendered from $overlay by scripts/render_manifests.sh. DO NOT EDIT:"
        echo "# edit the overlay, then run \`make manifests\`."
        "$kubectl_bin" kustomize "$overlay"
    } >"$tmp"; then
        rm -f "$tmp"
        echo "render_manifests: kubectl kustomize $overlay failed" >&2
        exit 1
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$out_dir/resources.yaml"
    echo "render_manifests: wrote $out_dir/resources.yaml"
done
