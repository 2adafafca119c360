#!/usr/bin/env bash
# Create .venv-label: MONAI Label 0.8.5 with msfm, for serving the bundles (apps/msfm_label). Idempotent.
# Separate from .venv because MONAI Label imports torchvision, and PyPI has no CPU-only torchvision: its wheels link
# the CUDA build of torch. So this environment takes torch 2.13.0 and torchvision 0.28.0 from PyPI (about 5 GB with
# the CUDA libraries; they run on CPU too) instead of a local CPU-only torch wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-label
PIP=(.venv-label/bin/python -m pip)
if ! .venv-label/bin/python -c "import torchvision" 2>/dev/null; then
    # --isolated: ignore pip configuration (find-links) that could offer a CPU-only torch wheel
    "${PIP[@]}" install --isolated -q "torch==2.13.0" "torchvision==0.28.0"
fi
"${PIP[@]}" install -q -e . -r apps/msfm_label/requirements.txt
"${PIP[@]}" install -q --no-deps "monailabel==0.8.5" "pydicom-seg==0.4.1"
.venv-label/bin/python -c "import monailabel.app, monailabel.tasks.infer.bundle, msfm; print(f'monailabel {monailabel.__version__}, msfm {msfm.__version__}')"
