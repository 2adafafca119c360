#!/usr/bin/env bash
# Create .venv and install msfm with its test and DICOM-output extras. Idempotent.
# --with-monailabel: also build .venv-label (scripts/setup_monailabel.sh) for the MONAI Label app and its test.
# --with-dicom3tools: also apt-get install dicom3tools (dciodvfy, the reference validator the SEG/SR tests run;
#   they skip, saying so, where it is missing), as root or with password-less sudo; otherwise a note, not a failure.
# torch is pinned to 2.13.0 (MSFM_TORCH_SPEC overrides): on CPU-only machines with the local wheel this is the
# CPU build, so no CUDA wheels are pulled; installed first, so nothing later asks for a newer torch.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install -q "${MSFM_TORCH_SPEC:-torch==2.13.0}"
fi
.venv/bin/python -m pip install -q -e ".[test,dicom]"
.venv/bin/python -c "import torch, monai, msfm; print(f'msfm {msfm.__version__}, monai {monai.__version__}, torch {torch.__version__}')"
for option in "$@"; do
    case "$option" in
        --with-monailabel) bash scripts/setup_monailabel.sh ;;
        --with-dicom3tools)
            if ! command -v dciodvfy >/dev/null; then
                sudo=$([[ "$(id -u)" == 0 ]] || echo "sudo -n")
                ($sudo apt-get update -qq && $sudo apt-get install -y -qq dicom3tools) >/dev/null 2>&1 ||
                    echo "dicom3tools not installed (no apt-get rights): the dciodvfy comparisons will skip"
            fi ;;
        *) echo "unknown option $option" >&2; exit 2 ;;
    esac
done
