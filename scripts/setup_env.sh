#!/usr/bin/env bash
# Create .venv and install msfm with its test and DICOM-output extras. Idempotent.
# --with-monailabel: also build .venv-label (scripts/setup_monailabel.sh) for the MONAI Label app and its test.
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
if [[ "${1:-}" == "--with-monailabel" ]]; then
    bash scripts/setup_monailabel.sh
fi
