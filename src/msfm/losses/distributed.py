"""Cross-rank gathering for the contrastive terms.

Every rank gathers the whole global batch and computes the full ``N x N`` loss, so the loss value is identical
on all ranks and equal to the single-process loss over ``N``. The functional collective's autograd all-gather
(torch's replacement for the deprecated ``torch.distributed.nn.functional.all_gather``) sums, in its backward, the
gradients of every rank's copy back to the owner, and DDP's gradient averaging then yields exactly the single-process
gradient (the scheme of open_clip's ``gather_with_grad`` with ``local_loss=False``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol

__all__ = ["is_distributed", "gather_with_grad", "gather_no_grad", "rank_offset"]

# all_gather_tensor_autograd (torch 2.4) is a deprecated alias of all_gather_single_autograd in torch 2.13
_all_gather_autograd = getattr(funcol, "all_gather_single_autograd", None) or funcol.all_gather_tensor_autograd


def is_distributed() -> bool:
    """True when a process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, keeping the autograd graph.

    Args:
        tensor: the local batch, ``[b, ...]``, the same shape on every rank.

    Returns:
        ``[world_size * b, ...]``; the input itself when not distributed.
    """
    if not is_distributed():
        return tensor
    return _all_gather_autograd(tensor.contiguous(), 0, dist.group.WORLD)


def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0 (integer or detached data)."""
    if not is_distributed():
        return tensor
    # gloo has no bool collectives
    sendable = tensor.to(torch.uint8) if tensor.dtype == torch.bool else tensor.contiguous()
    parts = [torch.empty_like(sendable) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, sendable)
    return torch.cat(parts, dim=0).to(tensor.dtype)


def rank_offset(local_batch: int) -> int:
    """Index of this rank's first sample in the gathered batch."""
    return dist.get_rank() * local_batch if is_distributed() else 0
