"""The shape of the handlers that gather something at every iteration and write it when the run completes."""

from __future__ import annotations

from ignite.engine import Engine, Events

__all__ = ["CollectingHandler"]


class CollectingHandler:
    """Base of the handlers that gather per-iteration items into ``self.items`` (:meth:`collect`, emptied at each
    epoch start) and write them when the engine completes (:meth:`write`)."""

    def __init__(self) -> None:
        self.items: list = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)
        engine.add_event_handler(Events.COMPLETED, self.write)

    def _reset(self, engine: Engine) -> None:
        self.items = []

    def collect(self, engine: Engine) -> None:
        raise NotImplementedError

    def write(self, engine: Engine) -> None:
        raise NotImplementedError
