"""The pretraining workflow: one MONAI trainer iteration of the four-scale objective."""

from __future__ import annotations

from functools import partial

import torch
from ignite.metrics import Average
from monai.engines import SupervisedTrainer
from monai.engines.utils import IterationEvents
from monai.utils.enums import CommonKeys as Keys

from msfm.losses import MultiScaleLoss
from msfm.precision import resolve_amp

__all__ = ["MultiScaleTrainer"]


def _loss_term(key: str, output: dict | list[dict]) -> torch.Tensor:
    """A term of a batched output, or of a decollated one (where every sample carries the batch's terms)."""
    return (output[0] if isinstance(output, list) else output)[key]


def _lower_is_better(current: float, best: float) -> bool:
    return current < best


class MultiScaleTrainer(SupervisedTrainer):
    """MONAI's ``SupervisedTrainer`` for :class:`msfm.losses.MultiScaleLoss`.

    Each iteration asks the network for the optional outputs that the loss's active terms need (its
    reconstruction and matching passes), backpropagates the loss's ``"total"`` and leaves every detached term in
    ``engine.state.output["loss_<term>"]``. Their epoch averages are the engine's metrics of the same names;
    ``loss_total`` is the key metric, ranked lowest-best.

    With ``amp`` the forward pass and the loss run under autocast on the device type that the engine runs on
    (``amp_kwargs["dtype"]``, bfloat16 by default), so the same code runs on CUDA and on CPUs; ``"auto"`` turns it
    on where the device has fast bf16 (:func:`msfm.precision.resolve_amp`). A gradient scaler is used only for
    float16.

    Args:
        device: where the iterations run.
        max_epochs: training epochs.
        train_data_loader: the training batches.
        network: :class:`msfm.networks.MSFMNet`, possibly wrapped in ``DistributedDataParallel``.
        optimizer: over ``network.parameters()``: the network owns every trainable parameter.
        loss_function: the stateless four-scale objective.
        prepare_batch: splits a batch into the network's inputs (``PrepareBatchExtraInput`` of the report keys).
        train_handlers: ignite handlers.
        amp: run under autocast: ``True``, ``False`` or ``"auto"``.
        amp_kwargs: ``torch.autocast`` arguments besides the device type.
        kwargs: further ``SupervisedTrainer`` arguments.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader,
        network: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_function: MultiScaleLoss,
        prepare_batch,
        train_handlers=None,
        amp: bool | str = False,
        amp_kwargs: dict | None = None,
        **kwargs,
    ) -> None:
        keys = [f"loss_{name}" for name in (*loss_function.active_terms, "total")]
        metrics = {key: Average(output_transform=partial(_loss_term, key)) for key in keys}
        amp_kwargs = {"dtype": torch.bfloat16, **(amp_kwargs or {})}
        super().__init__(
            device=device,
            max_epochs=max_epochs,
            train_data_loader=train_data_loader,
            network=network,
            optimizer=optimizer,
            loss_function=loss_function,
            prepare_batch=prepare_batch,
            key_train_metric={"loss_total": metrics.pop("loss_total")},
            additional_metrics=metrics,
            metric_cmp_fn=_lower_is_better,
            train_handlers=train_handlers,
            amp=False,  # MONAI's own scaler is CUDA-only; autocast and the scaler are set up here instead
            amp_kwargs=amp_kwargs,
            **kwargs,
        )
        self.amp = resolve_amp(amp, str(self.state.device))
        use_scaler = self.amp and amp_kwargs["dtype"] == torch.float16
        self.scaler = torch.amp.GradScaler(self.state.device.type) if use_scaler else None

    def _iteration(self, engine: MultiScaleTrainer, batchdata: dict[str, torch.Tensor]) -> dict:
        if batchdata is None:
            raise ValueError("Must provide batch data for current iteration.")
        images, _, args, kwargs = engine.prepare_batch(batchdata, engine.state.device, engine.non_blocking)
        engine.state.output = {Keys.IMAGE: images}
        engine.network.train()
        engine.optimizer.zero_grad(set_to_none=engine.optim_set_to_none)
        loss_function = engine.loss_function
        with torch.autocast(engine.state.device.type, enabled=engine.amp, **engine.amp_kwargs):
            engine.state.output[Keys.PRED] = engine.network(
                images,
                *args,
                **kwargs,
                reconstruction=loss_function.needs_reconstruction,
                matching=loss_function.needs_matching,
            )
            engine.fire_event(IterationEvents.FORWARD_COMPLETED)
            terms = loss_function(engine.state.output[Keys.PRED])
        loss = terms["total"]
        engine.state.output[Keys.LOSS] = loss
        engine.state.output.update({f"loss_{name}": value.detach() for name, value in terms.items()})
        engine.fire_event(IterationEvents.LOSS_COMPLETED)
        if engine.scaler is not None:
            engine.scaler.scale(loss).backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.scaler.step(engine.optimizer)
            engine.scaler.update()
        else:
            loss.backward()
            engine.fire_event(IterationEvents.BACKWARD_COMPLETED)
            engine.optimizer.step()
        engine.fire_event(IterationEvents.MODEL_COMPLETED)
        return engine.state.output
