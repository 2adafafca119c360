"""One boundary for what DICOM libraries print: their warnings and log records may quote header values (a
single-component patient name, the source's SOP Instance UID), so none of them reaches an output."""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DICOM_LIBRARIES", "withheld_library_messages"]

DICOM_LIBRARIES = ("highdicom", "pydicom")

logger = logging.getLogger(__name__)


class _Counting(logging.Handler):
    def __init__(self, counts: Counter) -> None:
        super().__init__(level=logging.INFO)
        self.counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.name.split('.')[0]} {record.levelname.lower()}"] += 1


@contextmanager
def withheld_library_messages(
    libraries: tuple[str, ...] = DICOM_LIBRARIES, level: int = logging.INFO
) -> Iterator[Counter]:
    """Within the block, the warnings raised and the records logged by ``libraries`` go nowhere but into a count;
    on exit one record says how many of each kind were withheld, without their text.

    Args:
        libraries: the loggers to withhold.
        level: the level of the count's record (``DEBUG`` where it would repeat once per image, as in a loader).

    Yields:
        the counts, by library and level (``"highdicom warning"``) or warning class.
    """
    counts: Counter = Counter()
    handler = _Counting(counts)
    loggers = [logging.getLogger(name) for name in libraries]
    saved = [(log.propagate, log.level) for log in loggers]
    for log in loggers:
        log.addHandler(handler)
        log.propagate = False
        log.setLevel(logging.INFO)  # what may quote a header (highdicom's INFO names the source UID); not debug
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield counts
        for warning in caught:
            counts[f"{warning.category.__name__}"] += 1
    finally:
        for log, (propagate, own_level) in zip(loggers, saved):
            log.removeHandler(handler)
            log.propagate, log.level = propagate, own_level
        if counts:
            logger.log(
                level,
                "withheld %d message(s) of the DICOM libraries, which may quote header values: %s",
                sum(counts.values()),
                ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())),
            )
