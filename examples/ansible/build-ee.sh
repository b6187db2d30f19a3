#!/bin/sh
# Build the execution environment of execution-environment.yml with ansible-builder 3 (podman or docker):
#   sh examples/ansible/build-ee.sh [TAG]
# In the work folder (EE_WORK, default examples/ansible/build/): dist/ gets poshbridge's wheel and the
# poshbridge.iis collection's tarball, both made from this repository, and context/ the build context.
# EE_CONTEXT_ONLY=1 writes the context without building the image (no container runtime needed);
# PYTHON picks the Python whose pip builds the wheel (default python3).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="${EE_WORK:-$here/build}"
rm -rf "$work/dist" "$work/context" && mkdir -p "$work/dist"
cp "$here/execution-environment.yml" "$work/"
"${PYTHON:-python3}" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
ansible-galaxy collection build --output-path "$work/dist" "$repo/ansible_collections/poshbridge/iis"
cd "$work"
if [ "${EE_CONTEXT_ONLY:-}" = 1 ]; then
    ansible-builder create --file execution-environment.yml --context context
else
    ansible-builder build --file execution-environment.yml --context context --tag "${1:-poshbridge-ee:latest}"
fi
