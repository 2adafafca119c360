"""On/off settings: a lowercase ``false`` from the bundle command line is refused, never read as true."""

from __future__ import annotations

import numpy as np
import pytest

from msfm.handlers import ResumableCheckpoint
from msfm.networks import MSFMTextEncoder
from msfm.precision import resolve_amp
from msfm.settings import require_flag
from tests.networks.tiny import tiny_msfm_net


def test_bools_pass_and_text_is_refused_with_the_command_line_spelling():
    assert require_flag(False, "resume") is False and require_flag(np.bool_(True), "resume") is True
    with pytest.raises(TypeError, match=r"resume must be True or False, got 'false' \(on the command line write"):
        require_flag("false", "resume")
    with pytest.raises(TypeError, match="got 0.$"):
        require_flag(0, "resume")


def test_components_refuse_a_flag_given_as_text(tmp_path):
    with pytest.raises(TypeError, match="resume must be True or False, got 'false'"):
        ResumableCheckpoint(tmp_path, {}, resume="false")
    with pytest.raises(TypeError, match="isolate_sentences must be True or False, got 'false'"):
        MSFMTextEncoder(vocab_size=20, hidden_size=8, num_layers=1, num_heads=2, isolate_sentences="false")
    with pytest.raises(TypeError, match="center_positions must be True or False, got 'false'"):
        tiny_msfm_net(center_positions="false")
    with pytest.raises(ValueError, match="amp must be True, False or 'auto', got 'false'"):
        resolve_amp("false", "cpu")
