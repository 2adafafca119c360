"""Inferers: autocast on the device a workflow runs on."""

from __future__ import annotations

from msfm.inferers.autocast import AutocastInferer

__all__ = ["AutocastInferer"]
