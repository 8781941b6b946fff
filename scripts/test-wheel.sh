#!/usr/bin/env bash
# Build the Linux wheel the way a user's pip does (from the sdist, so the sdist is checked too),
# install it (not editable) and run the tests against the installed package: `import tinify`
# must resolve to site-packages, never to python/ in this checkout.
#
#   scripts/test-wheel.sh                       build, install, cargo test + pytest
#   scripts/test-wheel.sh --build-only          build and check the sdist and the wheel
#   scripts/test-wheel.sh --wheel FILE          install and test a wheel built elsewhere
#   scripts/test-wheel.sh --install-only [--with PKG]...   build and install (with extra packages)
#   scripts/test-wheel.sh --test-only [-- PYTEST_ARGS]     test what is installed
#
# It installs into the running Python (`$PYTHON`, default python3): use a virtual environment.
# Outputs go to dist/ (the sdist and the wheel); Cargo's cache is target/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
unset PYTHONPATH

build=1 install=1 run_tests=1 wheel="" with=() pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) wheel="$2"; build=0; shift 2 ;;
        --with) with+=("$2"); shift 2 ;;
        --build-only) install=0; run_tests=0; shift ;;
        --install-only) run_tests=0; shift ;;
        --test-only) build=0; install=0; shift ;;
        --) shift; pytest_args=("$@"); break ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$build" = 1 ]; then
    rm -rf dist
    mkdir -p dist
    "$PY" -m maturin sdist --out dist
    sdist=$(ls dist/tinify_codec-*.tar.gz)
    # The sdist must hold everything a build needs: build the wheel from it, as pip would.
    "$PY" -m pip wheel --no-deps --no-build-isolation --wheel-dir dist "$sdist"
    wheel=$(ls dist/tinify_codec-*.whl)
    echo "built $sdist and $wheel"
    "$PY" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile
sdist, wheel = sys.argv[1:]
names = tarfile.open(sdist).getnames()
for need in ("LICENSE", "README.md", "Cargo.lock", "pyproject.toml", "python/tinify/py.typed"):
    assert any(n.endswith("/" + need) for n in names), f"{need} missing from {sdist}"
names = zipfile.ZipFile(wheel).namelist()
for need in ("tinify/py.typed", "tinify/_core.pyi", "tinify/version.py"):
    assert need in names, f"{need} missing from {wheel}"
assert any(n.startswith("tinify/_core.") and n.endswith((".so", ".pyd")) for n in names), wheel
assert any(n.startswith("tinify/weights/") and n.endswith(".pt") for n in names), "no default model"
assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
           for n in names), f"no LICENSE in {wheel}"
print(f"sdist and wheel contents ok ({len(names)} files in the wheel)")
EOF
fi

if [ "$install" = 1 ]; then
    [ -n "$wheel" ] || { echo "no wheel to install" >&2; exit 2; }
    # Drop any other copy first (an editable install of the same version would shadow it).
    "$PY" -m pip uninstall --yes --quiet tinify-codec 2>/dev/null || true
    "$PY" -m pip install --quiet "${wheel}[test]" ${with[@]+"${with[@]}"}
fi

if [ "$run_tests" = 1 ]; then
    # From the checkout root python/ is not on sys.path: `import tinify` must find the installed
    # wheel in site-packages.
    "$PY" - <<'EOF'
import site, sys, sysconfig
from pathlib import Path

import tinify

location = Path(tinify.__file__).resolve().parent
print(f"testing tinify {tinify.__version__} installed at {location}")
roots = {Path(sysconfig.get_path(k)).resolve() for k in ("purelib", "platlib")}
roots.add(Path(site.getusersitepackages()).resolve())
if location.parent not in roots:
    sys.exit(f"error: tinify resolves to {location}, not to an installed wheel in {sorted(roots)}")
EOF

    cargo test
    # pytest exits 5 when it collects no test: not a failure here.
    set +e
    "$PY" -m pytest ${pytest_args[@]+"${pytest_args[@]}"}
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then
        echo "pytest collected no tests"
        rc=0
    fi
    exit "$rc"
fi
